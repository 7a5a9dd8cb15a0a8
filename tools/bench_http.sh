#!/usr/bin/env bash
# bench_http.sh - vitrine's Qdrant REST API under load, next to the in-process
# index on the same data, same run (not a test: not part of `make test`).
#
#   tools/bench_http.sh [--n N] [--dir DIR] [--ef LIST] [--clients C]
#                       [--duration S] [--uploaders U] [--upload-n M]
#                       [--digits D] [--nice N] [--perf]
#
# 1. Data: tools/gen_vectors.py's N (default 100k) x 512-d clustered unit
#    vectors, 2000 queries and exact ground truth in DIR (default
#    /tmp/vitrine_ann, shared with tools/bench_ann.sh), generated if missing.
# 2. In process: `vitrine bench ann` (M=16, ef_construction=200, 2 build
#    threads; its qps is one query at a time on one thread).
# 3. Upserts over HTTP: `vitrine serve --port 0` on a fresh data directory;
#    PUT /collections/NAME/points?wait=true with {"points": [{"id",
#    "vector"}...]} bodies (floats with D significant digits, default 9),
#    in batches of 100 and of 1000, from 1 and from U (default 4) concurrent
#    uploaders, each run into its own collection holding the first M points
#    (default 20000; --upload-n N for the whole matrix at full size, which
#    takes about 4x as long); then all N points in batches of 1000 from U
#    uploaders into the collection searched next. Client: Python
#    http.client, one persistent connection per thread, every body built
#    before the clock starts (tools/bench_http.py). The vectors' JSON texts
#    are cached next to the data (DIR/base.<D>g.txt, 0.7 GB for 100k): the
#    first run spends a core-minute formatting them.
# 4. Search over HTTP: wrk (Debian) with C (default 8) keep-alive
#    connections on 2 threads for S seconds (default 10) per ef, POSTing
#    pre-built {"vector", "limit": 10, "params": {"hnsw_ef"}} bodies that
#    cycle through the queries (tools/bench_http.lua); then one sequential
#    pass over all queries with http.client for recall@10 against the
#    ground truth, and one more with 100 searches per /points/search/batch
#    request (the engine's rate with the per-request cost amortised,
#    measured on the same server minutes after the single searches).
# 5. A table: upload points/s; HTTP QPS next to in-process QPS, raw, per
#    core of the machine, and per CPU-second the server actually used (wrk
#    and the server share the cores, and on a busy machine wall-clock rates
#    swing with the load; CPU-seconds from /proc/PID/stat swing less). The
#    in-process side's CPU-seconds per ef come from bench ann's process at
#    each output line (tools/bench_http.py cputime).
# --perf also samples the server with `perf record -g` during an extra wrk
# run at the first (smallest) ef and prints where its time goes.
#
# Needs python3-numpy and wrk (Debian), and a built ./vitrine (or
# VITRINE=path/to/vitrine). Everything runs under nice -n N (default 10,
# like tools/bench_ann.sh). About 5-6 minutes on 2 idle cores (bench ann's
# build ~1 min, the 100k upload through one writer thread ~2 min).
set -euo pipefail
cd "$(dirname "$0")/.."
n=100000 nq=2000 dir=/tmp/vitrine_ann efs=40,100,300 clients=8 duration=10 uploaders=4 digits=9 perf=0 niceness=10 upload_n=20000
usage() {
    echo "usage: $0 [--n N] [--dir DIR] [--ef LIST] [--clients C] [--duration S] [--uploaders U] [--upload-n M] [--digits D] [--nice N] [--perf]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case "$1" in
        --n) n=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --ef) efs=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --uploaders) uploaders=$2; shift 2 ;;
        --upload-n) upload_n=$2; shift 2 ;;
        --digits) digits=$2; shift 2 ;;
        --nice) niceness=$2; shift 2 ;;
        --perf) perf=1; shift ;;
        *) usage ;;
    esac
done
PY=/usr/bin/python3
VITRINE=${VITRINE:-./vitrine}
NICE=(nice -n "$niceness")
[ -x "$VITRINE" ] || { echo "bench_http: no $VITRINE (run make first)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench_http: wrk is missing (apt-get install wrk)" >&2; exit 1; }
$PY -c 'import numpy' 2>/dev/null || { echo "bench_http: python3-numpy is missing (tools/deps.sh --bench)" >&2; exit 1; }

if [ ! -s "$dir/gt.ivecs" ]; then
    "${NICE[@]}" $PY tools/gen_vectors.py --out "$dir" --n "$n" --nq "$nq" --dim 512 --kind clustered
fi
# fvecs rows are 4 + 4 * dim bytes; the data in DIR must be the size asked for.
have=$(( $(stat -c %s "$dir/base.fvecs") / (4 + 4 * 512) ))
if [ "$have" -ne "$n" ]; then
    echo "bench_http: $dir holds $have base vectors, not $n; pass --dir with another directory" >&2
    exit 1
fi
nq_have=$(( $(stat -c %s "$dir/query.fvecs") / (4 + 4 * 512) ))
files=(--base "$dir/base.fvecs" --query "$dir/query.fvecs" --gt "$dir/gt.ivecs")

work=$(mktemp -d /tmp/vitrine_bench_http.XXXXXX)
server=""
cleanup() {
    local rc=$?
    if [ $rc -ne 0 ] && [ -s "$work/serve.log" ]; then
        echo "bench_http: failed ($rc); the server's log ends:" >&2
        tail -20 "$work/serve.log" >&2
    fi
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server"
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
cores=$(nproc)
echo "== machine: $cpu_model, $cores cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# server_cpu prints the CPU seconds (user + system, all threads) the server used so far.
server_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$server/stat"
}

# bench ann prints (and flushes) a line after the build and after each ef;
# the process's CPU time at each line gives the build's CPU seconds and
# each ef's search CPU seconds, which stay fair when other work on the
# machine steals cores (its qps is wall-clock).
echo "== vitrine bench ann (in process)"
"${NICE[@]}" $PY tools/bench_http.py cputime -- \
    "$VITRINE" bench ann "${files[@]}" --m 16 --ef-construction 200 --ef "$efs" --threads 2 | tee "$work/ann.txt"

echo "== vitrine serve"
"${NICE[@]}" "$VITRINE" serve --port 0 --data "$work/data" 2>"$work/serve.log" &
server=$!
port=""
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/serve.log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$port" ] || { echo "bench_http: the server did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
echo "pid $server, port $port, data $work/data"

# The upload matrix (batches of 100 and 1000, 1 and U uploaders) on the
# first M points, each run into a fresh collection, then the search
# collection with all N points (skipped when M = N: the matrix's first run
# is kept instead). Every HTTP insert goes through vitrine's one writer, so
# a 100k run costs about as much CPU as bench ann's build, on one thread.
if [ "$upload_n" -ge "$n" ]; then
    upload_n=$n
    runs="100:1:bench:$n,100:$uploaders:b100_u$uploaders:$n,1000:1:b1000_u1:$n,1000:$uploaders:b1000_u$uploaders:$n"
else
    runs="100:1:b100_u1:$upload_n,100:$uploaders:b100_u$uploaders:$upload_n,1000:1:b1000_u1:$upload_n"
    runs="$runs,1000:$uploaders:b1000_u$uploaders:$upload_n,1000:$uploaders:bench:$n"
fi
echo "== upsert over HTTP (512-d, floats with $digits significant digits; matrix on $upload_n points, search collection $n)"
"${NICE[@]}" $PY tools/bench_http.py upload --port "$port" --base "$dir/base.fvecs" \
    --runs "$runs" --keep bench --server-pid "$server" --digits "$digits" | tee "$work/upload.txt"

echo "== search over HTTP (wrk: $clients keep-alive connections, ${duration}s per ef)"
wrk_threads=$(( clients < 2 ? clients : 2 ))
url="http://127.0.0.1:$port"
search_path=/collections/bench/points/search
IFS=, read -r -a ef_list <<<"$efs"
for ef in "${ef_list[@]}"; do
    "${NICE[@]}" $PY tools/bench_http.py bodies --query "$dir/query.fvecs" --ef "$ef" --digits "$digits" \
        --out "$work/bodies_$ef.txt"
done
# A short warm-up, so the first ef does not pay for cold pages and threads.
"${NICE[@]}" wrk -t"$wrk_threads" -c"$clients" -d2s -s tools/bench_http.lua "$url" -- \
    "$work/bodies_${ef_list[0]}.txt" "$search_path" >/dev/null
for ef in "${ef_list[@]}"; do
    c0=$(server_cpu)
    "${NICE[@]}" wrk -t"$wrk_threads" -c"$clients" -d"${duration}s" --latency -s tools/bench_http.lua "$url" -- \
        "$work/bodies_$ef.txt" "$search_path" >"$work/wrk_$ef.txt"
    c1=$(server_cpu)
    if grep -q "Non-2xx\|Socket errors" "$work/wrk_$ef.txt"; then
        echo "bench_http: wrk saw errors at ef=$ef:" >&2
        cat "$work/wrk_$ef.txt" >&2
        exit 1
    fi
    awk -v ef="$ef" -v cpu="$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')" '
        /requests in/ { reqs = $1; secs = $4; sub(/s,?$/, "", secs) }
        /Requests\/sec/ { qps = $2 }
        /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
        END { printf "wrk ef=%s qps=%.0f requests=%s secs=%s server_cpu=%.2f p50=%s p99=%s\n", ef, qps, reqs, secs, cpu, p50, p99 }
    ' "$work/wrk_$ef.txt" | tee -a "$work/search.txt"
    "${NICE[@]}" $PY tools/bench_http.py recall --port "$port" --query "$dir/query.fvecs" --gt "$dir/gt.ivecs" \
        --ef "$ef" --collection bench --digits "$digits" --server-pid "$server" | tee -a "$work/search.txt"
done

if [ $perf = 1 ]; then
    if ! command -v perf >/dev/null; then
        echo "== perf: not installed (apt-get install linux-perf)"
    else
        # The smallest ef: there the HTTP path's share of a query is largest.
        ef=${ef_list[0]}
        echo "== perf: server during wrk at ef=$ef (${duration}s, not counted above)"
        perf record -F 999 -g -p "$server" -o "$work/perf.data" -- sleep "$duration" 2>/dev/null &
        perf_pid=$!
        "${NICE[@]}" wrk -t"$wrk_threads" -c"$clients" -d"${duration}s" -s tools/bench_http.lua "$url" -- \
            "$work/bodies_$ef.txt" "$search_path" | sed -n 's/^Requests\/sec:/wrk under perf: qps/p'
        wait "$perf_pid" || true
        echo "-- self time by symbol"
        perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio -g none --percent-limit 0.7 2>/dev/null \
            | grep -v '^#' | grep -v '^$' | head -30
        echo "-- self time by thread (the loop thread is the one whose id is the pid)"
        perf report -i "$work/perf.data" --no-children --sort pid --stdio -g none 2>/dev/null \
            | grep -v '^#' | grep -v '^$' | head -8
        echo "-- inclusive time (children) by symbol"
        perf report -i "$work/perf.data" --children --sort symbol --stdio -g none --percent-limit 3 2>/dev/null \
            | grep -v '^#' | grep -v '^$' | head -30
    fi
fi

echo "== summary ($cpu_model, $cores cores shared by wrk and the server; load average $(cut -d' ' -f1-3 /proc/loadavg))"
awk -v cores="$cores" -v clients="$clients" -v nq="$nq_have" '
    function field(s, key,   i, a) { split(s, a, /[ =]/); for (i = 1; i in a; i++) if (a[i] == key) return a[i + 1]; return "" }
    FILENAME ~ /ann.txt$/ && /^build:/ { build = $2; cpu_prev = build_cpu = field($0, "cpu") }
    FILENAME ~ /ann.txt$/ && /^ef=/ {
        ef = field($0, "ef"); annq[ef] = field($0, "qps"); annr[ef] = field($0, "recall@10")
        c = field($0, "cpu"); anncpu[ef] = c - cpu_prev; cpu_prev = c
    }
    /^upload / {
        nu++; ub[nu] = field($0, "batch"); uu[nu] = field($0, "uploaders"); up[nu] = field($0, "pts_per_s")
        uw[nu] = field($0, "wall"); uc[nu] = field($0, "server_cpu"); ul[nu] = field($0, "req_p50_ms")
        un[nu] = field($0, "points")
    }
    /^wrk / { ef = field($0, "ef"); order[++ne] = ef; hq[ef] = field($0, "qps"); hr[ef] = field($0, "requests")
              hc[ef] = field($0, "server_cpu"); h50[ef] = field($0, "p50"); h99[ef] = field($0, "p99") }
    /^recall / { ef = field($0, "ef"); hrec[ef] = field($0, "recall@10"); hseq[ef] = field($0, "seq_qps")
                 hseqc[ef] = field($0, "server_cpu"); hbq[ef] = field($0, "batch_qps"); hbc[ef] = field($0, "batch_cpu") }
    END {
        printf "upsert over HTTP; in-process build of %d vectors (bench ann, 2 threads): %s vectors/s, %.0f per CPU-second\n",
               nq_base, build, nq_base / build_cpu
        printf "  %7s %5s %9s %9s %7s %8s %8s %9s %8s\n", "points", "batch", "uploaders", "points/s", "wall s",
               "p50 ms", "vs build", "pts/cpu-s", "vs build"
        for (i = 1; i <= nu; i++)
            printf "  %7s %5s %9s %9s %7s %8s %7.2fx %9.0f %7.2fx\n", un[i], ub[i], uu[i], up[i], uw[i], ul[i],
                   up[i] / build, un[i] / uc[i], (un[i] / uc[i]) / (nq_base / build_cpu)
        print "  vs build: HTTP points/s (or per server CPU-second) / in-process build (smaller runs build smaller graphs)"
        printf "search: HTTP (wrk, %d keep-alive clients) vs bench ann (1 thread, 1 query at a time)\n", clients
        printf "  %4s %7s %7s %8s %8s %9s %9s %8s %8s %8s\n", "ef", "recall", "ann rec", "ann qps", "http qps",
               "http/ann", "per core", "p50", "p99", "seq qps"
        for (i = 1; i <= ne; i++) {
            ef = order[i]
            printf "  %4s %7s %7s %8s %8s %8.2fx %8.2fx %8s %8s %8s\n", ef, hrec[ef], annr[ef], annq[ef], hq[ef],
                   hq[ef] / annq[ef], hq[ef] / cores / annq[ef], h50[ef], h99[ef], hseq[ef]
        }
        printf "  per CPU-second (fairer under contention): queries answered per CPU-second the server (or bench ann) used;\n"
        printf "  batch: 100 searches per /points/search/batch request, on the same server in the same minute\n"
        printf "  %4s %7s %7s %9s %7s %7s %8s %14s %7s %8s %14s\n", "ef", "ann", "batch", "batch qps", "http " clients,
               "vs ann", "vs batch", "overhead/query", "http 1", "vs batch", "overhead/query"
        for (i = 1; i <= ne; i++) {
            ef = order[i]
            aq = anncpu[ef] > 0 ? nq / anncpu[ef] : 0
            bq = hbc[ef] > 0 ? nq / hbc[ef] : 0
            hqc = hc[ef] > 0 ? hr[ef] / hc[ef] : 0
            sqc = hseqc[ef] > 0 ? nq / hseqc[ef] : 0
            printf "  %4s %7.0f %7.0f %9s %7.0f %6.2fx %7.2fx %11.0f us %7.0f %7.2fx %11.0f us\n", ef, aq, bq, hbq[ef],
                   hqc, (aq > 0 ? hqc / aq : 0), (bq > 0 ? hqc / bq : 0), ((hqc > 0 && bq > 0) ? 1e6 / hqc - 1e6 / bq : 0),
                   sqc, (bq > 0 ? sqc / bq : 0), ((sqc > 0 && bq > 0) ? 1e6 / sqc - 1e6 / bq : 0)
        }
        print "  http/ann: HTTP QPS / in-process QPS (wall); per core: the same with HTTP QPS divided by the cores;"
        print "  seq qps, http 1: the recall pass (one query at a time on one connection, Python client);"
        print "  overhead/query: server CPU per single-search request minus per query in a batch (HTTP, JSON, hand-offs)"
    }' nq_base="$n" "$work/ann.txt" "$work/upload.txt" "$work/search.txt"
