#!/usr/bin/python3
"""gen_vectors.py - synthetic ANN benchmark data with exact ground truth.

Writes base.fvecs, query.fvecs and gt.ivecs (fvecs / ivecs: per row an int32
dimension, then the values) into --out.

  --kind clustered (default): CLIP-like unit vectors. Real CLIP embeddings
      share a strong common direction (unrelated images still have cosine
      ~0.4-0.5), gather in semantic clusters of very different sizes, and
      have a decaying spectrum (low intrinsic dimension). Each vector is
      normalise(a * mean + b * centre[cluster] + c * noise), where the noise
      has power-law variances in a random rotation, and cluster sizes follow
      a Zipf-like law. Queries come from the same distribution (not copies
      of base vectors).
  --kind uniform: uniform on the unit sphere (the hardest case for a graph).

Ground truth is exact: the top --k (default 100) base ids by dot product
(= cosine, all vectors are unit), by brute force: float32 over blocks of
the base to keep k + 20 candidates per query, those rescored in float64
(so 1M x 512 needs ~2.5 GB, not a float64 copy of the base). A 1M set
takes minutes: tools/bench_ann.sh keeps it (one folder per kind and size)
and reuses it.

Usage: /usr/bin/python3 tools/gen_vectors.py --out /tmp/ann [--n 100000]
       [--nq 1000] [--dim 512] [--kind clustered|uniform] [--seed 1]
Needs python3-numpy (Debian).
"""
import argparse
import os
import sys

import numpy as np

# Ground truth: base rows scored per block, and the extra candidates kept
# per query before the float64 rescoring.
GT_CHUNK = 100000
GT_MARGIN = 20


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def clustered(rng, n, dim, centres, mean, rot, spectrum, weights):
    # Mixture weights: the common direction dominates, then the cluster, then
    # the item's own detail (values give cosine ~0.45 across clusters and
    # ~0.7 inside one, like CLIP ViT-B/32 image embeddings).
    a, b, c = 0.70, 0.50, 0.60
    labels = rng.choice(len(centres), size=n, p=weights)
    noise = rng.standard_normal((n, dim)).astype(np.float32) * spectrum
    noise = unit(noise @ rot)
    x = a * mean[None, :] + b * centres[labels] + c * noise
    return unit(x).astype(np.float32)


def write_vecs(path, rows, dtype):
    rows = np.ascontiguousarray(rows, dtype=dtype)
    n, d = rows.shape
    out = np.empty((n, d + 1), dtype=np.int32)
    out[:, 0] = d
    out[:, 1:] = rows.view(np.int32)
    out.tofile(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--kind", choices=["clustered", "uniform"], default="clustered")
    ap.add_argument("--clusters", type=int, default=0, help="default n / 100")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n, nq, dim = args.n, args.nq, args.dim

    if args.kind == "uniform":
        base = unit(rng.standard_normal((n, dim))).astype(np.float32)
        query = unit(rng.standard_normal((nq, dim))).astype(np.float32)
    else:
        nc = args.clusters or max(1, n // 100)
        mean = unit(rng.standard_normal((1, dim)))[0]
        centres = unit(rng.standard_normal((nc, dim)))
        rot, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        spectrum = (np.arange(1, dim + 1, dtype=np.float64) ** -0.5).astype(np.float32)
        weights = 1.0 / np.arange(1, nc + 1) ** 0.8
        weights /= weights.sum()
        rot = rot.astype(np.float32)
        base = np.concatenate([clustered(rng, min(20000, n - i), dim, centres, mean, rot, spectrum, weights)
                               for i in range(0, n, 20000)])
        query = clustered(rng, nq, dim, centres, mean, rot, spectrum, weights)

    # Exact ground truth: float32 scores over chunks of the base keep the
    # best k + GT_MARGIN candidates of each query, which are then rescored
    # in float64 (a float32 score is off by ~1e-7, far less than the gap
    # GT_MARGIN ranks below the k-th), so memory stays ~chunk-sized even
    # for 1M x 512 (a float64 copy of the base would take 4 GB).
    k = min(args.k, n)
    gt = np.empty((nq, k), dtype=np.int32)
    kc = min(k + GT_MARGIN, n)
    for i in range(0, nq, 200):
        q32 = query[i:i + 200]
        cand_s = np.full((len(q32), 0), -np.inf, dtype=np.float32)
        cand_i = np.empty((len(q32), 0), dtype=np.int64)
        for c in range(0, n, GT_CHUNK):
            s = q32 @ base[c:c + GT_CHUNK].T
            s = np.concatenate([cand_s, s], axis=1)
            ids = np.concatenate([cand_i, np.broadcast_to(np.arange(c, min(c + GT_CHUNK, n)), (len(q32), min(GT_CHUNK, n - c)))], axis=1)
            keep = np.argpartition(-s, min(kc, s.shape[1]) - 1, axis=1)[:, :kc]
            cand_s = np.take_along_axis(s, keep, axis=1)
            cand_i = np.take_along_axis(ids, keep, axis=1)
        exact = np.einsum("qd,qkd->qk", q32.astype(np.float64), base[cand_i].astype(np.float64))
        order = np.lexsort((cand_i, -exact), axis=1)[:, :k]
        gt[i:i + 200] = np.take_along_axis(cand_i, order, axis=1)

    os.makedirs(args.out, exist_ok=True)
    write_vecs(os.path.join(args.out, "base.fvecs"), base, np.float32)
    write_vecs(os.path.join(args.out, "query.fvecs"), query, np.float32)
    write_vecs(os.path.join(args.out, "gt.ivecs"), gt, np.int32)
    cos = (base[:2000] @ base[:2000].T)[np.triu_indices(2000, 1)]
    print(f"gen_vectors: {n} x {dim} {args.kind}, {nq} queries, gt top-{k} -> {args.out} "
          f"(mean pairwise cosine {cos.mean():.3f})", file=sys.stderr)


if __name__ == "__main__":
    main()
