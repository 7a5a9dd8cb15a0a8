#!/usr/bin/env python3
"""qdrant_lookup.py BIN WORKDIR - lookup_from (example ids that name points of
another collection) against the real binary: Qdrant's own request
sequences and error messages (tests/openapi/test_query_full.py
test_recommend_lookup_validations / test_recommend_lookup), the same
answer as the looked-up vectors given raw, on the query, recommend and
discover routes and in prefetches, ids of the other collection not
excluded from results, and scores checked by brute force."""
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qdrant_http import Server  # noqa: E402

srv = Server("qdrant_lookup.py", sys.argv[1], sys.argv[2])
fail, req, ok = srv.fail, srv.req, srv.ok
srv.start()

C, L = "/collections/main", "/collections/look"
ok("PUT", C, {"vectors": {"dense-image": {"size": 4, "distance": "Dot"}}})
vecs = {1: [0.05, 0.61, 0.76, 0.74], 2: [0.19, 0.81, 0.75, 0.11], 3: [0.36, 0.55, 0.47, 0.94],
        4: [0.18, 0.01, 0.85, 0.80], 5: [0.24, 0.18, 0.22, 0.44], 6: [0.35, 0.08, 0.11, 0.44]}
ok("PUT", C + "/points?wait=true", {"points": [{"id": i, "vector": {"dense-image": v}} for i, v in vecs.items()]})
ok("PUT", L, {"vectors": {"other": {"size": 4, "distance": "Dot"}}})
ok("PUT", L + "/points?wait=true", {"points": [{"id": 1, "vector": {"other": [1.0, 0.0, 0.0, 0.0]}},
                                               {"id": 2, "vector": {"other": [0.0, 0.0, 0.0, 2.0]}}]})
look = {"collection": "look", "vector": "other"}


def error(body, path, code, msg):
    c, out = req("POST", C + path, body)
    if c != code or out["status"]["error"] != msg:
        fail("%s: want %d %r, got %d %s" % (path, code, msg, c, out))


reco = lambda pos, neg: {"recommend": {"positive": pos, "negative": neg}}
# Qdrant's validations, top level and in a prefetch.
for wrap in (lambda body: body,
             lambda body: {"prefetch": [dict(body, limit=None)], "limit": 10, "using": "dense-image", "query": {"fusion": "rrf"}}):
    base = {"query": reco([1], [2, 3]), "limit": 10, "using": "dense-image", "lookup_from": look}
    error(wrap(base), "/points/query", 404, "Not found: No point with id 3 found")
    error(wrap(dict(base, query=reco([1], [2]), lookup_from={"collection": "non-existing-collection", "vector": "other"})),
          "/points/query", 404, "Not found: Collection non-existing-collection not found")
    error(wrap(dict(base, query=reco([1], [2]), lookup_from={"collection": "look", "vector": "non-existing-vector"})),
          "/points/query", 400, "Wrong input: Not existing vector name error: non-existing-vector")


def points(path, body):
    r = ok("POST", C + path, body)
    return r["points"] if isinstance(r, dict) else r


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


# Ids looked up equal the same vectors given raw.
by_id = points("/points/query", {"query": reco([1], [2]), "limit": 10, "using": "dense-image", "lookup_from": look})
raw = points("/points/query", {"query": reco([[1.0, 0, 0, 0]], [[0, 0, 0, 2.0]]), "limit": 10, "using": "dense-image"})
if by_id != raw or len(by_id) != 6:
    fail("query recommend by looked-up ids %s != by raw vectors %s" % (by_id, raw))
# average_vector: avg(pos) + avg(pos) - avg(neg) = [2, 0, 0, -2]; ids 1 and 2 of
# this collection are results too, since the examples are another collection's.
q = [2.0, 0.0, 0.0, -2.0]
want = sorted(vecs, key=lambda i: -dot(q, vecs[i]))
if [p["id"] for p in by_id] != want or any(abs(p["score"] - dot(q, vecs[p["id"]])) > 1e-5 for p in by_id):
    fail("recommend scores: %s, want order %s" % (by_id, want))
nested_id = points("/points/query", {"prefetch": [{"query": reco([1], [2]), "using": "dense-image", "lookup_from": look}],
                                     "query": {"fusion": "rrf"}})
nested_raw = points("/points/query", {"prefetch": [{"query": reco([[1.0, 0, 0, 0]], [[0, 0, 0, 2.0]]), "using": "dense-image"}],
                                      "query": {"fusion": "rrf"}})
if nested_id != nested_raw:
    fail("nested: %s != %s" % (nested_id, nested_raw))
near = points("/points/query", {"query": 2, "using": "dense-image", "lookup_from": look, "limit": 3})
if [p["id"] for p in near] != sorted(vecs, key=lambda i: -vecs[i][3])[:3]:
    fail("nearest to a looked-up id: %s" % near)
# The recommend route, and groups through it.
r = points("/points/recommend", {"positive": [1], "negative": [2], "limit": 10, "using": "dense-image", "lookup_from": look})
if [p["id"] for p in r] != want:
    fail("recommend route with lookup_from: %s" % r)
# Discover: target id 1 of the other collection.
d = points("/points/discover", {"target": 1, "context": [{"positive": 1, "negative": 2}], "limit": 6,
                                "using": "dense-image", "lookup_from": look})
draw = points("/points/discover", {"target": [1.0, 0, 0, 0], "context": [{"positive": [1.0, 0, 0, 0], "negative": [0, 0, 0, 2.0]}],
                                   "limit": 6, "using": "dense-image"})
if d != draw or len(d) != 6:
    fail("discover with lookup_from: %s != %s" % (d, draw))
# lookup_from without a vector name uses `using`: the lookup collection has no such vector.
error({"query": reco([1], []), "using": "dense-image", "lookup_from": {"collection": "look"}}, "/points/query", 400,
      "Wrong input: Not existing vector name error: dense-image")
srv.stop()
print("qdrant_lookup.py: ok (lookup_from on query, prefetch, recommend, discover: Qdrant's errors, "
      "the same results as raw vectors, scores by brute force)")
