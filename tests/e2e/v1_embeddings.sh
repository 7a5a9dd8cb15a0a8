#!/usr/bin/env bash
# v1_embeddings.sh - POST /v1/embeddings and GET /v1/models end to end:
# the real binary serving the fixture model, curl as the client, the
# fixture's expected embeddings (transformers' numbers, see the fixture
# README) as the reference.
#
# Checked: the model list (id = the weights folder's name, plus the three
# aliases, each accepted as a model name); mixed texts and images (base64
# and data: URLs, PNG, JPEG, WebP) in input order, unit length, cosine
# with the fixture >= 0.99999 (PNG, WebP, text) and >= 0.9999 (JPEG, stb's
# decoder against Pillow's); encoding_format base64 decoding to the same
# floats; usage = CLIP tokens of the texts + 50 per image; a string input;
# requests sent concurrently (batched together) giving the same answers;
# the text cache counters; bad input (unknown model, an http URL, bytes
# that are no image, a PNG header declaring 20000x20000, a truncated JPEG,
# empty text, invalid UTF-8, too many inputs, token ids, bad JSON, a bad
# encoding_format) each a 4xx in OpenAI's error shape naming the input's
# index, with the server still answering; 503 + Retry-After when a request
# is larger than the queue; 503 saying how to install weights when there
# are none; --help listing the --embed-* flags; SIGTERM ending cleanly.
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
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "v1_embeddings.sh: FAIL: $*"
    for f in "$work"/*.log; do
        [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }
    done
    exit 1
}
[ -f "$FIX/expected/tiny-p32/outputs.json" ] || fail "no fixtures at $FIX (set VITRINE_FIXTURES)"
command -v curl >/dev/null || fail "curl is needed"
# Debian's python3 first: a pyenv shim costs seconds per start under load.
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3

# start NAME ARGS...: starts a server, sets $port.
start() {
    local name=$1
    shift
    "$BIN" serve --port 0 --data "$work/data-$name" "$@" 2>"$work/$name.log" &
    pids+=($!)
    port=
    for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$work/$name.log" | head -1)
        [ -n "$port" ] && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || fail "server $name exited early"
        sleep 0.1
    done
    fail "server $name did not start"
}

# --help lists the embedding flags; a bad value is refused.
"$BIN" serve --help >"$work/help.txt" 2>&1 || fail "serve --help failed"
for f in --embed-max-image-bytes --embed-max-pixels --embed-max-texts --embed-max-images \
         --embed-queue --embed-batch --embed-batch-ms --embed-batch-wait-ms --embed-text-cache; do
    grep -q -- "$f" "$work/help.txt" || fail "serve --help does not list $f"
done
"$BIN" serve --embed-batch 0 --port 0 >/dev/null 2>"$work/badflag.txt"
[ $? -eq 2 ] || fail "--embed-batch 0 was not refused with status 2"
grep -q -- "--embed-batch" "$work/badflag.txt" || fail "bad flag message: $(cat "$work/badflag.txt")"

start main --weights "$FIX/models/tiny-p32" --embed-max-texts 20 --embed-max-images 12
main_pid=${pids[-1]}
base=http://127.0.0.1:$port

"$py" - "$base" "$FIX" "$work" <<'EOF' || fail "checks above"
import base64, json, math, struct, subprocess, sys, threading
base, fix, work = sys.argv[1:]
exp = json.load(open(fix + "/expected/tiny-p32/outputs.json"))
texts = {t["text"]: t for t in exp["texts"]}
images = exp["images"]
IMAGE_TOKENS = 50  # (224 / 32)^2 patches + the class token

def fail(msg):
    print("v1_embeddings.sh: FAIL: " + msg)
    sys.exit(1)

def curl(method, path, body=None, headers=()):
    """Returns (status, headers text, body bytes); the body goes through a file."""
    args = ["curl", "-sS", "--max-time", "60", "-X", method, "-D", "-", "-o", work + "/resp.bin"]
    if body is not None:
        with open(work + "/req.bin", "wb") as f:
            f.write(body if isinstance(body, bytes) else json.dumps(body).encode())
        args += ["--data-binary", "@" + work + "/req.bin", "-H", "Content-Type: application/json"]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run(args + [base + path], capture_output=True)
    if out.returncode:
        fail(f"curl {path}: {out.stderr.decode()}")
    head = out.stdout.decode(errors="replace")
    # The last status line: curl may have seen "100 Continue" first.
    status = int([l for l in head.splitlines() if l.startswith("HTTP/")][-1].split()[1])
    return status, head, open(work + "/resp.bin", "rb").read()

def post(body):
    s, h, b = curl("POST", "/v1/embeddings", body)
    return s, h, json.loads(b)

def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

def b64(name):
    return base64.b64encode(open(fix + "/images/" + name, "rb").read()).decode()

def alive():
    s, _, b = curl("GET", "/healthz")
    if s != 200:
        fail("server not answering /healthz")

# ---- GET /v1/models ----
s, _, b = curl("GET", "/v1/models")
models = json.loads(b)
ids = [m["id"] for m in models.get("data", [])]
want_ids = ["tiny-p32", "openai/clip-vit-base-patch32", "Qdrant/clip-ViT-B-32-vision",
            "Qdrant/clip-ViT-B-32-text"]
if s != 200 or models.get("object") != "list" or ids != want_ids:
    fail(f"/v1/models: {s} {b[:300]}")
for m in models["data"]:
    if m.get("object") != "model" or not isinstance(m.get("created"), int) or "owned_by" not in m:
        fail(f"/v1/models entry shape: {m}")
s, _, b = curl("GET", "/v1/models/openai/clip-vit-base-patch32")
if s != 200 or json.loads(b).get("id") != "openai/clip-vit-base-patch32":
    fail(f"/v1/models/openai/clip-vit-base-patch32: {s} {b[:200]}")
s, _, b = curl("GET", "/v1/models/nope")
if s != 404 or json.loads(b)["error"]["code"] != "model_not_found":
    fail(f"/v1/models/nope: {s} {b[:200]}")

# ---- mixed input, float ----
order = [
    ("text", "a photo of a cat"),
    ("image", "astronaut.png", "b64"),
    ("text", "naïve café crème brûlée"),
    ("image", "chelsea.png", "data:image/png"),
    ("image", "astronaut_q95_444.jpg", "b64"),
    ("text", "红色连衣裙"),
    ("image", "coffee_lossy.webp", "data:image/webp"),
    ("image", "tiny_7x5.png", "b64"),
    ("text", texts[list(texts)[-1]]["text"]),  # 77 tokens after truncation
    ("image", "panorama_1200x100.jpg", "b64"),
]
inputs = []
for item in order:
    if item[0] == "text":
        inputs.append({"text": item[1]})
    else:
        data = b64(item[1])
        inputs.append({"image": data if item[2] == "b64" else item[2] + ";base64," + data})

def check_embeddings(resp, order, what):
    data = resp.get("data")
    if resp.get("object") != "list" or not isinstance(data, list) or len(data) != len(order):
        fail(f"{what}: response shape {str(resp)[:300]}")
    worst = {"png": 1.0, "jpg": 1.0}
    for i, (d, item) in enumerate(zip(data, order)):
        if d.get("object") != "embedding" or d.get("index") != i:
            fail(f"{what}: data[{i}] = {str(d)[:200]}")
        e = d["embedding"]
        if abs(math.sqrt(sum(x * x for x in e)) - 1) > 1e-5:
            fail(f"{what}: data[{i}] is not unit length")
        ref = texts[item[1]]["text_embeds"] if item[0] == "text" else images[item[1]]["image_embeds"]
        c = cos(e, ref)
        kind = "jpg" if item[1].endswith(".jpg") else "png"
        worst[kind] = min(worst[kind], c)
    if worst["png"] < 0.99999 or worst["jpg"] < 0.9999:
        fail(f"{what}: worst cosine PNG/WebP/text {worst['png']:.7f}, JPEG {worst['jpg']:.7f}")
    want_tokens = sum(len(texts[i[1]]["input_ids"]) if i[0] == "text" else IMAGE_TOKENS for i in order)
    if resp.get("usage") != {"prompt_tokens": want_tokens, "total_tokens": want_tokens}:
        fail(f"{what}: usage {resp.get('usage')}, want {want_tokens} tokens")
    return worst

s, h, resp = post({"model": "tiny-p32", "input": inputs})
if s != 200:
    fail(f"mixed request: {s} {str(resp)[:300]}")
if resp.get("model") != "tiny-p32":
    fail(f"model echoed as {resp.get('model')}")
worst = check_embeddings(resp, order, "mixed float")
floats = [d["embedding"] for d in resp["data"]]

# ---- the same as base64, under an alias ----
s, h, resp64 = post({"model": "Qdrant/clip-ViT-B-32-vision", "input": inputs,
                     "encoding_format": "base64"})
if s != 200 or resp64.get("model") != "Qdrant/clip-ViT-B-32-vision":
    fail(f"base64 request: {s} {str(resp64)[:300]}")
for i, d in enumerate(resp64["data"]):
    if not isinstance(d["embedding"], str):
        fail("base64: embedding is not a string")
    raw = base64.b64decode(d["embedding"])
    if len(raw) != 4 * len(floats[i]):
        fail(f"base64: data[{i}] has {len(raw)} bytes")
    v = struct.unpack("<%df" % (len(raw) // 4), raw)
    # Texts come from the cache (identical); images are recomputed, maybe
    # in another batch shape (the last bits may differ).
    if max(abs(a - b) for a, b in zip(v, floats[i])) > 1e-5:
        fail(f"base64: data[{i}] differs from the float answer")
resp64["data"] = [{"object": "embedding", "index": i,
                   "embedding": list(struct.unpack("<%df" % (len(base64.b64decode(d["embedding"])) // 4),
                                                   base64.b64decode(d["embedding"])))}
                  for i, d in enumerate(resp64["data"])]
check_embeddings(resp64, order, "mixed base64")

# ---- a string, an array of strings, other aliases ----
s, _, r = post({"model": "openai/clip-vit-base-patch32", "input": "a photo of a dog"})
if s != 200 or len(r["data"]) != 1 or cos(r["data"][0]["embedding"], texts["a photo of a dog"]["text_embeds"]) < 0.99999:
    fail(f"string input: {s} {str(r)[:200]}")
pair = [exp["texts"][6]["text"], "a red summer dress"]  # the first is decomposed (NFD)
s, _, r = post({"model": "Qdrant/clip-ViT-B-32-text", "input": pair, "dimensions": 64, "user": "test"})
if s != 200 or [round(cos(d["embedding"], texts[t]["text_embeds"]), 5) for d, t in
                zip(r["data"], pair)] != [1.0, 1.0]:
    fail(f"array of strings: {s} {str(r)[:200]}")

# ---- concurrent requests are batched and still each correct ----
jobs = [
    [("image", n, "b64") for n in ("horse.png", "camera.png", "block.png")],
    [("text", "a photo of a dog"), ("image", "rocket.jpg", "b64")],
    [("image", n, "b64") for n in ("coffee.png", "logo.png", "page.png", "color.png")],
    [("text", t) for t in ("size 42 shoes, 100% cotton, $19.99", "fish &amp; chips", "🙂 emoji and ümlaut")],
    [("image", "motorcycle_right.png", "b64"), ("text", "it's a dog's life; don't stop, we'll see")],
    [("image", n, "b64") for n in ("green_palette.png", "tall_90x600.png", "checker_bilevel.png")],
]
results = [None] * len(jobs)
def run(k):
    body = {"model": "tiny-p32", "input": [{"text": it[1]} if it[0] == "text" else {"image": b64(it[1])}
                                            for it in jobs[k]]}
    out = subprocess.run(["curl", "-sS", "--max-time", "60", "-w", "\n%{http_code}",
                          "--data-binary", "@-", base + "/v1/embeddings"],
                         input=json.dumps(body).encode(), capture_output=True)
    results[k] = out.stdout.decode()
threads = [threading.Thread(target=run, args=(k,)) for k in range(len(jobs))]
for t in threads: t.start()
for t in threads: t.join()
for k, out in enumerate(results):
    body, _, code = out.rpartition("\n")
    if code != "200":
        fail(f"concurrent request {k}: {code} {body[:200]}")
    check_embeddings(json.loads(body), jobs[k], f"concurrent request {k}")

# ---- bad input: each a 4xx in OpenAI's shape, the server still up ----
png = open(fix + "/images/block.png", "rb").read()
huge = bytearray(png[:33])
huge[16:24] = struct.pack(">II", 20000, 20000)  # IHDR width, height (the CRC is not read first)
jpeg = open(fix + "/images/astronaut_q95_444.jpg", "rb").read()
good = {"text": "a photo of a cat"}
bad = [
    ("unknown model", {"model": "gpt-4", "input": "x"}, 404, "model_not_found", "gpt-4"),
    ("http URL", {"model": "tiny-p32", "input": [good, {"image": "https://example.com/a.jpg"}]},
     400, "invalid_image", "input[1]: image URLs are not fetched"),
    ("not an image", {"model": "tiny-p32", "input": [good, good,
     {"image": base64.b64encode(b"this is not an image, just text").decode()}]},
     400, "invalid_image", "input[2]: unsupported image format"),
    ("20000x20000 PNG header", {"model": "tiny-p32", "input": [{"image": base64.b64encode(bytes(huge)).decode()}]},
     400, "image_too_large", "input[0]: PNG image is 20000x20000"),
    ("truncated JPEG", {"model": "tiny-p32", "input": [good, {"image": b64("astronaut.png")},
     {"image": base64.b64encode(jpeg[: len(jpeg) // 2]).decode()}]},
     400, "invalid_image", "input[2]: truncated JPEG"),
    ("empty text", {"model": "tiny-p32", "input": ["a photo of a cat", ""]}, 400, "invalid_text",
     "input[1]: text is empty"),
    ("whitespace text", {"model": "tiny-p32", "input": [{"text": " \t\n "}]}, 400, "invalid_text",
     "input[0]: text is empty"),
    ("bad base64", {"model": "tiny-p32", "input": [{"image": "not*base64"}]}, 400, "invalid_image",
     "input[0]: image is not valid base64"),
    ("data URL of text", {"model": "tiny-p32", "input": [{"image": "data:text/plain;base64,aGk="}]},
     400, "invalid_image", "input[0]: data: URL of another media type"),
    ("too many texts", {"model": "tiny-p32", "input": ["t%d" % i for i in range(21)]}, 400,
     "too_many_inputs", "21 texts in one request, more than the limit of 20"),
    ("too many images", {"model": "tiny-p32", "input": [{"image": b64("block.png")}] * 13}, 400,
     "too_many_inputs", "13 images in one request, more than the limit of 12"),
    ("token ids", {"model": "tiny-p32", "input": [[49406, 320, 49407]]}, 400, "invalid_input",
     "input[0]: token ids are not accepted"),
    ("empty input", {"model": "tiny-p32", "input": []}, 400, "invalid_input", "input must not be empty"),
    ("no input", {"model": "tiny-p32"}, 400, "missing_required_parameter", "input"),
    ("no model", {"input": "x"}, 400, "missing_required_parameter", "model"),
    ("two keys", {"model": "tiny-p32", "input": [{"text": "a", "image": "b"}]}, 400, "invalid_input",
     "input[0]: an object must hold exactly one"),
    ("encoding_format", {"model": "tiny-p32", "input": "x", "encoding_format": "int8"}, 400,
     "invalid_value", "encoding_format"),
    ("dimensions", {"model": "tiny-p32", "input": "x", "dimensions": 32}, 400, "invalid_value",
     "exactly 64 dimensions"),
    ("invalid UTF-8", b'{"model": "tiny-p32", "input": ["ok", "bad \xff\xfe utf-8"]}', 400,
     "invalid_json", "parse"),
    ("not JSON", b'{"model": "tiny-p32", "input": ', 400, "invalid_json", "parse"),
]
for name, body, status, code, text in bad:
    s, h, b = curl("POST", "/v1/embeddings", body)
    try:
        err = json.loads(b)["error"]
    except Exception:
        fail(f"{name}: not OpenAI's error shape: {b[:200]}")
    if set(err) != {"message", "type", "param", "code"}:
        fail(f"{name}: error keys {sorted(err)}")
    if s != status or err["code"] != code or text not in err["message"]:
        fail(f"{name}: {s} {err}, want {status} {code} with {text!r}")
    if err["type"] != "invalid_request_error":
        fail(f"{name}: type {err['type']}")
    alive()

# The failed requests left nothing behind: a good request still works.
s, _, r = post({"model": "tiny-p32", "input": [{"image": b64("horse.png")}]})
if s != 200 or cos(r["data"][0]["embedding"], images["horse.png"]["image_embeds"]) < 0.99999:
    fail(f"after the bad requests: {s} {str(r)[:200]}")

# ---- metrics ----
s, _, m = curl("GET", "/metrics")
m = m.decode()
def metric(name):
    for line in m.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    fail(f"metrics lack {name}")
if metric('vitrine_embed_cache_hits_total{cache="text"}') < 5:
    fail("text cache hits not counted (the base64 request repeated 4 texts)")
if metric('vitrine_embed_cache_misses_total{cache="text"}') < 4:
    fail("text cache misses not counted")
if metric('vitrine_embeddings_total{kind="image"}') < 20:
    fail("image embeddings not counted")
if metric('vitrine_embed_batches_total{kind="image"}') < 1 or metric('vitrine_embed_inference_seconds_count{kind="text"}') < 1:
    fail("batch metrics missing")
metric('vitrine_embed_queue_depth{kind="image"}')
print(f"v1_embeddings.sh: main server ok (worst cosine PNG/WebP/text {worst['png']:.7f}, JPEG {worst['jpg']:.7f})")
EOF

# A request larger than the queue: 503 with Retry-After, OpenAI's shape.
start small --weights "$FIX/models/tiny-p32" --embed-queue 4
code=$(curl -sS --max-time 10 -D "$work/q.h" -o "$work/q.json" -w '%{http_code}' \
    --data-binary '{"model":"tiny-p32","input":["a","b","c","d","e"]}' "http://127.0.0.1:$port/v1/embeddings")
[ "$code" = 503 ] || fail "5 inputs with --embed-queue 4 gave $code: $(cat "$work/q.json")"
grep -qi '^Retry-After: ' "$work/q.h" || fail "503 without Retry-After"
grep -q '"code":"overloaded"' "$work/q.json" || fail "queue 503 body: $(cat "$work/q.json")"
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
    --data-binary '{"model":"tiny-p32","input":["a","b","c","d"]}' "http://127.0.0.1:$port/v1/embeddings")
[ "$code" = 200 ] || fail "4 inputs with --embed-queue 4 gave $code"

# No weights (a folder an interrupted download left behind, without the
# model's files): the embedding routes say how to install them; the rest works.
mkdir -p "$work/weights-partial/.partial"
start noweights --weights "$work/weights-partial"
grep -q "weights-partial has no config.json: serving without a CLIP model" "$work/noweights.log" ||
    fail "no log line for the folder without model files"
for path in /v1/embeddings /v1/models; do
    if [ $path = /v1/models ]; then
        code=$(curl -sS --max-time 10 -o "$work/nw.json" -w '%{http_code}' "http://127.0.0.1:$port$path")
    else
        code=$(curl -sS --max-time 10 -o "$work/nw.json" -w '%{http_code}' \
            --data-binary '{"model":"x","input":"x"}' "http://127.0.0.1:$port$path")
    fi
    [ "$code" = 503 ] || fail "$path without weights gave $code"
    grep -q 'make weights' "$work/nw.json" && grep -q -- '--weights DIR' "$work/nw.json" ||
        fail "$path without weights: $(cat "$work/nw.json")"
done
[ "$(curl -sS --max-time 5 "http://127.0.0.1:$port/healthz")" = "healthz check passed" ] ||
    fail "the server without weights does not answer /healthz"

# SIGTERM: every server exits 0, promptly.
for p in "${pids[@]}"; do
    kill -TERM "$p"
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && fail "server $p still running 5 s after SIGTERM"
    wait "$p"
    status=$?
    [ $status -eq 0 ] || fail "server $p exited with $status after SIGTERM"
done
pids=()
echo "v1_embeddings.sh: ok"
