#!/usr/bin/env bash
# serve.sh - the real binary end to end: `vitrine serve --port 0` on
# loopback, then curl for the built-in routes, the JSON error shapes, a 413,
# keep-alive, and a SIGTERM that must end the process cleanly (exit 0,
# gone within a few seconds). VITRINE_BIN is exported by tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
work=$(mktemp -d)
log=$work/serve.log
pid=
# Whatever ends this script (a failure, tests/run.sh's time limit), the
# server does not outlive it.
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() {
    echo "serve.sh: FAIL: $*"
    echo "--- server log"
    cat "$log" 2>/dev/null
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$work"
    exit 1
}

# The data folder does not exist yet: serve must create it. No weights:
# serve must say so once and run anyway.
"$BIN" serve --port 0 --data "$work/data" --weights "$work/no-weights" --max-body 65536 2>"$log" &
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
[ -d "$work/data" ] || fail "data directory was not created"
grep -q "no CLIP weights at $work/no-weights: serving as a pure vector database" "$log" ||
    fail "missing the no-weights log line"

# Built-in routes.
body=$(curl -sS --max-time 5 "$base/healthz") || fail "curl /healthz"
[ "$body" = "healthz check passed" ] || fail "/healthz said '$body'"
[ "$(curl -sS --max-time 5 "$base/livez")" = "healthz check passed" ] || fail "/livez"
[ "$(curl -sS --max-time 5 "$base/readyz")" = "all shards are ready" ] || fail "/readyz"
root=$(curl -sS --max-time 5 "$base/") || fail "curl /"
echo "$root" | grep -q '"version":"1.17.1"' || fail "root JSON: $root"

# 404: Qdrant's error shape, JSON content type.
out=$(curl -sS --max-time 5 -o "$work/404.json" -w '%{http_code} %{content_type}' "$base/no/such/route")
[ "$out" = "404 application/json" ] || fail "404 status/type: $out"
grep -Eq '^\{"status":\{"error":"[^"]*"\},"time":[0-9.eE+-]+\}$' "$work/404.json" ||
    fail "404 body shape: $(cat "$work/404.json")"

# 405 carries Allow.
curl -sS --max-time 5 -X POST -D "$work/405.h" -o /dev/null "$base/healthz"
grep -q '^HTTP/1.1 405' "$work/405.h" || fail "POST /healthz not 405"
grep -qi '^Allow: GET, HEAD' "$work/405.h" || fail "405 without Allow"

# 413 for a body over --max-body.
head -c 100000 /dev/zero | tr '\0' 'a' >"$work/big"
code=$(curl -sS --max-time 5 -o "$work/413.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$work/big" "$base/healthz")
[ "$code" = 413 ] || fail "big body gave $code"
grep -q '"error":' "$work/413.json" || fail "413 body: $(cat "$work/413.json")"

# Keep-alive: two URLs in one curl reuse one connection. curl's
# %{num_connects} is the number of new connections each transfer made:
# 1 for the first, 0 for the second when it went over the same one.
ka=$(curl -sS --max-time 5 -o "$work/ka1" -o "$work/ka2" -w '%{num_connects} ' \
    "$base/healthz" "$base/readyz") || fail "keep-alive curl"
[ "$(cat "$work/ka1")$(cat "$work/ka2")" = "healthz check passedall shards are ready" ] ||
    fail "keep-alive bodies: $(cat "$work/ka1" "$work/ka2")"
[ "$ka" = "1 0 " ] || fail "curl made new connections '$ka' for two URLs, expected '1 0 '"

# Metrics saw the requests above.
curl -sS --max-time 5 "$base/metrics" >"$work/metrics" || fail "curl /metrics"
grep -q '^vitrine_http_requests_total{method="GET",route="/healthz",status="200"} [0-9]' "$work/metrics" ||
    fail "metrics lack the /healthz counter"
grep -q '^vitrine_http_request_duration_seconds_bucket{route="/healthz",le="+Inf"}' "$work/metrics" ||
    fail "metrics lack the latency histogram"
grep -q '^vitrine_http_open_connections ' "$work/metrics" || fail "metrics lack open connections"

# SIGTERM: exit 0, promptly.
kill -TERM "$pid"
for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
    fail "still running 5 s after SIGTERM"
fi
wait "$pid"
status=$?
pid=
[ "$status" = 0 ] || fail "exit status $status after SIGTERM"
grep -q "server: stopped" "$log" || fail "no clean stop in the log"
rm -rf "$work"
echo "serve.sh: ok"
