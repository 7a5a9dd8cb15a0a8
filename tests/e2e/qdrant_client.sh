#!/usr/bin/env bash
# qdrant_client.sh - Qdrant's official JavaScript client (@qdrant/js-client-rest
# 1.17.0) against `vitrine serve`, then the OpenAPI schema check of every
# response the suites received. See tests/qdrant/README.md.
#
#   tests/e2e/qdrant_client.sh                 every suite, then the schema check
#   tests/e2e/qdrant_client.sh query errors    only suites/query.test.js and errors.test.js
#
# Each suite starts its own `vitrine serve` (VITRINE_BIN, exported by
# tests/run.sh) on a free port with a fresh data folder, behind a recording
# proxy. Exit 77 (a skip for tests/run.sh) when node or npm is missing.
set -u
cd "$(dirname "$0")/../qdrant" || exit 1
here=$PWD

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "qdrant_client.sh: SKIP: node and npm are needed (Debian: apt-get install nodejs npm)"
    exit 77
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
    echo "qdrant_client.sh: SKIP: node $(node --version) is older than the client's minimum (18.17)"
    exit 77
fi

if [ ! -d node_modules/@qdrant/js-client-rest ]; then
    echo "qdrant_client.sh: installing the pinned client (npm ci)"
    if ! npm ci --no-audit --no-fund >npm-ci.log 2>&1; then
        cat npm-ci.log
        echo "qdrant_client.sh: SKIP: npm ci failed (no registry?)"
        exit 77
    fi
    rm -f npm-ci.log
fi

# The schema check needs jsonschema; Debian's python3-jsonschema lives in
# /usr/bin/python3, which a python3 earlier on PATH may not see.
py=
for cand in /usr/bin/python3 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import jsonschema' 2>/dev/null; then
        py=$cand
        break
    fi
done

if [ "${VITRINE_BIN:-}" = "" ]; then
    export VITRINE_BIN=$here/../../vitrine
fi
[ -x "$VITRINE_BIN" ] || { echo "qdrant_client.sh: FAIL: no vitrine binary at $VITRINE_BIN"; exit 1; }

files=()
if [ $# -gt 0 ]; then
    for n in "$@"; do
        f=suites/${n%.test.js}.test.js
        [ -f "$f" ] || { echo "qdrant_client.sh: no suite $f"; exit 2; }
        files+=("$f")
    done
else
    files=(suites/*.test.js)
fi

mkdir -p .records
export QDRANT_RECORD=$here/.records/responses.jsonl
: >"$QDRANT_RECORD"

# Two suite files at a time: each runs its own server and mostly waits on
# it; the node runner exits non-zero on any failure.
# --test-concurrency exists from node 20 on (Debian 12's node is 18, which
# runs the files one at a time).
conc=()
[ "$major" -ge 20 ] && conc=(--test-concurrency=2)
node --test "${conc[@]}" --test-reporter=spec "${files[@]}"
node_status=$?

schema_status=0
if [ -n "$py" ]; then
    # First prove the checker rejects what it must, then check the records.
    "$py" validate_schema.py --self-test && "$py" validate_schema.py "$QDRANT_RECORD"
    schema_status=$?
else
    echo "qdrant_client.sh: FAIL: python3 with jsonschema is needed for the schema check (Debian: python3-jsonschema)"
    schema_status=1
fi

if [ $node_status -ne 0 ] || [ $schema_status -ne 0 ]; then
    echo "qdrant_client.sh: FAIL (suites: exit $node_status, schema: exit $schema_status; records in $QDRANT_RECORD)"
    exit 1
fi
echo "qdrant_client.sh: ok"
