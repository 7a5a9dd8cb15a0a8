#!/usr/bin/env bash
# auth.sh - API keys end to end, against Qdrant's behaviour
# (src/actix/auth.rs, src/common/auth/mod.rs, lib/storage/src/rbac/mod.rs):
#   - 401 text/plain "Must provide an API key or an Authorization bearer
#     token" without a key, "Invalid API key or JWT" with a wrong one;
#   - the `api-key` header and `Authorization: Bearer` both accepted;
#   - the read-only key reads (GET, search, query, scroll, count, retrieve)
#     and gets 403 {"status":{"error":"Forbidden: Global manage access is
#     required"}} on writes, which change nothing;
#   - /, /healthz, /livez, /readyz and CORS preflights need no key;
#     /metrics needs it (as Qdrant), or is open (--metrics open) or gone
#     (--metrics off); refusals are counted in vitrine_auth_failures_total;
#   - keys from a file, the environment and a flag; a flag's key is wiped
#     from /proc/PID/cmdline; no key ever appears in the log;
#   - the default listen address is 127.0.0.1, and another address without
#     a key logs a warning;
#   - Qdrant's JavaScript client (apiKey option and a Bearer header), when
#     node and the pinned client are there (tests/qdrant/auth.mjs).
set -u
BIN=${VITRINE_BIN:-./vitrine}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"' EXIT
fail() {
    echo "auth.sh: FAIL: $*"
    for f in "$work"/*.log; do echo "--- $f"; cat "$f"; done
    exit 1
}

RW='rw-4f1c2a9e-secret'
RO='ro-77d0b3c1-secret'
FLAGKEY='flag-0e3a9d5b-secret'

# start NAME ARGS...: runs the server with its log in $work/NAME.log and
# sets $base (and $pid) once it listens.
start() {
    local name=$1
    shift
    "$BIN" serve --port 0 --data "$work/$name-data" --weights "$work/no-weights" "$@" 2>"$work/$name.log" &
    pid=$!
    pids+=("$pid")
    local port=
    for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
        port=$(sed -n 's|.*listening on http://[^ ]*:\([0-9][0-9]*\)$|\1|p' "$work/$name.log" | head -1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || fail "$name: server exited early"
        sleep 0.1
    done
    [ -n "$port" ] || fail "$name: no 'listening on' line"
    base=http://127.0.0.1:$port
}

# code ARGS...: the HTTP status of a curl request.
code() { curl -sS --max-time 10 -o "$work/body" -w '%{http_code}' "$@"; }

# ---- the main server: key file + environment ----
printf '%s\n' "$RW" >"$work/key"
chmod 600 "$work/key"
VITRINE_READ_ONLY_API_KEY=$RO start main --api-key-file "$work/key"
main=$base
grep -q "listening on http://127\.0\.0\.1:" "$work/main.log" || fail "default listen address is not 127.0.0.1"
grep -q "without an API key" "$work/main.log" && fail "a loopback server warned about keys"
json=(-H 'Content-Type: application/json')

# No key, wrong key: Qdrant's 401 bodies, text/plain.
[ "$(curl -sS --max-time 10 -o "$work/body" -w '%{http_code} %{content_type}' "$main/collections")" = "401 text/plain" ] ||
    fail "no key: not 401 text/plain"
[ "$(cat "$work/body")" = "Must provide an API key or an Authorization bearer token" ] ||
    fail "no key body: $(cat "$work/body")"
[ "$(code -H "api-key: $RW-" "$main/collections")" = 401 ] || fail "wrong api-key not 401"
[ "$(cat "$work/body")" = "Invalid API key or JWT" ] || fail "wrong key body: $(cat "$work/body")"
[ "$(code -H "Authorization: Bearer $RO-" "$main/collections")" = 401 ] || fail "wrong bearer not 401"
[ "$(code -H "Authorization: bearer $RW" "$main/collections")" = 401 ] ||
    fail "lower-case 'bearer' accepted (Qdrant strips exactly 'Bearer ')"
[ "$(code -H "Authorization: Basic $RW" "$main/collections")" = 401 ] || fail "Basic accepted"
[ "$(code -H "api-key;" "$main/collections")" = 401 ] || fail "empty api-key accepted"
# The api-key header wins over Authorization, as in Qdrant.
[ "$(code -H "api-key: nope" -H "Authorization: Bearer $RW" "$main/collections")" = 401 ] ||
    fail "a wrong api-key header was overridden by a Bearer token"
[ "$(code -X PUT "${json[@]}" -d '{"vectors":{"size":4,"distance":"Dot"}}' "$main/collections/c")" = 401 ] ||
    fail "no key: write not 401"
[ "$(code "$main/no/such/route")" = 401 ] || fail "no key: unknown path not 401 (auth comes before routing)"

# Open routes.
[ "$(code "$main/healthz")" = 200 ] && [ "$(cat "$work/body")" = "healthz check passed" ] || fail "/healthz"
[ "$(code "$main/livez")" = 200 ] || fail "/livez"
[ "$(code "$main/readyz")" = 200 ] || fail "/readyz"
[ "$(code "$main/readyz/")" = 200 ] || fail "/readyz/"
[ "$(code "$main/")" = 200 ] && grep -q '"title":"qdrant - vector search engine"' "$work/body" || fail "GET /"
[ "$(code -X OPTIONS -H 'Origin: http://x' -H 'Access-Control-Request-Method: PUT' "$main/collections/c")" = 200 ] ||
    fail "CORS preflight needs a key"
[ "$(code "$main/metrics")" = 401 ] || fail "/metrics open by default with a key set"
[ "$(code --path-as-is "$main/healthz/../collections")" = 401 ] || fail "a path under /healthz got past the check"

# Read-write key, both forms.
[ "$(code -X PUT "${json[@]}" -H "api-key: $RW" -d '{"vectors":{"size":4,"distance":"Dot"}}' "$main/collections/c")" = 200 ] ||
    fail "api-key create: $(cat "$work/body")"
[ "$(code -X PUT "${json[@]}" -H "Authorization: Bearer $RW" \
    -d '{"points":[{"id":1,"vector":[1,0,0,0],"payload":{"t":"a"}},{"id":2,"vector":[0,1,0,0]}]}' \
    "$main/collections/c/points?wait=true")" = 200 ] || fail "bearer upsert: $(cat "$work/body")"

# Read-only key: reads pass, writes are 403 in Qdrant's JSON shape.
for h in "api-key: $RO" "Authorization: Bearer $RO"; do
    [ "$(code -H "$h" "$main/collections/c")" = 200 ] || fail "ro ($h): GET collection"
    [ "$(code -X POST "${json[@]}" -H "$h" -d '{"vector":[1,0,0,0],"limit":1}' "$main/collections/c/points/search")" = 200 ] ||
        fail "ro ($h): search: $(cat "$work/body")"
    grep -q '"id":1' "$work/body" || fail "ro search result: $(cat "$work/body")"
    [ "$(code -X POST "${json[@]}" -H "$h" -d '{"query":[0,1,0,0],"limit":1}' "$main/collections/c/points/query")" = 200 ] ||
        fail "ro ($h): query"
    [ "$(code -X POST "${json[@]}" -H "$h" -d '{}' "$main/collections/c/points/scroll")" = 200 ] || fail "ro ($h): scroll"
    [ "$(code -X POST "${json[@]}" -H "$h" -d '{}' "$main/collections/c/points/count")" = 200 ] || fail "ro ($h): count"
    [ "$(code -X POST "${json[@]}" -H "$h" -d '{"ids":[1]}' "$main/collections/c/points")" = 200 ] || fail "ro ($h): retrieve"
    [ "$(code -X POST "${json[@]}" -H "$h" -d '{"searches":[{"vector":[1,0,0,0],"limit":1}]}' \
        "$main/collections/c/points/search/batch")" = 200 ] || fail "ro ($h): search batch"
    [ "$(code -H "$h" "$main/metrics")" = 200 ] || fail "ro ($h): /metrics"
done
forbidden='^\{"status":\{"error":"Forbidden: Global manage access is required"\},"time":[0-9.eE+-]+\}$'
n403=0
while read -r method path body; do
    st=$(curl -sS --max-time 10 -o "$work/body" -w '%{http_code} %{content_type}' -X "$method" "${json[@]}" \
        -H "api-key: $RO" -d "$body" "$main$path")
    [ "$st" = "403 application/json" ] || fail "ro $method $path: $st $(cat "$work/body")"
    grep -Eq "$forbidden" "$work/body" || fail "ro $method $path body: $(cat "$work/body")"
    n403=$((n403 + 1))
done <<'EOF'
PUT /collections/c/points?wait=true {"points":[{"id":3,"vector":[0,0,1,0]}]}
POST /collections/c/points/delete?wait=true {"points":[1]}
POST /collections/c/points/payload?wait=true {"points":[1],"payload":{"x":1}}
PUT /collections/c/points/payload?wait=true {"points":[1],"payload":{"x":1}}
POST /collections/c/points/payload/clear?wait=true {"points":[1]}
POST /collections/c/points/batch?wait=true {"operations":[]}
PUT /collections/c/index?wait=true {"field_name":"t","field_schema":"keyword"}
PATCH /collections/c {"optimizers_config":{}}
DELETE /collections/c {}
PUT /collections/d {"vectors":{"size":4,"distance":"Dot"}}
POST /collections/aliases {"actions":[]}
POST /collections/c/snapshots {}
PUT /collections/c/snapshots/recover {"location":"file:///etc/passwd"}
POST /snapshots {}
DELETE /issues {}
EOF
[ "$(code -H "api-key: $RW" "$main/collections/c")" = 200 ] && grep -q '"points_count":2' "$work/body" ||
    fail "refused writes changed the collection: $(cat "$work/body")"
[ "$(code -X POST "${json[@]}" -H "api-key: $RW" -d '{"ids":[1],"with_payload":true}' "$main/collections/c/points")" = 200 ] &&
    grep -q '"payload":{"t":"a"}' "$work/body" || fail "refused writes changed a payload: $(cat "$work/body")"

# JavaScript client (its own 401s and 403s are counted below too).
js_401=0 js_403=0
if command -v node >/dev/null 2>&1 && [ -d "$here/../qdrant/node_modules/@qdrant/js-client-rest" ]; then
    (cd "$here/../qdrant" && node auth.mjs "$main" "$RW" "$RO") >"$work/js.out" 2>&1 ||
        { cat "$work/js.out"; fail "JavaScript client checks"; }
    cat "$work/js.out"
    js_401=4 js_403=7
else
    echo "auth.sh: note: node or tests/qdrant/node_modules missing; JavaScript client part skipped"
fi

# The counters: every refusal above, by reason (metrics read with the key).
curl -sS --max-time 10 -H "api-key: $RW" "$main/metrics" >"$work/metrics" || fail "metrics"
metric() { sed -n "s/^vitrine_auth_failures_total{reason=\"$1\"} \([0-9]*\)$/\1/p" "$work/metrics"; }
# missing: no header, or an Authorization that is not "Bearer " (7 above),
# invalid: a key that is not one of ours, empty included (4 above); the
# client sends 2 of each.
want_missing=$((7 + js_401 / 2))
want_invalid=$((4 + js_401 / 2))
[ "$(metric missing)" = "$want_missing" ] || fail "missing count $(metric missing), want $want_missing"
[ "$(metric invalid)" = "$want_invalid" ] || fail "invalid count $(metric invalid), want $want_invalid"
[ "$(metric forbidden)" = "$((n403 + js_403))" ] || fail "forbidden count $(metric forbidden), want $((n403 + js_403))"

# No key in the log (default level), and no payload either.
for k in "$RW" "$RO"; do grep -qF -- "$k" "$work/main.log" && fail "a key is in the log"; done
grep -qF '"t":"a"' "$work/main.log" && fail "payload content is in the log"

# ---- a key from a flag, beyond loopback: the warning, cmdline wiped ----
start flag --host 0.0.0.0 --read-only-api-key "$FLAGKEY" --metrics off
grep -q "warn.*listening on 0.0.0.0 with only a read-only key" "$work/flag.log" || fail "no read-only-only warning"
tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$FLAGKEY" && fail "the key is still in /proc/PID/cmdline"
[ "$(code -H "api-key: $FLAGKEY" "$base/metrics")" = 404 ] || fail "--metrics off still serves /metrics"
[ "$(code -H "api-key: $FLAGKEY" "$base/collections")" = 200 ] || fail "flag key refused"
grep -qF -- "$FLAGKEY" "$work/flag.log" && fail "the flag key is in the log"

start open --host 0.0.0.0 --metrics open
grep -q "warn.*listening on 0.0.0.0 without an API key" "$work/open.log" || fail "no warning for 0.0.0.0 without a key"
[ "$(code "$base/metrics")" = 200 ] || fail "no key configured: /metrics not open"

start open2 --api-key "$FLAGKEY" --metrics open
[ "$(code "$base/metrics")" = 200 ] || fail "--metrics open: /metrics needs a key"
[ "$(code "$base/collections")" = 401 ] || fail "--metrics open opened more than /metrics"

# Bad settings are refused at start.
"$BIN" serve --port 0 --data "$work/bad" --api-key same --read-only-api-key same 2>"$work/bad.log" &&
    fail "equal keys accepted"
: >"$work/empty"
"$BIN" serve --port 0 --data "$work/bad" --api-key-file "$work/empty" 2>"$work/bad.log" && fail "empty key file accepted"
grep -q "holds no key" "$work/bad.log" || fail "empty key file message: $(cat "$work/bad.log")"
"$BIN" serve --port 0 --data "$work/bad" --metrics maybe 2>"$work/bad.log" && fail "--metrics maybe accepted"
rm -f "$work/bad.log"

echo "auth.sh: ok ($n403 writes refused to the read-only key, JavaScript client: $([ $js_403 -gt 0 ] && echo yes || echo skipped))"
