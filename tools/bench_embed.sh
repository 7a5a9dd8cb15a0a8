#!/usr/bin/env bash
# bench_embed.sh - vitrine's CLIP towers against PyTorch on the same weights,
# side by side in one run.
#
#   tools/bench_embed.sh [--weights DIR] [--threads T] [--rounds N] [--precision P]
#
# Runs `vitrine bench embed` and tools/bench_torch.py (the same model in
# plain torch, T threads, default 2) in turn, N rounds (default 3) so that a
# drift of the machine's speed hits both, keeps each figure's best over the
# rounds, and prints both sides, then the ratios PyTorch / vitrine (how many
# times faster vitrine is) and vitrine's image tower rate as a share of the
# sgemm rate measured in the same process. With --precision bf16 or int8,
# vitrine runs in that precision (PyTorch stays float32) and its fidelity
# lines (cosine to its own f32 embeddings) are shown as they come.
# DIR defaults to weights/random-b32 (made by tools/gen_weights.py when it
# is missing). Needs python3-numpy and python3-torch (tools/deps.sh --bench)
# and a built ./vitrine (or VITRINE=path/to/vitrine).
set -euo pipefail
cd "$(dirname "$0")/.."
weights=weights/random-b32 threads=2 rounds=3 precision=f32
while [ $# -gt 0 ]; do
    case "$1" in
        --weights) weights=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --precision) precision=$2; shift 2 ;;
        *) echo "usage: $0 [--weights DIR] [--threads T] [--rounds N] [--precision P]" >&2; exit 2 ;;
    esac
done
PY=/usr/bin/python3
VITRINE=${VITRINE:-./vitrine}
if [ ! -s "$weights/model.safetensors" ]; then
    [ "$weights" = weights/random-b32 ] || { echo "bench_embed: $weights has no model.safetensors" >&2; exit 1; }
    $PY tools/gen_weights.py --out "$weights" --arch b32
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$rounds"); do
    echo "== round $r: vitrine" >&2
    # stdout has the five figures; stderr the batch=1 rate ("batch=1 achieves X GFLOP/s").
    OPENBLAS_NUM_THREADS=$threads "$VITRINE" bench embed --weights "$weights" --threads "$threads" \
        --precision "$precision" 2>&1 |
        sed -e 's/^bench embed: .*batch=1 achieves \([0-9.]*\) GFLOP\/s.*/achieved batch=1: \1 GFLOP\/s/' \
            -e '/^bench embed:/d' -e 's/^/vitrine /' | tee /dev/stderr | grep -v '^vitrine fidelity' >> "$out"
    echo "== round $r: torch" >&2
    $PY tools/bench_torch.py --weights "$weights" --threads "$threads" | tee -a "$out" >&2
done
awk '
    # Lines: "vitrine image batch=1: 46.7 ms/image", "torch text: 33.8 ms/text",
    # "vitrine sgemm: 200.1 GFLOP/s". Times keep their minimum, rates their maximum.
    {
        side = $1; line = $0; sub(/^[a-z]+ /, "", line)
        key = line; sub(/:.*/, "", key)
        val = line; sub(/^[^:]*: /, "", val); val += 0
        k = side SUBSEP key
        if (line ~ /GFLOP\/s/) { if (!(k in v) || val > v[k]) v[k] = val }
        else if (!(k in v) || val < v[k]) v[k] = val
        if (side == "vitrine" && !(key in seen)) { seen[key] = 1; order[++n] = key }
    }
    END {
        print "== best of the rounds"
        for (i = 1; i <= n; i++) {
            key = order[i]
            unit = key ~ /sgemm|achieved/ ? "GFLOP/s" : (key == "text" ? "ms/text" : "ms/image")
            if (("torch" SUBSEP key) in v)
                printf "%s: vitrine %.1f %s, torch %.1f %s: %.2fx faster\n", key,
                       v["vitrine" SUBSEP key], unit, v["torch" SUBSEP key], unit,
                       v["torch" SUBSEP key] / v["vitrine" SUBSEP key]
            else
                printf "%s: vitrine %.1f %s\n", key, v["vitrine" SUBSEP key], unit
        }
        s = v["vitrine" SUBSEP "sgemm"]
        printf "image tower rate as a share of sgemm: batch=1 %.0f%%, batch=8 %.0f%%\n",
               100 * v["vitrine" SUBSEP "achieved batch=1"] / s, 100 * v["vitrine" SUBSEP "achieved"] / s
    }' "$out"
