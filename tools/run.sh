#!/usr/bin/env bash
# `make run`: serve on 127.0.0.1:6333 with the store in ./data and the CLIP
# weights from weights/clip-vit-base-patch32 when present. When they are not,
# try `make weights` once; without network the server runs as a pure vector
# database and says so. Flags and VITRINE_* environment variables still apply.
set -u
cd "$(dirname "$0")/.."
BIN=${1:-./vitrine}
WEIGHTS=${VITRINE_WEIGHTS:-weights/clip-vit-base-patch32}
if [ ! -f "$WEIGHTS/model.safetensors" ]; then
    echo "run: no CLIP weights in $WEIGHTS; trying 'make weights' once"
    if ! make --no-print-directory weights; then
        echo "run: could not download the weights (no network?); serving as a pure vector database"
    fi
fi
case "$BIN" in /*) ;; *) BIN=./${BIN#./} ;; esac
exec "$BIN" serve --host "${VITRINE_HOST:-127.0.0.1}" --port "${VITRINE_PORT:-6333}" \
    --data "${VITRINE_DATA:-./data}" --weights "$WEIGHTS"
