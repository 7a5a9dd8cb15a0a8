#!/usr/bin/env python3
"""crash_http.py - durability through HTTP under SIGKILL (issue 12).

Usage: crash_http.py VITRINE_BIN WORKDIR [ROUNDS] [SECONDS]

Several client threads write to one collection of `vitrine serve`, each
with its own ids (id % CLIENTS == client), one request in flight at a
time: single-point upserts, batch upserts (2 to 8 points in one request),
payload merges (POST .../points/payload) and deletes, with wait=true and
wait=false at random. The server is killed with SIGKILL at a random moment
of every round, then started again on the same directory and checked
against a model of what the clients were told:

  - every acknowledged write is there with its exact vector (float32) and
    payload, every acknowledged delete is gone, nothing else exists;
  - a request in flight at the kill is applied completely or not at all
    (a batch upsert is one request, so no partial batch may be visible);
  - exact searches (params.exact=true) equal a brute-force oracle over the
    model, approximate ones return only live points with their true scores,
    and count agrees.

wait=false is acknowledged once the write's group commit is durable
(src/api/qdrant.c, the writer), so it counts as acknowledged here like
wait=true. A SIGKILL keeps the page cache, so this proves the order
"commit, then answer" and the recovery of what was committed, not the
disk's fsync.

With CRASH_QUANT=1 the collection is int8-quantized (Qdrant's
quantization_config scalar) and seeded first with SEEDED untouched points
(vitrine calibrates a quantized graph from its first 1,000 points), so the
rounds run on a calibrated quantized graph; the checks are the same, plus
a search on the codes alone (rescore false) that must return live points.
With CRASH_M0=1 the collection is created with hnsw_config.m 0 (Qdrant's
bulk-upload setting: no graph, every search exact), so the server stores
its nodes bare and the replay after each kill inserts them bare; the
checks are the same.
Prints the rounds and the writes verified; exit 0 when every
check passed, 1 otherwise.
"""
import http.client
import json
import os
import random
import re
import signal
import struct
import subprocess
import sys
import threading
import time

CLIENTS = 4
IDS = 240          # id space, split among the clients
DIM = 6
COLL = "crash"
QUANT = os.environ.get("CRASH_QUANT") == "1"
M0 = os.environ.get("CRASH_M0") == "1"
SEEDED = 1000 if QUANT else 0   # ids IDS .. IDS + SEEDED - 1, never written again
TOP = 10


def f32(x):
    """x rounded to float32, as the server stores it."""
    return struct.unpack("f", struct.pack("f", x))[0]


def rand_vector(rng):
    # Multiples of 1/1024: exact in float32, so the stored vector can be
    # compared exactly.
    return [rng.randint(-4096, 4096) / 1024.0 for _ in range(DIM)]


class Failure(Exception):
    pass


class Server:
    def __init__(self, binary, data, log_path):
        self.binary, self.data, self.log_path = binary, data, log_path
        self.proc = None
        self.port = None

    def start(self):
        log = open(self.log_path, "ab")
        log.write(b"--- start\n")
        log.flush()
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--port", "0", "--data", self.data, "--weights", "/nonexistent-weights"],
            stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        deadline = time.time() + 30
        pat = re.compile(rb"listening on http://127\.0\.0\.1:(\d+)")
        while time.time() < deadline:
            with open(self.log_path, "rb") as f:
                text = f.read()
            tail = text[text.rfind(b"--- start"):]
            m = pat.search(tail)
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                raise Failure("server exited at start (status %s)" % self.proc.returncode)
            time.sleep(0.02)
        raise Failure("server did not listen within 30 s")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()
        self.proc = None


def request(conn, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    raw = r.read()
    return r.status, raw


def call(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        st, raw = request(conn, method, path, body)
    finally:
        conn.close()
    if st != 200:
        raise Failure("%s %s: HTTP %d %s" % (method, path, st, raw[:300]))
    return json.loads(raw)["result"]


class Model:
    """What the clients were told: id -> (vector, payload)."""

    def __init__(self):
        self.points = {}
        self.pending = []       # ops in flight at the kill: (client, op)
        self.writes_acked = 0   # acknowledged writes (requests)
        self.points_acked = 0   # points those writes touched
        self.nowait_acked = 0   # of the writes, those sent with wait=false


def op_after(model_points, op):
    """The state of op's ids once op is applied on top of model_points."""
    out = {}
    kind = op["kind"]
    for pid in op["ids"]:
        cur = model_points.get(pid)
        if kind == "upsert":
            p = op["points"][pid]
            out[pid] = (p["vector"], p["payload"])
        elif kind == "payload":
            if cur is None:
                out[pid] = None
            else:
                pl = dict(cur[1])
                pl.update(op["payload"])
                out[pid] = (cur[0], pl)
        elif kind == "delete":
            out[pid] = None
    return out


def same_point(got, want):
    if got is None or want is None:
        return got is None and want is None
    gv, gp = got
    wv, wp = want
    return len(gv) == len(wv) and all(f32(a) == f32(b) for a, b in zip(gv, wv)) and gp == wp


def client_run(idx, port, model, lock, stop, rng, acked_ops, errors):
    """One client: sequential writes on its own ids until the server dies
    or stop is set. Acknowledged ops go to the model (under lock); the op
    in flight when the connection breaks becomes pending."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    mine = [i for i in range(IDS) if i % CLIENTS == idx]
    seq = 0
    while not stop.is_set():
        seq += 1
        tag = "c%d-%d-%d" % (idx, seq, rng.randrange(1 << 30))
        with lock:
            live = [i for i in mine if i in model.points]
        r = rng.random()
        wait = "true" if rng.random() < 0.5 else "false"
        if r < 0.35 or not live:
            kind = "upsert"
            ids = [rng.choice(mine)]
        elif r < 0.65:
            kind = "upsert"
            ids = rng.sample(mine, rng.randint(2, 8))
        elif r < 0.85:
            kind = "payload"
            ids = rng.sample(live, min(len(live), rng.randint(1, 3)))
        else:
            kind = "delete"
            ids = rng.sample(live, min(len(live), rng.randint(1, 4)))
        op = {"kind": kind, "ids": ids}
        if kind == "upsert":
            op["points"] = {
                i: {"vector": rand_vector(rng), "payload": {"tag": tag, "n": seq, "text": "p %s %d" % (tag, i)}}
                for i in ids
            }
            path, method = "/collections/%s/points?wait=%s" % (COLL, wait), "PUT"
            body = {"points": [{"id": i, "vector": op["points"][i]["vector"], "payload": op["points"][i]["payload"]}
                               for i in ids]}
        elif kind == "payload":
            op["payload"] = {"set": tag}
            path, method = "/collections/%s/points/payload?wait=%s" % (COLL, wait), "POST"
            body = {"points": ids, "payload": op["payload"]}
        else:
            path, method = "/collections/%s/points/delete?wait=%s" % (COLL, wait), "POST"
            body = {"points": ids}
        try:
            st, raw = request(conn, method, path, body)
        except (OSError, http.client.HTTPException):
            with lock:
                model.pending.append((idx, op))
            return
        if st != 200:
            # Not acknowledged, perhaps applied (503 under load): pending,
            # and this client stops for the round.
            with lock:
                model.pending.append((idx, op))
                if st != 503:
                    errors.append("%s %s: HTTP %d %s" % (method, path, st, raw[:200]))
            return
        res = json.loads(raw)["result"]
        want_status = "completed" if wait == "true" else "acknowledged"
        with lock:
            if res.get("status") != want_status:
                errors.append("%s: status %r, want %r" % (path, res.get("status"), want_status))
            for pid, state in op_after(model.points, op).items():
                if state is None:
                    model.points.pop(pid, None)
                else:
                    model.points[pid] = state
            model.writes_acked += 1
            model.points_acked += len(ids)
            model.nowait_acked += wait == "false"
            acked_ops[0] += 1


def fetch_all(port):
    res = call(port, "POST", "/collections/%s/points/scroll" % COLL,
               {"limit": IDS + SEEDED + 10, "with_vector": True, "with_payload": True})
    if res.get("next_page_offset") is not None:
        raise Failure("scroll did not return every point in one page")
    out = {}
    for p in res["points"]:
        out[int(p["id"])] = (p["vector"], p["payload"])
    return out


def resolve_pending(model, stored):
    """Each op in flight at the kill: applied completely or not at all."""
    # Ops of different clients touch different ids, so each is judged
    # against the model alone.
    for idx, op in model.pending:
        after = op_after(model.points, op)
        before = {pid: model.points.get(pid) for pid in op["ids"]}
        applied = all(same_point(stored.get(pid), after[pid]) for pid in op["ids"])
        not_applied = all(same_point(stored.get(pid), before[pid]) for pid in op["ids"])
        if not applied and not not_applied:
            raise Failure("client %d: a %s of %d points in flight at the kill is partially applied: %s"
                          % (idx, op["kind"], len(op["ids"]), sorted(op["ids"])))
        if applied and not not_applied:
            for pid, state in after.items():
                if state is None:
                    model.points.pop(pid, None)
                else:
                    model.points[pid] = state
    model.pending = []


def verify(port, model, rng):
    stored = fetch_all(port)
    resolve_pending(model, stored)
    missing = [i for i in model.points if i not in stored]
    extra = [i for i in stored if i not in model.points]
    if missing:
        raise Failure("acknowledged points missing after restart: %s" % sorted(missing)[:20])
    if extra:
        raise Failure("points present that were deleted or never acknowledged: %s" % sorted(extra)[:20])
    for pid, want in model.points.items():
        if not same_point(stored[pid], want):
            raise Failure("point %d differs: stored %r, acknowledged %r" % (pid, stored[pid], want))
    cnt = call(port, "POST", "/collections/%s/points/count" % COLL, {"exact": True})["count"]
    if cnt != len(model.points):
        raise Failure("count %d, model %d" % (cnt, len(model.points)))
    # Searches against the brute-force oracle (Dot).
    for _ in range(4):
        q = rand_vector(rng)
        scores = sorted(((sum(f32(a) * b for a, b in zip(v, q)), pid) for pid, (v, _) in model.points.items()),
                        reverse=True)
        want = scores[:TOP]
        exact = call(port, "POST", "/collections/%s/points/search" % COLL,
                     {"vector": q, "limit": TOP, "params": {"exact": True}})
        if len(exact) != len(want):
            raise Failure("exact search: %d hits, oracle %d" % (len(exact), len(want)))
        oracle = {pid: s for s, pid in scores}
        for h, (ws, _) in zip(exact, want):
            pid = int(h["id"])
            # Same scores in the same order; an id may differ from the
            # oracle's only within a tie, so each hit's own true score must
            # equal the oracle's score at its rank.
            if pid not in oracle or abs(oracle[pid] - ws) > 1e-3 * max(1.0, abs(ws)) or \
                    abs(h["score"] - ws) > 1e-3 * max(1.0, abs(ws)):
                raise Failure("exact search differs from the oracle: got %r, want %r" % (exact, want))
        if len({int(h["id"]) for h in exact}) != len(exact):
            raise Failure("exact search repeated an id: %r" % exact)
        approx = call(port, "POST", "/collections/%s/points/search" % COLL, {"vector": q, "limit": TOP})
        if QUANT:
            codes = call(port, "POST", "/collections/%s/points/search" % COLL,
                         {"vector": q, "limit": TOP, "params": {"quantization": {"rescore": False}}})
            if len(codes) != min(TOP, len(model.points)) or any(int(h["id"]) not in oracle for h in codes):
                raise Failure("search on the int8 codes returned %r" % codes)
        for h in approx:
            pid = int(h["id"])
            if pid not in oracle or abs(oracle[pid] - h["score"]) > 1e-3 * max(1.0, abs(h["score"])):
                raise Failure("HNSW search returned %d with score %r (not a live point with that score)"
                              % (pid, h["score"]))
    return len(model.points)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    binary, work = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    budget = float(sys.argv[4]) if len(sys.argv) > 4 else 600.0
    seed = int(os.environ.get("CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    data = os.path.join(work, "data")
    log_path = os.path.join(work, "server.log")
    srv = Server(binary, data, log_path)
    model = Model()
    t0 = time.time()
    verified_points = 0
    acked_ops = [0]
    try:
        srv.start()
        body = {"vectors": {"size": DIM, "distance": "Dot"}}
        if QUANT:
            body["quantization_config"] = {"scalar": {"type": "int8", "always_ram": True}}
        if M0:
            body["hnsw_config"] = {"m": 0}
        call(srv.port, "PUT", "/collections/%s" % COLL, body)
        seed_rng = random.Random(seed + 1)
        for start in range(IDS, IDS + SEEDED, 250):
            pts = [{"id": pid, "vector": rand_vector(seed_rng), "payload": {"seeded": pid}}
                   for pid in range(start, min(start + 250, IDS + SEEDED))]
            call(srv.port, "PUT", "/collections/%s/points?wait=true" % COLL, {"points": pts})
            for p in pts:
                model.points[p["id"]] = (p["vector"], p["payload"])
        if QUANT:
            # The graph is quantized now, not only configured to be.
            with open(log_path, "rb") as f:
                if b"int8 quantization calibrated" not in f.read():
                    raise Failure("no quantization calibration in the server log after %d points" % SEEDED)
            info = call(srv.port, "GET", "/collections/%s" % COLL)
            if "scalar" not in json.dumps(info["config"].get("quantization_config")):
                raise Failure("the collection does not report its quantization: %r" % info["config"])
        done = 0
        while done < rounds:
            if done and time.time() - t0 > budget:
                break
            # Writers, killed at a random moment.
            lock, stop, errors = threading.Lock(), threading.Event(), []
            threads = [threading.Thread(target=client_run,
                                        args=(c, srv.port, model, lock, stop, random.Random(rng.random()),
                                              acked_ops, errors))
                       for c in range(CLIENTS)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.05, 0.6))
            srv.kill()
            stop.set()
            for t in threads:
                t.join(60)
            if errors:
                raise Failure("client errors: %s" % errors[:5])
            # One round in eight is also killed while starting up.
            if rng.random() < 0.125:
                srv.start()
                time.sleep(rng.uniform(0, 0.05))
                srv.kill()
            srv.start()
            verified_points += verify(srv.port, model, rng)
            done += 1
        srv.kill()
    except Failure as e:
        srv.kill()
        print("crash_http.py: FAIL (seed %d, after %d acknowledged writes): %s" % (seed, model.writes_acked, e))
        return 1
    print("crash_http.py: ok%s: %d rounds in %.1f s (seed %d): %d acknowledged writes (%d with wait=false; "
          "%d point updates) checked, %d points verified after restarts, %d in the final state"
          % ((" (int8-quantized, %d seeded points)" % SEEDED if QUANT else "")
             + (" (hnsw m 0: bare graph)" if M0 else ""), done, time.time() - t0, seed, model.writes_acked, model.nowait_acked, model.points_acked,
             verified_points, len(model.points)))
    if done < rounds:
        print("crash_http.py: FAIL: only %d of %d rounds within %.0f s" % (done, rounds, budget))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
