#!/usr/bin/env bash
# qdrant_optimize.sh - a large PATCH's background graph rebuild against
# the real binary (the checks are in qdrant_optimize.py). VITRINE_BIN is
# exported by tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v "$PY" >/dev/null 2>&1 || { echo "qdrant_optimize.sh: SKIP: python3 is needed"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" "$(dirname "$0")/qdrant_optimize.py" "$BIN" "$work"
