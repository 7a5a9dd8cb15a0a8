#!/usr/bin/env python3
"""qdrant_facet.py BIN WORKDIR - Qdrant's facet and distance-matrix routes
against the real binary, checked against the answers Qdrant's own test
suite expects for the same data (tests/openapi/test_facets.py and
test_distance_matrix.py of Qdrant 1.17, basic_collection_setup), plus
errors, filters, a restart, and a brute-force oracle for the matrix on
random data."""
import math, os, random, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qdrant_http import Server  # noqa: E402

srv = Server("qdrant_facet.py", sys.argv[1], sys.argv[2])
fail, req, ok, start, stop = srv.fail, srv.req, srv.ok, srv.start, srv.stop

start()
C = "/collections/facets"
ok("PUT", C, {"vectors": {"size": 4, "distance": "Dot"}, "sparse_vectors": {"sparse-text": {}}})
points = [
    {"id": 1, "vector": [0.05, 0.61, 0.76, 0.74], "payload": {"city": "Berlin", "price": 10.0}},
    {"id": 2, "vector": [0.19, 0.81, 0.75, 0.11], "payload": {"city": ["Berlin", "London"], "price": 11.0}},
    {"id": 3, "vector": [0.36, 0.55, 0.47, 0.94], "payload": {"city": ["Berlin", "Moscow"], "price": 9.5}},
    {"id": 4, "vector": [0.18, 0.01, 0.85, 0.80], "payload": {"city": ["London", "Moscow"], "price": 9}},
    {"id": 5, "vector": [0.24, 0.18, 0.22, 0.44], "payload": {"count": 0}},
    {"id": 6, "vector": [0.35, 0.08, 0.11, 0.44]},
    {"id": 7, "vector": [0.25, 0.98, 0.14, 0.43], "payload": {"city": None, "price": None}},
    {"id": 8, "vector": [0.79, 0.53, 0.72, 0.15], "payload": {"city": [], "price": []}},
    {"id": 9, "vector": {"sparse-text": {"indices": [66, 12], "values": [0.5, 0.5]}}},
    {"id": 10, "vector": {"sparse-text": {"indices": [1, 2, 3], "values": [0.1, 0.2, 0.3]}},
     "payload": {"city": [], "price": []}},
]
ok("PUT", C + "/points?wait=true", {"points": points})

# The matrix first, on basic_collection_setup alone (test_distance_matrix.py).
pairs = ok("POST", C + "/points/search/matrix/pairs", {"sample": 10, "limit": 2})
want_pairs = [(1, 3, 1.4063001), (1, 4, 1.2531), (2, 1, 1.1550001), (2, 8, 1.1359),
              (3, 1, 1.4063001), (3, 4, 1.2218001), (4, 1, 1.2531), (4, 3, 1.2218001),
              (5, 3, 0.70239997), (5, 1, 0.6146), (6, 3, 0.6353), (6, 4, 0.5093),
              (7, 3, 1.0990001), (7, 1, 1.0349001), (8, 2, 1.1359), (8, 3, 1.0553)]
got = [(p["a"], p["b"], p["score"]) for p in pairs["pairs"]]
if len(got) != len(want_pairs) or any(g[:2] != w[:2] or abs(g[2] - w[2]) > 1e-6 for g, w in zip(got, want_pairs)):
    fail("matrix pairs: %s" % got)
offs = ok("POST", C + "/points/search/matrix/offsets", {"sample": 10, "limit": 2})
if offs["ids"] != [1, 2, 3, 4, 5, 6, 7, 8] or \
        offs["offsets_row"] != [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7] or \
        offs["offsets_col"] != [2, 3, 0, 7, 0, 3, 0, 2, 2, 0, 2, 3, 2, 0, 1, 2] or \
        any(abs(a - w[2]) > 1e-6 for a, w in zip(offs["scores"], want_pairs)):
    fail("matrix offsets: %s" % offs)
code, out = req("POST", C + "/points/search/matrix/pairs", {"sample": 10, "limit": 2, "using": "wrong_vector_name"})
if code != 400 or "Not existing vector name error: wrong_vector_name" not in out["status"]["error"]:
    fail("matrix with a wrong vector name: %d %s" % (code, out))
code, out = req("POST", C + "/points/search/matrix/pairs", {"sample": 1})
if code != 422:
    fail("matrix sample 1: %d %s" % (code, out))
# A sparse vector: points 9 and 10 share no index, so each row is the other at score 0.
sp = ok("POST", C + "/points/search/matrix/pairs", {"using": "sparse-text", "limit": 1})
if len(sp["pairs"]) > 2 or any(p["a"] not in (9, 10) or p["b"] not in (9, 10) or p["a"] == p["b"] for p in sp["pairs"]):
    fail("sparse matrix: %s" % sp)
# A filter narrows the sample: only points with city Berlin (1, 2, 3).
fl = ok("POST", C + "/points/search/matrix/offsets",
        {"limit": 5, "filter": {"must": [{"key": "city", "match": {"value": "Berlin"}}]}})
if fl["ids"] != [1, 2, 3] or len(fl["scores"]) != 6:
    fail("filtered matrix: %s" % fl)
one = ok("POST", C + "/points/search/matrix/pairs", {"filter": {"must": [{"has_id": [1]}]}})
if one != {"pairs": []}:
    fail("a matrix of one point must be empty: %s" % one)

# Facets (test_facets.py's extra points and indexes).
extra = [(100, 3, "a64a8051-3ee7-4881-8bc6-691d25c70d54", True),
         (101, 3, "a64a8051-3ee7-4881-8bc6-691d25c70d54", True),
         (102, 3, "7cb46fb3-e348-4762-93ad-7fb983d2b85e", False),
         (103, 0, "2b016c50-282c-4d80-b784-cefead291180", True),
         (104, 3, "A64A8051-3EE7-4881-8BC6-691D25C70D54", True),  # another spelling, the same UUID
         (105, 1, "a64a8051-3ee7-4881-8bc6-691d25c70d54", False),
         (106, 2, "7cb46fb3-e348-4762-93ad-7fb983d2b85e", False),
         (107, 0, "a64a8051-3ee7-4881-8bc6-691d25c70d54", True)]
ok("PUT", C + "/points?wait=true", {"points": [
    {"id": i, "vector": {}, "payload": {"integer": n, "uuid": u, "boolean": b}} for i, n, u, b in extra]})
code, out = req("POST", C + "/facet", {"key": "city"})
if code != 400 or "No appropriate index for faceting: `city`" not in out["status"]["error"]:
    fail("facet without an index: %d %s" % (code, out))
for field, schema in (("city", "keyword"), ("integer", "integer"), ("uuid", "uuid"), ("boolean", "bool")):
    ok("PUT", C + "/index?wait=true", {"field_name": field, "field_schema": schema})


def check_facets():
    want = {
        "city": [{"value": "Berlin", "count": 3}, {"value": "London", "count": 2}, {"value": "Moscow", "count": 2}],
        "integer": [{"value": 3, "count": 4}, {"value": 0, "count": 2}, {"value": 1, "count": 1}, {"value": 2, "count": 1}],
        "uuid": [{"value": "a64a8051-3ee7-4881-8bc6-691d25c70d54", "count": 5},
                 {"value": "7cb46fb3-e348-4762-93ad-7fb983d2b85e", "count": 2},
                 {"value": "2b016c50-282c-4d80-b784-cefead291180", "count": 1}],
        "boolean": [{"value": True, "count": 5}, {"value": False, "count": 3}],
    }
    for key, hits in want.items():
        got = ok("POST", C + "/facet", {"key": key})
        if got != {"hits": hits}:
            fail("facet %s: %s, want %s" % (key, got, hits))
    got = ok("POST", C + "/facet", {"key": "integer", "limit": 2, "exact": True})
    if got != {"hits": want["integer"][:2]}:
        fail("facet limit 2: %s" % got)
    got = ok("POST", C + "/facet", {"key": "city", "filter": {"must_not": [{"has_id": [1, 2]}]}})
    if got != {"hits": [{"value": "Moscow", "count": 2}, {"value": "Berlin", "count": 1}, {"value": "London", "count": 1}]}:
        fail("filtered facet: %s" % got)
    got = ok("POST", C + "/facet", {"key": "boolean", "filter": {"must": [{"key": "integer", "range": {"gte": 1}}]}})
    if got != {"hits": [{"value": False, "count": 3}, {"value": True, "count": 3}]}:  # ties: value ascending
        fail("facet filtered by a range: %s" % got)


check_facets()
for body, code_want in (({}, 400), ({"key": 5}, 400), ({"key": "city", "limit": 0}, 422)):
    code, out = req("POST", C + "/facet", body)
    if code != code_want:
        fail("facet %s: %d %s" % (body, code, out))
code, out = req("POST", "/collections/missing/facet", {"key": "city"})
if code != 404:
    fail("facet of a missing collection: %d" % code)
stop()
start()
check_facets()

# The matrix against a brute-force oracle on random vectors (cosine).
rng = random.Random(7)
ok("PUT", "/collections/m", {"vectors": {"size": 8, "distance": "Cosine"}})
vecs = {i: [rng.uniform(-1, 1) for _ in range(8)] for i in range(1, 41)}
ok("PUT", "/collections/m/points?wait=true", {"points": [{"id": i, "vector": v} for i, v in vecs.items()]})
res = ok("POST", "/collections/m/points/search/matrix/offsets", {"sample": 15, "limit": 4})
ids = res["ids"]
if len(ids) != 15 or ids != sorted(ids) or len(set(ids)) != 15:
    fail("sample ids: %s" % ids)


def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


for r in range(15):
    a = ids[r]
    others = sorted((cos(vecs[a], vecs[b]), b) for b in ids if b != a)[::-1][:4]
    got = [(res["scores"][k], ids[res["offsets_col"][k]]) for k in range(len(ids) * 4) if res["offsets_row"][k] == r]
    if [b for _, b in got] != [b for _, b in others] or any(abs(g - o) > 1e-5 for (g, _), (o, _) in zip(got, others)):
        fail("matrix row %d: %s, oracle %s" % (a, got, others))
stop()
print("qdrant_facet.py: ok (facets on keyword, integer, uuid and bool indexes, filtered, after a restart; "
      "distance matrix pairs and offsets equal to Qdrant's expected answers and to a brute-force oracle)")
