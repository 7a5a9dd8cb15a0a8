#!/usr/bin/python3
"""bench_ingest.py - bulk ingest through the HTTP API, against hnswlib's
build on the same vectors, in the same run.

  /usr/bin/python3 tools/bench_ingest.py --vitrine ./vitrine --base B.fvecs
      [--n N] [--batch 1000] [--m 16] [--ef-construction 200] [--threads 2]
      [--patch-m M] [--quantization int8] [--data DIR] [--skip-hnswlib]

Starts `vitrine serve` on a fresh data directory (no model), creates
collection `c` (Cosine, the given m / ef_construct), then PUTs the first N
vectors of B.fvecs to /collections/c/points?wait=true in batches, one
request at a time on one keep-alive connection (the JSON bodies are encoded
before the clock starts, so the client's Python does not count). Prints

  vitrine ingest: N vectors in T s: R vectors/s (batches of B, wait=true)
  vitrine PATCH hnsw_config.m 0 -> M: answered in A s, green after T s (the graph built
  from the stored vectors, in the background from 5000 points on)
  vitrine data.mdb: X bytes; float32 vectors: Y bytes (X/Y); dense: D (D/Y)
  vitrine open: S s (restart, warm page cache)
  hnswlib build (T threads): R vectors/s; CPU C s: V vectors per CPU-second
  ratio vitrine ingest / hnswlib build: Q wall-clock, P per CPU-second

(vitrine's CPU time is the server's, all of it: HTTP, JSON, LMDB and the
graph; on a shared machine the wall-clock ratio moves with the load, and
--hnswlib-twice brackets vitrine's run with two hnswlib builds)

With --m 0 the collection is created as Qdrant's bulk-upload recipe has it
(hnsw_config.m 0: no graph while uploading, exact searches) and, after the
ingest, one PATCH sets m to --patch-m (default 16), which builds the graph:
its time is printed on the PATCH line, and hnswlib builds with that m.

then stops the server. hnswlib: Debian's python3-hnswlib, space 'ip' (the
vectors are unit: cosine), add_items with --threads threads.
"""
import argparse
import http.client
import json
import os
import re
import resource
import shutil
import signal
import sys
import tempfile
import time

import numpy as np

from benchlib import cpu_seconds, read_vecs, start_server, upsert_bodies


def hnswlib_build(base, args):
    """hnswlib's build of base: (vectors/s wall-clock, vectors per CPU-second)."""
    import hnswlib
    n, dim = base.shape
    index = hnswlib.Index(space="ip", dim=int(dim))
    index.init_index(max_elements=n, M=args.m, ef_construction=args.ef_construction,
                     random_seed=100)
    t0 = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    index.add_items(base, np.arange(n), num_threads=args.threads)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    rate = n / (time.perf_counter() - t0)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(f"hnswlib build ({args.threads} threads): {rate:.0f} vectors/s; CPU {cpu:.1f} s: "
          f"{n / cpu:.0f} vectors per CPU-second", flush=True)
    return rate, n / cpu


def request(conn, method, path, body=None):
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit(f"{method} {path}: {r.status} {data[:300]!r}")
    return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vitrine", default="./vitrine")
    ap.add_argument("--base", required=True)
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--patch-m", type=int, default=16,
                    help="with --m 0: the m the PATCH after the ingest sets (builds the graph)")
    ap.add_argument("--quantization", choices=["int8"], default=None,
                    help="create the collection with scalar int8 quantization (quantile 0.99)")
    ap.add_argument("--data", default="")
    ap.add_argument("--skip-hnswlib", action="store_true")
    ap.add_argument("--hnswlib-twice", action="store_true",
                    help="build with hnswlib before vitrine's ingest too (the load of a shared "
                         "machine changes: the two hnswlib runs bracket vitrine's)")
    args = ap.parse_args()
    bulk = args.m == 0
    if bulk:
        args.m = args.patch_m  # what hnswlib builds with, and the graph after the PATCH
    base = read_vecs(args.base, np.float32, args.n if args.n else None)
    n, dim = base.shape

    bodies = upsert_bodies(base, args.batch)

    before = hnswlib_build(base, args) if args.hnswlib_twice and not args.skip_hnswlib else None

    data = args.data or tempfile.mkdtemp(prefix="vitrine_ingest_")
    shutil.rmtree(data, ignore_errors=True)
    log = data.rstrip("/") + ".log"
    open(log, "w").close()
    srv, port, _ = start_server(args.vitrine, data, log)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        create = {"vectors": {"size": int(dim), "distance": "Cosine"},
                  "hnsw_config": {"m": 0 if bulk else args.m, "ef_construct": args.ef_construction}}
        if args.quantization:
            create["quantization_config"] = {
                "scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}}
        request(conn, "PUT", "/collections/c", json.dumps(create))
        t0 = time.perf_counter()
        c0 = cpu_seconds(srv.pid)
        for b in bodies:
            request(conn, "PUT", "/collections/c/points?wait=true", b)
        dt = time.perf_counter() - t0
        cpu = cpu_seconds(srv.pid) - c0
        rate = n / dt
        print(f"vitrine ingest: {n} vectors in {dt:.1f} s: {rate:.0f} vectors/s "
              f"(batches of {args.batch}, wait=true); server CPU {cpu:.1f} s: "
              f"{n / cpu:.0f} vectors per CPU-second", flush=True)
        if bulk:
            t1 = time.perf_counter()
            c1 = cpu_seconds(srv.pid)
            request(conn, "PATCH", "/collections/c",
                    json.dumps({"hnsw_config": {"m": args.patch_m}}))
            answered = time.perf_counter() - t1
            # A large collection's graph is built in the background: the
            # collection reports status yellow until it is in (green).
            while json.loads(request(conn, "GET", "/collections/c"))["result"]["status"] != "green":
                time.sleep(0.05)
            dp = time.perf_counter() - t1
            print(f"vitrine PATCH hnsw_config.m 0 -> {args.patch_m}: answered in {answered:.3f} s, "
                  f"green after {dp:.1f} s, server CPU {cpu_seconds(srv.pid) - c1:.1f} s (the graph "
                  f"built from the stored vectors); ingest + PATCH: {n / (dt + dp):.0f} vectors/s",
                  flush=True)
        conn.close()
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait()
    size = os.path.getsize(os.path.join(data, "data.mdb"))
    floats = n * dim * 4
    print(f"vitrine data.mdb: {size} bytes; float32 vectors: {floats} bytes "
          f"({size / floats:.2f}x)", flush=True)
    srv, port, t_start = start_server(args.vitrine, data, log)
    srv.send_signal(signal.SIGTERM)
    srv.wait()
    with open(log) as f:
        opened = re.findall(r"points loaded in ([0-9.]+) s", f.read())
    print(f"vitrine open: {opened[-1] if opened else '?'} s to load {n} points "
          f"(restart, warm page cache; serve ready after {t_start:.2f} s)", flush=True)

    if not args.skip_hnswlib:
        after = hnswlib_build(base, args)
        runs = [r for r in (before, after) if r]
        hrate = sum(r[0] for r in runs) / len(runs)
        hcpu = sum(r[1] for r in runs) / len(runs)
        print(f"ratio vitrine ingest / hnswlib build: {rate / hrate:.2f} wall-clock, "
              f"{(n / cpu) / hcpu:.2f} per CPU-second"
              + (" (hnswlib: the mean of its runs before and after)" if before else ""),
              flush=True)
    if not args.data:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
