#!/usr/bin/env bash
# qdrant_wire.sh - Qdrant's REST wire format checked with curl alone, no
# client library: the envelope's fields and types, content types, error
# shapes, the health texts, GET / and its version, CORS (actual requests
# and OPTIONS preflights), HEAD, trailing slashes and keep-alive.
#
# The expectations come from Qdrant 1.17.1's source (paths in the comments
# are relative to its repository) and are summarised in
# tests/qdrant/README.md. VITRINE_BIN is exported by tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
work=$(mktemp -d)
log=$work/serve.log
pid=
checks=0
fail() {
    echo "qdrant_wire.sh: FAIL: $*"
    echo "--- server log (tail)"
    tail -20 "$log" 2>/dev/null
    if [ -n "$pid" ]; then
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$work"
    exit 1
}
ok() { checks=$((checks + 1)); }

"$BIN" serve --port 0 --data "$work/data" --weights "$work/no-weights" 2>"$log" &
pid=$!
port=
for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "server exited early"
    sleep 0.1
done
[ -n "$port" ] || fail "no 'listening on' line in the log"
base=http://127.0.0.1:$port

# req METHOD PATH [BODY] [extra curl args...]: writes $work/h (headers),
# $work/b (body), sets $code and $ctype.
req() {
    local method=$1 path=$2 body=${3:-}
    shift 3 2>/dev/null || shift $#
    local args=(-sS --max-time 10 -X "$method" -D "$work/h" -o "$work/b" -w '%{http_code} %{content_type}')
    if [ -n "$body" ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$body")
    fi
    local out
    out=$(curl "${args[@]}" "$@" "$base$path") || fail "curl $method $path"
    code=${out%% *}
    ctype=${out#* }
}
header() { grep -i "^$1:" "$work/h" | head -1 | sed 's/^[^:]*: *//' | tr -d '\r'; }

# json_check PYTHON-EXPRESSION: evaluates with `b` bound to the parsed body.
# Debian's interpreter first: a version manager's python3 shim on PATH can
# cost seconds per start on a loaded machine.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
json_check() {
    "$PY" - "$work/b" "$1" <<'EOF' || fail "JSON check failed: $1 on $(head -c 400 "$work/b")"
import json, sys
b = json.load(open(sys.argv[1]))
if not eval(sys.argv[2]):
    sys.exit(1)
EOF
}

# --- Service routes -----------------------------------------------------------
# GET /: VersionInfo, not enveloped (src/actix/mod.rs index, lib/api/src/rest/models.rs).
req GET / ""
[ "$code" = 200 ] || fail "GET / gave $code"
case $ctype in application/json*) ;; *) fail "GET / content type $ctype" ;; esac
json_check 'b["version"] == "1.17.1" and isinstance(b["title"], str) and "result" not in b'
json_check 'set(b) <= {"title", "version", "commit"}'
ok
# Health texts: src/actix/api/service_api.rs (kubernetes_healthz serves both
# /healthz and /livez; tests/openapi/test_k8s_health.py asserts it).
for p in healthz livez; do
    req GET "/$p" ""
    [ "$code" = 200 ] || fail "/$p gave $code"
    [ "$(cat "$work/b")" = "healthz check passed" ] || fail "/$p said '$(cat "$work/b")'"
    case $ctype in text/plain*) ;; *) fail "/$p content type $ctype" ;; esac
    ok
done
req GET /readyz ""
[ "$code" = 200 ] && [ "$(cat "$work/b")" = "all shards are ready" ] || fail "/readyz: $code '$(cat "$work/b")'"
case $ctype in text/plain*) ;; *) fail "/readyz content type $ctype" ;; esac
ok
req GET /metrics ""
[ "$code" = 200 ] || fail "/metrics gave $code"
case $ctype in text/plain*) ;; *) fail "/metrics content type $ctype" ;; esac
ok

# --- Envelope -----------------------------------------------------------------
# ApiResponse {result, status: "ok", time: f64 seconds}; usage only when
# non-empty (lib/api/src/rest/models.rs).
req PUT /collections/wire '{"vectors":{"size":4,"distance":"Dot"}}'
[ "$code" = 200 ] || fail "create collection gave $code: $(cat "$work/b")"
case $ctype in application/json*) ;; *) fail "create content type $ctype" ;; esac
json_check 'b["result"] is True and b["status"] == "ok" and type(b["time"]) in (int, float) and 0 <= b["time"] < 60'
json_check 'set(b) <= {"result", "status", "time", "usage"}'
ok
req PUT '/collections/wire/points?wait=true' '{"points":[{"id":1,"vector":[1,2,3,4],"payload":{"a":"x"}},{"id":2,"vector":[0.5,0.25,0.125,1e-3]}]}'
[ "$code" = 200 ] || fail "upsert gave $code: $(cat "$work/b")"
json_check 'b["status"] == "ok" and b["result"]["status"] == "completed" and isinstance(b["result"]["operation_id"], int)'
ok
req POST /collections/wire/points/search '{"vector":[1,0,0,0],"limit":2,"with_payload":true}'
[ "$code" = 200 ] || fail "search gave $code: $(cat "$work/b")"
json_check 'isinstance(b["result"], list) and len(b["result"]) == 2 and all(type(p["score"]) in (int, float) and isinstance(p["version"], int) and isinstance(p["id"], int) for p in b["result"])'
json_check 'b["result"][0]["id"] == 1 and b["result"][0]["score"] == 1.0 and b["result"][0]["payload"] == {"a": "x"}'
ok
# Float text round-trips: 1e-3 stored as float32 reads back as the same float32.
req POST /collections/wire/points '{"ids":[2],"with_vector":true}'
json_check '__import__("struct").pack("f", b["result"][0]["vector"][3]) == __import__("struct").pack("f", 1e-3)'
ok
req GET /collections ""
json_check '{"name": "wire"} in b["result"]["collections"]'
ok
# Optimization report (Qdrant 1.17, tests/openapi/test_optimizations.py):
# one idle segment holding the collection's points, nothing queued.
req GET /collections/wire/optimizations ""
json_check 'b["result"] == {"summary": {"queued_optimizations": 0, "queued_segments": 0, "queued_points": 0, "idle_segments": 1}, "running": []}'
req GET '/collections/wire/optimizations?with=queued%20,%20completed%20,idle_segments&completed_limit=3' ""
json_check 'b["result"]["queued"] == [] and b["result"]["completed"] == [] and b["result"]["idle_segments"][0]["points_count"] == 2 and len(b["result"]["idle_segments"][0]["uuid"]) == 36'
# Request counts by collection (Qdrant 1.17's /metrics?per_collection=true):
# the same counter family with a collection label, shown only when asked.
req GET '/metrics?per_collection=true' ""
grep -q '^rest_responses_total{method="POST",endpoint="/collections/{collection_name}/points/search",status="200",collection="wire"} 1$' "$work/b" ||
    fail "per-collection search count missing: $(grep rest_responses "$work/b" | head -5)"
grep -q '^rest_responses_total{[^}]*endpoint="/collections"' "$work/b" && fail "per_collection=true shows requests without a collection"
req GET /metrics ""
grep -q 'collection="wire"' "$work/b" && fail "plain /metrics shows per-collection series"
grep -q '^rest_responses_total{method="POST",endpoint="/collections/{collection_name}/points/search",status="200"} 1$' "$work/b" ||
    fail "global search count missing"
ok
# Telemetry's shard and segment details (levels 3 and 4): Qdrant's key sets
# (tests/openapi/test_service.py::test_telemetry_detail).
req GET '/telemetry?details_level=4' ""
json_check 'set(c := next(x for x in b["result"]["collections"]["collections"] if x["id"] == "wire")) == {"id", "init_time_ms", "config", "shards", "transfers", "resharding"} and set(c["shards"][0]) == {"id", "key", "local", "remote", "replicate_states", "partial_snapshot"} and c["shards"][0]["local"]["num_points"] == 2 and set(c["shards"][0]["local"]["segments"][0]) == {"info", "config", "vector_index_searches", "payload_field_indices"} and c["shards"][0]["local"]["segments"][0]["info"]["num_points"] == 2'
req GET '/telemetry?details_level=3' ""
json_check '"segments" not in next(x for x in b["result"]["collections"]["collections"] if x["id"] == "wire")["shards"][0]["local"]'
ok
req GET '/collections/wire/optimizations?with=queued,bogus' ""
[ "$code" = 400 ] || fail "optimizations with=bogus gave $code"
json_check '"Unknown field in" in b["status"]["error"] and b["status"]["error"].endswith("parameter: bogus")'
ok

# --- Errors -------------------------------------------------------------------
# {"status": {"error": msg}, "time": t}, no result (ApiResponse skips None);
# Content-Type application/json; codes from src/actix/helpers.rs.
req GET /collections/nope ""
[ "$code" = 404 ] || fail "unknown collection gave $code"
case $ctype in application/json*) ;; *) fail "error content type $ctype" ;; esac
json_check 'b["status"]["error"] == "Not found: Collection `nope` doesn'"'"'t exist!" and type(b["time"]) in (int, float) and "result" not in b'
ok
req PUT /collections/wire '{"vectors":{"size":4,"distance":"Dot"}}'
[ "$code" = 409 ] || fail "existing collection gave $code"
json_check 'b["status"]["error"] == "Wrong input: Collection `wire` already exists!"'
ok
# A validator failure: 422 (src/actix/mod.rs validation_error_handler).
req POST /collections/wire/points/query '{"query":[1,2,3,4],"limit":0}'
[ "$code" = 422 ] || fail "limit 0 gave $code: $(cat "$work/b")"
json_check 'b["status"]["error"] == "Validation error in JSON body: [internal.limit: value 0 invalid, must be 1 or larger]"'
ok
# A body that does not parse: 400 "Format error in JSON body: ...".
req POST /collections/wire/points/search '{"vector":[1,2,3,4],"limit":'
[ "$code" = 400 ] || fail "malformed JSON gave $code"
json_check 'b["status"]["error"].startswith("Format error in JSON body: ")'
ok
req PUT '/collections/wire/points?wait=true' '{"points":[{"id":3,"vector":[1,2,3]}]}'
[ "$code" = 400 ] || fail "wrong dimension gave $code"
json_check 'b["status"]["error"] == "Wrong input: Vector dimension error: expected dim: 4, got 3"'
ok
# Unknown route: 404 (Qdrant: actix default service, empty body; an error
# JSON body is accepted too).
req GET /no/such/route ""
[ "$code" = 404 ] || fail "unknown route gave $code"
if [ -s "$work/b" ]; then json_check 'isinstance(b["status"]["error"], str)'; fi
ok
# A trailing slash is normalised away (NormalizePath::trim, src/actix/mod.rs).
req GET /collections/ ""
[ "$code" = 200 ] || fail "GET /collections/ gave $code"
json_check '{"name": "wire"} in b["result"]["collections"]'
ok

# --- CORS ---------------------------------------------------------------------
# actix-cors allow_any_origin/method/header (src/actix/mod.rs): an actual
# request with Origin gets Access-Control-Allow-Origin (Qdrant echoes the
# origin; "*" is equally valid for a request without credentials).
req GET /collections "" -H 'Origin: http://shop.example'
acao=$(header Access-Control-Allow-Origin)
[ "$acao" = "*" ] || [ "$acao" = "http://shop.example" ] || fail "no Access-Control-Allow-Origin on a CORS request (got '$acao')"
ok
req POST /collections/wire/points/search '{"vector":[1,0,0,0],"limit":1}' -H 'Origin: http://shop.example'
acao=$(header Access-Control-Allow-Origin)
[ "$acao" = "*" ] || [ "$acao" = "http://shop.example" ] || fail "no ACAO on a CORS POST"
ok
# Preflight: OPTIONS with Access-Control-Request-Method is answered by the
# middleware, 200, empty body, methods and the requested headers allowed.
req OPTIONS /collections/wire/points/search "" -H 'Origin: http://shop.example' \
    -H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: content-type,api-key'
[ "$code" = 200 ] || fail "preflight gave $code"
acao=$(header Access-Control-Allow-Origin)
[ "$acao" = "*" ] || [ "$acao" = "http://shop.example" ] || fail "preflight without ACAO"
methods=$(header Access-Control-Allow-Methods)
for m in GET POST PUT DELETE PATCH; do
    echo "$methods" | grep -qi "\\b$m\\b" || [ "$methods" = "*" ] || fail "preflight Allow-Methods '$methods' lacks $m"
done
allow_h=$(header Access-Control-Allow-Headers | tr 'A-Z' 'a-z')
for h in content-type api-key; do
    echo "$allow_h" | grep -q "$h" || [ "$allow_h" = "*" ] || fail "preflight Allow-Headers '$allow_h' lacks $h"
done
[ ! -s "$work/b" ] || fail "preflight has a body: $(head -c 200 "$work/b")"
ok
# A preflight for a PUT on a collection route, as a browser sends it.
req OPTIONS /collections/wire/points "" -H 'Origin: http://other.example' -H 'Access-Control-Request-Method: PUT'
[ "$code" = 200 ] || fail "PUT preflight gave $code"
ok

# --- HEAD ---------------------------------------------------------------------
# Qdrant's GET resources do not match HEAD (404); vitrine answers HEAD on
# its GET routes. Either way: no body, and the connection stays usable.
code=$(curl -sS --max-time 5 -I -o "$work/head" -w '%{http_code}' "$base/healthz") || fail "HEAD /healthz"
[ "$code" = 200 ] || [ "$code" = 404 ] || fail "HEAD /healthz gave $code"
ok

# --- Keep-alive ---------------------------------------------------------------
# Several requests, with bodies, on one connection (HTTP/1.1 persistent).
curl -sS --max-time 10 -v \
    -H 'Content-Type: application/json' \
    "$base/healthz" \
    --next -X POST -H 'Content-Type: application/json' --data-binary '{"limit":1}' "$base/collections/wire/points/scroll" \
    --next -X POST -H 'Content-Type: application/json' --data-binary '{"exact":true}' "$base/collections/wire/points/count" \
    >"$work/ka.out" 2>"$work/ka.err" || fail "keep-alive curl"
n_reuse=$(grep -ci 're-using existing connection\|reusing existing connection' "$work/ka.err")
[ "$n_reuse" -ge 2 ] || fail "curl did not reuse the connection ($n_reuse reuses)"
grep -q '"count":2' "$work/ka.out" || fail "keep-alive answers: $(cat "$work/ka.out")"
ok

kill -TERM "$pid"
wait "$pid" 2>/dev/null
pid=
rm -rf "$work"
echo "qdrant_wire.sh: ok ($checks checks)"
