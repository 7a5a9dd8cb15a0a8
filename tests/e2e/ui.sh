#!/usr/bin/env bash
# ui.sh - the web page at /ui in a real browser: Debian's chromium, headless,
# driven by playwright-core (pinned in tests/ui/package-lock.json), against
# `vitrine serve` with the fixture model and the fixture images ingested
# (tests/ui/ui.test.mjs says what is checked). Screenshots at desktop and
# phone width land in $BUILD/artifacts/ui/ (build/release/artifacts/ui/ by
# default) for a person to look at.
#
# Exits 77 (a skip for tests/run.sh) with the reason when chromium, node 20+
# or npm is missing, or when npm cannot install playwright-core (no
# registry). `make test` installs chromium first (tools/deps.sh).
# VITRINE_BIN is exported by tests/run.sh; fixtures from VITRINE_FIXTURES,
# else tests/fixtures/clip. VITRINE_CHROMIUM
# names another Chromium or Chrome binary.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${VITRINE_BIN:-./vitrine}
FIX=${VITRINE_FIXTURES:-}
if [ -z "$FIX" ]; then
    for d in tests/fixtures/clip ; do
        [ -d "$d" ] && { FIX=$d; break; }
    done
fi
FIX=${FIX:-tests/fixtures/clip}
FIX=$(cd "$FIX" 2>/dev/null && pwd) || { echo "ui.sh: FAIL: no fixtures (set VITRINE_FIXTURES)"; exit 1; }
[ -x "$BIN" ] || { echo "ui.sh: FAIL: no vitrine binary at $BIN"; exit 1; }
dir=tests/ui

skip() {
    echo "ui.sh: SKIP: $*"
    exit 77
}
chromium=${VITRINE_CHROMIUM:-}
if [ -z "$chromium" ]; then
    for c in chromium chromium-browser google-chrome; do
        if command -v "$c" >/dev/null 2>&1; then chromium=$(command -v "$c"); break; fi
    done
fi
[ -n "$chromium" ] || skip "no chromium (Debian: apt-get install chromium, or tools/deps.sh)"
command -v node >/dev/null || skip "node is not installed"
command -v npm >/dev/null || skip "npm is not installed"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || skip "node $(node --version) is older than 20 (playwright-core needs 20)"
if [ ! -f "$dir/node_modules/playwright-core/package.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund >npm.log 2>&1) ||
        skip "cannot install playwright-core with npm ci (no registry?): $(tail -1 "$dir/npm.log")"
    rm -f "$dir/npm.log"
fi

artifacts=${BUILD:-build/release}/artifacts/ui
mkdir -p "$artifacts"
rm -f "$artifacts"/*.png
artifacts=$(cd "$artifacts" && pwd)
bin=$BIN
[ "${bin#/}" = "$bin" ] && bin=$PWD/$bin

VITRINE_BIN=$bin VITRINE_FIXTURES=$FIX VITRINE_CHROMIUM=$chromium UI_ARTIFACTS=$artifacts \
    node "$dir/ui.test.mjs"
