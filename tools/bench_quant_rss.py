#!/usr/bin/python3
"""bench_quant_rss.py - resident memory of a quantized collection in the
real server, against hnswlib holding the same data, same run.

  /usr/bin/python3 tools/bench_quant_rss.py --dir /tmp/vitrine_ann_clustered_100000
      [--vitrine ./vitrine] [--ef 64] [--oversampling 2] [--batch 500]
      [--skip-hnswlib]

1. Starts `vitrine serve` on a fresh data directory, creates a collection
   with 512-d cosine vectors, hnsw m=16 / ef_construct=200 and
   quantization_config {"scalar": {"type": "int8", "quantile": 0.99,
   "always_ram": true}}, and upserts DIR/base.fvecs over HTTP in batches.
2. Restarts the server (the graph loads from the store, as in production),
   runs every query of DIR/query.fvecs over HTTP with
   params.quantization {"rescore": true, "oversampling": X} and hnsw_ef,
   checks recall@10 against DIR/gt.ivecs, and reads the server's RssAnon
   (anonymous resident memory: the float32 originals are file-backed pages
   of the memory-mapped store, not anonymous memory) while it searches,
   and the open time the server logs ("points loaded in").
3. Builds hnswlib (M=16, ef_construction=200, space ip) from the same base
   in this process, drops the numpy copy of the base, searches the queries
   and reads this process's RssAnon (Python and numpy included, ~30 MB,
   printed as the baseline measured before loading anything); skipped
   with --skip-hnswlib (at 1M it takes most of an hour on 2 cores; compare
   with the index size tools/bench_ann.sh prints for hnswlib).

Prints `vitrine: RssAnon N MB ... recall@10 R` and `hnswlib: ...` and the
ratio. Needs python3-numpy and python3-hnswlib (Debian).
"""
import argparse
import gc
import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request

import numpy as np

from benchlib import cpu_seconds, read_vecs, start_server, upsert_bodies

K = 10


def rss_anon_mb(pid="self"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def call(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def recall(found, gt):
    return sum(len(set(f) & set(g[:K])) for f, g in zip(found, gt)) / (len(gt) * K)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--vitrine", default="./vitrine")
    ap.add_argument("--ef", type=int, default=64)
    ap.add_argument("--oversampling", type=float, default=2.0)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--skip-hnswlib", action="store_true")
    args = ap.parse_args()
    baseline = rss_anon_mb()
    base = read_vecs(os.path.join(args.dir, "base.fvecs"), np.float32)
    query = read_vecs(os.path.join(args.dir, "query.fvecs"), np.float32)
    gt = read_vecs(os.path.join(args.dir, "gt.ivecs"), np.int32)
    n, dim = base.shape
    print(f"cpu: {open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()}")
    print(f"data: {n} x {dim}, {len(query)} queries; python baseline RssAnon {baseline:.0f} MB")

    bodies = upsert_bodies(base, args.batch)
    if args.skip_hnswlib:
        del base
        gc.collect()

    work = tempfile.mkdtemp(prefix="vitrine_rss_")
    data, log = os.path.join(work, "data"), os.path.join(work, "serve.log")
    try:
        p, port, _ = start_server(args.vitrine, data, log)
        url = f"http://127.0.0.1:{port}"
        call(url, "PUT", "/collections/b", {
            "vectors": {"size": dim, "distance": "Cosine"},
            "hnsw_config": {"m": 16, "ef_construct": 200},
            "quantization_config": {"scalar": {"type": "int8", "quantile": 0.99, "always_ram": True}}})
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        t0 = time.perf_counter()
        c0 = cpu_seconds(p.pid)
        for b in bodies:
            conn.request("PUT", "/collections/b/points?wait=true", body=b,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            answer = r.read()
            if r.status != 200:
                sys.exit(f"upsert: {r.status} {answer[:300]!r}")
        up = time.perf_counter() - t0
        cpu = cpu_seconds(p.pid) - c0
        conn.close()
        del bodies
        for line in open(log):
            if "quantization calibrated" in line:
                print("vitrine log:", line.strip())
        print(f"vitrine: upserted {n} in {up:.0f} s ({n / up:.0f} vectors/s over HTTP, batches of "
              f"{args.batch}, wait=true; server CPU {cpu:.0f} s, {n / cpu:.0f} vectors per CPU-second)",
              flush=True)
        p.terminate()
        p.wait()
        t0 = time.perf_counter()
        p, port, _ = start_server(args.vitrine, data, log)
        url = f"http://127.0.0.1:{port}"
        opened = re.findall(r"points loaded in ([0-9.]+) s", open(log).read())
        print(f"vitrine: restarted in {time.perf_counter() - t0:.1f} s (store open: "
              f"{opened[-1] if opened else '?'} s)", flush=True)
        params = {"hnsw_ef": args.ef, "quantization": {"rescore": True, "oversampling": args.oversampling}}
        found, peak = [], 0.0
        t0 = time.perf_counter()
        for i, q in enumerate(query):
            r = call(url, "POST", "/collections/b/points/search",
                     {"vector": q.tolist(), "limit": K, "params": params})
            found.append([x["id"] for x in r["result"]])
            if i % 100 == 0:
                peak = max(peak, rss_anon_mb(p.pid))
        qs = time.perf_counter() - t0
        peak = max(peak, rss_anon_mb(p.pid))
        info = call(url, "GET", "/collections/b")["result"]
        p.terminate()
        p.wait()
        disk = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(data) for f in fs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    v_rss = peak
    print(f"vitrine: RssAnon {v_rss:.0f} MB while searching ({v_rss * 1048576 / n:.0f} bytes/vector), "
          f"recall@10 {recall(found, gt):.4f} at hnsw_ef={args.ef} oversampling={args.oversampling}, "
          f"{len(query) / qs:.0f} queries/s over HTTP; data dir {disk / 1e6:.0f} MB; "
          f"quantization_config {json.dumps(info['config']['quantization_config'])}", flush=True)
    if args.skip_hnswlib:
        return

    import hnswlib
    index = hnswlib.Index(space="ip", dim=dim)
    index.init_index(max_elements=n, M=16, ef_construction=200, random_seed=100)
    index.add_items(base, np.arange(n), num_threads=2)
    del base
    gc.collect()
    index.set_ef(args.ef)
    labels = [index.knn_query(q[None, :], k=K, num_threads=1)[0][0] for q in query]
    h_rss = rss_anon_mb()
    print(f"hnswlib: RssAnon {h_rss:.0f} MB while searching ({h_rss * 1048576 / n:.0f} bytes/vector, "
          f"python baseline {baseline:.0f} MB included), recall@10 {recall(labels, gt):.4f} at ef={args.ef}")
    print(f"ratio: vitrine / hnswlib RssAnon {v_rss / h_rss:.2f}x")


if __name__ == "__main__":
    main()
