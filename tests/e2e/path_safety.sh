#!/usr/bin/env bash
# path_safety.sh - no request reaches a file outside the snapshots folder
# of the data directory: snapshot names, recover locations and upload
# targets, with "..", absolute paths, percent-encoded slashes and dots, and
# symlinks planted in the snapshots folder. Every attempt is refused (404,
# 403 or 4xx), the data directory's files are byte-for-byte unchanged, no
# file appears beside data.mdb, and a canary outside the data directory
# survives every delete. (The ordinary traversal cases of the snapshot
# routes are in qdrant_snapshots.sh; these are the ones found missing.)
set -u
BIN=${VITRINE_BIN:-./vitrine}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
fail() {
    echo "path_safety.sh: FAIL: $*"
    echo "--- server log"
    cat "$work/serve.log"
    exit 1
}
data=$work/data
"$BIN" serve --port 0 --data "$data" --weights "$work/no-weights" 2>"$work/serve.log" &
pid=$!
port=
for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
    port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$work/serve.log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "server exited early"
    sleep 0.1
done
[ -n "$port" ] || fail "no 'listening on' line"
base=http://127.0.0.1:$port

# req METHOD PATH [curl args...]: sets $code; the body in $work/b.
req() {
    local m=$1 p=$2
    shift 2
    code=$(curl -sS --path-as-is --max-time 20 -o "$work/b" -w '%{http_code}' -X "$m" "$@" "$base$p")
}
json=(-H 'Content-Type: application/json')

req PUT /collections/c "${json[@]}" -d '{"vectors":{"size":2,"distance":"Dot"}}'
[ "$code" = 200 ] || fail "create: $code"
req PUT '/collections/c/points?wait=true' "${json[@]}" -d '{"points":[{"id":1,"vector":[1,2]}]}'
[ "$code" = 200 ] || fail "upsert: $code"
req POST /collections/c/snapshots
[ "$code" = 200 ] || fail "snapshot: $code $(cat "$work/b")"
snap=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["name"])' "$work/b")
snaps=$data/snapshots

# The canary outside the data directory, and links to it and to data.mdb
# planted in the snapshots folders (as a careless operator might).
echo canary >"$work/outside.snapshot"
ln -s "$work/outside.snapshot" "$snaps/c/link-out.snapshot"
ln -s "$data/data.mdb" "$snaps/c/link-db.snapshot"
ln -s "$data/data.mdb" "$snaps/link-db.snapshot"
ln -s "$data" "$snaps/c/datadir"

# fingerprint: every file of the data directory outside snapshots/, with its hash.
fingerprint() { (cd "$data" && find . -path ./snapshots -prune -o -type f ! -name lock.mdb -print0 |
    sort -z | xargs -0 sha256sum); }
before=$(fingerprint)
n=0

# Snapshot names: collection and full routes, GET and DELETE.
for name in '..%2F..%2Fdata.mdb' '..%2Fdata.mdb' '%2E%2E%2Fdata.mdb' '%2Fetc%2Fpasswd' "..%2F..%2Foutside.snapshot" \
    'link-out.snapshot' 'link-db.snapshot' 'datadir%2Fdata.mdb' 'datadir%2Fvitrine.lock' '.' '..' '%2E%2E'; do
    for m in GET DELETE; do
        req $m "/collections/c/snapshots/$name"
        [ "$code" = 404 ] || fail "$m /collections/c/snapshots/$name: $code"
        n=$((n + 1))
    done
done
for name in '..%2Fdata.mdb' '%2E%2E%2Fdata.mdb' '%2Fetc%2Fpasswd' 'link-db.snapshot' 'c%2Flink-out.snapshot' \
    'c%2Fdatadir%2Fdata.mdb' '..%2F..%2Foutside.snapshot'; do
    for m in GET DELETE; do
        req $m "/snapshots/$name"
        [ "$code" = 404 ] || fail "$m /snapshots/$name: $code"
        n=$((n + 1))
    done
done

# Recover locations: absolute paths outside, "..", encoded dots, links.
for loc in "file:///etc/passwd" "file://$data/data.mdb" "file://$snaps/../data.mdb" \
    "file://$snaps/%2E%2E/data.mdb" "file://$snaps/c/link-out.snapshot" "file://$snaps/c/link-db.snapshot" \
    "file://$snaps/c/datadir/data.mdb" "file://localhost$work/outside.snapshot"; do
    req PUT /collections/r/snapshots/recover "${json[@]}" -d "{\"location\":\"$loc\"}"
    [ "$code" = 403 ] || fail "recover from $loc: $code $(cat "$work/b")"
    grep -q 'Forbidden: Snapshot file path must be inside the snapshots directory' "$work/b" ||
        fail "recover from $loc: $(cat "$work/b")"
    n=$((n + 1))
done

# Uploads: a collection named "." or ".." would make the upload's folder
# the snapshots folder or the data directory itself.
printf 'not a snapshot' >"$work/up.bin"
for coll in '%2E%2E' '..' '%2E' '.'; do
    for fname in data.mdb vitrine.lock lock.mdb x.snapshot; do
        req POST "/collections/$coll/snapshots/upload" -F "snapshot=@$work/up.bin;filename=$fname"
        case $code in 4*) ;; *) fail "upload to collection '$coll' as $fname: $code $(cat "$work/b")" ;; esac
        n=$((n + 1))
    done
done
# A file name with directories keeps only its last part, inside the folder.
req POST "/collections/u/snapshots/upload" -F "snapshot=@$work/up.bin;filename=../../../data.mdb"
case $code in 4*|5*) ;; *) fail "upload of a non-snapshot succeeded: $code" ;; esac
n=$((n + 1))
[ -e "$work/data.mdb" ] && fail "an upload landed outside the data directory"

after=$(fingerprint)
[ "$before" = "$after" ] || fail "the data directory changed: before
$before
after
$after"
[ -z "$(find "$data" -maxdepth 1 -newer "$work/up.bin" ! -name lock.mdb ! -name data.mdb ! -name snapshots)" ] ||
    fail "new files beside data.mdb: $(find "$data" -maxdepth 1 -newer "$work/up.bin")"
[ "$(cat "$work/outside.snapshot")" = canary ] || fail "the canary outside the data directory is gone"
[ -f "$snaps/c/$snap" ] || fail "the real snapshot was deleted"
req GET "/collections/c/snapshots/$snap"
[ "$code" = 200 ] || fail "the real snapshot is no longer served: $code"
echo "path_safety.sh: ok ($n attempts refused)"
