#!/usr/bin/env bash
# bench_ann.sh - vitrine's HNSW against hnswlib on the same files, same run.
#
#   tools/bench_ann.sh [--threads T] [--ef LIST] [--dir DIR] [--n N]
#       [--kind clustered|uniform] [--quantization int8] [--oversampling X]
#       [--filter-selectivity P[,P...]]
#
# Generates N (default 100k) x 512-d CLIP-like unit vectors with exact
# ground truth in DIR (default /tmp/vitrine_ann_KIND_N, kept and reused:
# a 1M set takes minutes to make), then runs under nice, one after the
# other on the same files:
#   vitrine bench ann [--filter-selectivity P,...]   float32 graph, then
#                                          filtered at each P (one build)
#   vitrine bench ann --quantization int8  (with --quantization) int8 codes,
#                                          rescored with float32 x oversampling
#   tools/bench_hnswlib.py                 hnswlib, M=16, ef_construction=200
# and prints each output, then the ratios: build throughput; QPS per ef;
# QPS at the smallest ef reaching recall@10 >= 0.99 (float32 vs hnswlib)
# and >= 0.95 (int8 vs hnswlib, each at its own smallest such ef); the
# filtered QPS over the unfiltered one at the same ef; memory per vector.
# Needs python3-numpy and python3-hnswlib (Debian), and a built ./vitrine
# (or VITRINE=path/to/vitrine).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 efs=10,20,40,64,100,200,300,400 dir= kind=clustered n=100000 nq=1000
quant= oversampling=2 selectivities=
usage() {
    echo "usage: $0 [--threads T] [--ef LIST] [--dir DIR] [--n N] [--kind clustered|uniform]" >&2
    echo "          [--quantization int8] [--oversampling X] [--filter-selectivity P[,P...]]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case "$1" in
        --threads) threads=$2; shift 2 ;;
        --ef) efs=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --kind) kind=$2; shift 2 ;;
        --n) n=$2; shift 2 ;;
        --quantization) quant=$2; shift 2 ;;
        --oversampling) oversampling=$2; shift 2 ;;
        --filter-selectivity) selectivities=$2; shift 2 ;;
        *) usage ;;
    esac
done
[ -n "$dir" ] || dir=/tmp/vitrine_ann_${kind}_${n}
PY=/usr/bin/python3
VITRINE=${VITRINE:-./vitrine}
if [ ! -s "$dir/gt.ivecs" ]; then
    nice -n 10 $PY tools/gen_vectors.py --out "$dir" --n "$n" --nq "$nq" --dim 512 --kind "$kind"
fi
files=(--base "$dir/base.fvecs" --query "$dir/query.fvecs" --gt "$dir/gt.ivecs")
common=(--m 16 --ef-construction 200 --ef "$efs" --threads "$threads")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -m1 'model name' /proc/cpuinfo | sed 's/^/cpu: /'
echo "cpu flags: $(grep -o -w 'avx2\|avx512f\|avx512_vnni\|avx512bw' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "== vitrine${selectivities:+ (then filtered: $selectivities)}"
nice -n 10 "$VITRINE" bench ann "${files[@]}" "${common[@]}" \
    ${selectivities:+--filter-selectivity "$selectivities"} | tee "$tmp/all"
# Split: the unfiltered lines, then one file per filter section.
awk -v dir="$tmp" '
    /^filter-selectivity:/ { out = dir "/filter_" $2; next }
    /^memory:/ { print > (dir "/f32"); next }
    { print > (out ? out : dir "/f32") }' "$tmp/all"
if [ -n "$quant" ]; then
    echo "== vitrine --quantization $quant --oversampling $oversampling"
    nice -n 10 "$VITRINE" bench ann "${files[@]}" "${common[@]}" --quantization "$quant" \
        --oversampling "$oversampling" | tee "$tmp/q"
fi
echo "== hnswlib"
nice -n 10 $PY tools/bench_hnswlib.py "${files[@]}" "${common[@]}" | tee "$tmp/hnswlib"

# compare OURS THEIRS LABEL TARGET: ratios of two outputs.
compare() {
    awk -v label="$3" -v target="$4" -v threads="$threads" '
    function field(s, key,   i, a) { split(s, a, /[ =]/); for (i = 1; i in a; i++) if (a[i] == key) return a[i + 1]; return "" }
    FNR == 1 { side++ }
    /^build:/ { build[side] = $2 }
    /^memory:/ { mem[side] = $2 }
    /^ef=/ {
        ef = field($0, "ef"); r = field($0, "recall@10"); q = field($0, "qps")
        qps[side, ef] = q; rec[side, ef] = r
        if (side == 1) order[++n] = ef
        if (r >= target && !(side in hit)) { hit[side] = ef; hitq[side] = q; hitr[side] = r }
    }
    END {
        printf "-- %s\n", label
        printf "build (%s threads): %.2fx (%s vs %s vectors/s)\n", threads, build[1] / build[2], build[1], build[2]
        for (i = 1; i <= n; i++) {
            ef = order[i]
            printf "ef=%s: qps %.2fx (recall %s vs %s)\n", ef, qps[1, ef] / qps[2, ef], rec[1, ef], rec[2, ef]
        }
        if ((1 in hit) && (2 in hit))
            printf "at recall@10 >= %s: qps %.2fx (ef=%s %s qps recall %s; vs ef=%s %s qps recall %s)\n",
                   target, hitq[1] / hitq[2], hit[1], hitq[1], hitr[1], hit[2], hitq[2], hitr[2]
        else
            printf "at recall@10 >= %s: not reached by both; raise --ef\n", target
        printf "memory: %s vs %s bytes/vector (%.2fx)\n", mem[1], mem[2], mem[1] / mem[2]
    }' "$1" "$2"
}
echo "== ratios"
compare "$tmp/f32" "$tmp/hnswlib" "vitrine float32 / hnswlib" 0.99
[ -n "$quant" ] && compare "$tmp/q" "$tmp/hnswlib" "vitrine int8 (oversampling $oversampling) / hnswlib" 0.95
for p in ${selectivities//,/ }; do
    awk -v p="$p" '
        function field(s, key,   i, a) { split(s, a, /[ =]/); for (i = 1; i in a; i++) if (a[i] == key) return a[i + 1]; return "" }
        FNR == 1 { side++ }
        /^ef=/ { ef = field($0, "ef"); qps[side, ef] = field($0, "qps"); rec[side, ef] = field($0, "recall@10"); if (side == 1) order[++n] = ef }
        END {
            printf "-- filtered %s / unfiltered (vitrine, same ef)\n", p
            for (i = 1; i <= n; i++) {
                ef = order[i]
                printf "ef=%s: qps %.2fx (filtered recall %s, unfiltered %s)\n", ef, qps[1, ef] / qps[2, ef], rec[1, ef], rec[2, ef]
            }
        }' "$tmp/filter_$p" "$tmp/f32"
done
