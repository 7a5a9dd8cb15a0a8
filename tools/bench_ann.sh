#!/usr/bin/env bash
# bench_ann.sh - vitrine's HNSW against hnswlib on the same files, same run.
#
#   tools/bench_ann.sh [--threads T] [--ef LIST] [--dir DIR] [--kind clustered|uniform]
#
# Generates 100k x 512-d CLIP-like unit vectors with exact ground truth in
# DIR (default /tmp/vitrine_ann) unless they are there, runs
# `vitrine bench ann` and tools/bench_hnswlib.py (M=16, ef_construction=200,
# T build threads, default 2) under nice, and prints both outputs, then the
# ratios vitrine / hnswlib: build throughput, QPS per ef, QPS at the
# smallest ef reaching recall@10 >= 0.99 on each side, and memory.
# Needs python3-numpy and python3-hnswlib (Debian), and a built ./vitrine
# (or VITRINE=path/to/vitrine).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 efs=10,20,40,64,100,200,300,400 dir=/tmp/vitrine_ann kind=clustered n=100000 nq=2000
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) threads=$2; shift 2 ;;
        --ef) efs=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --kind) kind=$2; shift 2 ;;
        --n) n=$2; shift 2 ;;
        *) echo "usage: $0 [--threads T] [--ef LIST] [--dir DIR] [--kind clustered|uniform] [--n N]" >&2; exit 2 ;;
    esac
done
PY=/usr/bin/python3
VITRINE=${VITRINE:-./vitrine}
if [ ! -s "$dir/gt.ivecs" ]; then
    nice -n 10 $PY tools/gen_vectors.py --out "$dir" --n "$n" --nq "$nq" --dim 512 --kind "$kind"
fi
files=(--base "$dir/base.fvecs" --query "$dir/query.fvecs" --gt "$dir/gt.ivecs")
ours=$(mktemp) theirs=$(mktemp)
trap 'rm -f "$ours" "$theirs"' EXIT
echo "== vitrine"
nice -n 10 "$VITRINE" bench ann "${files[@]}" --m 16 --ef-construction 200 --ef "$efs" --threads "$threads" | tee "$ours"
echo "== hnswlib"
nice -n 10 $PY tools/bench_hnswlib.py "${files[@]}" --m 16 --ef-construction 200 --ef "$efs" --threads "$threads" | tee "$theirs"
echo "== vitrine / hnswlib"
awk '
    function field(s, key,   i, a) { split(s, a, /[ =]/); for (i = 1; i in a; i++) if (a[i] == key) return a[i + 1]; return "" }
    FNR == 1 { side++ }
    /^build:/ { build[side] = $2 }
    /^memory:/ { mem[side] = $2 }
    /^ef=/ {
        ef = field($0, "ef"); r = field($0, "recall@10"); q = field($0, "qps")
        qps[side, ef] = q; rec[side, ef] = r
        if (side == 1) order[++n] = ef
        if (r >= 0.99 && !(side in hit)) { hit[side] = ef; hitq[side] = q; hitr[side] = r }
    }
    END {
        printf "build (%s threads): %.2fx (%s vs %s vectors/s)\n", threads, build[1] / build[2], build[1], build[2]
        for (i = 1; i <= n; i++) {
            ef = order[i]
            printf "ef=%s: qps %.2fx (recall %s vs %s)\n", ef, qps[1, ef] / qps[2, ef], rec[1, ef], rec[2, ef]
        }
        if ((1 in hit) && (2 in hit))
            printf "at recall@10 >= 0.99: qps %.2fx (vitrine ef=%s %s qps recall %s; hnswlib ef=%s %s qps recall %s)\n",
                   hitq[1] / hitq[2], hit[1], hitq[1], hitr[1], hit[2], hitq[2], hitr[2]
        else
            print "at recall@10 >= 0.99: not reached by both; raise --ef"
        printf "memory: vitrine %s raw, hnswlib %s raw\n", mem[1], mem[2]
    }' threads="$threads" "$ours" "$theirs"
