#!/usr/bin/env bash
# layers.sh - the include rules hold for src/ (tools/check_layers.sh), and
# the checker itself refuses each kind of violation in a made-up tree and
# accepts the includes the rules allow (so a broken checker cannot pass).
set -u
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
    echo "layers.sh: FAIL: $*"
    exit 1
}

tools/check_layers.sh || fail "src/ breaks the include rules (above)"

# A tree that follows the rules: same layer, lower layers, system headers,
# each third-party header in its own module.
mk() { mkdir -p "$work/$1/${2%/*}"; printf '%s\n' "$3" >"$work/$1/$2"; }
for l in base model index server store api cmd; do mk good "$l/$l.h" "/* $l */"; done
mk good server/work.c '#include "server/server.h"
#include "server/metrics.h"
#include "base/base.h"
#include <stdio.h>
#include <uv.h>'
mk good server/metrics.h '#include "base/base.h"'
mk good cmd/main.c '#include "api/api.h"
#include "store/store.h"
#  include "model/model.h"'
mk good model/image.c '#include <stb/stb_image.h>
#include <webp/decode.h>'
mk good base/json.c '#include <yajl_parse.h>'
out=$(tools/check_layers.sh "$work/good" 2>&1) || fail "a tree within the rules was refused: $out"

# Each violation alone in the good tree: the checker must fail and name
# the file, the line and the reason. The file is then put back as it was.
check_bad() { # name, file, line ("" for none), its text, words the report must hold
    local f=$work/good/$2
    [ -f "$f" ] && cp "$f" "$work/saved"
    mk good "$2" "$4"
    out=$(tools/check_layers.sh "$work/good" 2>&1) && fail "$1: accepted: $out"
    if [ -f "$work/saved" ]; then mv "$work/saved" "$f"; else rm -rf "$f" "$work/good/util"; fi
    echo "$out" | grep -qF "$work/good/$2${3:+:$3}: " || fail "$1: no report on $2${3:+:$3}: $out"
    echo "$out" | grep -qF "$5" || fail "$1: the report does not say '$5': $out"
}
check_bad "higher layer" model/clip.c 2 '#include "model/model.h"
#include "index/index.h"' "layer index is above model"
check_bad "top layer from the bottom" base/util.c 1 '#include "cmd/cmd.h"' "layer cmd is above base"
check_bad "lmdb outside store" index/hnsw.c 1 '#include <lmdb.h>' "only store/store.c may include"
check_bad "libuv outside its module" server/router.c 1 '#include <uv.h>' \
    "which only server/server.c server/work.c may include"
check_bad "llhttp outside http" server/server.c 1 '#include "llhttp.h"' "only server/http.c may include"
check_bad "webp outside image" model/clip.c 1 '#include <webp/decode.h>' "only model/image.c may include"
check_bad "yajl outside json" api/qdrant.c 1 '#include <yajl/yajl_gen.h>' "only base/json.c may include"
check_bad "cblas outside nn" index/vec.c 1 '#include <cblas.h>' "only model/nn.c may include"
check_bad "header without its layer" server/router.c 1 '#include "base.h"' 'without its layer ("base/base.h")'
check_bad "not a layer" util/x.c "" '/* nothing */' "'util' is not a layer"
echo "layers.sh: ok"
