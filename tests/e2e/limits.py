#!/usr/bin/env python3
"""limits.py - the load half of tests/e2e/limits.sh (see there).

    limits.py PORT PID BUDGET_BYTES [CHECK_RSS]

1. Many concurrent big upserts: CLIENTS threads each PUT one ~BODY_MB MiB
   body to /collections/big/points?wait=true at once (the sum is several
   times the budget). Each sends its headers, waits briefly for an early
   answer (the 503 comes at the headers), then sends the body. A 503 must
   carry Retry-After; the client waits that long and tries again. Every
   client must land its body in the end, some must have been refused at
   least once, and no other status may appear.
2. Meanwhile a small search every 50 ms must keep answering 200.
3. Slow clients: one trickling header bytes and one trickling a body must
   be answered 408 and cut off well before the request timeout.
4. The server's peak RSS (VmHWM) over the baseline stays within a bound
   that the unbudgeted bodies and DOMs would break several times over, and
   /metrics' request memory peak stays within the budget plus one chunk.
Prints one summary line; exits 1 with the reason on any failure.
"""
import json, os, random, select, socket, sys, threading, time

port, pid, budget = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
# 0 under AddressSanitizer, whose quarantine and redzones are no measure
# of the server's own memory.
check_rss = len(sys.argv) < 5 or sys.argv[4] != "0"
CLIENTS, BODY_MB, DIM = 12, 3, 16


def fail(msg):
    print("limits.py: FAIL: " + msg)
    sys.exit(1)


def status_kb(field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def recv_response(s, timeout=30.0):
    """Reads one response: (status, headers dict, body bytes), or None on EOF."""
    s.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
    n = int(hdrs.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return status, hdrs, rest[:n]


def request(method, path, body=b"", timeout=30.0):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("%s %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\n\r\n" % (method, path, len(body))).encode() + body)
    r = recv_response(s, timeout)
    s.close()
    return r


r = request("PUT", "/collections/big", json.dumps({"vectors": {"size": DIM, "distance": "Cosine"}}).encode())
if not r or r[0] != 200:
    fail("create collection: %r" % (r,))

rng = random.Random(12)
points = []
size = 0
while size < BODY_MB << 20:
    p = '{"id":%d,"vector":[%s]}' % (len(points) + 1, ",".join("%.7f" % rng.uniform(-1, 1) for _ in range(DIM)))
    points.append(p)
    size += len(p) + 1
BODY = ('{"points":[' + ",".join(points) + "]}").encode()
NPOINTS = len(points)
base_rss = status_kb("VmRSS")

statuses, refused, landed, errors = [], [0] * CLIENTS, [0] * CLIENTS, []
lock = threading.Lock()
go = threading.Barrier(CLIENTS)


def upload(i):
    go.wait()
    for attempt in range(60):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(("PUT /collections/big/points?wait=true HTTP/1.1\r\nHost: t\r\n"
                   "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)).encode())
        r = None
        if select.select([s], [], [], 0.2)[0]:
            r = recv_response(s)  # answered at the headers: the budget is spent
        else:
            try:
                s.sendall(BODY)
            except OSError:
                pass  # refused meanwhile; the answer is waiting
            r = recv_response(s, 60)
        s.close()
        if r is None:
            with lock:
                errors.append("client %d: connection closed without an answer" % i)
            return
        with lock:
            statuses.append(r[0])
        if r[0] == 200:
            landed[i] = 1
            return
        if r[0] != 503 or r[1].get("retry-after") != "1":
            with lock:
                errors.append("client %d: status %d headers %r body %r" % (i, r[0], r[1], r[2][:200]))
            return
        refused[i] += 1
        time.sleep(float(r[1]["retry-after"]) * rng.uniform(0.5, 1.5))
    with lock:
        errors.append("client %d: still refused after 60 tries" % i)


searches = {"ok": 0, "bad": []}
stop = threading.Event()


def searcher():
    q = json.dumps({"vector": [0.1] * DIM, "limit": 3}).encode()
    while not stop.is_set():
        r = request("POST", "/collections/big/points/search", q)
        if r and r[0] == 200:
            searches["ok"] += 1
        else:
            searches["bad"].append(r and (r[0], r[2][:120]))
        time.sleep(0.05)


def trickle(head, body, gap):
    """Sends head at once, then body one byte per gap s; returns (status, seconds)."""
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.time()
    s.sendall(head)
    status = None
    for b in body:
        try:
            s.sendall(bytes([b]))
        except OSError:
            break
        if select.select([s], [], [], gap)[0]:
            break
    r = recv_response(s, 10)
    s.close()
    return (r and r[0]), time.time() - t0


t_search = threading.Thread(target=searcher)
t_search.start()
threads = [threading.Thread(target=upload, args=(i,)) for i in range(CLIENTS)]
t0 = time.time()
for t in threads:
    t.start()
slow_head = trickle(b"", b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n", 0.05)
slow_body = trickle(b"PUT /collections/big/points HTTP/1.1\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000\r\n\r\n", b" " * 1000, 0.05)
for t in threads:
    t.join()
upload_s = time.time() - t0
stop.set()
t_search.join()

if errors:
    fail("; ".join(errors[:5]))
if sum(landed) != CLIENTS:
    fail("%d of %d uploads landed" % (sum(landed), CLIENTS))
if sum(refused) == 0:
    fail("no upload was refused: the budget was never reached")
if set(statuses) - {200, 503}:
    fail("unexpected statuses %r" % sorted(set(statuses)))
if searches["bad"] or searches["ok"] == 0:
    fail("searches during the uploads: %d ok, failures %r" % (searches["ok"], searches["bad"][:5]))
# The header deadline is 1 s, the body's 1 s + 1 s per 64 KiB: both 408 in
# about a second, where the 30 s request timeout would never fire (no gap
# is longer than 50 ms).
if slow_head[0] != 408 or slow_head[1] > 3:
    fail("slow header client: %r" % (slow_head,))
if slow_body[0] != 408 or slow_body[1] > 3:
    fail("slow body client: %r" % (slow_body,))

r = request("POST", "/collections/big/points/count", b'{"exact":true}')
if not r or r[0] != 200 or json.loads(r[2])["result"]["count"] != NPOINTS:
    fail("count after the uploads: %r" % (r and r[2][:200],))
r = request("GET", "/metrics")
peak_mem = used_mem = None
for line in r[2].decode().splitlines():
    if line.startswith("vitrine_http_request_memory_peak_bytes "):
        peak_mem = float(line.split()[1])
    if line.startswith("vitrine_http_request_memory_bytes "):
        used_mem = float(line.split()[1])
# Large bodies are admitted within the budget; small requests (the
# searches, up to 64 KiB each) and one arena chunk or packed array may go
# past it before the parser notices.
if peak_mem is None or peak_mem > budget + (2 << 20):
    fail("request memory peak %r over the budget %d" % (peak_mem, budget))
hwm = status_kb("VmHWM")
grown = (hwm - base_rss) * 1024
# Unbudgeted, 12 bodies of 3 MiB with their DOMs and points take far more
# (measured with --max-request-memory 1 GiB: +183 MiB; with 32 MiB: +47).
bound = 3 * budget + (24 << 20)
if check_rss and grown > bound:
    fail("peak RSS grew %.1f MiB over the baseline, more than %.1f MiB" % (grown / 2**20, bound / 2**20))
print("limits.py: %d uploads of %.1f MiB landed in %.1f s after %d refusals (503 + Retry-After); "
      "%d searches meanwhile all 200; slow header 408 after %.2f s, slow body 408 after %.2f s; "
      "request memory peak %.1f MiB of %.1f; RSS peak +%.1f MiB over %.1f MiB at the start"
      % (CLIENTS, len(BODY) / 2**20, upload_s, sum(refused), searches["ok"], slow_head[1], slow_body[1],
         peak_mem / 2**20, budget / 2**20, grown / 2**20, base_rss / 1024))
