#!/usr/bin/env bash
# v1_items.sh - items, search, classify and moderation (/v1/collections/
# {c}/items, /search, /v1/classify, /v1/moderation/rules, /v1/moderate)
# end to end: the real binary serving the fixture model, Python's
# http.client as the client, and the fixture's expected embeddings
# (transformers' numbers, see the fixture README) as the reference for
# every score and ranking.
#
# Checked: ingest of the fixture images with fixture texts, as JSON and as
# multipart (file parts named by field name and by filename), into a
# collection the first PUT creates (named vectors image and text of the
# model's dimension, Cosine); image search with each item's own image
# returns it first with score 1; text search (against image vectors and
# against text vectors), search by item id (the item excluded) and a
# weighted query rank exactly as brute force over the fixture embeddings,
# with the same scores; filter, limit, offset, score_threshold and
# with_payload; GET item (payload, vector names) and its thumbnail (a
# JPEG of at most 256 px, ETag, If-None-Match -> 304); classify equals
# softmax(logit_scale x cosine) computed here, for one template, an
# ensemble, and the documented default templates; moderation rules (PUT,
# GET, persisted across a restart): flag rules record _moderation in the
# payload, reject rules fail the item naming the rule, /v1/moderate
# scores every rule; the image cache: the same bytes ingested again, and
# again after a restart, run no image inference (metrics); bad input
# (malformed multipart, non-image bytes, a PNG header claiming
# 20000x20000, a truncated JPEG, empty text, invalid UTF-8, unknown model,
# unknown collection, search without a query) each a clear 4xx, the server
# still answering, nothing stored for the failed item; without weights,
# 503 saying how to install them.
# VITRINE_BIN is exported by tests/run.sh; fixtures from VITRINE_FIXTURES,
# else tests/fixtures/clip.
set -u
BIN=${VITRINE_BIN:-./vitrine}
FIX=${VITRINE_FIXTURES:-}
if [ -z "$FIX" ]; then
    for d in tests/fixtures/clip ; do
        [ -d "$d" ] && { FIX=$d; break; }
    done
fi
FIX=${FIX:-tests/fixtures/clip}
[ -f "$FIX/expected/tiny-p32/outputs.json" ] || { echo "v1_items.sh: FAIL: no fixtures at $FIX (set VITRINE_FIXTURES)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Debian's python3 first: a pyenv shim costs seconds per start under load.
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3

exec "$py" - "$BIN" "$FIX" "$work" <<'EOF'
import base64, http.client, json, math, os, re, signal, struct, subprocess, sys, time, zlib

BIN, FIX, WORK = sys.argv[1:]
exp = json.load(open(FIX + "/expected/tiny-p32/outputs.json"))
servers = []

def fail(msg):
    print("v1_items.sh: FAIL: " + msg)
    for s in servers:
        if s["proc"].poll() is None:
            s["proc"].kill()
        print("--- " + s["log"])
        print("".join(open(s["log"]).readlines()[-20:]))
    sys.exit(1)

def unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]

def dot(a, b):
    return sum(x * y for x, y in zip(a, b))

IMG = {k: unit(v["image_embeds"]) for k, v in exp["images"].items()}
TXT = {t["text"]: unit(t["text_embeds"]) for t in exp["texts"]}
SCALE = exp["logit_scale"]

def start(name, *args):
    log = f"{WORK}/{name}.log"
    p = subprocess.Popen([BIN, "serve", "--port", "0", "--data", f"{WORK}/data-{name}", *args],
                         stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    s = {"proc": p, "log": log, "port": None}
    servers.append(s)
    for _ in range(3 * int(os.environ.get("VITRINE_START_TRIES", "100"))):
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(log).read())
        if m:
            s["port"] = int(m.group(1))
            return s
        if p.poll() is not None:
            fail(f"server {name} exited early")
        time.sleep(0.05)
    fail(f"server {name} did not start")

def stop(s):
    s["proc"].send_signal(signal.SIGTERM)
    try:
        rc = s["proc"].wait(10 * int(os.environ.get("VITRINE_START_TRIES", "100")) // 100)
    except subprocess.TimeoutExpired:
        fail("server still running 10 s after SIGTERM")
    if rc != 0:
        fail(f"server exited with {rc} after SIGTERM")

def req(s, method, path, body=None, headers=None, raw=False):
    """Returns (status, headers dict (lower-case names), body: JSON or bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", s["port"], timeout=120)
    h = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    hd = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    if raw:
        return r.status, hd, data
    try:
        return r.status, hd, json.loads(data) if data else None
    except ValueError:
        fail(f"{method} {path}: not JSON: {data[:200]!r}")

def alive(s):
    st, _, _ = req(s, "GET", "/healthz", raw=True)
    if st != 200:
        fail("server not answering /healthz")

def metric(s, name, labels):
    _, _, text = req(s, "GET", "/metrics", raw=True)
    for line in text.decode().splitlines():
        if line.startswith(name + "{" + labels + "}") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0

def raw_image(name):
    return open(FIX + "/images/" + name, "rb").read()

def b64(name):
    return base64.b64encode(raw_image(name)).decode()

def expect_error(res, status, needle, what):
    st, _, b = res
    msg = (b or {}).get("status", {}).get("error", "") if isinstance(b, dict) and isinstance(b.get("status"), dict) else ""
    if st != status or needle.lower() not in msg.lower():
        fail(f"{what}: expected {status} mentioning {needle!r}, got {st} {json.dumps(b)[:400]}")
    return msg

def multipart(parts, boundary="----vitrineTestBoundary7MA4YWxk"):
    """parts: (name, filename or None, content type or None, bytes)."""
    out = b""
    for name, filename, ctype, data in parts:
        out += b"--" + boundary.encode() + b"\r\n"
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename:
            disp += f'; filename="{filename}"'
        out += disp.encode() + b"\r\n"
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return out, f"multipart/form-data; boundary={boundary}"

# ---- the catalogue: distinct fixture images, fixture texts on most ----
IMAGES = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "color.png",
          "green_palette.png", "horse.png", "logo.png", "motorcycle_right.png", "page.png",
          "tall_90x600.png", "tiny_7x5.png", "block.png", "checker_bilevel.png",
          "rocket.jpg", "hubble_deep_field.jpg", "panorama_1200x100.jpg"]
TEXTS = [t["text"] for t in exp["texts"] if t["text"]]
items = []
for i, name in enumerate(IMAGES):
    it = {"id": i + 1, "name": name, "payload": {"name": name, "n": i + 1, "png": name.endswith(".png")}}
    if i < len(TEXTS):
        it["text"] = TEXTS[i]
    items.append(it)

srv = start("main", "--weights", FIX + "/models/tiny-p32")
dim = len(IMG["astronaut.png"])
img_infer0 = metric(srv, "vitrine_embeddings_total", 'kind="image"')

# The first half as JSON (base64 and data: URLs), into a missing collection.
half = len(items) // 2
body = {"items": []}
for k, it in enumerate(items[:half]):
    img = b64(it["name"])
    if k % 2:
        img = "data:image/png;base64," + img if it["name"].endswith(".png") else "data:image/jpeg;base64," + img
    e = {"id": it["id"], "image": img, "payload": it["payload"]}
    if "text" in it:
        e["text"] = it["text"]
    body["items"].append(e)
st, _, b = req(srv, "PUT", "/v1/collections/shop/items?wait=true", body)
want = {"items": [{"id": it["id"], "status": "ok"} for it in items[:half]]}
if st != 200 or b.get("result") != want or b.get("status") != "ok":
    fail(f"PUT items (JSON): {st} {json.dumps(b)[:500]}")
st, _, b = req(srv, "GET", "/collections/shop")
vecs = b["result"]["config"]["params"]["vectors"]
if vecs != {"image": {"size": dim, "distance": "Cosine"}, "text": {"size": dim, "distance": "Cosine"}} and \
        {k: (v["size"], v["distance"]) for k, v in vecs.items()} != {"image": (dim, "Cosine"), "text": (dim, "Cosine")}:
    fail(f"created collection's vectors: {vecs}")

# The second half as multipart: files named by field name and by filename.
meta, parts = [], []
for k, it in enumerate(items[half:]):
    field = f"file{k}"
    ref = field if k % 2 == 0 else it["name"]
    e = {"id": it["id"], "image": ref, "payload": it["payload"]}
    if "text" in it:
        e["text"] = it["text"]
    meta.append(e)
    parts.append((field, it["name"], "image/png" if it["name"].endswith(".png") else "image/jpeg", raw_image(it["name"])))
mp, ctype = multipart([("items", None, "application/json", json.dumps({"items": meta}).encode())] + parts)
st, _, b = req(srv, "PUT", "/v1/collections/shop/items?wait=true", mp, {"Content-Type": ctype})
want = {"items": [{"id": it["id"], "status": "ok"} for it in items[half:]]}
if st != 200 or b.get("result") != want:
    fail(f"PUT items (multipart): {st} {json.dumps(b)[:500]}")
st, _, b = req(srv, "POST", "/collections/shop/points/count", {"exact": True})
if b["result"]["count"] != len(items):
    fail(f"count after ingest: {b}")
if metric(srv, "vitrine_embeddings_total", 'kind="image"') - img_infer0 != len(items):
    fail("first ingest: expected one image inference per item")

# ---- image search with each item's own image: itself first, score 1 ----
for it in items:
    st, _, b = req(srv, "POST", "/v1/collections/shop/search", {"image": b64(it["name"]), "limit": 3})
    r = b.get("result") if st == 200 else None
    if not r or r[0]["id"] != it["id"] or abs(r[0]["score"] - 1) > 1e-5:
        fail(f"image search with {it['name']}: {st} {json.dumps(b)[:300]}")
    if r[0]["payload"] != it["payload"]:
        fail(f"image search payload: {r[0]}")

# ---- rankings against brute force over the fixture embeddings ----
def check_ranking(res, expected, what, tol):
    """expected: [(id, score)] sorted by score, descending."""
    st, _, b = res
    if st != 200:
        fail(f"{what}: {st} {json.dumps(b)[:300]}")
    got = b["result"]
    if [g["id"] for g in got] != [e[0] for e in expected]:
        # Equal scores (within tol) may come in either order.
        gi = [g["id"] for g in got]
        ok = sorted(gi) == sorted(e[0] for e in expected) and len(gi) == len(expected)
        ref = dict(expected)
        for a, c in zip(gi, gi[1:]):
            if ok and ref[a] < ref[c] - tol:
                ok = False
        if not ok:
            fail(f"{what}: ranking {gi}, brute force {[e[0] for e in expected]}")
    ref = dict(expected)
    for g in got:
        if abs(g["score"] - ref[g["id"]]) > tol:
            fail(f"{what}: id {g['id']} score {g['score']}, brute force {ref[g['id']]}")

def brute(query, using, exclude=(), flt=lambda it: True):
    out = []
    for it in items:
        if it["id"] in exclude or not flt(it):
            continue
        if using == "image":
            v = IMG[it["name"]]
        elif "text" in it:
            v = TXT[it["text"]]
        else:
            continue
        out.append((it["id"], dot(query, v)))
    out.sort(key=lambda x: -x[1])
    return out

# JPEG decoders differ (stb against Pillow): the fixture allows cosine 0.999
# for JPEG inputs, so scores against them match to 2e-3; PNG to 1e-4.
TOL = 2e-3
for t in TEXTS:
    check_ranking(req(srv, "POST", "/v1/collections/shop/search", {"text": t, "limit": 100}),
                  brute(TXT[t], "image"), f"text search {t!r} (image vectors)", TOL)
    check_ranking(req(srv, "POST", "/v1/collections/shop/search", {"text": t, "using": "text", "limit": 100}),
                  brute(TXT[t], "text"), f"text search {t!r} (text vectors)", 1e-4)
# Photo against the text vectors (image-to-text).
check_ranking(req(srv, "POST", "/v1/collections/shop/search", {"image": b64("chelsea.png"), "using": "text", "limit": 100}),
              brute(IMG["chelsea.png"], "text"), "image-to-text search", 1e-4)
# More like item 3 (chelsea): itself excluded.
check_ranking(req(srv, "POST", "/v1/collections/shop/search", {"id": 3, "limit": 100}),
              brute(IMG["chelsea.png"], "image", exclude={3}), "search by id", TOL)
# A weighted query: the normalised sum of w x each unit embedding.
q = [a + 0.5 * c - 0.25 * d for a, c, d in zip(TXT["a photo of a dog"], IMG["coffee.png"], IMG["horse.png"])]
check_ranking(req(srv, "POST", "/v1/collections/shop/search",
                  {"query": [{"text": "a photo of a dog"}, {"id": 4, "weight": 0.5},
                             {"image": b64("horse.png"), "weight": -0.25}], "limit": 100}),
              brute(unit(q), "image", exclude={4}), "weighted query", TOL)
# filter, limit, offset, score_threshold, with_payload.
flt = {"must": [{"key": "png", "match": {"value": True}}]}
full = brute(TXT["a photo of a cat"], "image", flt=lambda it: it["payload"]["png"])
check_ranking(req(srv, "POST", "/v1/collections/shop/search",
                  {"text": "a photo of a cat", "filter": flt, "limit": 3, "offset": 2}),
              full[2:5], "filter + limit + offset", 1e-4)
thr = (full[3][1] + full[4][1]) / 2
check_ranking(req(srv, "POST", "/v1/collections/shop/search",
                  {"text": "a photo of a cat", "filter": flt, "limit": 100, "score_threshold": thr}),
              full[:4], "score_threshold", 1e-4)
st, _, b = req(srv, "POST", "/v1/collections/shop/search", {"text": "a photo of a cat", "with_payload": False})
if st != 200 or len(b["result"]) != 10 or any("payload" in r for r in b["result"]):
    fail(f"with_payload false / default limit 10: {json.dumps(b)[:300]}")

# ---- GET item, thumbnail ----
st, _, b = req(srv, "GET", "/v1/collections/shop/items/1")
if st != 200 or b["result"] != {"id": 1, "payload": items[0]["payload"], "vectors": ["image", "text"], "thumbnail": True}:
    fail(f"GET item 1: {st} {b}")
last = items[-1]
st, _, b = req(srv, "GET", f"/v1/collections/shop/items/{last['id']}")
if st != 200 or b["result"]["vectors"] != ["image"]:
    fail(f"GET item {last['id']} (no text): {b}")

def jpeg_size(data):
    """(width, height) from a JPEG's SOF marker; None when not a JPEG."""
    if data[:2] != b"\xff\xd8" or data[-2:] != b"\xff\xd9":
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        m, n = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if m in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + n
    return None

for it in items:
    st, hd, data = req(srv, "GET", f"/v1/collections/shop/items/{it['id']}/thumbnail", raw=True)
    size = jpeg_size(data) if st == 200 else None
    if st != 200 or hd.get("content-type") != "image/jpeg" or not size or max(size) > 256:
        fail(f"thumbnail of {it['name']}: {st} {hd} {size}")
    etag = hd.get("etag", "")
    if not re.fullmatch(r'"[0-9a-f]{32}"', etag):
        fail(f"thumbnail ETag: {etag!r}")
    st2, hd2, data2 = req(srv, "GET", f"/v1/collections/shop/items/{it['id']}/thumbnail", headers={"If-None-Match": etag}, raw=True)
    if st2 != 304 or data2 or hd2.get("etag") != etag:
        fail(f"If-None-Match {etag}: {st2} {hd2}")
    st3, _, _ = req(srv, "GET", f"/v1/collections/shop/items/{it['id']}/thumbnail", headers={"If-None-Match": '"0000"'}, raw=True)
    if st3 != 200:
        fail(f"If-None-Match with another tag: {st3}")
# The panorama keeps its aspect: 256 x 21.
st, _, data = req(srv, "GET", f"/v1/collections/shop/items/{IMAGES.index('panorama_1200x100.jpg') + 1}/thumbnail", raw=True)
if jpeg_size(data) != (256, 21):
    fail(f"panorama thumbnail size {jpeg_size(data)}")
# A point upserted through Qdrant's API without a thumbnail: 404.
st, _, b = req(srv, "PUT", "/collections/shop/points?wait=true", {"points": [{"id": 999, "vector": {"image": [0.5] * dim}}]})
expect_error(req(srv, "GET", "/v1/collections/shop/items/999/thumbnail"), 404, "no thumbnail", "thumbnail of a plain point")
expect_error(req(srv, "GET", "/v1/collections/shop/items/12345"), 404, "12345", "GET missing item")
req(srv, "POST", "/collections/shop/points/delete?wait=true", {"points": [999]})

# ---- classify ----
def softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    return [x / sum(e) for x in e]

def embed_texts(texts):
    st, _, b = req(srv, "POST", "/v1/embeddings", {"model": "tiny-p32", "input": texts})
    if st != 200:
        fail(f"/v1/embeddings: {st} {b}")
    return [d["embedding"] for d in b["data"]]

def check_classify(image, labels, templates, label_vecs, what):
    body = {"image": b64(image), "labels": labels}
    if templates is not None:
        body["templates"] = templates
    st, _, b = req(srv, "POST", "/v1/classify", body)
    if st != 200:
        fail(f"classify {what}: {st} {b}")
    p = softmax([SCALE * dot(IMG[image], v) for v in label_vecs])
    expected = sorted(zip(labels, p), key=lambda x: -x[1])
    got = [(r["label"], r["score"]) for r in b["result"]]
    if [g[0] for g in got] != [e[0] for e in expected] or \
            any(abs(g[1] - e[1]) > 2e-3 for g, e in zip(got, expected)):
        fail(f"classify {what}: {got}, expected {expected}")
    if abs(sum(g[1] for g in got) - 1) > 1e-5:
        fail(f"classify {what}: probabilities sum to {sum(g[1] for g in got)}")

for image in ["astronaut.png", "chelsea.png", "coffee.png"]:
    check_classify(image, ["cat", "dog"], ["a photo of a {}"],
                   [TXT["a photo of a cat"], TXT["a photo of a dog"]], f"{image}, one template")
# An ensemble: each label the normalised mean of its templates' unit embeddings.
def ensemble(labels, templates):
    vs = embed_texts([t.replace("{}", l) for l in labels for t in templates])
    out = []
    for i in range(len(labels)):
        m = [sum(c) / len(templates) for c in zip(*vs[i * len(templates):(i + 1) * len(templates)])]
        out.append(unit(m))
    return out
labels = ["cat", "dog", "red dress", "coffee cup"]
check_classify("chelsea.png", labels, ["a photo of a {}", "{}", "a {} on a table"],
               ensemble(labels, ["a photo of a {}", "{}", "a {} on a table"]), "ensemble")
DEFAULT_TEMPLATES = ["a photo of a {}.", "a product photo of a {}.", "a close-up photo of a {}.",
                     "a photo of a {} on a white background.", "a studio photo of a {}.",
                     "an online shop photo of a {}."]
check_classify("coffee.png", labels, None, ensemble(labels, DEFAULT_TEMPLATES), "default templates")
# Cached label embeddings give the same answer.
check_classify("coffee.png", labels, None, ensemble(labels, DEFAULT_TEMPLATES), "default templates, cached")
expect_error(req(srv, "POST", "/v1/classify", {"image": b64("chelsea.png"), "labels": ["a", "a"]}), 400, "twice", "duplicate labels")
expect_error(req(srv, "POST", "/v1/classify", {"image": b64("chelsea.png"), "labels": ["a"], "templates": ["no slot"]}), 400, "{}", "template without {}")
expect_error(req(srv, "POST", "/v1/classify", {"image": b64("chelsea.png"), "labels": []}), 400, "labels", "no labels")

# ---- moderation ----
ING = ["chelsea.png", "color.png", "horse.png", "camera.png"]
# The fixture spells "café au lait" decomposed (e + U+0301): take its own text.
cat_prompts = ["a photo of a cat", next(t for t in TEXTS if "lait" in t)]
red_prompts = ["红色连衣裙"]
def rule_score(image, prompts):
    return max(dot(IMG[image], TXT[p]) for p in prompts)
def midway(image_set, prompts):
    s = sorted((rule_score(i, prompts) for i in image_set), reverse=True)
    if s[0] - s[1] < 0.005:
        fail(f"fixture scores too close for a threshold: {s}")
    return (s[0] + s[1]) / 2
cat_thr, red_thr = midway(ING, cat_prompts), midway(ING, red_prompts)
rules = {"rules": [{"name": "cats", "prompts": cat_prompts, "threshold": cat_thr, "action": "flag"},
                   {"name": "red-dress", "prompts": red_prompts, "threshold": red_thr, "action": "reject"}]}
st, _, b = req(srv, "PUT", "/v1/moderation/rules", rules)
if st != 200 or [r["name"] for r in b["result"]["rules"]] != ["cats", "red-dress"]:
    fail(f"PUT rules: {st} {b}")
stored_rules = b["result"]
st, _, b = req(srv, "GET", "/v1/moderation/rules")
if st != 200 or b["result"] != stored_rules:
    fail(f"GET rules: {b}")
expect_error(req(srv, "PUT", "/v1/moderation/rules", {"rules": [{"name": "x", "prompts": ["y"], "threshold": 2, "action": "flag"}]}), 400, "threshold", "bad threshold")
expect_error(req(srv, "PUT", "/v1/moderation/rules", {"rules": [{"name": "x", "prompts": ["y"], "threshold": 0.1, "action": "delete"}]}), 400, "action", "bad action")
st, _, b = req(srv, "GET", "/v1/moderation/rules")
if b["result"] != stored_rules:
    fail("a refused PUT changed the rules")

def expected_moderation(image):
    out = []
    for r in rules["rules"]:
        s = rule_score(image, r["prompts"])
        out.append((r["name"], s, s >= r["threshold"]))
    return out

for image in ING:
    st, _, b = req(srv, "POST", "/v1/moderate", {"image": b64(image)})
    if st != 200:
        fail(f"moderate {image}: {st} {b}")
    got = {r["name"]: r for r in b["result"]["rules"]}
    for name, s, fired in expected_moderation(image):
        if abs(got[name]["score"] - s) > 1e-4 or got[name]["fired"] != fired:
            fail(f"moderate {image}, rule {name}: {got[name]}, expected score {s} fired {fired}")
    if sorted(r["name"] for r in b["result"]["fired"]) != sorted(n for n, _, f in expected_moderation(image) if f):
        fail(f"moderate {image}: fired {b['result']['fired']}")

def ingest_moderated(s, base_id):
    body = {"items": [{"id": base_id + k, "image": b64(n), "payload": {"name": n}} for k, n in enumerate(ING)]}
    st, _, b = req(s, "PUT", "/v1/collections/mod/items?wait=true", body)
    if st != 200:
        fail(f"moderated ingest: {st} {b}")
    for k, n in enumerate(ING):
        res = b["result"]["items"][k]
        exp_m = expected_moderation(n)
        rejected = [name for name, _, f in exp_m if f and name == "red-dress"]
        flagged = [(name, sc) for name, sc, f in exp_m if f and name == "cats"]
        st2, _, g = req(s, "GET", f"/v1/collections/mod/items/{base_id + k}")
        if rejected:
            if res["status"] != "error" or "red-dress" not in res["error"]:
                fail(f"{n} should be rejected by red-dress: {res}")
            if st2 != 404:
                fail(f"rejected item {n} was stored: {st2} {g}")
            continue
        if res["status"] != "ok" or st2 != 200:
            fail(f"{n}: {res} / GET {st2}")
        mod = g["result"]["payload"].get("_moderation")
        if flagged:
            if not mod or [m["rule"] for m in mod] != ["cats"] or abs(mod[0]["score"] - flagged[0][1]) > 1e-4:
                fail(f"{n}: _moderation {mod}, expected {flagged}")
        elif mod is not None:
            fail(f"{n}: unexpected _moderation {mod}")
    return b

b = ingest_moderated(srv, 100)
if sum(r["status"] == "error" for r in b["result"]["items"]) != 1:
    fail(f"exactly one item should be rejected: {b}")

# ---- the image cache: the same bytes again run no image inference ----
infer = metric(srv, "vitrine_embeddings_total", 'kind="image"')
hits = metric(srv, "vitrine_embed_cache_hits_total", 'cache="image"')
body = {"items": [{"id": 1000 + i, "image": b64(it["name"])} for i, it in enumerate(items)]}
# (The moderation rules are on: color.png is rejected, from the cache too.)
def ingest_ok(b):
    return all((r["status"] == "ok") == (it["name"] != "color.png") for r, it in zip(b["result"]["items"], items))
st, _, b = req(srv, "PUT", "/v1/collections/again/items?wait=true", body)
if st != 200 or not ingest_ok(b):
    fail(f"second ingest: {st} {b}")
if metric(srv, "vitrine_embeddings_total", 'kind="image"') != infer:
    fail("the second ingest of the same images ran image inference")
if metric(srv, "vitrine_embed_cache_hits_total", 'cache="image"') - hits < len(items):
    fail("the second ingest did not count cache hits")
# Cached embeddings are the stored ones: search finds each at score 1.
st, _, b = req(srv, "POST", "/v1/collections/again/search", {"image": b64("horse.png"), "limit": 1})
if b["result"][0]["id"] != 1000 + IMAGES.index("horse.png") or abs(b["result"][0]["score"] - 1) > 1e-5:
    fail(f"search in the cached collection: {b}")

# ---- bad input: a clear 4xx each, the server up, nothing stored ----
def count(s, c):
    st, _, b = req(s, "POST", f"/collections/{c}/points/count", {"exact": True})
    return b["result"]["count"] if st == 200 else -1

def png_header(w, h):
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00" * 64

before = count(srv, "shop")
jpeg = raw_image("rocket.jpg")
cases = [
    ("non-image bytes", {"id": 501, "image": base64.b64encode(b"this is not an image at all" * 10).decode()}, "format"),
    ("20000x20000 PNG header", {"id": 502, "image": base64.b64encode(png_header(20000, 20000)).decode()}, "pixels"),
    ("truncated JPEG", {"id": 503, "image": base64.b64encode(jpeg[:len(jpeg) // 2]).decode()}, "truncated"),
    ("empty text", {"id": 504, "text": ""}, "empty"),
    ("an http URL", {"id": 505, "image": "http://example.com/a.jpg"}, "fetch"),
    ("bad base64", {"id": 506, "image": "not base64 !!"}, "base64"),
    ("neither image nor text", {"id": 507}, "needs"),
]
for what, item, needle in cases:
    msg = expect_error(req(srv, "PUT", "/v1/collections/shop/items?wait=true", {"items": [item]}), 400, needle, what)
    if "no item was stored" not in msg:
        fail(f"{what}: {msg}")
    alive(srv)
    st, _, _ = req(srv, "GET", f"/v1/collections/shop/items/{item['id']}")
    if st != 404:
        fail(f"{what}: the failed item was stored")
# One request with good and bad items: the good ones stored, 200.
st, _, b = req(srv, "PUT", "/v1/collections/shop/items?wait=true",
               {"items": [{"id": 510, "image": b64("horse.png"), "text": "a horse"}, cases[0][1], cases[3][1]]})
statuses = [r["status"] for r in b["result"]["items"]] if st == 200 else None
if statuses != ["ok", "error", "error"] or "format" not in b["result"]["items"][1]["error"]:
    fail(f"mixed items: {st} {b}")
if count(srv, "shop") != before + 1:
    fail(f"mixed items: count {count(srv, 'shop')}, expected {before + 1}")
# Invalid UTF-8 in the JSON text: the body does not parse.
bad = b'{"items": [{"id": 520, "text": "caf\xe9 \xff"}]}'
expect_error(req(srv, "PUT", "/v1/collections/shop/items", bad, {"Content-Type": "application/json"}), 400, "utf", "invalid UTF-8 (items)")
expect_error(req(srv, "POST", "/v1/collections/shop/search", b'{"text": "\xc3\x28"}', {"Content-Type": "application/json"}), 400, "utf", "invalid UTF-8 (search)")
# Malformed multipart: truncated (no closing boundary), no items part, bad items JSON.
mp, ctype = multipart([("items", None, None, b'{"items": [{"id": 530, "image": "f"}]}'), ("f", "a.png", None, raw_image("horse.png"))])
expect_error(req(srv, "PUT", "/v1/collections/shop/items", mp[:len(mp) // 2], {"Content-Type": ctype}), 400, "multipart", "truncated multipart")
mp2, ctype2 = multipart([("f", "a.png", None, raw_image("horse.png"))])
expect_error(req(srv, "PUT", "/v1/collections/shop/items", mp2, {"Content-Type": ctype2}), 400, "items", "multipart without items")
expect_error(req(srv, "PUT", "/v1/collections/shop/items", b"--x\r\n\r\n", {"Content-Type": "multipart/form-data"}), 400, "boundary", "multipart without boundary")
mp3, ctype3 = multipart([("items", None, None, b'{"items": [')])
expect_error(req(srv, "PUT", "/v1/collections/shop/items", mp3, {"Content-Type": ctype3}), 400, "", "multipart with bad JSON")
expect_error(req(srv, "PUT", "/v1/collections/shop/items", b"x", {"Content-Type": "text/plain"}), 400, "content type", "text/plain body")
if count(srv, "shop") != before + 1:
    fail("a refused request stored something")
# Unknown model, unknown collection, bad search requests.
expect_error(req(srv, "POST", "/v1/classify", {"model": "nope", "image": b64("horse.png"), "labels": ["a"]}), 404, "nope", "unknown model (classify)")
expect_error(req(srv, "POST", "/collections/shop/points/query", {"query": {"text": "a cat", "model": "nope"}, "using": "text"}), 404, "nope", "unknown model (Document)")
expect_error(req(srv, "POST", "/collections/shop/points/query", {"query": {"object": {"a": 1}, "model": "tiny-p32"}, "using": "text"}), 400, "InferenceObject", "InferenceObject")
expect_error(req(srv, "POST", "/v1/collections/nope/search", {"text": "a cat"}), 404, "nope", "unknown collection (search)")
expect_error(req(srv, "GET", "/v1/collections/nope/items/1"), 404, "nope", "unknown collection (item)")
expect_error(req(srv, "GET", "/v1/collections/nope/items/1/thumbnail"), 404, "nope", "unknown collection (thumbnail)")
expect_error(req(srv, "POST", "/v1/collections/shop/search", {"limit": 3}), 400, "exactly one", "search without a query")
expect_error(req(srv, "POST", "/v1/collections/shop/search", {"text": "a", "image": b64("horse.png")}), 400, "exactly one", "search with two queries")
expect_error(req(srv, "POST", "/v1/collections/shop/search", {"text": ""}), 400, "empty", "search with empty text")
expect_error(req(srv, "POST", "/v1/collections/shop/search", {"id": 424242}), 404, "424242", "search by a missing id")
expect_error(req(srv, "POST", "/v1/collections/shop/search", {"image": b64("horse.png"), "using": "nope"}), 400, "nope", "unknown vector")
alive(srv)

# ---- a restart: rules and the image cache persist ----
stop(srv)
srv = start("main", "--weights", FIX + "/models/tiny-p32")
st, _, b = req(srv, "GET", "/v1/moderation/rules")
if b.get("result") != stored_rules:
    fail(f"rules after a restart: {b}")
ingest_moderated(srv, 200)
body = {"items": [{"id": 2000 + i, "image": b64(it["name"])} for i, it in enumerate(items)]}
st, _, b = req(srv, "PUT", "/v1/collections/third/items?wait=true", body)
if st != 200 or not ingest_ok(b):
    fail(f"ingest after restart: {st} {b}")
if metric(srv, "vitrine_embeddings_total", 'kind="image"') != 0:
    fail("after a restart, ingesting known images ran image inference (the cache is not persistent)")
if metric(srv, "vitrine_embed_cache_hits_total", 'cache="image"') < len(items) + len(ING):
    fail("after a restart: too few image cache hits")
stop(srv)

# ---- without weights: 503 saying how to install them ----
nw = start("noweights", "--weights", WORK + "/no-such-weights")
for method, path, body in [("PUT", "/v1/collections/shop/items", {"items": [{"id": 1, "text": "a"}]}),
                           ("POST", "/v1/collections/shop/search", {"text": "a"}),
                           ("POST", "/v1/classify", {"image": b64("horse.png"), "labels": ["a"]}),
                           ("POST", "/v1/moderate", {"image": b64("horse.png")}),
                           ("PUT", "/collections/c/points", {"points": [{"id": 1, "vector": {"text": "a", "model": "tiny-p32"}}]})]:
    if path == "/collections/c/points":
        req(nw, "PUT", "/collections/c", {"vectors": {"size": 4, "distance": "Cosine"}})
    expect_error(req(nw, method, path, body), 503, "weights", f"{method} {path} without weights")
st, _, b = req(nw, "GET", "/v1/moderation/rules")
if st != 200 or b["result"] != {"rules": []}:
    fail(f"GET rules without weights: {st} {b}")
stop(nw)
print("v1_items.sh: ok")
EOF
