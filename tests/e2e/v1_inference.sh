#!/usr/bin/env bash
# v1_inference.sh - Qdrant's inference objects (Document, Image) through
# Qdrant's official JavaScript client against `vitrine serve` with the
# fixture model: tests/qdrant/v1/inference.test.mjs (what it checks is
# written at its top). Uses the client pinned in tests/qdrant (npm ci when
# missing); exit 77 (a skip for tests/run.sh) without node and npm.
set -u
cd "$(dirname "$0")/../qdrant" || exit 1
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "v1_inference.sh: SKIP: node and npm are needed (Debian: apt-get install nodejs npm)"
    exit 77
fi
if [ ! -d node_modules/@qdrant/js-client-rest ]; then
    echo "v1_inference.sh: installing the pinned client (npm ci)"
    if ! npm ci --no-audit --no-fund >npm-ci.log 2>&1; then
        cat npm-ci.log
        echo "v1_inference.sh: SKIP: npm ci failed (no registry?)"
        exit 77
    fi
    rm -f npm-ci.log
fi
FIX=${VITRINE_FIXTURES:-}
if [ -z "$FIX" ]; then
    for d in ../fixtures/clip ; do
        [ -d "$d" ] && { FIX=$(cd "$d" && pwd); break; }
    done
fi
[ -n "$FIX" ] && [ -f "$FIX/expected/tiny-p32/outputs.json" ] ||
    { echo "v1_inference.sh: FAIL: no fixtures (set VITRINE_FIXTURES)"; exit 1; }
export VITRINE_FIXTURES=$FIX
export VITRINE_BIN=${VITRINE_BIN:-$PWD/../../vitrine}
[ -x "$VITRINE_BIN" ] || { echo "v1_inference.sh: FAIL: no vitrine binary at $VITRINE_BIN"; exit 1; }
exec node --test --test-reporter=spec v1/inference.test.mjs
