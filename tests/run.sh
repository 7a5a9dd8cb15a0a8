#!/usr/bin/env bash
# Runs unit test binaries, then end-to-end scripts, each under a time limit,
# and ends with one line "N passed, N failed, N skipped", counted in test
# programs (binaries and scripts).
#
# Usage: BIN=./vitrine BUILD=build/release tests/run.sh unit... -- e2e...
#
# EMU, when set, is the command that runs a binary of another architecture
# (make CROSS=aarch64-linux-gnu- sets "qemu-aarch64-static -L
# /usr/aarch64-linux-gnu"): unit binaries run under it, and the scripts get
# a VITRINE_BIN that execs the binary under it, so they need no change.
#
# A program passes with exit status 0, skips with 77 (automake's
# convention) and fails with anything else. It says why it skips on a line
# "SKIP: <why>" (the whole program; "<program>: SKIP: <why>" too) or
# "SKIP <case>: <why>" (one case of it); every such line is repeated above the summary, also
# for the single cases a passing program skipped (the program still counts
# as passed: its other cases ran). A program that runs past TEST_TIMEOUT
# seconds is killed with its whole process group and fails as "timed out";
# the others still run. The default is 300 s for the release build (its
# slowest test takes about 5 s) and 900 s for the sanitizer builds (the
# slowest, test_clip_parity under TSan, takes about 4 minutes on two busy
# cores).
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-./vitrine}
BUILD=${BUILD:-build/release}
EMU=${EMU:-}
case $BUILD in
    */release | release) TEST_TIMEOUT=${TEST_TIMEOUT:-300} ;;
    *) TEST_TIMEOUT=${TEST_TIMEOUT:-900} ;;
esac
export VITRINE_BIN=$PWD/${BIN#./}
[ "${BIN#/}" != "$BIN" ] && export VITRINE_BIN=$BIN
# The fixture copy in the repository, unless the caller points elsewhere.
export VITRINE_FIXTURES=${VITRINE_FIXTURES:-$PWD/tests/fixtures/clip}

logdir=$(mktemp -d "${TMPDIR:-/tmp}/vitrine-tests.XXXXXX")
emu=()
if [ -n "$EMU" ]; then
    read -r -a emu <<<"$EMU"
    # exec: the script's $! is then the emulator running the binary, so its
    # signals (SIGTERM, kill -9) reach the program itself.
    printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$EMU" "$VITRINE_BIN" >"$logdir/vitrine"
    chmod +x "$logdir/vitrine"
    export VITRINE_BIN=$logdir/vitrine
    # Tests that time something skip that part: emulated time means nothing.
    export VITRINE_EMULATED=$EMU
fi
tpid=
# Ctrl-C reaches this script, not the test: timeout runs it in a process
# group of its own, so pass the signal on (timeout forwards it to the group).
stop() {
    [ -n "$tpid" ] && kill -TERM "$tpid" 2>/dev/null
    rm -rf "$logdir"
    exit 130
}
trap stop INT TERM
trap 'rm -rf "$logdir"' EXIT

passed=0 failed=0 skipped=0
failures=() skip_lines=()
phase=unit
for t in "$@"; do
    if [ "$t" = "--" ]; then phase=e2e; continue; fi
    if [ $phase = unit ]; then
        cmd=("${emu[@]}" "$BUILD/tests/$t")
    else
        cmd=(bash "tests/e2e/$t.sh")
    fi
    echo "== $t"
    log=$logdir/$t.log
    : >"$log"
    start=$(date +%s.%N)
    # The output goes to a file (so the SKIP lines can be read back) and is
    # shown as it comes by tail, which ends once timeout has exited.
    timeout -k 10 "$TEST_TIMEOUT" "${cmd[@]}" >"$log" 2>&1 &
    tpid=$!
    tail -s 0.2 --pid="$tpid" -n +1 -f "$log" &
    lpid=$!
    wait "$tpid"
    rc=$?
    wait "$lpid"
    tpid=
    elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    mapfile -t skips < <(sed -n 's/^\([^ ]*: \)\{0,1\}SKIP:\{0,1\} //p' "$log")
    for s in "${skips[@]}"; do
        if [ $rc -eq 77 ]; then
            skip_lines+=("skipped: $t: $s")
        else
            skip_lines+=("passed with a case skipped: $t: $s")
        fi
    done
    note=
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        [ ${#skips[@]} -gt 0 ] && note=", ${#skips[@]} case(s) skipped"
    elif [ $rc -eq 77 ]; then
        skipped=$((skipped + 1))
        note=", skipped"
        [ ${#skips[@]} -eq 0 ] && skip_lines+=("skipped: $t: (it gave no reason)")
    else
        failed=$((failed + 1))
        if [ $rc -eq 124 ] || { [ $rc -eq 137 ] &&
            awk -v e="$elapsed" -v l="$TEST_TIMEOUT" 'BEGIN { exit !(e >= l) }'; }; then
            failures+=("$t (timed out after $TEST_TIMEOUT s)")
            note=", TIMED OUT"
        elif [ $rc -gt 128 ]; then
            failures+=("$t (killed by signal $((rc - 128)))")
            note=", exit status $rc"
        else
            failures+=("$t")
            note=", exit status $rc"
        fi
    fi
    echo "   ($t: $elapsed s$note)"
done
for s in "${skip_lines[@]}"; do echo "$s"; done
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
