#!/usr/bin/env bash
# disk_full.sh - a full disk under `vitrine serve`: the data directory is a
# 1 MiB tmpfs (needs root and mount(2); exit 77 with the reason when the
# sandbox cannot). Upserts fill it until one is refused:
#   - the refusal is 507 with Qdrant's error shape and a message that says
#     the disk is full; later writes are refused the same way;
#   - reads keep working (count, scroll with vectors, exact search), and
#     show every acknowledged point and nothing of the refused writes;
#   - once the tmpfs is grown (space returns) writes succeed again;
#   - after a restart every acknowledged point is there, vectors exact.
set -u
BIN=${VITRINE_BIN:-./vitrine}
command -v python3 >/dev/null 2>&1 || { echo "disk_full.sh: SKIP: python3 is needed"; exit 77; }
work=$(mktemp -d)
mnt=$work/mnt
pid=
mounted=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    wait 2>/dev/null
    [ -n "$mounted" ] && umount "$mnt" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "disk_full.sh: FAIL: $*"
    for f in "$work"/*.log; do echo "--- $f"; tail -n 30 "$f"; done
    exit 1
}
mkdir -p "$mnt"
if [ "$(id -u)" != 0 ]; then
    echo "disk_full.sh: SKIP: mounting a small tmpfs needs root"
    exit 77
fi
if ! mount -t tmpfs -o size=1m,mode=0755 vitrine-disk-full "$mnt" 2>"$work/mount.err"; then
    echo "disk_full.sh: SKIP: cannot mount a tmpfs here ($(cat "$work/mount.err"))"
    exit 77
fi
mounted=1

start() {
    "$BIN" serve --port 0 --data "$mnt/data" --weights "$work/no-weights" 2>>"$work/serve.log" &
    pid=$!
    local port=
    for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$work/serve.log" | tail -1)
        [ -n "$port" ] && [ "$port" != "${last_port:-}" ] && break
        port=
        kill -0 "$pid" 2>/dev/null || fail "server exited early"
        sleep 0.1
    done
    [ -n "$port" ] || fail "no 'listening on' line"
    last_port=$port
    base=http://127.0.0.1:$port
}

start
python3 - "$base" "$work" "$mnt" <<'EOF' || fail "the disk-full checks"
import http.client, json, struct, subprocess, sys, urllib.parse

base, work, mnt = sys.argv[1], sys.argv[2], sys.argv[3]
u = urllib.parse.urlparse(base)
DIM = 64

def call(method, path, body=None):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    raw = r.read()
    c.close()
    return r.status, json.loads(raw) if raw else None

def ok(method, path, body=None):
    st, res = call(method, path, body)
    if st != 200:
        sys.exit("%s %s: HTTP %d %s" % (method, path, st, res))
    return res["result"]

def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]

def vec(i):
    return [((i * 31 + k * 7) % 2001 - 1000) / 1024.0 for k in range(DIM)]

ok("PUT", "/collections/full", {"vectors": {"size": DIM, "distance": "Dot"}})
acked, refused, next_id = [], 0, 0
first_error = None
for round_ in range(400):
    ids = list(range(next_id, next_id + 20))
    next_id += 20
    st, res = call("PUT", "/collections/full/points?wait=%s" % ("true" if round_ % 2 else "false"),
                   {"points": [{"id": i, "vector": vec(i), "payload": {"i": i, "pad": "x" * 200}} for i in ids]})
    if st == 200:
        if refused:
            sys.exit("a write succeeded after the disk was full and before space returned")
        acked += ids
        continue
    if st != 507:
        sys.exit("a write on a full disk answered HTTP %d %s (want 507)" % (st, res))
    err = res["status"]["error"]
    if not err.startswith("No space left on device: the data directory's disk is full"):
        sys.exit("507 message: %r" % err)
    if first_error is None:
        first_error = err
    refused += 1
    if refused == 3:
        break
if not refused:
    sys.exit("the 1 MiB tmpfs never filled up")
print("disk_full: %d points stored, then 507: %s" % (len(acked), first_error))

# A payload write and a delete are refused too (each needs new pages).
st, res = call("POST", "/collections/full/points/payload?wait=true", {"points": acked[:50], "payload": {"more": "y" * 2000}})
if st not in (200, 507):
    sys.exit("set payload on a full disk: HTTP %d %s" % (st, res))

def check_reads(tag, extra_ok=()):
    cnt = ok("POST", "/collections/full/points/count", {"exact": True})["count"]
    if cnt != len(acked) + len(extra_ok):
        sys.exit("%s: count %d, acknowledged %d" % (tag, cnt, len(acked) + len(extra_ok)))
    pts = ok("POST", "/collections/full/points/scroll", {"limit": 100000, "with_vector": True, "with_payload": True})["points"]
    got = {int(p["id"]): p for p in pts}
    for i in list(acked) + list(extra_ok):
        p = got.get(i)
        if p is None:
            sys.exit("%s: acknowledged point %d missing" % (tag, i))
        if any(f32(a) != f32(b) for a, b in zip(p["vector"], vec(i))) or p["payload"]["i"] != i:
            sys.exit("%s: point %d damaged" % (tag, i))
    if set(got) - set(acked) - set(extra_ok):
        sys.exit("%s: refused points are visible: %s" % (tag, sorted(set(got) - set(acked))[:10]))
    q = vec(12345)
    want = sorted(((sum(f32(a) * b for a, b in zip(vec(i), q)), i) for i in got), reverse=True)[:5]
    hits = ok("POST", "/collections/full/points/search", {"vector": q, "limit": 5, "params": {"exact": True}})
    if [round(h["score"], 2) for h in hits] != [round(s, 2) for s, _ in want]:
        sys.exit("%s: exact search %r, oracle %r" % (tag, hits, want))
    st, _ = call("GET", "/collections/full")
    if st != 200:
        sys.exit("%s: GET collection %d" % (tag, st))

check_reads("disk full")
# Still full: a write that needs new pages is refused the same way. One
# point may also fit in pages earlier writes freed (a rewritten vector
# block frees its old pages): then it is acknowledged and must stay.
st, res = call("PUT", "/collections/full/points?wait=true", {"points": [{"id": 999999, "vector": vec(999999), "payload": {"i": 999999}}]})
if st == 200:
    acked.append(999999)
elif st != 507 or not res["status"]["error"].startswith("No space left on device"):
    sys.exit("second write on a full disk: HTTP %d %s" % (st, res))

# Space returns.
subprocess.run(["mount", "-o", "remount,size=16m", mnt], check=True)
more = list(range(next_id, next_id + 40))
ok("PUT", "/collections/full/points?wait=true",
   {"points": [{"id": i, "vector": vec(i), "payload": {"i": i, "pad": "z"}} for i in more]})
acked += more
check_reads("space back")
with open(work + "/acked.json", "w") as f:
    json.dump(acked, f)
print("disk_full: writes resumed, %d points acknowledged in all" % len(acked))
EOF

# A restart on the same (now roomier) directory: everything acknowledged.
kill "$pid"
wait "$pid" || fail "the server did not stop cleanly"
pid=
start
python3 - "$base" "$work" <<'EOF' || fail "after the restart"
import http.client, json, struct, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
acked = json.load(open(sys.argv[2] + "/acked.json"))
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
c.request("POST", "/collections/full/points/scroll", body=json.dumps({"limit": 100000, "with_vector": True}),
          headers={"Content-Type": "application/json"})
pts = json.loads(c.getresponse().read())["result"]["points"]
f32 = lambda x: struct.unpack("f", struct.pack("f", x))[0]
vec = lambda i: [((i * 31 + k * 7) % 2001 - 1000) / 1024.0 for k in range(64)]
got = {int(p["id"]): p["vector"] for p in pts}
if sorted(got) != sorted(acked):
    sys.exit("after restart: %d points, %d acknowledged" % (len(got), len(acked)))
for i in acked:
    if any(f32(a) != f32(b) for a, b in zip(got[i], vec(i))):
        sys.exit("after restart: point %d damaged" % i)
print("disk_full: after a restart all %d acknowledged points are intact" % len(acked))
EOF
kill "$pid"
wait "$pid" || fail "the server did not stop cleanly"
pid=
grep -q "store: commit: no space left on the filesystem of $mnt/data" "$work/serve.log" ||
    fail "the store did not log the full disk"
echo "disk_full.sh: ok"
