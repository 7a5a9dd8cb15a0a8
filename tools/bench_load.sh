#!/usr/bin/env bash
# bench_load.sh - vitrine under connection load on loopback, with slow
# clients (a benchmark, not a test: not part of `make test`).
#
#   tools/bench_load.sh [--conns C] [--upsert-conns U] [--slow S] [--duration D]
#                       [--points N] [--dim K] [--threads T]
#
# 1. `vitrine serve --port 0` on a fresh data directory with
#    --max-connections C + 2 S + 64 (a cut slow client reconnects while its
#    old connection still lingers; the defaults for everything else), one
#    collection of N (default 20000) random K-d (default 128) cosine points
#    loaded in batches of 1000.
# 2. Start: the server's RSS once idle (VmRSS, /proc/PID/status).
# 3. For D seconds (default 30), at once: wrk with C - U keep-alive
#    connections POSTing searches (limit 10, pre-built bodies cycling through
#    500 random queries) and wrk with U (default 200) keep-alive connections
#    PUTting single-point upserts (?wait=true, random ids among the N, so the
#    collection does not grow), both through tools/bench_http.lua (which
#    counts every non-200 answer), plus tools/slow_clients.py holding S
#    (default 200) slow-header connections that send one header byte a
#    second and reconnect whenever the server cuts them off (the header
#    deadline, 10 s by default).
# 4. End: wait until the server holds no connection, then its RSS again.
# Prints, per wrk: requests/s, p50/p90/p99/max latency, socket errors and
# non-200 answers; the slow clients' 408s; RSS at the start, peak and end.
# C defaults to 1000. wrk from Debian (tools/deps.sh --bench); python3.
set -euo pipefail
cd "$(dirname "$0")/.."
conns=1000 upsert_conns=200 slow=200 duration=30 points=20000 dim=128 threads=2
while [ $# -gt 0 ]; do
    case "$1" in
        --conns) conns=$2; shift 2 ;;
        --upsert-conns) upsert_conns=$2; shift 2 ;;
        --slow) slow=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --points) points=$2; shift 2 ;;
        --dim) dim=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        *) echo "usage: $0 [--conns C] [--upsert-conns U] [--slow S] [--duration D] [--points N] [--dim K] [--threads T]" >&2; exit 2 ;;
    esac
done
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
VITRINE=${VITRINE:-./vitrine}
[ -x "$VITRINE" ] || { echo "bench_load: no $VITRINE (run make first)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench_load: wrk is missing (tools/deps.sh --bench)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
search_conns=$((conns - upsert_conns))

work=$(mktemp -d /tmp/vitrine_bench_load.XXXXXX)
server=""
cleanup() {
    [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$VITRINE" serve --port 0 --data "$work/data" --weights "$work/none" \
    --max-connections $((conns + 2 * slow + 64)) 2>"$work/serve.log" &
server=$!
port=""
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/serve.log" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "bench_load: the server did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
rss() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$server/status"; }
# The resident size split: heap and stacks (anon) vs the LMDB map (file).
rss_split() { awk '/^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } END { printf "anon %.1f + file %.1f", a / 1024, f / 1024 }' "/proc/$server/status"; }
# rss_by_mapping: resident KiB by mapping (a file's path, [heap], or
# "anon" for the anonymous mappings: glibc's thread arenas, stacks, big
# allocations), the largest first, from /proc/PID/smaps.
rss_by_mapping() {
    awk '/^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6) ? $6 : "anon"; next }
         /^Rss:/ { kb[name] += $2 }
         END { for (n in kb) if (kb[n] >= 512) printf "%8.1f MiB  %s\n", kb[n] / 1024, n }' \
        "/proc/$server/smaps" | sort -rn | head -n 8
}
hwm() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$server/status"; }
open_conns() {
    curl -s "http://127.0.0.1:$port/metrics" | awk '/^vitrine_http_open_connections / { print $2 }'
}

# The collection and the request bodies (python's random, no numpy).
$PY - "$port" "$points" "$dim" "$work" <<'PYEOF'
import http.client, json, random, sys
port, n, dim, work = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(7)
vec = lambda: "[" + ",".join("%.6f" % rng.uniform(-1, 1) for _ in range(dim)) + "]"
c = http.client.HTTPConnection("127.0.0.1", port)
def call(method, path, body):
    c.request(method, path, body, {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit("bench_load: %s %s: %d %s" % (method, path, r.status, data[:200]))
call("PUT", "/collections/load", json.dumps({"vectors": {"size": dim, "distance": "Cosine"}}))
for start in range(0, n, 1000):
    pts = ",".join('{"id":%d,"vector":%s}' % (i, vec()) for i in range(start, min(n, start + 1000)))
    call("PUT", "/collections/load/points?wait=true", '{"points":[' + pts + ']}')
with open(work + "/search.txt", "w") as f:
    for _ in range(500):
        f.write('{"vector":%s,"limit":10}\n' % vec())
with open(work + "/upsert.txt", "w") as f:
    for _ in range(500):
        f.write('{"points":[{"id":%d,"vector":%s}]}\n' % (rng.randrange(n), vec()))
PYEOF
sleep 2
rss_start=$(rss)
split_start=$(rss_split)
echo "== loaded $points points of $dim-d; server RSS at the start: $rss_start MiB ($split_start)"
rss_by_mapping >"$work/map_start.txt"

echo "== load for $duration s: $search_conns search + $upsert_conns upsert keep-alive connections (wrk, $threads threads each), $slow slow-header clients"
$PY tools/slow_clients.py "$port" "$slow" $((duration + 4)) 1 >"$work/slow.txt" &
slow_pid=$!
sleep 2
wrk -t"$threads" -c"$search_conns" -d"${duration}s" --timeout 10s -s tools/bench_http.lua \
    "http://127.0.0.1:$port" -- "$work/search.txt" /collections/load/points/search POST >"$work/wrk_search.txt" 2>&1 &
w1=$!
wrk -t"$threads" -c"$upsert_conns" -d"${duration}s" --timeout 10s -s tools/bench_http.lua \
    "http://127.0.0.1:$port" -- "$work/upsert.txt" "/collections/load/points?wait=true" PUT >"$work/wrk_upsert.txt" 2>&1 &
w2=$!
peak=0
while kill -0 "$w1" 2>/dev/null || kill -0 "$w2" 2>/dev/null; do
    sleep 1
    conns_now=$(open_conns || true)
    [ -n "$conns_now" ] && [ "${conns_now%.*}" -gt "$peak" ] && peak=${conns_now%.*}
done
wait "$w1" "$w2" || true
wait "$slow_pid" || true

# Idle: every load connection gone (the slow clients' are cut at their deadline).
for _ in $(seq 60); do
    c=$(open_conns || echo 99)
    [ "${c%.*}" -le 1 ] && break
    sleep 1
done
sleep 2
rss_end=$(rss)
split_end=$(rss_split)
rss_by_mapping >"$work/map_end.txt"
echo "== wrk search ($search_conns connections)"
grep -E "Requests/sec|Socket errors|Non-2xx|non-200|latency p50|requests in" "$work/wrk_search.txt"
echo "== wrk upsert ($upsert_conns connections, wait=true)"
grep -E "Requests/sec|Socket errors|Non-2xx|non-200|latency p50|requests in" "$work/wrk_upsert.txt"
echo "== slow-header clients"
cat "$work/slow.txt"
echo "== server: most open connections seen $peak; RSS start $rss_start MiB ($split_start), peak $(hwm) MiB, end (idle) $rss_end MiB ($split_end; $(awk -v a="$rss_start" -v b="$rss_end" 'BEGIN { printf "%+.1f%%", (b - a) / a * 100 }'))"
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^vitrine_http_(request_timeouts_total|budget_rejections_total|rejected_connections_total|request_memory_peak_bytes)' || true
echo "== resident by mapping at the start"
cat "$work/map_start.txt"
echo "== resident by mapping at the end (idle)"
cat "$work/map_end.txt"
