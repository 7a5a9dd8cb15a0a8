#!/usr/bin/env bash
# cli.sh - the client commands end to end: `vitrine index`, `search`,
# `classify` and `export` against real `vitrine serve` processes serving
# the fixture model, and in standalone mode (--data); the references are
# the fixture's expected embeddings (transformers' numbers), the HTTP API's
# own answers, hashlib's SHA-256, and the metadata file written here.
#
# Checked: index walks a folder (subfolders, hidden files and non-image
# extensions left out), matches a CSV metadata file by file name, by path
# below the folder and by id = file stem, makes ids (metadata integer ids,
# UUIDs canonicalised, else version-8 UUIDs of the path) and payloads (the
# row's columns, numbers as numbers, plus _sha256 and _file) exactly;
# image and text vectors are the fixture's embeddings; a broken, an empty
# and a truncated image are listed in the report with their reasons and
# do not stop the run; bytes seen twice are indexed once; near-duplicates
# (by the fixture's cosines, batch by batch) and moderation flags (a rule
# whose threshold sits in a gap of the fixture's scores) are reported in
# the JSON report; a second run skips every photo and runs no inference
# (/metrics); a run killed midway resumes and ends with every photo once;
# JSON-lines metadata works too; search (--text, --image, --id, table and
# --json) and classify print what the API answers; export copies a
# collection (named, sparse vectors, payloads) into a second server
# exactly, creating it with the same vectors, and an interrupted export
# resumes from its state file; standalone mode indexes the same points as
# the server did and is refused while `vitrine serve` holds the directory;
# every command's --help exits 0 and names its options.
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
import base64, csv, hashlib, http.client, io, json, math, os, random, re, shutil, signal, struct, subprocess, sys, time

BIN, FIX, WORK = sys.argv[1:]
exp = json.load(open(FIX + "/expected/tiny-p32/outputs.json"))
WEIGHTS = FIX + "/models/tiny-p32"
servers = []

def fail(msg):
    print("cli.sh: FAIL: " + msg)
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
    for _ in range(300):
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
        rc = s["proc"].wait(10)
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


def run(*args, ok=True, timeout=300):
    """Runs vitrine with args; returns (rc, stdout, stderr)."""
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)
    if ok and p.returncode != 0:
        fail(f"vitrine {' '.join(args)} exited {p.returncode}:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return p.returncode, p.stdout, p.stderr

def url(s):
    return f"http://127.0.0.1:{s['port']}"

def scroll_all(s, coll, vectors=True):
    pts, off = {}, None
    while True:
        body = {"limit": 250, "with_payload": True, "with_vector": vectors}
        if off is not None:
            body["offset"] = off
        st, _, b = req(s, "POST", f"/collections/{coll}/points/scroll", body)
        if st != 200:
            fail(f"scroll {coll}: {st} {b}")
        for p in b["result"]["points"]:
            pts[json.dumps(p["id"])] = p
        off = b["result"].get("next_page_offset")
        if off is None:
            return pts

def count(s, coll):
    st, _, b = req(s, "POST", f"/collections/{coll}/points/count", {"exact": True})
    return b["result"]["count"] if st == 200 else 0

def gap_threshold(values, lo, hi, margin):
    """A threshold in [lo, hi] at least margin away from every value."""
    t = lo
    while t <= hi:
        if all(abs(v - t) > margin for v in values):
            return round(t, 4)
        t += 0.001
    fail(f"no threshold in [{lo}, {hi}] with a {margin} gap")

def cos(a, b):
    return dot(unit(a), unit(b))

def same_points(src, dst, cosine_names):
    """The first point that differs, or None. Payloads, ids, sparse and
    non-Cosine vectors must be equal exactly. Cosine vectors are normalised
    again by the target on upsert (as Qdrant does), which may move the last
    bit of a float already of unit length, so they agree to 1e-6."""
    if sorted(src) != sorted(dst):
        return "ids"
    for k in src:
        a, b = src[k], dst[k]
        if a["payload"] != b["payload"]:
            return k
        va, vb = a["vector"], b["vector"]
        if sorted(va) != sorted(vb):
            return k
        for name in va:
            if name in cosine_names:
                if len(va[name]) != len(vb[name]) or max(abs(x - y) for x, y in zip(va[name], vb[name])) > 1e-6:
                    return k
            elif va[name] != vb[name]:
                return k
    return None

# ---- the photo folder and its metadata ----
photos = f"{WORK}/photos"
os.makedirs(photos + "/sub")
TOP = ["astronaut.png", "astronaut_q95_444.jpg", "block.png", "camera.png", "chelsea.png", "coffee.png",
       "page.png", "rocket.jpg"]
SUB = ["coffee_lossy.webp", "color.png", "horse.png", "logo.png"]
for n in TOP:
    shutil.copy(FIX + "/images/" + n, photos + "/" + n)
for n in SUB:
    shutil.copy(FIX + "/images/" + n, photos + "/sub/" + n)
shutil.copy(FIX + "/images/chelsea.png", photos + "/sub/zz_chelsea_copy.png")  # the same bytes again
open(photos + "/broken.jpg", "w").write("this is not a photo\n")
open(photos + "/empty.png", "w").close()
open(photos + "/truncated.jpg", "wb").write(open(FIX + "/images/rocket.jpg", "rb").read()[:300])
open(photos + "/notes.txt", "w").write("not indexed: not an image extension\n")
shutil.copy(FIX + "/images/horse.png", photos + "/.hidden.png")  # hidden: not indexed
TEXTS = {t["text"]: unit(t["text_embeds"]) for t in exp["texts"]}
IMG = {k: unit(v["image_embeds"]) for k, v in exp["images"].items()}
ROCKET_UUID = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
rows = [
    # file, id, title, price, sku, description
    ["astronaut.png", "1", 'Poster "Astronaut", framed', "19.99", "007", "a photo of a cat"],
    ["chelsea.png", "2", "Cat mug", "7.5", "", "a photo of a dog"],
    ["rocket.jpg", ROCKET_UUID, "Rocket toy", "12", "R-1", "a red summer dress"],
    ["sub/horse.png", "", "Horse figurine", "30", "", "A Beautiful RED   summer dress!!"],
    ["", "camera", "Camera", "250", "C1", "size 42 shoes, 100% cotton, $19.99"],
    ["ghost.png", "99", "Not in the folder", "1", "", ""],
]
with open(f"{WORK}/products.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["file", "id", "title", "price", "sku", "description"])
    w.writerows(rows)

def csv_value(v):
    if re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", v):
        return json.loads(v)
    return v

def meta_for(rel_below):
    """The metadata row of a photo (path below the folder), as the docs say."""
    base = rel_below.split("/")[-1]
    for r in rows:
        if r[0] and (r[0] == rel_below or r[0] == base):
            return r
    stem = base.rsplit(".", 1)[0]
    for r in rows:
        if r[1] == stem:
            return r
    return None

def expected_item(rel_below):
    rel = "photos/" + rel_below
    data = open(photos + "/" + rel_below, "rb").read()
    r = meta_for(rel_below)
    payload = {}
    text = None
    if r:
        for k, v in zip(["file", "id", "title", "price", "sku", "description"], r):
            if k == "file" or v == "":
                continue
            payload[k] = csv_value(v)
        text = payload.get("description") or payload.get("title")
    payload["_sha256"] = hashlib.sha256(data).hexdigest()
    payload["_file"] = rel
    idv = payload.get("id")
    if isinstance(idv, int) and idv >= 0:
        pid = idv
    elif isinstance(idv, str) and re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", idv):
        pid = idv.lower()
    else:
        d = bytearray(hashlib.sha256(("vitrine:file:" + rel).encode()).digest()[:16])
        d[6] = (d[6] & 0x0F) | 0x80
        d[8] = (d[8] & 0x3F) | 0x80
        h = d.hex()
        pid = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return {"id": pid, "payload": payload, "text": text, "name": rel_below.split("/")[-1], "rel": rel}

# The walk order: names sorted at each level (byte order), folders in place.
ORDER = ["astronaut.png", "astronaut_q95_444.jpg", "block.png", "broken.jpg", "camera.png", "chelsea.png",
         "coffee.png", "empty.png", "page.png", "rocket.jpg", "sub/coffee_lossy.webp", "sub/color.png",
         "sub/horse.png", "sub/logo.png", "sub/zz_chelsea_copy.png", "truncated.jpg"]
BAD = {"broken.jpg": "not an image", "empty.png": "empty file", "truncated.jpg": "image:"}
GOOD = [r for r in ORDER if r not in BAD and r != "sub/zz_chelsea_copy.png"]
EXPECT = {r: expected_item(r) for r in GOOD}
BATCH = 3

# ---- server A: moderation rule, first index run ----
A = start("A", "--weights", WEIGHTS)
PROMPT = "a photo of a cat"
mod_scores = {r: dot(IMG[EXPECT[r]["name"]], TEXTS[PROMPT]) for r in GOOD}
MOD_T = gap_threshold(list(mod_scores.values()), sorted(mod_scores.values())[len(GOOD) // 2] - 0.02, 1.0, 0.004)
st, _, b = req(A, "PUT", "/v1/moderation/rules",
               {"rules": [{"name": "cats", "prompts": [PROMPT], "threshold": MOD_T, "action": "flag"}]})
if st != 200:
    fail(f"moderation rules: {st} {b}")
pair = [dot(IMG[EXPECT[x]["name"]], IMG[EXPECT[y]["name"]]) for x in GOOD for y in GOOD if x < y]
DUP_T = gap_threshold(pair, 0.93, 0.99, 0.004)

infer0 = metric(A, "vitrine_embeddings_total", 'kind="image"')
rc, out, err = run("index", "--url", url(A), "--collection", "shop", photos, "--meta", f"{WORK}/products.csv",
                   "--batch", str(BATCH), "--dup-threshold", str(DUP_T), "--report", f"{WORK}/r1.json")
rep = json.load(open(f"{WORK}/r1.json"))
if rep["files"] != len(ORDER) or rep["indexed"] != len(GOOD) or rep["skipped"] != 0 or rep["identical"] != 1:
    fail(f"first run counts: {json.dumps(rep)[:600]}")
got_bad = {f["path"][len(photos) + 1:]: f["reason"] for f in rep["failed"]}
if set(got_bad) != set(BAD) or any(BAD[k].lower() not in got_bad[k].lower() for k in BAD):
    fail(f"failed files: {got_bad}")
for k in BAD:
    if f"{photos}/{k}: " not in out:
        fail(f"the printed report does not list {k}:\n{out}")
if rep["unmatched_metadata_rows"] != 1:
    fail(f"unmatched rows: {rep['unmatched_metadata_rows']} (ghost.png is the only one)")
if metric(A, "vitrine_embeddings_total", 'kind="image"') - infer0 != len(GOOD):
    fail("the first run did not embed each good photo once")

# Points: ids, payloads, vectors.
pts = scroll_all(A, "shop")
if len(pts) != len(GOOD):
    fail(f"{len(pts)} points, expected {len(GOOD)}")
for r, e in EXPECT.items():
    p = pts.get(json.dumps(e["id"]))
    if not p:
        fail(f"{r}: no point with id {e['id']} (have {sorted(pts)})")
    pl = dict(p["payload"])
    mod = pl.pop("_moderation", None)  # the server's flag rule wrote it (checked below)
    if pl != e["payload"]:
        fail(f"{r}: payload {p['payload']} != {e['payload']}")
    if (mod is not None) != (mod_scores[r] >= MOD_T):
        fail(f"{r}: _moderation {mod}, fixture score {mod_scores[r]}, threshold {MOD_T}")
    tol = 2e-3 if r.endswith(".jpg") or r.endswith(".webp") else 1e-4
    if max(abs(x - y) for x, y in zip(p["vector"]["image"], IMG[e["name"]])) > tol:
        fail(f"{r}: image vector differs from the fixture's")
    if e["text"]:
        if "text" not in p["vector"] or max(abs(x - y) for x, y in zip(p["vector"]["text"], TEXTS[e["text"]])) > 1e-4:
            fail(f"{r}: text vector is not the embedding of {e['text']!r}")
    elif "text" in p["vector"]:
        fail(f"{r}: a text vector without a text")

# Identical bytes: reported once, not stored.
ident = [d for d in rep["duplicates"] if d["identical"]]
if len(ident) != 1 or not ident[0]["path"].endswith("sub/zz_chelsea_copy.png") or \
        not ident[0]["duplicate_of_file"].endswith("photos/chelsea.png"):
    fail(f"identical bytes: {ident}")

# Near-duplicates, batch by batch: an item searches the items stored up to
# its own batch (bad files and the identical copy take places in batches).
batches, cur = [], []
for r in ORDER:
    cur.append(r)
    if len(cur) == BATCH:
        batches.append(cur)
        cur = []
if cur:
    batches.append(cur)
stored_by = {}
avail = []
for bt in batches:
    avail = avail + [r for r in bt if r in EXPECT]
    for r in bt:
        if r in EXPECT:
            stored_by[r] = list(avail)
by_id = {json.dumps(e["id"]): r for r, e in EXPECT.items()}
near = [d for d in rep["duplicates"] if not d["identical"]]
reported = {}
for d in near:
    r = by_id.get(json.dumps(d["id"]))
    o = by_id.get(json.dumps(d["duplicate_of"]))
    if not r or not o or o not in stored_by[r] or o == r:
        fail(f"near-duplicate {d}: not a pair of items stored by then")
    c = dot(IMG[EXPECT[r]["name"]], IMG[EXPECT[o]["name"]])
    best = max(dot(IMG[EXPECT[r]["name"]], IMG[EXPECT[x]["name"]]) for x in stored_by[r] if x != r)
    if c < DUP_T or abs(c - d["score"]) > 3e-3 or c < best - 3e-3:
        fail(f"near-duplicate {d}: fixture cosine {c}, best {best}, threshold {DUP_T}")
    reported[r] = o
for r in GOOD:
    others = [x for x in stored_by[r] if x != r]
    if not others:
        continue
    best = max(dot(IMG[EXPECT[r]["name"]], IMG[EXPECT[x]["name"]]) for x in others)
    if best >= DUP_T and r not in reported and r not in reported.values():
        fail(f"{r}: its nearest stored item scores {best} >= {DUP_T}, not reported")
if not near:
    fail(f"no near-duplicates at threshold {DUP_T}: the check proved nothing")

# Moderation flags: exactly the photos at or above the rule's threshold.
flagged = {by_id[json.dumps(f["id"])] for f in rep["flagged"]}
want = {r for r in GOOD if mod_scores[r] >= MOD_T}
if flagged != want or not want:
    fail(f"flagged {sorted(flagged)}, expected {sorted(want)} (threshold {MOD_T})")
for f in rep["flagged"]:
    if [m["rule"] for m in f["moderation"]] != ["cats"]:
        fail(f"flag record {f}")

# ---- a second run skips everything and runs no inference ----
infer1 = metric(A, "vitrine_embeddings_total", 'kind="image"')
rc, out, err = run("index", "--url", url(A), "--collection", "shop", photos, "--meta", f"{WORK}/products.csv",
                   "--batch", str(BATCH), "--report", f"{WORK}/r2.json")
rep2 = json.load(open(f"{WORK}/r2.json"))
if rep2["indexed"] != 0 or rep2["skipped"] != len(GOOD) or len(rep2["failed"]) != len(BAD):
    fail(f"second run: {json.dumps(rep2)[:600]}")
if metric(A, "vitrine_embeddings_total", 'kind="image"') != infer1:
    fail("the second run ran image inference")
if count(A, "shop") != len(GOOD):
    fail("the second run changed the number of points")

# ---- --force applies edited metadata; the image cache spares inference ----
rows[1][3] = "8.25"
with open(f"{WORK}/products2.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["file", "id", "title", "price", "sku", "description"])
    w.writerows(rows)
infer2 = metric(A, "vitrine_embeddings_total", 'kind="image"')
run("index", "--url", url(A), "--collection", "shop", photos, "--meta", f"{WORK}/products2.csv", "--force",
    "--no-dup-check", "--report", f"{WORK}/rf.json")
repf = json.load(open(f"{WORK}/rf.json"))
st, _, b = req(A, "GET", "/v1/collections/shop/items/2")
if repf["indexed"] != len(GOOD) or b["result"]["payload"].get("price") != 8.25 or count(A, "shop") != len(GOOD):
    fail(f"--force: {json.dumps(repf)[:300]}, item 2 {b}")
if metric(A, "vitrine_embeddings_total", 'kind="image"') != infer2:
    fail("--force ran image inference for photos the server had seen")
rows[1][3] = "7.5"
run("index", "--url", url(A), "--collection", "shop", photos, "--meta", f"{WORK}/products.csv", "--force",
    "--no-dup-check")  # back to the first metadata, which the checks below expect

# ---- JSON lines metadata ----
with open(f"{WORK}/products.jsonl", "w") as f:
    f.write(json.dumps({"image": "chelsea.png", "id": 7, "title": "Mug", "tags": ["cat", "mug"],
                        "dims": {"h": 9.5}, "text": "a photo of a cat"}) + "\n\n")
    f.write(json.dumps({"id": "coffee", "title": "Coffee", "price": 3}) + "\n")
# Another photo also named chelsea.png matches the same row: refused, not
# stored over the first under the row's id.
os.makedirs(f"{WORK}/other")
shutil.copy(FIX + "/images/horse.png", f"{WORK}/other/chelsea.png")
run("index", "--url", url(A), "--collection", "jl", photos + "/chelsea.png", photos + "/coffee.png",
    f"{WORK}/other/chelsea.png", "--meta", f"{WORK}/products.jsonl", "--no-dup-check", "--report", f"{WORK}/rj.json")
repj = json.load(open(f"{WORK}/rj.json"))
if [f["path"] for f in repj["failed"]] != [f"{WORK}/other/chelsea.png"] or "already went to" not in repj["failed"][0]["reason"]:
    fail(f"a second photo for one metadata row: {repj['failed']}")
jl = scroll_all(A, "jl")
for p in jl.values():
    p["payload"].pop("_moderation", None)  # the cat rule may flag them
want7 = {"id": 7, "title": "Mug", "tags": ["cat", "mug"], "dims": {"h": 9.5}, "text": "a photo of a cat",
         "_sha256": EXPECT["chelsea.png"]["payload"]["_sha256"], "_file": "chelsea.png"}
if len(jl) != 2 or jl.get("7", {}).get("payload") != want7:
    fail(f"jsonl metadata: {json.dumps(jl)[:800]}")
coffee = [p for p in jl.values() if p["id"] != 7][0]
if coffee["payload"].get("id") != "coffee" or coffee["payload"].get("price") != 3:
    fail(f"jsonl row matched by id = file stem: {coffee}")

# ---- search and classify print what the API answers ----
def api_search(body):
    st, _, b = req(A, "POST", "/v1/collections/shop/search", body)
    if st != 200:
        fail(f"API search {body}: {st} {b}")
    return b["result"]

for args, body in [(["--text", "a photo of a dog", "--limit", "5"], {"text": "a photo of a dog", "limit": 5}),
                   (["--image", photos + "/rocket.jpg"], {"image": base64.b64encode(open(photos + "/rocket.jpg", "rb").read()).decode()}),
                   (["--id", "2", "--limit", "3"], {"id": 2, "limit": 3}),
                   (["--id", ROCKET_UUID.lower(), "--using", "image", "--filter", '{"must": [{"key": "price", "range": {"gte": 10}}]}'],
                    {"id": ROCKET_UUID.lower(), "using": "image", "filter": {"must": [{"key": "price", "range": {"gte": 10}}]}})]:
    want = api_search(body)
    if not want:
        fail(f"API search {args} found nothing: the check proves nothing")
    _, out, _ = run("search", "--url", url(A), "--collection", "shop", *args, "--json")
    got = [json.loads(l) for l in out.splitlines()]
    if got != want:
        fail(f"search {args} --json:\n{got}\n!=\n{want}")
    _, out, _ = run("search", "--url", url(A), "--collection", "shop", *args)
    lines = out.splitlines()
    if not re.match(r"id\s+score\s+title\s+price", lines[0]) or len(lines) != len(want) + 1:
        fail(f"search table:\n{out}")
    for line, w in zip(lines[1:], want):
        cols = re.split(r"\s{2,}", line.strip())
        title = w["payload"].get("title", w["payload"].get("_file"))
        wid = str(w["id"])
        if cols[0] != wid or abs(float(cols[1]) - w["score"]) > 5e-5 or not cols[2].startswith(title[:20]):
            fail(f"table row {line!r} for {w}")
        if "price" in w["payload"] and cols[-1] != json.dumps(w["payload"]["price"]):
            fail(f"table row {line!r}: price {w['payload']['price']}")
if api_search({"image": base64.b64encode(open(photos + "/rocket.jpg", "rb").read()).decode(), "limit": 1})[0]["id"] != ROCKET_UUID.lower():
    fail("image search does not find the rocket first")
rc, _, err = run("search", "--url", url(A), "--collection", "nope", "--text", "x", ok=False)
if rc != 1 or "doesn't exist" not in err:
    fail(f"search of a missing collection: rc {rc}, {err}")
rc, _, err = run("search", "--url", url(A), "--collection", "shop", "--text", "x", "--id", "1", ok=False)
if rc != 2:
    fail("search with two queries must be a usage error")

labels = ["cat", "rocket", "coffee"]
st, _, b = req(A, "POST", "/v1/classify", {"image": base64.b64encode(open(photos + "/chelsea.png", "rb").read()).decode(),
                                           "labels": labels, "templates": ["a photo of a {}.", "a {} photo"]})
_, out, _ = run("classify", "--url", url(A), "--image", photos + "/chelsea.png", "--labels", "cat, rocket,coffee",
                "--template", "a photo of a {}.", "--templates", "a {} photo", "--json")
if json.loads(out) != b["result"]:
    fail(f"classify --json {out} != {b['result']}")
_, out, _ = run("classify", "--url", url(A), "--image", photos + "/chelsea.png", "--labels", "cat,rocket,coffee",
                "--templates", "a photo of a {}.|a {} photo")
got = [(l.split()[0], float(l.split()[1])) for l in out.splitlines()]
if [g[0] for g in got] != [r["label"] for r in b["result"]] or any(abs(g[1] - r["score"]) > 5e-5 for g, r in zip(got, b["result"])):
    fail(f"classify table {got} != {b['result']}")

# ---- an interrupted run resumes ----
allp = f"{WORK}/all"
os.makedirs(allp)
for n in sorted(exp["images"]):
    shutil.copy(FIX + "/images/" + n, allp + "/" + n)
N_ALL = len(exp["images"])
p = subprocess.Popen([BIN, "index", "--url", url(A), "--collection", "big", allp, "--batch", "1"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
t0 = time.time()
while count(A, "big") < 3:
    if p.poll() is not None or time.time() - t0 > 120:
        fail("the index run to interrupt ended before it stored 3 photos")
    time.sleep(0.005)
p.kill()
p.wait()
# A request sent just before the kill is still stored by the server: wait
# until the count settles.
have = count(A, "big")
while True:
    time.sleep(0.3)
    now = count(A, "big")
    if now == have:
        break
    have = now
if have >= N_ALL:
    fail("could not interrupt the index run (it finished first)")
rc, out, err = run("index", "--url", url(A), "--collection", "big", allp, "--batch", "4", "--report", f"{WORK}/r3.json")
rep3 = json.load(open(f"{WORK}/r3.json"))
if rep3["skipped"] != have or rep3["indexed"] != N_ALL - have or rep3["failed"]:
    fail(f"resumed run: {have} were stored, report {json.dumps(rep3)[:400]}")
big = scroll_all(A, "big", vectors=False)
if len(big) != N_ALL or len({p["payload"]["_sha256"] for p in big.values()}) != N_ALL:
    fail(f"after resuming: {len(big)} points for {N_ALL} photos")

# ---- export into a second server ----
C = start("C")  # no weights: a pure vector database, as a Qdrant would be
rc, out, err = run("export", "--url", url(A), "--collection", "shop", "--to", url(C), "--batch", "4",
                   "--state", f"{WORK}/shop.state")
src, dst = scroll_all(A, "shop"), scroll_all(C, "shop")
k = same_points(src, dst, {"image", "text"})
if k:
    fail(f"exported points differ at {k}: {json.dumps(src.get(k))[:300]} vs {json.dumps(dst.get(k))[:300]}")
if os.path.exists(f"{WORK}/shop.state"):
    fail("the state file is left after a complete export")
_, _, ca = req(A, "GET", "/collections/shop")
_, _, cc = req(C, "GET", "/collections/shop")
if ca["result"]["config"]["params"]["vectors"] != cc["result"]["config"]["params"]["vectors"]:
    fail("the target's vectors config differs")

# A bigger collection with named and sparse vectors, interrupted and resumed.
rng = random.Random(11)
st, _, b = req(A, "PUT", "/collections/rnd", {"vectors": {"a": {"size": 8, "distance": "Cosine"},
                                                          "b": {"size": 4, "distance": "Euclid"}},
                                              "sparse_vectors": {"s": {}}})
if st != 200:
    fail(f"create rnd: {st} {b}")
N_RND = 3000
for base in range(0, N_RND, 500):
    points = []
    for i in range(base, base + 500):
        v = {"a": [rng.uniform(-1, 1) for _ in range(8)], "b": [rng.uniform(-5, 5) for _ in range(4)]}
        if i % 3 == 0:
            v["s"] = {"indices": sorted(rng.sample(range(1000), 3)), "values": [rng.uniform(0, 1) for _ in range(3)]}
        pid = i if i % 2 else str(__import__("uuid").UUID(int=rng.getrandbits(128)))
        points.append({"id": pid, "vector": v, "payload": {"n": i, "f": rng.random(), "tags": ["x", str(i)],
                                                           "nested": {"ok": i % 5 == 0, "none": None}}})
    st, _, b = req(A, "PUT", "/collections/rnd/points?wait=true", {"points": points})
    if st != 200:
        fail(f"rnd upsert: {st} {b}")
state = f"{WORK}/rnd.state"
p = subprocess.Popen([BIN, "export", "--url", url(A), "--collection", "rnd", "--to", url(C), "--to-collection", "rnd2",
                      "--batch", "10", "--state", state], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
t0 = time.time()
while not os.path.exists(state):
    if p.poll() is not None or time.time() - t0 > 120:
        fail("the export to interrupt ended before writing its state")
    time.sleep(0.002)
p.send_signal(signal.SIGSTOP)
p.kill()
p.wait()
part = count(C, "rnd2")
if not 0 < part < N_RND:
    fail(f"interrupted export left {part} points")
rc, out, err = run("export", "--url", url(A), "--collection", "rnd", "--to", url(C), "--to-collection", "rnd2",
                   "--batch", "10", "--state", state)
m = re.search(r"resuming after (\d+) points", err)
if not m or int(m.group(1)) == 0:
    fail(f"the second export did not resume: {err}")
src, dst = scroll_all(A, "rnd"), scroll_all(C, "rnd2")
k = same_points(src, dst, {"a"})
if len(src) != N_RND or k:
    diff = [k]
    fail(f"resumed export differs: {len(src)} vs {len(dst)} points, first difference {diff[:1]}: "
         f"{json.dumps(src.get(diff[0]) if diff else None)} vs {json.dumps(dst.get(diff[0]) if diff else None)}")
_, _, cc = req(C, "GET", "/collections/rnd2")
_, _, ca = req(A, "GET", "/collections/rnd")
for k in ("vectors", "sparse_vectors"):
    if ca["result"]["config"]["params"].get(k) != cc["result"]["config"]["params"].get(k):
        fail(f"rnd2's {k} config differs")
# A target with other vectors is refused.
req(C, "PUT", "/collections/other", {"vectors": {"size": 3, "distance": "Dot"}})
rc, _, err = run("export", "--url", url(A), "--collection", "shop", "--to", url(C), "--to-collection", "other",
                 "--state", f"{WORK}/o.state", ok=False)
if rc != 1 or "other vectors" not in err:
    fail(f"export into an incompatible collection: rc {rc}: {err}")

# API keys: --api-key is the target's, --source-api-key the source's.
K = start("K", "--api-key", "s3cret-key")
rc, _, err = run("export", "--url", url(A), "--collection", "jl", "--to", url(K), "--state", f"{WORK}/k.state", ok=False)
if rc != 1 or "401" not in err:
    fail(f"export to a server with a key, without it: rc {rc}: {err}")
run("export", "--url", url(A), "--collection", "jl", "--to", url(K), "--api-key", "s3cret-key", "--state", f"{WORK}/k.state")
rc, out, err = run("export", "--url", url(K), "--source-api-key", "s3cret-key", "--collection", "jl", "--to", url(C),
                   "--to-collection", "jl-back", "--state", f"{WORK}/k2.state")
if same_points(scroll_all(A, "jl"), scroll_all(C, "jl-back"), {"image", "text"}):
    fail("export through a keyed server and back differs")
stop(K)

# ---- standalone mode ----
S = f"{WORK}/standalone"
rc, out, err = run("index", "--data", S, "--weights", WEIGHTS, "--collection", "shop", photos,
                   "--meta", f"{WORK}/products.csv", "--batch", str(BATCH), "--report", f"{WORK}/rs.json")
reps = json.load(open(f"{WORK}/rs.json"))
if reps["indexed"] != len(GOOD) or len(reps["failed"]) != len(BAD):
    fail(f"standalone index: {json.dumps(reps)[:400]}")
srv_s = start("S-serve", "--weights", WEIGHTS)  # a different directory: must not conflict
stop(srv_s)
servers.remove(srv_s)
log = f"{WORK}/S.log"
ps = subprocess.Popen([BIN, "serve", "--port", "0", "--data", S, "--weights", WEIGHTS],
                      stdout=subprocess.DEVNULL, stderr=open(log, "w"))
Ssrv = {"proc": ps, "log": log, "port": None}
servers.append(Ssrv)
for _ in range(300):
    mm = re.search(r"listening on http://127\.0\.0\.1:(\d+)", open(log).read())
    if mm:
        Ssrv["port"] = int(mm.group(1))
        break
    time.sleep(0.05)
if not Ssrv["port"]:
    fail("serve on the standalone directory did not start")
sp = scroll_all(Ssrv, "shop")
ap = scroll_all(A, "shop")
for p in ap.values():
    p["payload"].pop("_moderation", None)  # A had a moderation rule, this directory has none
if sorted(sp) != sorted(ap) or any(sp[k]["payload"] != ap[k]["payload"] for k in sp):
    fail("standalone index stored other points than the server did")
for k in sp:
    if max(abs(x - y) for x, y in zip(sp[k]["vector"]["image"], ap[k]["vector"]["image"])) > 1e-6:
        fail(f"standalone image vector of {k} differs")
rc, out, err = run("index", "--data", S, "--weights", WEIGHTS, "--collection", "shop", photos, ok=False)
if rc != 1 or "in use by another process" not in err:
    fail(f"standalone index beside a running server: rc {rc}, {err[-400:]}")
rc, out, err = run("search", "--data", S, "--weights", WEIGHTS, "--collection", "shop", "--id", "1", ok=False)
if rc != 1 or "in use by another process" not in err:
    fail(f"standalone search beside a running server: rc {rc}, {err[-400:]}")
stop(Ssrv)
servers.remove(Ssrv)
_, out, _ = run("search", "--data", S, "--weights", WEIGHTS, "--collection", "shop", "--id", "2", "--json", "--limit", "3")
want = api_search({"id": 2, "limit": 3})
got = [json.loads(l) for l in out.splitlines()]
if [g["id"] for g in got] != [w["id"] for w in want] or any(abs(g["score"] - w["score"]) > 1e-6 for g, w in zip(got, want)):
    fail(f"standalone search {got} != server's {want}")
rc, _, err = run("index", "--url", url(A), "--data", S, "--collection", "x", photos, ok=False)
if rc != 2 or "not both" not in err:
    fail(f"--url with --data: rc {rc}, {err}")

# ---- help tells the truth: each documented option is one the parser takes ----
for cmd, opts in [("index", ["--collection", "--meta", "--batch", "--dup-threshold", "--report", "--force", "--no-dup-check", "--no-progress", "--url", "--data", "--weights", "--api-key"]),
                  ("search", ["--collection", "--text", "--image", "--id", "--limit", "--json", "--filter", "--using"]),
                  ("classify", ["--image", "--labels", "--template", "--templates", "--json"]),
                  ("export", ["--collection", "--to", "--api-key", "--batch", "--state", "--restart", "--to-collection"])]:
    _, out, _ = run(cmd, "--help")
    for o in opts:
        if o not in out:
            fail(f"vitrine {cmd} --help does not mention {o}")
    rc, _, err = run(cmd, "--no-such-option", ok=False)
    if rc != 2:
        fail(f"vitrine {cmd} with an unknown option exited {rc}")
_, out, _ = run("--help")
for cmd in ("index", "search", "classify", "export", "embed", "serve"):
    if f"  {cmd} " not in out:
        fail(f"vitrine --help does not list {cmd}")

stop(C)
stop(A)
print("cli.sh: ok")
EOF
