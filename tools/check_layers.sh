#!/usr/bin/env bash
# check_layers.sh - the include rules of docs/architecture.md, checked.
#
#   tools/check_layers.sh [SRC]     (SRC defaults to src/ of this checkout)
#
# The folders of SRC are layers, lowest first: base model index server store
# api cmd. A file in SRC/<layer>/ may include project headers of its own
# layer or a lower one, named with the folder ("base/util.h"); a project
# header named without its folder is refused too, since the rule could not
# be checked on it. Each third-party library is visible in one module: its
# headers may be included only by the files listed below. Prints one line
# per violation ("file:line: why") and exits 1 if there is any.
set -u
if [ $# -eq 0 ]; then
    cd "$(dirname "$0")/.." || exit 2
    SRC=src
else
    SRC=${1%/}
fi
[ -d "$SRC" ] || { echo "check_layers: no folder $SRC" >&2; exit 2; }

# Third-party headers (a shell-like pattern on the included name, * within
# one path element) and the files of their module, relative to SRC. libuv
# has two: the listener and connections (server.c) and the threadpool and
# worker queues (work.c), the two ends of the loop; work.h forward-declares
# the loop so nobody else needs uv.h.
THIRD_PARTY='
uv.h             server/server.c server/work.c
uv/*             server/server.c server/work.c
llhttp.h         server/http.c
lmdb.h           store/store.c
cblas.h          model/nn.c
utf8proc.h       model/tokenizer.c
libstemmer.h     index/stem.c
stb_image.h      model/image.c model/image_stb.c
*/stb_image.h    model/image.c model/image_stb.c
webp/*           model/image.c
yajl/*           base/json.c
yajl_*.h         base/json.c
'

# Every project header, as "layer/name.h", for the check of bare names.
headers=$(cd "$SRC" && find . -mindepth 2 -name '*.h' | sed 's|^\./||' | tr '\n' ' ')

find "$SRC" -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z | xargs -0 -r awk \
    -v src="$SRC" -v third_party="$THIRD_PARTY" -v headers="$headers" '
BEGIN {
    n = split("base model index server store api cmd", order, " ")
    for (i = 1; i <= n; i++) rank[order[i]] = i
    layers = "base model index server store api cmd"
    nt = split(third_party, lines, "\n")
    ntp = 0
    for (i = 1; i <= nt; i++) {
        if (split(lines[i], f, " ") < 2) continue
        ntp++
        pat = f[1]
        gsub(/\./, "\\.", pat)
        gsub(/\*/, "[^/]*", pat)
        tp_re[ntp] = "^" pat "$"
        owners = f[2]
        for (j = 3; j in f; j++) owners = owners " " f[j]
        tp_owners[ntp] = owners
        delete f
    }
    nh = split(headers, hs, " ")
    for (i = 1; i <= nh; i++) {
        base = hs[i]
        sub(/^[^\/]*\//, "", base)
        if (!(base in bare)) bare[base] = hs[i]
    }
}
FNR == 1 {
    rel = substr(FILENAME, length(src) + 2)
    layer = rel
    sub(/\/.*/, "", layer)
    skip = 0
    if (layer == rel) { report(FILENAME ": a source file outside the layer folders"); skip = 1 }
    else if (!(layer in rank)) { report(FILENAME ": '\''" layer "'\'' is not a layer (" layers ")"); skip = 1 }
    else files++
}
skip { next }
/^[ \t]*#[ \t]*include[ \t]*[<"]/ {
    line = $0
    sub(/^[ \t]*#[ \t]*include[ \t]*/, "", line)
    quoted = substr(line, 1, 1) == "\""
    inc = substr(line, 2)
    sub(/[>"].*/, "", inc)
    for (i = 1; i <= ntp; i++) {
        if (inc ~ tp_re[i]) {
            if (index(" " tp_owners[i] " ", " " rel " ") == 0)
                report(FILENAME ":" FNR ": includes " inc ", which only " tp_owners[i] " may include")
            next
        }
    }
    if (!quoted) next
    if (index(inc, "/") == 0) {
        if (inc in bare)
            report(FILENAME ":" FNR ": includes \"" inc "\" without its layer (\"" bare[inc] "\")")
        next
    }
    dep = inc
    sub(/\/.*/, "", dep)
    if ((dep in rank) && rank[dep] > rank[layer])
        report(FILENAME ":" FNR ": includes " inc ": layer " dep " is above " layer " (" layers ")")
}
function report(msg) { print msg; bad++ }
END {
    if (bad) {
        print "check_layers: " bad " violation(s) of the include rules (docs/architecture.md)"
        exit 1
    }
    print "check_layers: " files " files follow the include rules"
}' || exit 1
