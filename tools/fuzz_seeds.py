#!/usr/bin/env python3
"""fuzz_seeds.py - seed corpora for the route fuzz targets (tests/fuzz_qdrant.c,
tests/fuzz_v1.c) from the request bodies in the docs and the e2e scripts.

Every `METHOD ... /collections/NAME/...` or `/v1/...` command in docs/*.md and
tests/e2e/*.sh followed by a single-quoted JSON body ('{...}') becomes an input
for the route of the target's table with the same method and path (the
collection name aside): one byte, the route's index, then the body. The tables
are read from the targets' sources, so the seeds follow them. Bodies that are
not JSON after the shell's quoting (variables in them) are skipped.

    tools/fuzz_seeds.py            # writes tests/corpus/{qdrant,v1}/seed-*
"""
import base64
import hashlib
import json
import os
import re
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def table(src):
    rows = re.findall(r'\{ "(GET|PUT|POST|PATCH|DELETE)", "([^"]+)", (NULL|"[^"]*"[^}]*?)\s*\}',
                      open(os.path.join(root, src)).read())
    return [(m, t.split("?")[0], ct != "NULL") for m, t, ct in rows]


def pattern(path):
    # Collection names are free; everything else must match.
    return re.sub(r"^(/v1)?/collections/[^/]+", lambda m: (m.group(1) or "") + "/collections/*", path)


def commands():
    files = [os.path.join(root, "docs", f) for f in sorted(os.listdir(os.path.join(root, "docs")))
             if f.endswith(".md")]
    files += [os.path.join(root, "tests", "e2e", f)
              for f in sorted(os.listdir(os.path.join(root, "tests", "e2e"))) if f.endswith(".sh")]
    method_rx = re.compile(r"\b(PUT|POST|PATCH|DELETE)\b")
    path_rx = re.compile(r"((?:/v1)?/collections/[\w.$-]+[\w/.-]*|/v1/[\w/.-]+)")
    body_rx = re.compile(r"'(\{.*?\})'", re.S)
    for f in files:
        text = open(f).read().replace("\\\n", " ")
        marks = list(method_rx.finditer(text))
        for k, m in enumerate(marks):
            end = marks[k + 1].start() if k + 1 < len(marks) else len(text)
            cmd = text[m.end():end]
            line = cmd.split("\n", 1)[0]
            p = path_rx.search(line)
            b = body_rx.search(cmd)
            if p and b and b.start() >= p.end():
                yield m.group(1), p.group(1), b.group(1)


# Bodies the docs show only with files or shell variables: written out here
# with the 7x5 fixture PNG as the photo.
PNG = base64.b64encode(open(os.path.join(root, "tests/fixtures/clip/images/tiny_7x5.png"), "rb").read()).decode()
URL = "data:image/png;base64," + PNG
MODEL = "openai/clip-vit-base-patch32"
EXTRA = {
    "v1": [
        ("POST", "/v1/embeddings", {"model": MODEL, "input": "a red shoe"}),
        ("POST", "/v1/embeddings", {"model": MODEL, "input": ["a", "b"], "encoding_format": "base64"}),
        ("POST", "/v1/embeddings", {"model": MODEL, "input": [{"text": "shoe"}, {"image": URL}, {"image": PNG}]}),
        ("POST", "/v1/classify", {"image": URL, "labels": ["cat", "dog"], "templates": ["a photo of a {}."]}),
        ("POST", "/v1/classify", {"image": PNG, "labels": ["shoe", "bag", "hat"]}),
        ("PUT", "/v1/moderation/rules", {"rules": [{"name": "weapons", "prompts": ["a gun", "a knife"],
                                                    "threshold": 0.2, "action": "flag"},
                                                   {"name": "nsfw", "prompts": ["nudity"], "threshold": 0.9,
                                                    "action": "reject"}]}),
        ("POST", "/v1/moderate", {"image": URL}),
        ("PUT", "/v1/collections/items/items", {"items": [{"id": 3, "image": URL, "text": "red",
                                                           "payload": {"a": [1, 2]}},
                                                          {"id": "5c56c793-69f3-4fbf-87e6-c4bf54c28c26",
                                                           "text": "blue"}]}),
        ("POST", "/v1/collections/items/search", {"text": "red square", "limit": 2}),
        ("POST", "/v1/collections/items/search", {"image": URL, "using": "text", "with_payload": False}),
        ("POST", "/v1/collections/items/search", {"id": 1, "filter": {"must": [{"key": "price",
                                                                               "range": {"gte": 1}}]}}),
        ("POST", "/v1/collections/items/search", {"query": [{"text": "red", "weight": 1},
                                                            {"id": 2, "weight": -0.5}],
                                                  "score_threshold": 0.1, "offset": 1}),
        ("POST", "/collections/items/points/query", {"query": {"text": "red", "model": MODEL},
                                                      "using": "text"}),
        ("POST", "/collections/items/points/query", {"query": {"image": PNG, "model": MODEL},
                                                      "using": "image"}),
        ("PUT", "/collections/items/points", {"points": [{"id": 9, "vector": {
            "text": {"text": "x", "model": MODEL}, "image": {"image": PNG, "model": MODEL}}}]}),
    ],
    "qdrant": [
        ("POST", "/collections/c/facet", {"key": "color", "limit": 3, "filter": {"must": [{"key": "color", "match": {"any": ["red", "blue"]}}]}}),
        ("POST", "/collections/c/points/search/matrix/pairs", {"sample": 5, "limit": 2, "filter": {"must_not": [{"has_id": [1]}]}}),
        ("POST", "/collections/c/points/search/matrix/offsets", {"sample": 3, "limit": 1, "using": ""}),
        ("PATCH", "/collections/f", {"strict_mode_config": {"enabled": True, "max_query_limit": 2, "unindexed_filtering_retrieve": False,
                                                            "read_rate_limit": 3, "write_rate_limit": 2, "search_max_hnsw_ef": 4,
                                                            "sparse_config": {"s": {"max_length": 2}}}}),
        ("POST", "/collections/c/points/query", {"prefetch": {"query": [1, 0, 0, 0], "limit": 5},
                                                "query": {"formula": {"sum": ["$score", {"mult": [0.5, "price"]},
                                                                              {"gauss_decay": {"x": "price", "target": 10, "scale": 5}},
                                                                              {"key": "color", "match": {"value": "red"}}]},
                                                          "defaults": {"price": 1}}}),
        ("POST", "/collections/c/points/query", {"query": {"relevance_feedback": {"target": [1, 0, 0, 0],
                                                                                  "feedback": [{"example": 1, "score": 0.9}, {"example": [0, 1, 0, 0], "score": 0.1}],
                                                                                  "strategy": {"naive": {"a": 1, "b": 1, "c": 1}}}}}),
        ("POST", "/collections/c/points/query", {"query": {"recommend": {"positive": [1]}}, "lookup_from": {"collection": "n", "vector": "a"}}),
        ("POST", "/collections/c/points/scroll", {"filter": {"must": [{"key": "title", "match": {"phrase": "red shoe"}}]}}),
        ("POST", "/collections/t/points/query", {"query": {"text": "a red shoe", "model": MODEL}}),
        ("POST", "/collections/t/points/query", {"query": {"image": URL, "model": MODEL}, "limit": 1}),
        ("PUT", "/collections/t/points", {"points": [{"id": 3, "vector": {"image": PNG, "model": MODEL}}]}),
        ("POST", "/collections/n/points/query", {"query": {"indices": [7], "values": [1.0]}, "using": "s"}),
        ("POST", "/collections/n/points/query", {"query": [[1, 0], [0.5, 0.5]], "using": "m"}),
        # Text index token processing: stopword sets, stemmers, folding.
        ("PUT", "/collections/c/index", {"field_name": "title", "field_schema": {
            "type": "text", "tokenizer": "prefix", "max_token_len": 8, "lowercase": False, "ascii_folding": True,
            "stopwords": {"languages": ["en", "german"], "custom": ["Shoe", "ação"]},
            "stemmer": {"type": "snowball", "language": "de"}}}),
        ("PUT", "/collections/c/index", {"field_name": "title", "field_schema": {
            "type": "text", "stopwords": "russian", "stemmer": {"type": "snowball", "language": "ru"}}}),
        ("POST", "/collections/c/points/scroll", {"filter": {"should": [{"key": "title", "match": {"text_any": "the Red SHOES"}},
                                                                         {"key": "title", "match": {"text": "Über café"}}]}}),
    ],
}
MULTIPART = ("--fuzzboundary\r\nContent-Disposition: form-data; name=\"items\"\r\n"
             "Content-Type: application/json\r\n\r\n"
             '{"items":[{"id":4,"image":"photo","text":"tiny"}]}\r\n'
             "--fuzzboundary\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"t.png\"\r\n"
             "Content-Type: image/png\r\n\r\n").encode() + base64.b64decode(PNG) + b"\r\n--fuzzboundary--\r\n"


def write(name, data):
    out = os.path.join(root, "tests", "corpus", name)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "seed-" + hashlib.sha1(data).hexdigest()[:16]), "wb") as fh:
        fh.write(data)


def main():
    targets = {"qdrant": table("tests/fuzz_qdrant.c"), "v1": table("tests/fuzz_v1.c")}
    n = {k: 0 for k in targets}
    for method, path, body in commands():
        try:
            json.loads(body)
        except ValueError:
            continue
        for name, rows in targets.items():
            for i, (m, t, multipart) in enumerate(rows):
                if multipart or m != method or pattern(t) != pattern(path):
                    continue
                write(name, bytes([i]) + body.encode())
                n[name] += 1
                break
            else:
                continue
            break
    for name, extra in EXTRA.items():
        rows = targets[name]
        for method, path, body in extra:
            i = next(i for i, (m, t, mp) in enumerate(rows) if not mp and m == method and t == path)
            write(name, bytes([i]) + json.dumps(body).encode())
            n[name] += 1
    i = next(i for i, (m, t, mp) in enumerate(targets["v1"]) if mp)
    write("v1", bytes([i]) + MULTIPART)
    n["v1"] += 1
    for name, k in n.items():
        print(f"fuzz_seeds: {k} bodies for fuzz_{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
