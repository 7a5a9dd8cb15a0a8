#!/usr/bin/env bash
# qdrant_opnum.sh - the update operation numbers of telemetry's shard
# update_queue against the real binary (the checks are in
# qdrant_opnum.py). VITRINE_BIN is exported by tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v "$PY" >/dev/null 2>&1 || { echo "qdrant_opnum.sh: SKIP: python3 is needed"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" "$(dirname "$0")/qdrant_opnum.py" "$BIN" "$work"
