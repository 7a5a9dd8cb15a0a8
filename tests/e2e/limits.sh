#!/usr/bin/env bash
# limits.sh - the server's limits against the real binary: many concurrent
# big upserts over a small request memory budget (some refused with 503 +
# Retry-After, all landing on retry, the server up and within its budget),
# searches answered meanwhile, and slow clients cut off by the header and
# body deadlines (tests/e2e/limits.py does the load). VITRINE_BIN is
# exported by tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
work=$(mktemp -d)
log=$work/serve.log
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() {
    echo "limits.sh: FAIL: $*"
    echo "--- server log (tail)"
    tail -n 40 "$log" 2>/dev/null
    exit 1
}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# 12 MiB for request memory, bodies up to 6 MiB: 16 uploads of 4 MiB
# cannot all be in at once.
budget=$((32 * 1024 * 1024))
"$BIN" serve --port 0 --data "$work/data" --weights "$work/no-weights" \
    --max-body $((5 * 1024 * 1024)) --max-request-memory $budget \
    --header-timeout 1000 --body-timeout 1000 --min-body-rate 65536 2>"$log" &
pid=$!
port=
for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "server exited early"
    sleep 0.1
done
[ -n "$port" ] || fail "no 'listening on' line in the log"

# The RSS bound means nothing under AddressSanitizer (quarantine, redzones).
check_rss=1
grep -qa __asan_init "$BIN" && check_rss=0
"$PY" "$(dirname "$0")/limits.py" "$port" "$pid" "$budget" "$check_rss" || fail "load (see above)"
kill -0 "$pid" 2>/dev/null || fail "the server died"
kill -TERM "$pid"
for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "the server did not stop on SIGTERM"
wait "$pid"
rc=$?
pid=
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
echo "limits.sh: ok"
