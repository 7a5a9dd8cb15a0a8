#!/usr/bin/env bash
# qdrant_quant.sh - Qdrant's scalar int8 quantization over HTTP against the
# real binary: quantization_config on create (collection-wide and per
# vector) and as GET /collections/{c} reports it, Qdrant's errors for bad
# configs and bad params.quantization, search / query / recommend with
# params.quantization, PATCH turning it off and on, and the setting and
# the answers surviving a restart. Scores are checked against a brute
# force computed here (rescored scores are the exact float32 ones).
# VITRINE_BIN is exported by tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
PY=/usr/bin/python3
work=$(mktemp -d)
log=$work/serve.log
pid=
fail() {
    echo "qdrant_quant.sh: FAIL: $*"
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
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | head -1)
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
}

# req METHOD PATH [BODY | @FILE]: sets code and body.
req() {
    if [ $# -ge 3 ]; then
        code=$(curl -sS --max-time 30 -o "$work/out" -w '%{http_code}' -X "$1" \
            -H 'Content-Type: application/json' --data-binary "$3" "$base$2") || fail "curl $1 $2"
    else
        code=$(curl -sS --max-time 30 -o "$work/out" -w '%{http_code}' -X "$1" "$base$2") || fail "curl $1 $2"
    fi
    body=$(cat "$work/out")
}

expect() { # expect CODE SUBSTRING WHAT
    [ "$code" = "$1" ] || fail "$3: status $code (want $1): $body"
    case "$body" in *"$2"*) ;; *) fail "$3: body lacks '$2': $body" ;; esac
}

# jq-like checks in Python: pycheck WHAT EXPR (EXPR sees `r`, the parsed body).
pycheck() {
    $PY - "$work/out" "$2" <<'EOF' || fail "$1"
import json, sys
r = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print("check failed:", sys.argv[2], "on", json.dumps(r)[:600])
    sys.exit(1)
EOF
}

start

# ---- create, and what GET reports
req PUT /collections/q '{"vectors":{"size":8,"distance":"Cosine"},"quantization_config":{"scalar":{"type":"int8","quantile":0.99,"always_ram":true}}}'
expect 200 '"result":true' "create quantized"
req GET /collections/q
expect 200 '"quantization_config"' "get"
pycheck "quantization_config as given" \
    'r["result"]["config"]["quantization_config"] == {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}}'
req PUT /collections/named '{"vectors":{"img":{"size":4,"distance":"Dot","quantization_config":{"scalar":{"type":"int8"}}},"txt":{"size":4,"distance":"Dot"}}}'
expect 200 '"result":true' "create per-vector quantization"
req GET /collections/named
pycheck "per-vector quantization_config" \
    'r["result"]["config"]["params"]["vectors"]["img"]["quantization_config"] == {"scalar": {"type": "int8"}} and "quantization_config" not in r["result"]["config"]["params"]["vectors"]["txt"] and r["result"]["config"]["quantization_config"] is None'

# ---- bad configs: Qdrant's codes
req PUT /collections/bad '{"vectors":{"size":8,"distance":"Cosine"},"quantization_config":{"scalar":{"type":"int4"}}}'
expect 400 'int8' "unknown scalar type"
req PUT /collections/bad '{"vectors":{"size":8,"distance":"Cosine"},"quantization_config":{"scalar":{"type":"int8","quantile":0.3}}}'
expect 422 'quantile' "quantile out of range"
req PUT /collections/bad '{"vectors":{"size":8,"distance":"Cosine"},"quantization_config":{"product":{"compression":"x3"}}}'
expect 400 'x64' "bad product compression"
req GET /collections/bad
expect 404 'bad' "nothing created by a bad request"
# Product and binary configs: kept and reported (searched in float32).
req PUT /collections/pq '{"vectors":{"size":8,"distance":"Cosine"},"quantization_config":{"product":{"compression":"x16","always_ram":true}}}'
expect 200 'true' "product quantization accepted"
req GET /collections/pq
pycheck "product config reported" 'r["result"]["config"]["quantization_config"] == {"product": {"compression": "x16", "always_ram": True}}'
req PATCH /collections/pq '{"quantization_config":{"binary":{"always_ram":false,"encoding":"two_bits"}}}'
expect 200 'true' "binary quantization accepted"
req GET /collections/pq
pycheck "binary config reported" 'r["result"]["config"]["quantization_config"] == {"binary": {"always_ram": False, "encoding": "two_bits"}}'
req DELETE /collections/pq

# ---- points: enough to calibrate (1000), plus exact references
$PY - "$work" <<'EOF'
import json, math, random, sys
random.seed(7)
pts = []
for i in range(1200):
    v = [random.gauss(0, 1) for _ in range(8)]
    pts.append({"id": i, "vector": v, "payload": {"cat": i % 10}})
json.dump({"points": pts}, open(sys.argv[1] + "/points.json", "w"))
q = [random.gauss(0, 1) for _ in range(8)]
json.dump(q, open(sys.argv[1] + "/q.json", "w"))
def unit(x):
    n = math.sqrt(sum(a * a for a in x))
    return [a / n for a in x]
uq = unit(q)
scores = sorted(((sum(a * b for a, b in zip(unit(p["vector"]), uq)), p["id"]) for p in pts), reverse=True)
json.dump([[i, s] for s, i in scores[:5]], open(sys.argv[1] + "/top.json", "w"))
EOF
req PUT '/collections/q/points?wait=true' "@$work/points.json"
expect 200 '"status":"completed"' "upsert"
q=$(cat "$work/q.json")
top_check='all(p["id"] == t[0] and abs(p["score"] - t[1]) < 1e-5 for p, t in zip(r["result"], json.load(open("'$work'/top.json"))))'
top_check_points='all(p["id"] == t[0] and abs(p["score"] - t[1]) < 1e-5 for p, t in zip(r["result"]["points"], json.load(open("'$work'/top.json"))))'

# ---- searches with params.quantization
req POST /collections/q/points/search "{\"vector\":$q,\"limit\":5,\"params\":{\"hnsw_ef\":128,\"quantization\":{\"rescore\":true,\"oversampling\":2.0}}}"
expect 200 '"result"' "search rescore"
pycheck "rescored search = brute force" "$top_check"
cp "$work/out" "$work/before.json"
req POST /collections/q/points/search "{\"vector\":$q,\"limit\":5,\"params\":{\"quantization\":{\"ignore\":true}}}"
expect 200 '"result"' "search ignore"
pycheck "ignore = brute force" "$top_check"
req POST /collections/q/points/search "{\"vector\":$q,\"limit\":5,\"params\":{\"quantization\":{\"rescore\":false}}}"
expect 200 '"result"' "search without rescoring"
pycheck "five results" 'len(r["result"]) == 5'
req POST /collections/q/points/query "{\"query\":$q,\"limit\":5,\"params\":{\"quantization\":{\"oversampling\":3}}}"
expect 200 '"points"' "query with params.quantization"
pycheck "query = brute force" "$top_check_points"
req POST /collections/q/points/recommend '{"positive":[1],"limit":3,"params":{"quantization":{"rescore":true}}}'
expect 200 '"result"' "recommend with params.quantization"
req POST /collections/q/points/search "{\"vector\":$q,\"limit\":5,\"params\":{\"quantization\":{\"oversampling\":0.5}}}"
expect 422 'oversampling' "oversampling below 1"
req POST /collections/q/points/search "{\"vector\":$q,\"limit\":5,\"params\":{\"quantization\":{\"ignore\":\"yes\"}}}"
expect 400 'ignore' "ignore not a boolean"
# A collection without quantization takes the params and answers as before.
req POST /collections/named/points/search '{"vector":{"name":"txt","vector":[1,0,0,0]},"limit":1,"params":{"quantization":{"rescore":false}}}'
expect 200 '"result"' "params.quantization on a plain vector"

# ---- PATCH: off, then on again
req PATCH /collections/q '{"quantization_config":"Disabled"}'
expect 200 '"result":true' "patch disabled"
req GET /collections/q
pycheck "quantization removed" 'r["result"]["config"]["quantization_config"] is None'
req POST /collections/q/points/search "{\"vector\":$q,\"limit\":5,\"params\":{\"quantization\":{\"rescore\":false}}}"
pycheck "float32 graph again: exact scores" "$top_check"
req PATCH /collections/q '{"quantization_config":{"scalar":{"type":"int8","quantile":0.95,"always_ram":false}}}'
expect 200 '"result":true' "patch int8"
req GET /collections/q
pycheck "new quantization reported" \
    'r["result"]["config"]["quantization_config"] == {"scalar": {"type": "int8", "quantile": 0.95, "always_ram": False}}'
req PATCH /collections/q '{"quantization_config":{"scalar":{"type":"int8","quantile":2}}}'
expect 422 'quantile' "patch quantile out of range"
req POST /collections/q/points/search "{\"vector\":$q,\"limit\":5,\"params\":{\"hnsw_ef\":128,\"quantization\":{\"rescore\":true,\"oversampling\":2.0}}}"
cp "$work/out" "$work/before.json"
pycheck "re-quantized search = brute force" "$top_check"

# ---- restart: the setting and the answers persist
stop
start
req GET /collections/q
pycheck "quantization after restart" \
    'r["result"]["config"]["quantization_config"] == {"scalar": {"type": "int8", "quantile": 0.95, "always_ram": False}} and r["result"]["points_count"] == 1200'
req POST /collections/q/points/search "{\"vector\":$q,\"limit\":5,\"params\":{\"hnsw_ef\":128,\"quantization\":{\"rescore\":true,\"oversampling\":2.0}}}"
expect 200 '"result"' "search after restart"
pycheck "same answer after restart" 'r["result"] == json.load(open("'$work'/before.json"))["result"]'
stop
rm -rf "$work"
echo "qdrant_quant.sh: ok"
