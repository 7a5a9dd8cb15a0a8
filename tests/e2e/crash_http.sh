#!/usr/bin/env bash
# crash_http.sh - durability through HTTP under SIGKILL: 4 clients write
# (single and batch upserts, payload merges, deletes; wait=true and
# wait=false) while the server is killed at random moments, then every
# acknowledged write, the all-or-nothing fate of each request in flight and
# exact searches against a brute-force oracle are checked after each
# restart (tests/e2e/crash_http.py says what exactly).
#
#   CRASH_ROUNDS (default 50) rounds, stopping with a failure if they do
#   not fit in CRASH_SECONDS (default 120); CRASH_SEED repeats a run.
#   Then CRASH_QUANT_ROUNDS (default 20) rounds on an int8-quantized
#   collection seeded with 1,000 points, so that its graph is calibrated.
#   Then CRASH_M0_ROUNDS (default 10) rounds on a collection created with
#   hnsw_config.m 0, whose nodes are stored without a graph (bare).
set -u
BIN=${VITRINE_BIN:-./vitrine}
command -v python3 >/dev/null 2>&1 || { echo "crash_http.sh: SKIP: python3 is needed"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$(dirname "$0")/crash_http.py" "$BIN" "$work" "${CRASH_ROUNDS:-50}" "${CRASH_SECONDS:-120}"
rc=$?
if [ $rc -eq 0 ]; then
    # The same on an int8-quantized collection (calibrated graph).
    mkdir -p "$work/quant"
    CRASH_QUANT=1 python3 "$(dirname "$0")/crash_http.py" "$BIN" "$work/quant" \
        "${CRASH_QUANT_ROUNDS:-20}" "${CRASH_SECONDS:-120}"
    rc=$?
    [ $rc -eq 0 ] || work=$work/quant
fi
if [ $rc -eq 0 ]; then
    # The same on a collection without a graph (hnsw m 0: bare nodes).
    mkdir -p "$work/m0"
    CRASH_M0=1 python3 "$(dirname "$0")/crash_http.py" "$BIN" "$work/m0" \
        "${CRASH_M0_ROUNDS:-10}" "${CRASH_SECONDS:-120}"
    rc=$?
    [ $rc -eq 0 ] || work=$work/m0
fi
if [ $rc -ne 0 ]; then
    echo "--- server log (last 40 lines)"
    tail -n 40 "$work/server.log"
fi
exit $rc
