#!/usr/bin/env bash
# qdrant_blocks.sh - payload blocks (Qdrant's payload_m) against
# the real binary (the checks are in qdrant_blocks.py). VITRINE_BIN is
# exported by tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v "$PY" >/dev/null 2>&1 || { echo "qdrant_blocks.sh: SKIP: python3 is needed"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" "$(dirname "$0")/qdrant_blocks.py" "$BIN" "$work"
