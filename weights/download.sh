#!/usr/bin/env bash
# weights/download.sh - download openai/clip-vit-base-patch32 (Hugging Face
# layout) for vitrine, and verify it.
#
#   weights/download.sh [DIR]          default DIR: weights/clip-vit-base-patch32
#   weights/download.sh --print-sums [DIR]
#                                      print "sha256  file" lines of a verified
#                                      folder, for pinning in weights/SHA256SUMS
#
# Environment: VITRINE_WEIGHTS_REPO (default openai/clip-vit-base-patch32),
# VITRINE_WEIGHTS_REVISION (default main), VITRINE_WEIGHTS_URL (a mirror that
# serves <url>/<file>), HF_TOKEN (sent as a bearer token when set).
#
# Verification, per file, before it is moved into DIR:
#   - the transfer is complete (curl checks Content-Length; --fail on HTTP errors);
#   - the size is at least the minimum below (catches HTML error pages);
#   - the SHA-256 matches weights/SHA256SUMS when the file is pinned there, else
#     the SHA-256 the Hub publishes for LFS files (the X-Linked-Etag header);
#   - JSON files parse (when python3 is available).
# Downloads go to DIR/.partial and resume after an interruption. Without
# network access the script stops with a clear message and leaves DIR as it was.
set -euo pipefail

cd "$(dirname "$0")/.."
PRINT_SUMS=0
if [ "${1:-}" = "--print-sums" ]; then PRINT_SUMS=1; shift; fi
DIR=${1:-weights/clip-vit-base-patch32}
REPO=${VITRINE_WEIGHTS_REPO:-openai/clip-vit-base-patch32}
REV=${VITRINE_WEIGHTS_REVISION:-main}
BASE=${VITRINE_WEIGHTS_URL:-https://huggingface.co/$REPO/resolve/$REV}
PINS=weights/SHA256SUMS

# file and minimum plausible size in bytes (real sizes: 605 MB, ~860 KB,
# 525 KB, ~4 KB, ~320 B).
FILES="model.safetensors:500000000 vocab.json:500000 merges.txt:400000 config.json:500 preprocessor_config.json:100"

die() { echo "weights: $*" >&2; exit 1; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ $PRINT_SUMS = 1 ]; then
    for entry in $FILES; do
        f=${entry%%:*}
        [ -f "$DIR/$f" ] || die "$DIR/$f missing"
        echo "$(sha256_of "$DIR/$f")  $f"
    done
    exit 0
fi

command -v curl >/dev/null || die "curl is needed (apt-get install curl)"
command -v sha256sum >/dev/null || die "sha256sum is needed (coreutils)"

CURL=(curl --fail --location --silent --show-error --retry 5 --retry-delay 3
      --retry-connrefused --connect-timeout 20)
[ -n "${HF_TOKEN:-}" ] && CURL+=(--header "Authorization: Bearer $HF_TOKEN")

# pinned_sha FILE: the SHA-256 pinned in weights/SHA256SUMS, or nothing.
pinned_sha() {
    [ -f "$PINS" ] || return 0
    awk -v f="$1" '$0 !~ /^#/ && $2 == f { print $1 }' "$PINS"
}

# published_sha FILE: the Hub's SHA-256 of an LFS file (X-Linked-Etag), or nothing.
published_sha() {
    "${CURL[@]}" --head --max-redirs 0 "$BASE/$1" 2>/dev/null |
        tr -d '\r' | awk 'tolower($1) == "x-linked-etag:" { gsub(/"/, "", $2); print $2 }' |
        grep -E '^[0-9a-f]{64}$' || true
}

echo "weights: $REPO ($REV) -> $DIR"
if ! "${CURL[@]}" --head --output /dev/null "$BASE/config.json" 2>/dev/null; then
    die "cannot reach $BASE (no network, or a proxy/firewall blocks it).
weights: download the five files (config.json, model.safetensors, vocab.json, merges.txt,
weights: preprocessor_config.json) on a connected machine and copy them into $DIR"
fi

mkdir -p "$DIR/.partial"
for entry in $FILES; do
    f=${entry%%:*}
    min=${entry##*:}
    want=$(pinned_sha "$f")
    [ -n "$want" ] || want=$(published_sha "$f")
    # A file in DIR passed these checks when it was moved there.
    if [ -f "$DIR/$f" ]; then
        if [ -z "$want" ]; then
            echo "weights: $f already present"
            continue
        elif [ "$(sha256_of "$DIR/$f")" = "$want" ]; then
            echo "weights: $f already present and verified"
            continue
        fi
    fi
    echo "weights: downloading $f"
    part="$DIR/.partial/$f"
    # Resume a partial file; if the server refuses the range, start over.
    if ! "${CURL[@]}" --continue-at - --output "$part" "$BASE/$f"; then
        rm -f "$part"
        "${CURL[@]}" --output "$part" "$BASE/$f" || die "downloading $BASE/$f failed"
    fi
    size=$(stat -c %s "$part")
    [ "$size" -ge "$min" ] || { rm -f "$part"; die "$f is $size bytes, expected at least $min (an error page?)"; }
    got=$(sha256_of "$part")
    if [ -n "$want" ]; then
        [ "$got" = "$want" ] || { rm -f "$part"; die "$f: SHA-256 $got, expected $want (corrupt download; run again)"; }
        echo "weights: $f: $size bytes, SHA-256 verified"
    else
        echo "weights: $f: $size bytes, SHA-256 $got (no published or pinned hash to compare; pin it in weights/SHA256SUMS)"
    fi
    case "$f" in
        *.json)
            if command -v python3 >/dev/null; then
                python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$part" ||
                    { rm -f "$part"; die "$f is not valid JSON"; }
            fi ;;
    esac
    mv -f "$part" "$DIR/$f"
done
rmdir "$DIR/.partial" 2>/dev/null || true
echo "weights: done. Check with: ./vitrine embed --weights $DIR --text 'a photo of a cat'"
