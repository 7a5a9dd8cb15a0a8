#!/usr/bin/env bash
# v1_openai.sh - /v1/embeddings and /v1/models through the official OpenAI
# Node SDK (tests/openai/embeddings.test.mjs) against the real server with
# the fixture model. Exits 77 (skip) with the reason when node or npm is
# missing, or when the SDK is not installed and npm cannot install it
# (tests/openai/package-lock.json pins it; no registry, no SDK).
# VITRINE_BIN is exported by tests/run.sh; fixtures from VITRINE_FIXTURES,
# else tests/fixtures/clip.
set -u
BIN=${VITRINE_BIN:-./vitrine}
FIX=${VITRINE_FIXTURES:-}
if [ -z "$FIX" ]; then
    for d in tests/fixtures/clip ; do
        [ -d "$d" ] && { FIX=$d; break; }
    done
fi
FIX=${FIX:-tests/fixtures/clip}
FIX=$(cd "$FIX" 2>/dev/null && pwd) || { echo "v1_openai.sh: FAIL: no fixtures (set VITRINE_FIXTURES)"; exit 1; }
dir=tests/openai

skip() {
    echo "v1_openai.sh: SKIP: $*"
    exit 77
}
command -v node >/dev/null || skip "node is not installed"
command -v npm >/dev/null || skip "npm is not installed"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || skip "node $(node --version) is older than 20"
if [ ! -f "$dir/node_modules/openai/package.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund >npm.log 2>&1) ||
        skip "cannot install the openai SDK with npm ci (no registry?): $(tail -1 "$dir/npm.log")"
fi

work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "v1_openai.sh: FAIL: $*"
    echo "--- server log"
    tail -20 "$work/serve.log"
    exit 1
}

"$BIN" serve --port 0 --data "$work/data" --weights "$FIX/models/tiny-p32" 2>"$work/serve.log" &
pid=$!
port=
for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$work/serve.log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "server exited early"
    sleep 0.1
done
[ -n "$port" ] || fail "server did not start"

VITRINE_URL=http://127.0.0.1:$port VITRINE_FIXTURES=$FIX \
    node --test --test-reporter=dot "$dir/embeddings.test.mjs" >"$work/node.out" 2>&1 ||
    { cat "$work/node.out"; fail "the OpenAI SDK tests failed"; }

kill -TERM "$pid"
wait "$pid"
status=$?
pid=
[ $status -eq 0 ] || fail "server exited with $status after SIGTERM"
echo "v1_openai.sh: ok"
