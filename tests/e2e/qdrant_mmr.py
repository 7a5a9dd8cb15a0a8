#!/usr/bin/env python3
"""qdrant_mmr.py BIN WORKDIR - nearest queries with maximal marginal
relevance on dense (Cosine, Euclid) and sparse vectors, against an MMR
recomputed here from Qdrant's definition (lib/shard/src/query/mmr): the
candidates are the exact nearest `candidates_limit` points, the first
pick the most relevant, then the candidate maximising lambda * relevance
- (1 - lambda) * max similarity to the picks (raw metric: dot, negated
squared L2; sparse: dot on shared indices), lambda = 1 - diversity."""
import os, random, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qdrant_http import Server  # noqa: E402

srv = Server("qdrant_mmr.py", sys.argv[1], sys.argv[2])
fail, req, ok = srv.fail, srv.req, srv.ok
srv.start()
rng = random.Random(11)


def mmr(q, cands, sim, lam, limit):
    rel = {i: sim(q, v) for i, v in cands}
    vec = dict(cands)
    picked = [max(rel, key=lambda i: (rel[i], -i))]
    while len(picked) < min(limit, len(cands)):
        best = max((i for i in rel if i not in picked),
                   key=lambda i: (lam * rel[i] - (1 - lam) * max(sim(vec[i], vec[k]) for k in picked), -i))
        picked.append(best)
    return picked


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def norm(v):
    n = sum(x * x for x in v) ** 0.5
    return [x / n for x in v]


def sdot(a, b):
    return sum(v * b[k] for k, v in a.items() if k in b)


for dist in ("Cosine", "Euclid"):
    name = "/collections/mmr_" + dist.lower()
    ok("PUT", name, {"vectors": {"size": 6, "distance": dist}})
    vecs = {i: [rng.uniform(-1, 1) for _ in range(6)] for i in range(1, 61)}
    ok("PUT", name + "/points?wait=true", {"points": [{"id": i, "vector": v} for i, v in vecs.items()]})
    stored = {i: norm(v) if dist == "Cosine" else v for i, v in vecs.items()}
    sim = dot if dist == "Cosine" else (lambda a, b: -sum((x - y) ** 2 for x, y in zip(a, b)))
    for diversity in (0.0, 0.5, 0.9):
        q = [rng.uniform(-1, 1) for _ in range(6)]
        qs = norm(q) if dist == "Cosine" else q
        cands = sorted(stored.items(), key=lambda t: -sim(qs, t[1]))[:20]
        want = mmr(qs, cands, sim, 1 - diversity, 8)
        got = ok("POST", name + "/points/query", {"query": {"nearest": q, "mmr": {"diversity": diversity, "candidates_limit": 20}},
                                                  "limit": 8, "params": {"exact": True}})["points"]
        if [p["id"] for p in got] != want:
            fail("%s mmr diversity %s: %s, want %s" % (dist, diversity, [p["id"] for p in got], want))

ok("PUT", "/collections/mmr_sparse", {"sparse_vectors": {"s": {}}})
sv = {}
for i in range(1, 41):
    idx = rng.sample(range(30), 5)
    sv[i] = {k: round(rng.uniform(0.1, 1), 3) for k in idx}
ok("PUT", "/collections/mmr_sparse/points?wait=true",
   {"points": [{"id": i, "vector": {"s": {"indices": list(v), "values": list(v.values())}}} for i, v in sv.items()]})
q = {k: 1.0 for k in rng.sample(range(30), 8)}
cands = sorted(((i, v) for i, v in sv.items() if sdot(q, v) > 0), key=lambda t: (-sdot(q, t[1]), t[0]))[:15]
want = mmr(q, cands, sdot, 0.5, 6)
got = ok("POST", "/collections/mmr_sparse/points/query",
         {"query": {"nearest": {"indices": list(q), "values": list(q.values())}, "mmr": {"diversity": 0.5, "candidates_limit": 15}},
          "using": "s", "limit": 6})["points"]
if [p["id"] for p in got] != want:
    fail("sparse mmr: %s, want %s" % ([p["id"] for p in got], want))
srv.stop()
print("qdrant_mmr.py: ok (MMR on Cosine, Euclid and sparse vectors equals a recomputation)")
