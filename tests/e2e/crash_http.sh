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
# variant NAME VAR ROUNDS: the same rounds in $work/NAME with VAR=1 in
# crash_http.py's environment; a failure points the log at that folder.
variant() {
    mkdir -p "$work/$1"
    env "$2=1" python3 "$(dirname "$0")/crash_http.py" "$BIN" "$work/$1" "$3" "${CRASH_SECONDS:-120}"
    rc=$?
    [ $rc -eq 0 ] || work=$work/$1
}
python3 "$(dirname "$0")/crash_http.py" "$BIN" "$work" "${CRASH_ROUNDS:-50}" "${CRASH_SECONDS:-120}"
rc=$?
# An int8-quantized collection (calibrated graph), then one without a
# graph (hnsw m 0: bare nodes).
[ $rc -ne 0 ] || variant quant CRASH_QUANT "${CRASH_QUANT_ROUNDS:-20}"
[ $rc -ne 0 ] || variant m0 CRASH_M0 "${CRASH_M0_ROUNDS:-10}"
if [ $rc -ne 0 ]; then
    echo "--- server log (last 40 lines)"
    tail -n 40 "$work/server.log"
fi
exit $rc
