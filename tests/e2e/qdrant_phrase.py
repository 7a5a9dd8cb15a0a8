#!/usr/bin/env python3
"""qdrant_phrase.py BIN WORKDIR - phrase matching ({"match": {"phrase": ...}})
against the real binary: on a text index, the query's tokens in a row in
the document's tokens (Qdrant's test_phrase_matching.py cases, a
brute-force tokenizer here for random sentences, scroll and count, the
word and whitespace tokenizers, lowercase), and without an index a
substring, as Qdrant checks an unindexed payload; and the prefix
tokenizer (search as you type) with and without length limits."""
import os, random, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qdrant_http import Server  # noqa: E402

srv = Server("qdrant_phrase.py", sys.argv[1], sys.argv[2])
fail, req, ok = srv.fail, srv.req, srv.ok
srv.start()
phrases = ["the quick brown fox jumps over the lazy dog", "a quick brown cat runs through the garden",
           "the brown fox is very quick and agile", "lazy dogs sleep all day long",
           "machine learning algorithms are powerful tools", "natural language processing with transformers",
           "the artificial intelligence revolution", "deep learning neural networks",
           "brown sugar and quick oats", "New York City is a bustling metropolis",
           "writing tests is very very very important"]
rng = random.Random(5)
words = ["red", "shoe", "Shoe", "blue", "bag", "leather", "boot", "red-brown", "canvas"]
for i in range(40):
    phrases.append(" ".join(rng.choice(words) for _ in range(rng.randint(2, 7))))


def ids(body, coll):
    pts = ok("POST", coll + "/points/scroll", dict(body, limit=200))["points"]
    return sorted(p["id"] for p in pts)


for tokenizer, split in (("word", lambda t: re.findall(r"[a-z0-9]+", t.lower())),
                         ("whitespace", lambda t: t.lower().split())):
    C = "/collections/phrase_" + tokenizer
    ok("PUT", C, {"vectors": {"size": 2, "distance": "Dot"}})
    ok("PUT", C + "/index?wait=true", {"field_name": "text", "field_schema":
                                       {"type": "text", "tokenizer": tokenizer, "phrase_matching": True}})
    ok("PUT", C + "/points?wait=true", {"points": [{"id": i + 1, "vector": [1, 0], "payload": {"text": p}}
                                                   for i, p in enumerate(phrases)]})
    queries = ["quick brown fox", "quick brown bird", "brown quick", "quick brown", "brown",
               "machine learning algorithms are powerful tools", "", "very very very", "very very very very",
               "red shoe", "Shoe red", "leather boot", "red-brown canvas", "RED"]
    for q in queries:
        qt = split(q)
        want = [i + 1 for i, p in enumerate(phrases)
                if qt and any(split(p)[k:k + len(qt)] == qt for k in range(len(split(p))))]
        f = {"must": [{"key": "text", "match": {"phrase": q}}]}
        got = ids({"filter": f}, C)
        if got != want:
            fail("%s tokenizer, phrase %r: %s, want %s" % (tokenizer, q, got, want))
        n = ok("POST", C + "/points/count", {"filter": f})["count"]
        if n != len(want):
            fail("%s: count of phrase %r: %d, want %d" % (tokenizer, q, n, len(want)))
    # The index's answers survive a restart (rebuilt at open).
srv.stop()
srv.start()
got = ids({"filter": {"must": [{"key": "text", "match": {"phrase": "quick brown"}}]}}, "/collections/phrase_word")
if got != [1, 2]:
    fail("phrase after a restart: %s" % got)
# Without an index: a substring, as Qdrant checks an unindexed payload.
ok("PUT", "/collections/plain", {"vectors": {"size": 2, "distance": "Dot"}})
ok("PUT", "/collections/plain/points?wait=true", {"points": [{"id": i + 1, "vector": [1, 0], "payload": {"text": p}}
                                                            for i, p in enumerate(phrases[:11])]})
got = ids({"filter": {"must": [{"key": "text", "match": {"phrase": "own fox"}}]}}, "/collections/plain")
if got != [1, 3]:
    fail("unindexed phrase as a substring: %s" % got)
# The prefix tokenizer: documents are indexed with every prefix of each
# word (min_token_len..max_token_len characters), a query's words whole
# (cut to max_token_len): "ROBO" matches "robot" and "robotics".
for params, cases in (({}, [("ROBO", [1, 2, 3]), ("robot", [1, 2, 3]), ("robotic", [2]), ("vac", [3]), ("bot", [])]),
                      ({"min_token_len": 3, "max_token_len": 4}, [("ro", []), ("rob", [1, 2, 3]), ("robotic", [1, 2, 3]),
                                                                  ("vacuum", [3])])):
    C = "/collections/prefix%d" % len(params)
    ok("PUT", C, {"vectors": {"size": 2, "distance": "Dot"}})
    ok("PUT", C + "/index?wait=true", {"field_name": "title", "field_schema": dict({"type": "text", "tokenizer": "prefix"}, **params)})
    ok("PUT", C + "/points?wait=true", {"points": [
        {"id": 1, "vector": [1, 0], "payload": {"title": "Robot arm"}},
        {"id": 2, "vector": [1, 0], "payload": {"title": "Robotics kit"}},
        {"id": 3, "vector": [1, 0], "payload": {"title": "robot vacuum cleaner"}},
        {"id": 4, "vector": [1, 0], "payload": {"title": "Kitchen scale"}}]})
    for q, want in cases:
        got = ids({"filter": {"must": [{"key": "title", "match": {"text": q}}]}}, C)
        if got != want:
            fail("prefix tokenizer %s, text %r: %s, want %s" % (params, q, got, want))
srv.stop()
print("qdrant_phrase.py: ok (phrase matching on word and whitespace text indexes equals a brute-force "
      "tokenizer, scroll and count, after a restart; a substring without an index; the prefix tokenizer)")
