#!/usr/bin/python3
"""bench_hnswlib.py - the reference for `vitrine bench ann`: hnswlib on the
same fvecs / ivecs files, printing the same lines.

  /usr/bin/python3 tools/bench_hnswlib.py --base B.fvecs --query Q.fvecs
      --gt G.ivecs [--m 16] [--ef-construction 200] [--ef 10,20,40,64,100]
      [--threads T]

prints `build: N vectors/s`, then per ef `ef=40 recall@10=0.9922 qps=3382`
(queries one at a time on one thread, as vitrine measures), then
`memory: 2260 bytes/vector (...)` (hnswlib's own size formula for the
level-0 block, upper links and label map, from its saved index size).
Needs Debian's python3-hnswlib and python3-numpy. Space 'ip' on unit
vectors is cosine (distance 1 - dot), the same ranking as vitrine's.
"""
import argparse
import os
import sys
import tempfile
import time

import hnswlib
import numpy as np

K = 10


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    dim = raw[0]
    rows = raw.reshape(-1, dim + 1)
    return np.ascontiguousarray(rows[:, 1:]).view(dtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--query", required=True)
    ap.add_argument("--gt", required=True)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--ef", default="10,20,40,64,100")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    base = read_vecs(args.base, np.float32)
    query = read_vecs(args.query, np.float32)
    gt = read_vecs(args.gt, np.int32)[:, :K]
    n, dim = base.shape

    index = hnswlib.Index(space="ip", dim=dim)
    index.init_index(max_elements=n, M=args.m, ef_construction=args.ef_construction, random_seed=100)
    index.set_num_threads(args.threads)
    t0 = time.perf_counter()
    index.add_items(base, np.arange(n), num_threads=args.threads)
    print(f"build: {n / (time.perf_counter() - t0):.0f} vectors/s", flush=True)

    index.set_num_threads(1)
    rows = [query[i:i + 1] for i in range(len(query))]
    for ef in [int(x) for x in args.ef.split(",")]:
        index.set_ef(ef)
        found = 0
        t1 = time.perf_counter()
        labels = [index.knn_query(r, k=K, num_threads=1)[0][0] for r in rows]
        qs = time.perf_counter() - t1
        for i, lab in enumerate(labels):
            found += len(np.intersect1d(lab, gt[i]))
        print(f"ef={ef} recall@{K}={found / (len(query) * K):.4f} qps={len(query) / qs:.0f}", flush=True)

    # hnswlib keeps its graph and vectors in exactly the layout it saves.
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "index.bin")
        index.save_index(p)
        size = os.path.getsize(p)
    raw = n * dim * 4
    print(f"memory: {size / n:.0f} bytes/vector ({size / raw:.3f}x raw vectors, index {size} bytes, raw {raw} bytes)")
    print(f"bench_hnswlib: hnswlib {getattr(hnswlib, '__version__', '?')}, {n} x {dim}", file=sys.stderr)


if __name__ == "__main__":
    main()
