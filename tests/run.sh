#!/usr/bin/env bash
# Runs unit test binaries, then end-to-end scripts, and prints one summary
# line "N passed, N failed" (counted in test binaries and scripts).
# Usage: BIN=./vitrine BUILD=build/release tests/run.sh unit... -- e2e...
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-./vitrine}
BUILD=${BUILD:-build/release}
export VITRINE_BIN=$PWD/${BIN#./}
[ "${BIN#/}" != "$BIN" ] && export VITRINE_BIN=$BIN
passed=0 failed=0 failures=()
phase=unit
for t in "$@"; do
    if [ "$t" = "--" ]; then phase=e2e; continue; fi
    if [ $phase = unit ]; then
        cmd=("$BUILD/tests/$t")
    else
        cmd=(bash "tests/e2e/$t.sh")
    fi
    echo "== $t"
    start=$(date +%s.%N)
    if "${cmd[@]}"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1)); failures+=("$t")
    fi
    awk -v s="$start" -v e="$(date +%s.%N)" -v t="$t" 'BEGIN { printf "   (%s: %.1f s)\n", t, e - s }'
done
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
