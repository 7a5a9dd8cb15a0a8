#!/usr/bin/env bash
# qdrant_optimize.sh - Qdrant's bulk-upload recipe on a collection large
# enough for the background rebuild (COLLECTION_REBUILD_ASYNC_MIN, 5000
# points), over HTTP against the real binary: created with hnsw_config.m
# 0, 20,000 points of 160 floats uploaded, PATCH m 16. The PATCH answers
# at once (well within a 5 s client timeout); GET reports the new m with
# status yellow and optimizer_status "ok", /optimizations the rebuild
# running (both valid against Qdrant's OpenAPI document); searches
# meanwhile are exact (the bare graph is scanned) and so equal to a brute
# force computed here; writes go on (points added and deleted while it
# builds). Then status turns green, the graph answers (recall@10 against
# the brute force over the final points), the points written meanwhile
# are found by their own vectors, and a restart keeps it green with the
# same answers.
# VITRINE_BIN is exported by tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
PY=/usr/bin/python3
work=$(mktemp -d)
log=$work/serve.log
pid=
fail() {
    echo "qdrant_optimize.sh: FAIL: $*"
    echo "--- server log"
    tail -20 "$log" 2>/dev/null
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$work"
    exit 1
}

start() {
    "$BIN" serve --port 0 --data "$work/data" --weights "$work/no-weights" 2>"$log" &
    pid=$!
    port=
    for _ in $(seq 1 100); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | tail -1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || fail "server exited early"
        sleep 0.1
    done
    [ -n "$port" ] || fail "no 'listening on' line in the log"
    base=http://127.0.0.1:$port
}

stop() {
    kill -TERM "$pid"
    wait "$pid" || fail "server exit status $?"
    pid=
    : >"$log"
}

# req METHOD PATH [BODY | @FILE]: sets code, body and secs (the time taken).
req() {
    if [ $# -ge 3 ]; then
        out=$(curl -sS --max-time 60 -o "$work/out" -w '%{http_code} %{time_total}' -X "$1" \
            -H 'Content-Type: application/json' --data-binary "$3" "$base$2") || fail "curl $1 $2"
    else
        out=$(curl -sS --max-time 60 -o "$work/out" -w '%{http_code} %{time_total}' -X "$1" \
            "$base$2") || fail "curl $1 $2"
    fi
    code=${out% *}
    secs=${out#* }
    body=$(cat "$work/out")
}

expect() { # expect CODE SUBSTRING WHAT
    [ "$code" = "$1" ] || fail "$3: status $code (want $1): $body"
    case "$body" in *"$2"*) ;; *) fail "$3: body lacks '$2': $body" ;; esac
}

pycheck() { # pycheck WHAT EXPR (EXPR sees `r`, the parsed body)
    $PY - "$work/out" "$2" <<'EOF' || fail "$1"
import json, sys
r = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print("check failed:", sys.argv[2], "on", json.dumps(r)[:600])
    sys.exit(1)
EOF
}

# The data: 20,000 points of 160 floats around 50 centres (12 MB of
# vectors: past COLLECTION_FULL_SCAN_BYTES, so the built graph is walked),
# 2,000 more written during the rebuild, 20 queries, and the brute-force
# top 10 of each over the final set (ids 0..19999 but the deleted
# multiples of 7, and 20000..21999).
N=20000
MORE=2000
$PY - "$work" $N $MORE <<'EOF'
import json, math, operator, random, sys
random.seed(11)
work, n, more = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = 160
cent = [[random.gauss(0, 1) for _ in range(d)] for _ in range(50)]
def point():
    c = random.choice(cent)
    return [x + 0.4 * random.gauss(0, 1) for x in c]
vecs = [point() for _ in range(n + more)]
for k in range(0, n, 2000):
    json.dump({"points": [{"id": i, "vector": vecs[i]} for i in range(k, k + 2000)]},
              open(f"{work}/up{k // 2000}.json", "w"))
json.dump({"points": [{"id": i, "vector": vecs[i]} for i in range(n, n + more)]},
          open(f"{work}/more.json", "w"))
json.dump({"points": [i for i in range(0, n, 7)]}, open(f"{work}/del.json", "w"))
qs = [[x + 0.3 * random.gauss(0, 1) for x in random.choice(vecs)] for _ in range(20)]
def unit(x):
    s = math.sqrt(sum(map(operator.mul, x, x)))
    return [a / s for a in x]
uv = [unit(v) for v in vecs]
def top(q, ids):
    uq = unit(q)
    return sorted(ids, key=lambda i: -sum(map(operator.mul, uv[i], uq)))[:10]
final = [i for i in range(n + more) if not (i < n and i % 7 == 0)]
json.dump({"qs": qs, "after": [top(q, final) for q in qs],
           "own": [[i, vecs[i]] for i in range(n, n + more, 20)]},
          open(f"{work}/ref.json", "w"))
EOF

start
req PUT /collections/big '{"vectors":{"size":160,"distance":"Cosine"},"hnsw_config":{"m":0,"ef_construct":400}}'
expect 200 '"result":true' "create with m 0"
for f in "$work"/up*.json; do
    req PUT '/collections/big/points?wait=true' "@$f"
    expect 200 '"status":"completed"' "upload $f"
done

# ---- the PATCH answers at once; the graph is built behind it
req PATCH /collections/big '{"hnsw_config":{"m":16}}'
expect 200 '"result":true' "PATCH m 16"
patch_secs=$secs
$PY -c "import sys; sys.exit(0 if float('$secs') < 2.0 else 1)" ||
    fail "the PATCH took $secs s: it should answer before the graph is built"
req GET /collections/big
expect 200 '"m":16' "GET after the PATCH"
pycheck "status yellow while the graph is built" \
    'r["result"]["status"] == "yellow" and r["result"]["optimizer_status"] == "ok"'
cp "$work/out" "$work/info_yellow.json"
req GET '/collections/big/optimizations?with=queued,completed,idle_segments'
expect 200 '"running"' "optimizations while the graph is built"
pycheck "one running optimization, Qdrant's config mismatch, with its progress" \
    'len(r["result"]["running"]) == 1 and r["result"]["running"][0]["optimizer"] == "config mismatch" and r["result"]["running"][0]["status"] == "optimizing" and r["result"]["running"][0]["progress"]["children"][0]["total"] == 20000 and r["result"]["summary"]["idle_segments"] == 0 and r["result"]["idle_segments"] == []'
cp "$work/out" "$work/opt_yellow.json"

# Writes go on while it builds (the build at ef_construct 400 takes a few
# seconds).
req PUT '/collections/big/points?wait=true' "@$work/more.json"
expect 200 '"status":"completed"' "upsert during the rebuild"
req POST '/collections/big/points/delete?wait=true' "@$work/del.json"
expect 200 '"status":"completed"' "delete during the rebuild"
# Both answers as Qdrant's OpenAPI document describes them.
$PY - "$work" <<'EOF' || fail "the answers during the rebuild against the OpenAPI document"
import json, sys
work = sys.argv[1]
recs = [("/collections/big", "", "info_yellow.json"),
        ("/collections/big/optimizations", "?with=queued,completed,idle_segments", "opt_yellow.json")]
with open(work + "/records.jsonl", "w") as f:
    for path, query, name in recs:
        f.write(json.dumps({"file": "qdrant_optimize.sh", "method": "GET", "path": path, "query": query,
                            "status": 200, "content_type": "application/json", "kind": "json",
                            "body": json.load(open(f"{work}/{name}"))}) + "\n")
EOF
$PY tests/qdrant/validate_schema.py "$work/records.jsonl" --openapi tests/qdrant/openapi-1.17.1.json \
    >"$work/validate.out" 2>&1 || { cat "$work/validate.out"; fail "OpenAPI validation"; }

# Searches meanwhile scan the bare graph: exactly the brute force, when
# the collection is still yellow after them.
$PY - "$work" "$base" <<'EOF' || fail "searches during the rebuild"
import json, sys, urllib.request
work, base = sys.argv[1], sys.argv[2]
ref = json.load(open(work + "/ref.json"))
def call(path, body=None):
    req = urllib.request.Request(base + path, data=body and json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["result"]
bad = []
for q, want in zip(ref["qs"][:8], ref["after"]):
    got = [p["id"] for p in call("/collections/big/points/query", {"query": q, "limit": 10})["points"]]
    if got != want: bad.append((got, want))
status = call("/collections/big")["status"]
print(f"  during the rebuild: {8 - len(bad)} of 8 searches equal to the brute force; then {status}")
if bad and status == "yellow":
    print("  a search during the rebuild: got", bad[0][0], "want", bad[0][1]); sys.exit(1)
EOF

# ---- green once the graph is in
green=
for _ in $(seq 1 600); do
    req GET /collections/big
    case "$body" in *'"status":"green"'*) green=1; break ;; esac
    case "$body" in *'"status":"red"'*) fail "the rebuild failed: $body" ;; esac
    sleep 0.1
done
[ -n "$green" ] || fail "still not green after 60 s: $body"
rebuilt=$(grep -o "rebuilt in the background in .*" "$log") ||
    fail "the log does not tell of the background rebuild"

check_graph() { # check_graph WHAT: recall@10 against the brute force, and the new points found
    $PY - "$work" "$base" "$1" <<'EOF' || fail "$1"
import json, sys, urllib.request
work, base, what = sys.argv[1], sys.argv[2], sys.argv[3]
ref = json.load(open(work + "/ref.json"))
def post(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["result"]
found = 0
for q, want in zip(ref["qs"], ref["after"]):
    got = [p["id"] for p in post("/collections/big/points/query",
                                 {"query": q, "limit": 10, "params": {"hnsw_ef": 64}})["points"]]
    if any(g % 7 == 0 and g < 20000 for g in got):
        print(what + ": a deleted point was returned"); sys.exit(1)
    found += len(set(got) & set(want))
recall = found / (10 * len(ref["after"]))
own = sum(post("/collections/big/points/query", {"query": v, "limit": 1})["points"][0]["id"] == i
          for i, v in ref["own"])
print(f"  {what}: recall@10 {recall:.3f} at hnsw_ef 64; {own} of {len(ref['own'])} points "
      "written during the rebuild found by their own vector")
if recall < 0.9 or own < 0.97 * len(ref["own"]): sys.exit(1)
EOF
}
check_graph "after the rebuild"
req GET /collections/big/optimizations
pycheck "nothing running once green" 'r["result"]["running"] == [] and r["result"]["summary"]["idle_segments"] == 1'
req GET /collections/big
pycheck "counts after the rebuild" \
    'r["result"]["points_count"] == 22000 - 2858 and r["result"]["config"]["hnsw_config"]["m"] == 16'

stop
start
req GET /collections/big
pycheck "green after a restart" 'r["result"]["status"] == "green"'
check_graph "after a restart"
stop
rm -rf "$work"
echo "qdrant_optimize.sh: ok (the PATCH answered in $patch_secs s; the graph $rebuilt)"
