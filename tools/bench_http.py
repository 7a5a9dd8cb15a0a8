#!/usr/bin/python3
"""bench_http.py - the Python half of tools/bench_http.sh.

Talks to a running `vitrine serve` the way Qdrant's official clients do:
JSON bodies with Content-Type: application/json over persistent HTTP/1.1
connections (http.client, one connection per thread). Every request body
is built before the clock starts, so the client's own JSON encoding is not
measured.

  upload  --port P --base B.fvecs --runs B:U:C:N,... [--keep C,...]
          [--server-pid PID] [--digits D]
      Per run: creates collection C (Cosine, hnsw m=16 ef_construct=200),
      upserts the first N base vectors (id = row number) with
      `PUT /collections/C/points?wait=true` in batches of B from U threads
      (each its own connection), checks points_count, drops C unless kept,
      and prints one line:
        upload batch=B uploaders=U points=N wall=S pts_per_s=R server_cpu=S
          req_p50_ms=X req_p99_ms=Y body_mb=M collection=C
  bodies  --query Q.fvecs --ef EF --out FILE [--digits D]
      Writes one search body per line (the wrk script cycles through them).
  recall  --port P --query Q.fvecs --gt G.ivecs --ef EF --collection C
          [--server-pid PID]
      One pass over the queries on one connection, then one more with 100
      searches per /points/search/batch request; prints
        recall ef=EF recall@10=R queries=Q seq_qps=S server_cpu=S
          batch_qps=S batch_cpu=S

  cputime -- COMMAND...
      Runs COMMAND and prints its output lines, each with ` cpu=S` appended
      (the CPU seconds COMMAND had used when it printed the line).

Floats are written with D significant digits (default 9: every float32
round-trips; 17 is what a Python client sends for numpy float32 values
turned into Python floats by .tolist()).
Needs python3-numpy (Debian).
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time

import numpy as np

K = 10
BATCH_SEARCHES = 100


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size == 0:
        sys.exit(f"bench_http: {path} is empty")
    d = int(raw[0])
    rows = raw.reshape(-1, d + 1)
    return np.ascontiguousarray(rows[:, 1:]).view(dtype)


def vector_text(row, digits):
    fmt = ",".join(["%%.%dg" % digits] * len(row))
    return "[" + (fmt % tuple(row.tolist())) + "]"


def server_cpu(pid):
    """Seconds of CPU (user + system, all threads) process pid used so far."""
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request(conn, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        sys.exit(f"bench_http: {method} {path} answered {resp.status}: {data[:300]!r}")
    return json.loads(data)


def upload_one(a, bodies, n, batch, uploaders, name):
    """Creates collection name and upserts the bodies into it from uploaders threads."""
    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=600)
    cfg = {"vectors": {"size": a.dim, "distance": "Cosine"},
           "hnsw_config": {"m": 16, "ef_construct": 200}}
    request(conn, "PUT", f"/collections/{name}", json.dumps(cfg))

    path = f"/collections/{name}/points?wait=true"
    lock = threading.Lock()
    next_body = [0]
    lat = []
    errors = []

    def worker():
        c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=600)
        c.connect()
        mine = []
        try:
            while True:
                with lock:
                    i = next_body[0]
                    next_body[0] += 1
                if i >= len(bodies):
                    break
                t = time.perf_counter()
                c.request("PUT", path, body=bodies[i], headers={"Content-Type": "application/json"})
                r = c.getresponse()
                data = r.read()
                mine.append(time.perf_counter() - t)
                if r.status != 200 or json.loads(data)["result"]["status"] != "completed":
                    raise RuntimeError(f"upsert answered {r.status}: {data[:300]!r}")
        except Exception as e:  # noqa: BLE001 - reported and fatal below
            errors.append(e)
        finally:
            c.close()
            with lock:
                lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(uploaders)]
    cpu0 = server_cpu(a.server_pid)
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu = server_cpu(a.server_pid) - cpu0
    if errors:
        sys.exit(f"bench_http: {errors[0]}")
    # A fresh connection: the first one sat idle through the upload and the
    # server may have closed it (idle timeout).
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=600)
    info = request(conn, "GET", f"/collections/{name}")["result"]
    if info["points_count"] != n:
        sys.exit(f"bench_http: {name} holds {info['points_count']} points, not {n}")
    if name not in a.keep.split(","):
        request(conn, "DELETE", f"/collections/{name}")
    lat.sort()
    print(f"upload batch={batch} uploaders={uploaders} points={n} wall={wall:.2f} "
          f"pts_per_s={n / wall:.0f} server_cpu={cpu:.2f} "
          f"req_p50_ms={lat[len(lat) // 2] * 1e3:.1f} "
          f"req_p99_ms={lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3:.1f} "
          f"body_mb={sum(map(len, bodies)) / 1e6:.1f} collection={name}", flush=True)


def format_rows(args):
    """JSON texts of rows lo..hi of an fvecs file (a worker process reads only those)."""
    path, lo, hi, digits = args
    d = int(np.fromfile(path, dtype=np.int32, count=1)[0])
    raw = np.fromfile(path, dtype=np.int32, count=(hi - lo) * (d + 1), offset=lo * (d + 1) * 4)
    rows = np.ascontiguousarray(raw.reshape(-1, d + 1)[:, 1:]).view(np.float32)
    return [vector_text(row, digits) for row in rows]


def vector_texts(path, n, digits):
    """The JSON texts of all n vectors of an fvecs file, one per line of a
    cache file next to it (PATH without .fvecs + .<digits>g.txt), written
    on first use on every core: formatting 51M floats costs a core-minute
    of Python, which each run need not pay again."""
    cache = os.path.splitext(path)[0] + f".{digits}g.txt"
    if not (os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(path)):
        import multiprocessing
        t = time.perf_counter()
        step = 5000
        with multiprocessing.Pool(os.cpu_count()) as pool:
            parts = pool.map(format_rows, [(path, lo, min(n, lo + step), digits) for lo in range(0, n, step)])
        with open(cache + ".tmp", "w") as f:
            for part in parts:
                f.write("\n".join(part) + "\n")
        os.replace(cache + ".tmp", cache)
        print(f"bench_http: {n} vectors formatted in {time.perf_counter() - t:.1f} s -> {cache}", file=sys.stderr)
    with open(cache) as f:
        texts = f.read().split("\n")[:n]
    if len(texts) != n:
        sys.exit(f"bench_http: {cache} holds {len(texts)} vectors, not {n}; delete it")
    return texts


def cmd_upload(a):
    base = read_vecs(a.base, np.float32)
    a.dim = int(base.shape[1])
    runs = [r.split(":") for r in a.runs.split(",")]
    n = max(int(r[3]) for r in runs)
    if n > len(base):
        sys.exit(f"bench_http: {a.base} holds {len(base)} vectors, not {n}")
    texts = vector_texts(a.base, len(base), a.digits)[:n]
    bodies, key = None, None
    for batch, uploaders, name, count in runs:
        batch, uploaders, count = int(batch), int(uploaders), int(count)
        if (batch, count) != key:
            bodies = None
            bodies = [('{"points":[' + ",".join('{"id":%d,"vector":%s}' % (i, texts[i])
                                                 for i in range(lo, min(count, lo + batch))) + "]}").encode()
                      for lo in range(0, count, batch)]
            key = (batch, count)
        upload_one(a, bodies, count, batch, uploaders, name)


def search_body(vec_text, ef):
    return '{"vector":%s,"limit":%d,"params":{"hnsw_ef":%d}}' % (vec_text, K, ef)


def cmd_bodies(a):
    query = read_vecs(a.query, np.float32)
    with open(a.out, "w") as f:
        for row in query:
            f.write(search_body(vector_text(row, a.digits), a.ef) + "\n")


def cmd_recall(a):
    query = read_vecs(a.query, np.float32)
    gt = read_vecs(a.gt, np.int32)
    bodies = [search_body(vector_text(row, a.digits), a.ef).encode() for row in query]
    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=600)
    path = f"/collections/{a.collection}/points/search"
    hits = 0
    cpu0 = server_cpu(a.server_pid)
    t0 = time.perf_counter()
    for qi, body in enumerate(bodies):
        res = request(conn, "POST", path, body)["result"]
        got = {p["id"] for p in res}
        hits += len(got & set(gt[qi, :K].tolist()))
    wall = time.perf_counter() - t0
    cpu = server_cpu(a.server_pid) - cpu0

    # The same queries again, BATCH_SEARCHES per /points/search/batch
    # request: the server runs a batch's searches one after another on one
    # thread, so this is the engine's own rate with the per-request cost
    # (HTTP, thread hand-offs) spread over many queries, measured on the
    # same server in the same minute as the single searches. Its answers
    # must equal the single searches' (same ef, deterministic search).
    batch_hits = 0
    bcpu0 = server_cpu(a.server_pid)
    t0 = time.perf_counter()
    for lo in range(0, len(bodies), BATCH_SEARCHES):
        chunk = bodies[lo:lo + BATCH_SEARCHES]
        res = request(conn, "POST", path + "/batch", b'{"searches":[' + b",".join(chunk) + b"]}")["result"]
        if len(res) != len(chunk):
            sys.exit(f"bench_http: a batch of {len(chunk)} searches answered {len(res)} lists")
        for qi, points in enumerate(res, lo):
            batch_hits += len({p["id"] for p in points} & set(gt[qi, :K].tolist()))
    bwall = time.perf_counter() - t0
    bcpu = server_cpu(a.server_pid) - bcpu0
    if batch_hits != hits:
        print(f"bench_http: search/batch found {batch_hits} true neighbours, single searches {hits}", file=sys.stderr)
    print(f"recall ef={a.ef} recall@{K}={hits / (K * len(bodies)):.4f} queries={len(bodies)} "
          f"seq_qps={len(bodies) / wall:.0f} server_cpu={cpu:.2f} "
          f"batch_qps={len(bodies) / bwall:.0f} batch_cpu={bcpu:.2f}", flush=True)


def cmd_cputime(a):
    """Runs the command and copies its output lines, each followed by
    ` cpu=S`: the CPU seconds the command had used when the line arrived.
    The child is reaped only at the end, so its /proc entry (a zombie's
    keeps its times) is there for the last line too."""
    import subprocess
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        print(f"{line.rstrip()} cpu={server_cpu(proc.pid):.2f}", flush=True)
    sys.exit(proc.wait())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("upload")
    up.add_argument("--port", type=int, required=True)
    up.add_argument("--base", required=True)
    up.add_argument("--runs", required=True, help="BATCH:UPLOADERS:COLLECTION:POINTS,...")
    up.add_argument("--keep", default="", help="collections to keep (others are dropped after their run)")
    up.add_argument("--server-pid", type=int, default=0)
    up.add_argument("--digits", type=int, default=9)
    bo = sub.add_parser("bodies")
    bo.add_argument("--query", required=True)
    bo.add_argument("--ef", type=int, required=True)
    bo.add_argument("--out", required=True)
    bo.add_argument("--digits", type=int, default=9)
    re_ = sub.add_parser("recall")
    re_.add_argument("--port", type=int, required=True)
    re_.add_argument("--query", required=True)
    re_.add_argument("--gt", required=True)
    re_.add_argument("--ef", type=int, required=True)
    re_.add_argument("--collection", required=True)
    re_.add_argument("--server-pid", type=int, default=0)
    re_.add_argument("--digits", type=int, default=9)
    ct = sub.add_parser("cputime")
    ct.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    {"upload": cmd_upload, "bodies": cmd_bodies, "recall": cmd_recall, "cputime": cmd_cputime}[a.cmd](a)


if __name__ == "__main__":
    main()
