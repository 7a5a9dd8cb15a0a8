#!/usr/bin/env bash
# data_dir.sh - `vitrine serve` refuses a data directory it cannot trust,
# at startup, with a message that says what is wrong, and without
# listening or changing a byte of it ("never half-opened"):
#   - a second server on a directory in use (flock on DIR/vitrine.lock,
#     the message names the holder's pid); the lock goes with the process,
#     so after a SIGKILL the directory opens again;
#   - data.mdb truncated (shorter than its pages in use), empty, garbage,
#     with both LMDB meta pages zeroed, or a directory;
#   - a meta record of a newer format version, or with another magic;
#   - a directory of another program (files, no data.mdb).
# A good copy of the same directory opens afterwards with its point.
set -u
BIN=${VITRINE_BIN:-./vitrine}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
fail() {
    echo "data_dir.sh: FAIL: $*"
    for f in "$work"/*.log; do echo "--- $f"; cat "$f"; done
    exit 1
}
command -v python3 >/dev/null 2>&1 || { echo "data_dir.sh: SKIP: python3 is needed"; exit 77; }

# start DIR LOG: a server in the background; sets pid and base.
start() {
    "$BIN" serve --port 0 --data "$1" --weights "$work/no-weights" 2>"$2" &
    pid=$!
    local port=
    for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$2" | head -1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || fail "server on $1 exited early"
        sleep 0.1
    done
    [ -n "$port" ] || fail "no 'listening on' line"
    base=http://127.0.0.1:$port
}

# A good directory with one collection and one point, stopped cleanly.
start "$work/good" "$work/good.log"
curl -sf -X PUT -H 'Content-Type: application/json' -d '{"vectors":{"size":3,"distance":"Dot"}}' \
    "$base/collections/c" >/dev/null || fail "create"
curl -sf -X PUT -H 'Content-Type: application/json' \
    -d '{"points":[{"id":7,"vector":[1,2,3],"payload":{"k":"v"}}]}' "$base/collections/c/points?wait=true" >/dev/null ||
    fail "upsert"

# A second server on the same directory, while the first runs.
"$BIN" serve --port 0 --data "$work/good" --weights "$work/no-weights" 2>"$work/second.log" &
p2=$!
for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do kill -0 "$p2" 2>/dev/null || break; sleep 0.1; done
kill -0 "$p2" 2>/dev/null && { kill -9 "$p2"; fail "a second server on the same directory kept running"; }
wait "$p2" && fail "the second server exited 0"
grep -q "is in use by another process (pid $pid," "$work/second.log" ||
    fail "second server message: $(cat "$work/second.log")"
grep -q "listening on" "$work/second.log" && fail "the second server listened"
curl -sf "$base/collections/c" | grep -q '"points_count":1' || fail "the first server suffered from the second"
kill "$pid"
wait "$pid" || fail "the first server did not stop cleanly"
pid=

# After a SIGKILL the lock is gone with the process.
start "$work/good" "$work/killed.log"
kill -9 "$pid"
{ wait "$pid"; } 2>/dev/null
pid=
start "$work/good" "$work/after-kill.log"
kill "$pid"
wait "$pid"
pid=

# refused NAME PATTERN: the prepared directory $work/NAME is refused with a
# message matching PATTERN, the server never listens, and no file in the
# directory changes (vitrine.lock aside, which only holds the pid).
refused() {
    local dir=$work/$1 log=$work/$1.log
    local before after
    before=$(cd "$dir" && find . -type f ! -name vitrine.lock ! -name lock.mdb -exec sha256sum {} + | sort)
    timeout 20 "$BIN" serve --port 0 --data "$dir" --weights "$work/no-weights" 2>"$log"
    local rc=$?
    [ $rc -eq 124 ] && fail "$1: still running after 20 s"
    [ $rc -ne 0 ] || fail "$1: exited 0"
    grep -q "listening on" "$log" && fail "$1: the server listened"
    grep -Eq "$2" "$log" || fail "$1: message does not match /$2/"
    after=$(cd "$dir" && find . -type f ! -name vitrine.lock ! -name lock.mdb -exec sha256sum {} + | sort)
    [ "$before" = "$after" ] || fail "$1: the directory was changed"
    echo "data_dir.sh: $1 refused: $(grep -E "$2" "$log" | head -1 | sed 's/^[^ ]* [a-z]* *//')"
}

copy() { cp -a "$work/good" "$work/$1"; rm -f "$work/$1/vitrine.lock"; }
size=$(stat -c %s "$work/good/data.mdb")

copy truncated
truncate -s $((size / 2)) "$work/truncated/data.mdb"
refused truncated "data.mdb is truncated: [0-9]+ bytes, but its pages in use end at [0-9]+ bytes"

copy empty
: >"$work/empty/data.mdb"
refused empty "data.mdb is empty \(truncated\?\)"

copy garbage
head -c "$size" /dev/urandom >"$work/garbage/data.mdb"
refused garbage "data.mdb is not an LMDB file of a compatible version"

copy metas
python3 - "$work/metas/data.mdb" <<'EOF' || fail "zeroing the meta pages"
import sys
with open(sys.argv[1], "r+b") as f:
    f.write(b"\0" * 8192)   # both meta pages (4 KiB pages)
EOF
refused metas "data.mdb is not an LMDB file of a compatible version"

copy notafile
rm "$work/notafile/data.mdb"
mkdir "$work/notafile/data.mdb"
refused notafile "data.mdb is not a regular file"

# The meta record is "VITRINE\0" + version (LE u32) in the meta database.
patch_meta() {
    python3 - "$1" "$2" "$3" <<'EOF' || fail "patching the meta record"
import sys
path, old, new = sys.argv[1], bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
data = open(path, "rb").read()
n = data.count(old)
if n < 1:
    sys.exit("meta record not found")
open(path, "wb").write(data.replace(old, new))
EOF
}
copy newer
patch_meta "$work/newer/data.mdb" 56495452494e450002000000 56495452494e450003000000
refused newer "data format version 3, but this build reads versions 1 to 2"

copy magic
patch_meta "$work/magic/data.mdb" 56495452494e450002000000 4f5448455244420002000000
refused magic "format record is not vitrine's|not written by vitrine"

mkdir -p "$work/foreign/collections"
echo '{"term":1}' >"$work/foreign/raft_state.json"
refused foreign "holds '(raft_state.json|collections)' but no data.mdb: not a vitrine data directory"

# The good directory still opens, with its point.
start "$work/good" "$work/final.log"
curl -sf -X POST -H 'Content-Type: application/json' -d '{"ids":[7],"with_vector":true,"with_payload":true}' \
    "$base/collections/c/points" | grep -q '"payload":{"k":"v"},"vector":\[1,2,3\]' ||
    fail "the good directory lost its point: $(curl -s -X POST -H 'Content-Type: application/json' -d '{"ids":[7],"with_vector":true,"with_payload":true}' "$base/collections/c/points")"
kill "$pid"
wait "$pid"
pid=
echo "data_dir.sh: ok"
