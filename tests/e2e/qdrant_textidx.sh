#!/usr/bin/env bash
# qdrant_textidx.sh - text index stopwords, stemming and ASCII folding against the
# real binary (the checks are in qdrant_textidx.py). VITRINE_BIN is
# exported by tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v "$PY" >/dev/null 2>&1 || { echo "qdrant_textidx.sh: SKIP: python3 is needed"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" "$(dirname "$0")/qdrant_textidx.py" "$BIN" "$work"
