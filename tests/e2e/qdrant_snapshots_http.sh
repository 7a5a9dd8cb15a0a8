#!/usr/bin/env bash
# qdrant_snapshots_http.sh - recovering snapshots from http:// locations
# served by a Python http.server (tests/e2e/snapshot_server.py), and the
# shard snapshot routes of shard 0.
#
# http: a recover with the right checksum brings the collection back; a
# wrong checksum, a 404 at the URL, a port nobody listens on, https, a
# redirect loop and a file that is not a snapshot are refused with
# Qdrant's codes and words and change nothing; redirects (absolute and
# relative) and chunked bodies are followed; api_key is sent to the
# location's host and not to another host a redirect names; wait=false
# answers 202 and recovers later; no temporary download file is left.
# Shards: shard 0's snapshots are named and placed as Qdrant's, listed,
# downloaded byte for byte, deleted, uploaded and recovered (by file name
# and by URL); other shard ids, bad ids, missing collections, other
# schemes and path traversal answer Qdrant's errors.
#
# Expectations from Qdrant 1.17.1 (lib/storage/src/content_manager/
# snapshots/download.rs, download_tar.rs, errors.rs; src/common/
# snapshots.rs recover_shard_snapshot; lib/collection/src/shards/
# shard_holder/mod.rs) and docs/http-api.md. VITRINE_BIN is exported by
# tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
HERE=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
log=$work/serve.log
pid=
spid=
checks=0
cleanup() {
    for p in $pid $spid; do
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$work"
}
fail() {
    echo "qdrant_snapshots_http.sh: FAIL: $*"
    echo "--- server log (tail)"
    tail -20 "$log" 2>/dev/null
    cleanup
    exit 1
}
ok() { checks=$((checks + 1)); }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v "$PY" >/dev/null || { echo "qdrant_snapshots_http.sh: SKIP: no python3"; exit 77; }
command -v sha256sum >/dev/null || { echo "qdrant_snapshots_http.sh: SKIP: no sha256sum"; exit 77; }

: >"$log"
"$BIN" serve --port 0 --data "$work/data" --weights "$work/no-weights" 2>"$log" &
pid=$!
port=
for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "server exited early"
    sleep 0.1
done
[ -n "$port" ] || fail "no 'listening on' line in $log"
base=http://127.0.0.1:$port
snaps=$work/data/snapshots

mkdir -p "$work/www"
"$PY" "$HERE/snapshot_server.py" "$work/www" "$work/www.port" &
spid=$!
for _ in $(seq 1 100); do
    [ -s "$work/www.port" ] && break
    sleep 0.1
done
[ -s "$work/www.port" ] || fail "the http.server did not start"
www=http://127.0.0.1:$(cat "$work/www.port")
# A port nobody listens on: bound, then closed.
deadport=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

# req METHOD PATH [BODY] [extra curl args...]: $work/b, $code.
req() {
    local method=$1 path=$2 body=${3:-}
    shift 3 2>/dev/null || shift $#
    local args=(-sS --path-as-is --max-time 60 -X "$method" -o "$work/b" -w '%{http_code}')
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    code=$(curl "${args[@]}" "$@" "$base$path") || fail "curl $method $path"
}
json_check() {
    "$PY" - "$work/b" "$1" <<'PYEOF' || fail "JSON check failed: $1 on $(head -c 400 "$work/b")"
import json, re, sys
b = json.load(open(sys.argv[1]))
if not eval(sys.argv[2]):
    sys.exit(1)
PYEOF
}
json_get() { "$PY" -c 'import json,sys; b=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$work/b" "$1"; }
expect_error() { # STATUS MESSAGE-PREFIX
    [ "$code" = "$1" ] || fail "expected $1, got $code: $(head -c 300 "$work/b")"
    json_check "b['status']['error'].startswith($(printf '%s' "$2" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()))'))"
}
count() { # COLLECTION -> $n ("" when it does not exist)
    req POST "/collections/$1/points/count" '{"exact":true}'
    n=
    [ "$code" = 200 ] && n=$(json_get 'b["result"]["count"]')
}
recover() { # COLLECTION LOCATION [CHECKSUM] [EXTRA-JSON]
    local body="{\"location\":\"$2\""
    [ -n "${3:-}" ] && body+=",\"checksum\":\"$3\""
    [ -n "${4:-}" ] && body+=",$4"
    req PUT "/collections/$1/snapshots/recover" "$body}"
}

# A collection of 20 points, its snapshot served by the http.server.
req PUT /collections/c '{"vectors":{"size":4,"distance":"Dot"}}'
[ "$code" = 200 ] || fail "create: $code"
pts=$("$PY" -c 'import json; print(json.dumps({"points":[{"id":i,"vector":[i,1,2,3],"payload":{"i":i}} for i in range(20)]}))')
req PUT '/collections/c/points?wait=true' "$pts"
[ "$code" = 200 ] || fail "upsert: $code"
req POST /collections/c/snapshots ""
[ "$code" = 200 ] || fail "create snapshot: $code $(cat "$work/b")"
name=$(json_get 'b["result"]["name"]')
sum=$(json_get 'b["result"]["checksum"]')
cp "$snaps/c/$name" "$work/www/snap.snapshot"
head -c 1000 /dev/urandom >"$work/www/junk.snapshot"
bad=$(printf '3%.0s' $(seq 64))

# --- http:// recover ----------------------------------------------------------------
recover r1 "$www/snap.snapshot" "$sum"
[ "$code" = 200 ] || fail "http recover: $code $(cat "$work/b")"
json_check 'b["result"] is True'
count r1
[ "$n" = 20 ] || fail "recovered collection has $n points"
ok
recover r2 "$www/snap.snapshot" "$bad"
expect_error 400 "Wrong input: Snapshot checksum mismatch: expected $bad, got $sum"
count r2
[ -z "$n" ] || fail "a wrong checksum created the collection"
ok
recover r2 "$www/missing.snapshot"
expect_error 400 "Wrong input: Failed to download tar from $www/missing.snapshot: status - 404 Not Found"
recover r2 "http://127.0.0.1:$deadport/snap.snapshot"
expect_error 500 "Service internal error: Http request error: error sending request for url (http://127.0.0.1:$deadport/snap.snapshot)"
recover r2 "https://127.0.0.1:$deadport/snap.snapshot"
expect_error 400 "Bad request: URL https://127.0.0.1:$deadport/snap.snapshot with scheme https is not supported: vitrine is built without TLS"
recover r2 "ftp://127.0.0.1/snap.snapshot"
expect_error 400 "Bad request: URL ftp://127.0.0.1/snap.snapshot with scheme ftp is not supported"
recover r2 "http://:80/snap.snapshot"
expect_error 400 "Format error in JSON body: location: empty host"
recover r2 "http://127.0.0.1:99999/snap.snapshot"
expect_error 400 "Format error in JSON body: location: invalid port number"
recover r2 "$www/loop"
expect_error 500 "Service internal error: Http request error: error following redirect for url"
recover r2 "$www/junk.snapshot"
expect_error 400 "Bad request: "
count r2
[ -z "$n" ] || fail "a refused recover created the collection"
ok
# Redirects, relative ones, and chunked bodies.
recover r3 "$www/redirect" "$sum"
[ "$code" = 200 ] || fail "recover through a redirect: $code $(cat "$work/b")"
recover r4 "$www/redirect-relative/x" "$sum"
[ "$code" = 200 ] || fail "recover through a relative redirect: $code $(cat "$work/b")"
recover r5 "$www/chunked" "$sum"
[ "$code" = 200 ] || fail "recover of a chunked body: $code $(cat "$work/b")"
count r5
[ "$n" = 20 ] || fail "the chunked recover has $n points"
ok
# api_key: sent to the location's host, through a redirect on that host,
# never to another host.
recover r6 "$www/keyed" "$sum"
expect_error 400 "Wrong input: Failed to download tar from $www/keyed: status - 401 Unauthorized"
recover r6 "$www/keyed" "$sum" '"api_key":"k1"'
[ "$code" = 200 ] || fail "recover with api_key: $code $(cat "$work/b")"
recover r7 "$www/keyed-same" "$sum" '"api_key":"k1"'
[ "$code" = 200 ] || fail "recover with api_key through a same-host redirect: $code $(cat "$work/b")"
recover r7 "$www/keyed-elsewhere" "$sum" '"api_key":"k1"'
expect_error 400 "Wrong input: Failed to download tar from $www/keyed-elsewhere: status - 401 Unauthorized"
recover r7 "$www/keyed" "" '"api_key":"k1\r\nX-Injected: 1"'
expect_error 400 "Bad request: api_key: not a valid HTTP header value"
ok
# wait=false: 202 now, the collection later.
req PUT '/collections/r8/snapshots/recover?wait=false' "{\"location\":\"$www/snap.snapshot\",\"checksum\":\"$sum\"}"
[ "$code" = 202 ] || fail "recover wait=false: $code"
for _ in $(seq 1 100); do
    count r8
    [ "$n" = 20 ] && break
    sleep 0.1
done
[ "$n" = 20 ] || fail "the wait=false recover never finished ($n)"
# wait=false to a URL that answers 404: 202, then nothing is recovered
# (the log says why; the first 404 above logged the same line once).
req PUT '/collections/r9/snapshots/recover?wait=false' "{\"location\":\"$www/missing.snapshot\"}"
[ "$code" = 202 ] || fail "recover wait=false of a 404: $code"
for _ in $(seq 1 100); do
    [ "$(grep -c 'missing.snapshot failed: status 404' "$log")" = 2 ] && break
    sleep 0.1
done
[ "$(grep -c 'missing.snapshot failed: status 404' "$log")" = 2 ] || fail "the wait=false 404 was not logged"
grep -q 'recover of r9' "$log" && fail "a 404 download was recovered from"
count r9
[ -z "$n" ] || fail "a wait=false 404 created the collection"
ok
[ -z "$(ls -A "$snaps" | grep '^\.download-')" ] || fail "download files left: $(ls -A "$snaps")"
ok

# --- shard snapshots ----------------------------------------------------------------
req GET /collections/c/shards/0/snapshots ""
json_check 'b["result"] == []'
req POST /collections/c/shards/0/snapshots ""
[ "$code" = 200 ] || fail "create shard snapshot: $code $(cat "$work/b")"
json_check 're.fullmatch(r"c-shard-0-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.snapshot", b["result"]["name"])'
sname=$(json_get 'b["result"]["name"]')
ssum=$(json_get 'b["result"]["checksum"]')
sfile=$snaps/c/shards/0/$sname
[ -f "$sfile" ] || fail "no file $sfile"
[ "$(sha256sum "$sfile" | cut -d' ' -f1)" = "$ssum" ] || fail "shard checksum is not sha256sum's"
[ "$(cat "$sfile.checksum")" = "$ssum" ] || fail "$sfile.checksum does not hold the checksum"
req GET /collections/c/shards/0/snapshots ""
json_check '[(s["name"], s["checksum"]) for s in b["result"]] == [("'"$sname"'", "'"$ssum"'")]'
req GET /collections/c/snapshots ""
json_check '[s["name"] for s in b["result"]] == ["'"$name"'"]'
req GET "/collections/c/shards/0/snapshots/$sname" ""
[ "$code" = 200 ] || fail "shard download: $code"
cmp -s "$work/b" "$sfile" || fail "the shard download differs from the file"
cp "$sfile" "$work/www/shard.snapshot"
ok
# Errors: other shards, bad ids, missing collections, traversal.
req GET /collections/c/shards/1/snapshots ""
expect_error 404 "Not found: shard 1 not found"
req POST /collections/c/shards/7/snapshots ""
expect_error 404 "Not found: shard 7 not found"
req GET /collections/c/shards/x/snapshots ""
expect_error 400 'Deserialize error in path parameters: can not parse "x" to a u32'
req GET /collections/ghost/shards/0/snapshots ""
expect_error 404 'Not found: Collection `ghost` doesn'"'"'t exist!'
for bad_name in '..%2F..%2F..%2Fdata.mdb' '%2Fetc%2Fpasswd' '..%2F'"$name" 'nope.snapshot'; do
    req GET "/collections/c/shards/0/snapshots/$bad_name" ""
    [ "$code" = 404 ] || fail "GET shards/0/snapshots/$bad_name gave $code"
    req DELETE "/collections/c/shards/0/snapshots/$bad_name" ""
    [ "$code" = 404 ] || fail "DELETE shards/0/snapshots/$bad_name gave $code"
done
ok
# Recover: by file name, by URL, with Qdrant's errors.
req POST '/collections/c/points/delete?wait=true' '{"points":[0,1,2]}'
req PUT /collections/c/shards/0/snapshots/recover "{\"location\":\"$sname\",\"checksum\":\"$ssum\"}"
[ "$code" = 200 ] || fail "shard recover by name: $code $(cat "$work/b")"
count c
[ "$n" = 20 ] || fail "shard recover by name left $n points"
req POST '/collections/c/points/delete?wait=true' '{"points":[0,1,2]}'
req PUT /collections/c/shards/0/snapshots/recover "{\"location\":\"$www/shard.snapshot\",\"checksum\":\"$ssum\"}"
[ "$code" = 200 ] || fail "shard recover by URL: $code $(cat "$work/b")"
count c
[ "$n" = 20 ] || fail "shard recover by URL left $n points"
req PUT /collections/c/shards/0/snapshots/recover "{\"location\":\"$www/shard.snapshot\",\"checksum\":\"$bad\"}"
expect_error 400 "Wrong input: Snapshot checksum mismatch: expected $bad, got $ssum"
req PUT /collections/c/shards/0/snapshots/recover '{"location":"file:///whatever.snapshot"}'
expect_error 400 "Wrong input: Invalid snapshot URL file:///whatever.snapshot: URLs with file scheme are not supported"
req PUT /collections/c/shards/0/snapshots/recover '{"location":"whatever"}'
expect_error 404 "Not found: Snapshot whatever not found"
req PUT /collections/c/shards/0/snapshots/recover '{"location":"../'"$name"'"}'
expect_error 404 "Not found: Snapshot ../$name not found"
req PUT /collections/c/shards/0/snapshots/recover "{\"location\":\"http://127.0.0.1:$deadport/x\"}"
expect_error 500 "Service internal error: Http request error: error sending request for url"
req PUT /collections/ghost/shards/0/snapshots/recover '{"location":"whatever"}'
expect_error 404 'Not found: Collection `ghost` doesn'"'"'t exist!'
req PUT /collections/c/shards/2/snapshots/recover '{"location":"whatever"}'
expect_error 404 "Not found: shard 2 not found"
count c
[ "$n" = 20 ] || fail "a refused shard recover changed the collection ($n points)"
ok
# Upload into shard 0 (the collection must exist).
req POST '/collections/c/points/delete?wait=true' '{"points":[5]}'
req POST "/collections/c/shards/0/snapshots/upload?checksum=$ssum" "" -F "snapshot=@$sfile;filename=up.snapshot"
[ "$code" = 200 ] || fail "shard upload: $code $(cat "$work/b")"
count c
[ "$n" = 20 ] || fail "shard upload left $n points"
[ -f "$snaps/c/shards/0/up.snapshot" ] || fail "the shard upload is not kept in the shard's folder"
req POST "/collections/ghost/shards/0/snapshots/upload" "" -F "snapshot=@$sfile"
expect_error 404 'Not found: Collection `ghost` doesn'"'"'t exist!'
req POST "/collections/c/shards/3/snapshots/upload" "" -F "snapshot=@$sfile"
expect_error 404 "Not found: shard 3 not found"
req GET /collections/ghost ""
[ "$code" = 404 ] || fail "a shard upload created a collection"
ok
# Delete (wait=false: 202).
req DELETE "/collections/c/shards/0/snapshots/$sname?wait=false" ""
[ "$code" = 202 ] || fail "shard delete: $code"
[ ! -e "$sfile" ] && [ ! -e "$sfile.checksum" ] || fail "the shard file or its checksum is still there"
req DELETE "/collections/c/shards/0/snapshots/up.snapshot" ""
json_check 'b["result"] is True'
req GET /collections/c/shards/0/snapshots ""
json_check 'b["result"] == []'
ok

kill "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" = 0 ] || fail "server exit status $rc"
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
spid=
rm -rf "$work"
echo "qdrant_snapshots_http.sh: $checks checks passed"
