#!/usr/bin/env python3
"""qdrant_feedback.py BIN WORKDIR - relevance feedback queries against the
real binary, scored here by Qdrant's naive feedback formula (a *
sim(target, x) + sum over ordered example pairs with confidence s_p - s_n
> 0 of confidence^b * c * (sim(p, x) - sim(n, x)); Cosine inputs
normalised) by brute force on Cosine and Dot collections, examples as
ids (excluded from results) and vectors, score_threshold, and the
errors."""
import math, os, random, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qdrant_http import Server  # noqa: E402

srv = Server("qdrant_feedback.py", sys.argv[1], sys.argv[2])
fail, req, ok = srv.fail, srv.req, srv.ok
srv.start()
rng = random.Random(9)


def norm(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


for dist in ("Cosine", "Dot"):
    C = "/collections/fb_" + dist.lower()
    ok("PUT", C, {"vectors": {"size": 5, "distance": dist}})
    vecs = {i: [rng.uniform(-1, 1) for _ in range(5)] for i in range(1, 51)}
    ok("PUT", C + "/points?wait=true", {"points": [{"id": i, "vector": v} for i, v in vecs.items()]})
    stored = {i: norm(v) if dist == "Cosine" else v for i, v in vecs.items()}
    prep = (lambda v: norm(v)) if dist == "Cosine" else (lambda v: v)
    for trial in range(4):
        a, b, c = rng.uniform(0.1, 2), rng.uniform(0, 2), rng.uniform(0.1, 2)
        target = [rng.uniform(-1, 1) for _ in range(5)] if trial % 2 else rng.randint(1, 50)
        examples = [(rng.randint(1, 50) if rng.random() < 0.5 else [rng.uniform(-1, 1) for _ in range(5)],
                     round(rng.uniform(0, 1), 2)) for _ in range(3)]
        vec_of = lambda e: prep(e) if isinstance(e, list) else stored[e]
        refs = {e for e, _ in examples if not isinstance(e, list)} | ({target} if not isinstance(target, list) else set())
        pairs = [(vec_of(p), vec_of(n), (sp - sn) ** b * c) for p, sp in examples for n, sn in examples
                 if (p, sp) != (n, sn) and sp - sn > 0]

        def score(x):
            return a * dot(vec_of(target), x) + sum(k * (dot(p, x) - dot(n, x)) for p, n, k in pairs)
        want = sorted(((i, score(x)) for i, x in stored.items() if i not in refs), key=lambda t: -t[1])[:6]
        body = {"query": {"relevance_feedback": {"target": target, "feedback": [{"example": e, "score": s} for e, s in examples],
                                                 "strategy": {"naive": {"a": a, "b": b, "c": c}}}},
                "limit": 6, "params": {"exact": True}}
        got = ok("POST", C + "/points/query", body)["points"]
        if [p["id"] for p in got] != [i for i, _ in want] or \
                any(abs(p["score"] - s) > 1e-4 * max(1, abs(s)) for p, (_, s) in zip(got, want)):
            fail("%s feedback %s: %s, want %s" % (dist, body, [(p["id"], p["score"]) for p in got], want))
        thr = want[2][1]
        got = ok("POST", C + "/points/query", dict(body, score_threshold=thr - 1e-4))["points"]
        if [p["id"] for p in got] != [i for i, _ in want[:3]]:
            fail("%s feedback with score_threshold: %s" % (dist, got))

ok("PUT", "/collections/fb_euclid", {"vectors": {"size": 2, "distance": "Euclid"}})
fb = {"target": [1, 0], "feedback": [{"example": [0, 1], "score": 1}], "strategy": {"naive": {"a": 1, "b": 1, "c": 1}}}
for coll, body, code, words in (
        ("fb_euclid", fb, 400, "not supported"),
        ("fb_dot", dict(fb, target=[1, 0, 0, 0, 0], feedback=[]), 422, "feedback elements must be non-empty"),
        ("fb_dot", dict(fb, target=[1, 0, 0, 0, 0], strategy={"naive": {"a": 1, "b": -1.0, "c": 1}}), 422,
         "strategy.naive.b: value -1.0 invalid, must be 0.0 or larger"),
        ("fb_dot", dict(fb, target=[1, 0, 0, 0, 0], feedback=[{"example": 999, "score": 1}]), 404, "No point with id 999 found")):
    c, out = req("POST", "/collections/%s/points/query" % coll, {"query": {"relevance_feedback": body}})
    if c != code or words not in out["status"]["error"]:
        fail("feedback error %s: %d %s" % (body, c, out))
srv.stop()
print("qdrant_feedback.py: ok (relevance feedback on Cosine and Dot equals Qdrant's naive formula by brute force; "
      "ids excluded, threshold, errors)")
