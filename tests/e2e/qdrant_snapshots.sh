#!/usr/bin/env bash
# qdrant_snapshots.sh - the snapshot routes with curl alone: the files on
# disk (Qdrant's names, <file>.checksum equal to sha256sum of the file),
# downloads byte for byte, path traversal refused, multipart uploads from
# curl -F (with and without a checksum, malformed), recover from file://
# (checksums, other schemes (http:// in qdrant_snapshots_http.sh), a damaged file leaves the collection), delete
# with wait=false (202), and full snapshots, one of which is then served by
# a second server as its data.mdb.
#
# Expectations from Qdrant 1.17.1 (src/actix/api/snapshot_api.rs,
# lib/storage/src/content_manager/snapshots/download.rs, recover.rs) and
# docs/http-api.md. VITRINE_BIN is exported by tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
work=$(mktemp -d)
log=$work/serve.log
pid=
pid2=
checks=0
fail() {
    echo "qdrant_snapshots.sh: FAIL: $*"
    echo "--- server log (tail)"
    tail -20 "$log" 2>/dev/null
    for p in $pid $pid2; do
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$work"
    exit 1
}
ok() { checks=$((checks + 1)); }
command -v sha256sum >/dev/null || { echo "qdrant_snapshots.sh: SKIP: no sha256sum"; exit 77; }

# start DATA LOG: runs a server, sets $started_pid and $started_base.
start() {
    "$BIN" serve --port 0 --data "$1" --weights "$work/no-weights" 2>"$2" &
    started_pid=$!
    local port=
    for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$2" | head -1)
        [ -n "$port" ] && break
        kill -0 "$started_pid" 2>/dev/null || fail "server exited early"
        sleep 0.1
    done
    [ -n "$port" ] || fail "no 'listening on' line in $2"
    started_base=http://127.0.0.1:$port
}
start "$work/data" "$log"
pid=$started_pid
base=$started_base
snaps=$work/data/snapshots

# req METHOD PATH [BODY] [extra curl args...]: $work/h, $work/b, $code, $ctype.
req() {
    local method=$1 path=$2 body=${3:-}
    shift 3 2>/dev/null || shift $#
    local args=(-sS --path-as-is --max-time 30 -X "$method" -D "$work/h" -o "$work/b" -w '%{http_code} %{content_type}')
    if [ -n "$body" ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$body")
    fi
    local out
    out=$(curl "${args[@]}" "$@" "${rbase:-$base}$path") || fail "curl $method $path"
    code=${out%% *}
    ctype=${out#* }
}
header() { grep -i "^$1:" "$work/h" | head -1 | sed 's/^[^:]*: *//' | tr -d '\r'; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
json_check() {
    "$PY" - "$work/b" "$1" <<'EOF' || fail "JSON check failed: $1 on $(head -c 400 "$work/b")"
import json, re, sys
b = json.load(open(sys.argv[1]))
if not eval(sys.argv[2]):
    sys.exit(1)
EOF
}
json_get() { "$PY" -c 'import json,sys; b=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$work/b" "$1"; }
expect_error() { # STATUS MESSAGE-PREFIX
    [ "$code" = "$1" ] || fail "expected $1, got $code: $(head -c 300 "$work/b")"
    json_check "b['status']['error'].startswith($(printf '%s' "$2" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()))'))"
}
count() { # COLLECTION -> $n
    req POST "/collections/$1/points/count" '{"exact":true}'
    [ "$code" = 200 ] || fail "count $1: $code"
    n=$(json_get 'b["result"]["count"]')
}

# A collection of 50 points.
req PUT /collections/c '{"vectors":{"size":4,"distance":"Dot"}}'
[ "$code" = 200 ] || fail "create: $code"
pts=$("$PY" -c 'import json; print(json.dumps({"points":[{"id":i,"vector":[i,1,2,3],"payload":{"i":i}} for i in range(50)]}))')
req PUT '/collections/c/points?wait=true' "$pts"
[ "$code" = 200 ] || fail "upsert: $code"

# --- create: Qdrant's name, the checksum file, the description ------------------
req POST /collections/c/snapshots ""
[ "$code" = 200 ] || fail "create snapshot: $code $(cat "$work/b")"
json_check 're.fullmatch(r"c-0-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.snapshot", b["result"]["name"])'
json_check 're.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", b["result"]["creation_time"])'
name=$(json_get 'b["result"]["name"]')
sum=$(json_get 'b["result"]["checksum"]')
size=$(json_get 'b["result"]["size"]')
file=$snaps/c/$name
[ -f "$file" ] || fail "no file $file"
[ "$(stat -c %s "$file")" = "$size" ] || fail "size $size is not the file's"
[ "$(sha256sum "$file" | cut -d' ' -f1)" = "$sum" ] || fail "checksum is not sha256sum's"
[ "$(cat "$file.checksum")" = "$sum" ] || fail "$file.checksum does not hold the checksum"
[ -z "$(ls "$snaps/c" | grep -v -e '\.snapshot$' -e '\.checksum$')" ] || fail "leftovers: $(ls "$snaps/c")"
ok
req GET /collections/c/snapshots ""
json_check 'len(b["result"]) == 1 and b["result"][0]["name"] == "'"$name"'" and b["result"][0]["checksum"] == "'"$sum"'"'
ok

# --- download ---------------------------------------------------------------------
req GET "/collections/c/snapshots/$name" ""
[ "$code" = 200 ] || fail "download: $code"
case $ctype in application/octet-stream*) ;; *) fail "download content type $ctype" ;; esac
cmp -s "$work/b" "$file" || fail "the download differs from the file"
case $(header Content-Disposition) in *"$name"*) ;; *) fail "Content-Disposition: $(header Content-Disposition)" ;; esac
ok
# Traversal and missing names: 404, never a file outside the folder.
for bad in '..%2F..%2Fdata.mdb' '%2Fetc%2Fpasswd' '..' 'nope.snapshot' "$name.missing"; do
    req GET "/collections/c/snapshots/$bad" ""
    [ "$code" = 404 ] || fail "GET snapshots/$bad gave $code"
    req DELETE "/collections/c/snapshots/$bad" ""
    [ "$code" = 404 ] || fail "DELETE snapshots/$bad gave $code"
done
req GET /collections/c/snapshots/nope.snapshot ""
expect_error 404 "Not found: Snapshot nope.snapshot not found"
req GET /collections/ghost/snapshots ""
expect_error 404 'Not found: Collection `ghost` doesn'"'"'t exist!'
ok

# --- upload (curl -F) ---------------------------------------------------------------
req POST '/collections/up/snapshots/upload' "" -F "snapshot=@$file"
[ "$code" = 200 ] || fail "upload: $code $(cat "$work/b")"
json_check 'b["result"] is True'
count up
[ "$n" = 50 ] || fail "uploaded collection has $n points"
[ -f "$snaps/up/$name" ] || fail "the upload is not kept in $snaps/up"
req POST "/collections/bad/snapshots/upload?checksum=$(printf '0%.0s' $(seq 64))" "" -F "snapshot=@$file"
expect_error 400 "Checksum mismatch: expected $sum, actual 000"
req POST "/collections/up2/snapshots/upload?checksum=$sum" "" -F "snapshot=@$file"
[ "$code" = 200 ] || fail "upload with the right checksum: $code"
req POST '/collections/bad/snapshots/upload' "" -F "other=@$file"
[ "$code" = 400 ] || fail "upload without a snapshot field: $code"
req POST '/collections/bad/snapshots/upload' "" -H 'Content-Type: application/octet-stream' --data-binary "@$file"
[ "$code" = 400 ] || fail "upload that is not multipart: $code"
req POST '/collections/bad%3Fx/snapshots/upload' "" -F "snapshot=@$file"
[ "$code" = 422 ] || fail "upload into an invalid name: $code"
req GET /collections/bad ""
[ "$code" = 404 ] || fail "a refused upload created the collection"
ok

# --- recover from file:// ---------------------------------------------------------
req PUT /collections/c2/snapshots/recover "{\"location\":\"file://$file\",\"checksum\":\"$sum\"}"
[ "$code" = 200 ] || fail "recover: $code $(cat "$work/b")"
count c2
[ "$n" = 50 ] || fail "recovered collection has $n points"
req PUT /collections/c2/snapshots/recover "{\"location\":\"file://localhost$file\",\"checksum\":\"$(printf 'a%.0s' $(seq 64))\"}"
expect_error 400 "Wrong input: Snapshot checksum mismatch: expected $(printf 'a%.0s' $(seq 64)), got $sum"
req PUT /collections/c2/snapshots/recover '{"location":"ftp://127.0.0.1:1/x.snapshot"}'
expect_error 400 "Bad request: URL ftp://127.0.0.1:1/x.snapshot with scheme ftp is not supported"
req PUT /collections/c2/snapshots/recover '{"location":"file://whatever.snapshot"}'
expect_error 400 "Bad request: Invalid snapshot URI, file path must be absolute or on localhost"
req PUT /collections/c2/snapshots/recover '{}'
expect_error 400 "Format error in JSON body: missing field \`location\`"
# A damaged copy inside the snapshots folder: refused, c2 unchanged.
req POST '/collections/c2/points/delete?wait=true' '{"points":[0,1,2]}'
head -c $((size - 10)) "$file" >"$snaps/c/cut.bin"
req PUT /collections/c2/snapshots/recover "{\"location\":\"file://$snaps/c/cut.bin\"}"
expect_error 400 "Bad request: "
json_check '"truncated" in b["status"]["error"]'
count c2
[ "$n" = 47 ] || fail "a refused recover changed the collection ($n points)"
ok

# --- delete, wait=false -------------------------------------------------------------
req DELETE "/collections/c/snapshots/$name?wait=false" ""
[ "$code" = 202 ] || fail "delete wait=false: $code"
json_check 'b["status"] == "accepted" and isinstance(b["time"], float) and "result" not in b'
[ ! -e "$file" ] && [ ! -e "$file.checksum" ] || fail "the file or its checksum is still there"
req POST '/collections/c/snapshots?wait=false' ""
[ "$code" = 202 ] || fail "create wait=false: $code"
for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
    req GET /collections/c/snapshots ""
    [ "$(json_get 'len(b["result"])')" = 1 ] && break
    sleep 0.1
done
[ "$(json_get 'len(b["result"])')" = 1 ] || fail "the wait=false snapshot never appeared"
ok

# --- full snapshots ---------------------------------------------------------------
req GET /snapshots ""
json_check 'b["result"] == []'
req POST /snapshots ""
[ "$code" = 200 ] || fail "full snapshot: $code $(cat "$work/b")"
json_check 're.fullmatch(r"full-snapshot-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.snapshot", b["result"]["name"])'
full=$(json_get 'b["result"]["name"]')
[ "$(sha256sum "$snaps/$full" | cut -d' ' -f1)" = "$(json_get 'b["result"]["checksum"]')" ] || fail "full checksum"
req GET /snapshots ""
json_check '[s["name"] for s in b["result"]] == ["'"$full"'"]'
req GET "/snapshots/$full" ""
cmp -s "$work/b" "$snaps/$full" || fail "the full download differs"
# It is a data.mdb: a second server opens it and serves the collections.
mkdir -p "$work/restored"
cp "$work/b" "$work/restored/data.mdb"
start "$work/restored" "$work/serve2.log"
pid2=$started_pid
rbase=$started_base count c
[ "$n" = 50 ] || fail "the restored full snapshot has $n points in c"
kill "$pid2"
wait "$pid2" 2>/dev/null
pid2=
req DELETE "/snapshots/$full" ""
json_check 'b["result"] is True'
req GET /snapshots ""
json_check 'b["result"] == []'
ok

kill "$pid"
wait "$pid"
rc=$?
[ "$rc" = 0 ] || fail "server exit status $rc"
pid=
rm -rf "$work"
echo "qdrant_snapshots.sh: $checks checks passed"
