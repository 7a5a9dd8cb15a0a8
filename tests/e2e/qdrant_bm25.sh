#!/usr/bin/env bash
# qdrant_bm25.sh - Qdrant's local BM25 model ("qdrant/bm25" Documents made
# sparse vectors on the server) against the real binary (the checks are in
# qdrant_bm25.py). VITRINE_BIN is exported by tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v "$PY" >/dev/null 2>&1 || { echo "qdrant_bm25.sh: SKIP: python3 is needed"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" "$(dirname "$0")/qdrant_bm25.py" "$BIN" "$work"
