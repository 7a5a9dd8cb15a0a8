#!/usr/bin/env python3
"""qdrant_strict.py BIN WORKDIR - a collection's strict_mode_config enforced
as Qdrant enforces it, against the real binary: the request sequences of
Qdrant's own tests/openapi/test_strictmode.py (query limit, timeout,
unindexed filters for reads and writes, hnsw_ef, exact, oversampling,
batch sizes, collection and payload sizes, sparse and multivector lengths, filter
condition count and size, payload index count, full scans on vectors with
hnsw m = 0), each first passing with
strict mode off or within its limit, then refused with Qdrant's message,
then passing again once the limit allows it; and a restart keeps it."""
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qdrant_http import Server  # noqa: E402

srv = Server("qdrant_strict.py", sys.argv[1], sys.argv[2])
fail, req, ok = srv.fail, srv.req, srv.ok
C = "/collections/strict"

POINTS = [
    {"id": 1, "vector": [0.05, 0.61, 0.76, 0.74], "payload": {"city": "Berlin", "price": 10.0}},
    {"id": 2, "vector": [0.19, 0.81, 0.75, 0.11], "payload": {"city": ["Berlin", "London"], "price": 11.0}},
    {"id": 3, "vector": [0.36, 0.55, 0.47, 0.94], "payload": {"city": ["Berlin", "Moscow"], "price": 9.5}},
    {"id": 4, "vector": [0.18, 0.01, 0.85, 0.80], "payload": {"city": ["London", "Moscow"], "price": 9}},
    {"id": 5, "vector": [0.24, 0.18, 0.22, 0.44], "payload": {"count": 0}},
    {"id": 6, "vector": [0.35, 0.08, 0.11, 0.44]},
    {"id": 7, "vector": [0.25, 0.98, 0.14, 0.43], "payload": {"city": None, "price": None}},
    {"id": 8, "vector": [0.79, 0.53, 0.72, 0.15], "payload": {"city": [], "price": []}},
    {"id": 9, "vector": {"sparse-text": {"indices": [66, 12], "values": [0.5, 0.5]}}},
    {"id": 10, "vector": {"sparse-text": {"indices": [1, 2, 3], "values": [0.1, 0.2, 0.3]}}},
]


def setup():
    """Qdrant's basic_collection_setup: a fresh collection, strict mode off."""
    req("DELETE", C)
    ok("PUT", C, {"vectors": {"size": 4, "distance": "Dot"}, "sparse_vectors": {"sparse-text": {}}})
    ok("PUT", C + "/points?wait=true", {"points": POINTS})


def strict(cfg):
    ok("PATCH", C, {"strict_mode_config": cfg})


def refused(code_body, words, what):
    code, out = code_body
    if code != 400:
        fail("%s: want 400, got %d %s" % (what, code, out))
    msg = out["status"]["error"]
    for w in words:
        if w not in msg:
            fail("%s: %r lacks %r" % (what, msg, w))


def passes(code_body, what):
    code, out = code_body
    if code != 200:
        fail("%s: want 200, got %d %s" % (what, code, out))


def query(body, params=""):
    return req("POST", C + "/points/query" + params, body)


srv.start()
setup()
q4 = {"query": [0.2, 0.1, 0.9, 0.7], "limit": 4}

# Limit and timeout.
passes(query(q4), "limit 4, strict off")
strict({"enabled": True, "max_query_limit": 4})
passes(query(q4), "limit 4 <= 4")
strict({"max_query_limit": 3})
refused(query(q4), ['Limit exceeded 4 > 3 for "limit"', 'Help: Reduce the "limit" parameter to or below 3.'], "limit 4 > 3")
refused(req("POST", C + "/points/scroll", {"limit": 5}), ['"limit"'], "scroll limit")
passes(req("POST", C + "/points/scroll", {"limit": 3}), "scroll limit 3")
refused(req("POST", C + "/points/query/groups", {"query": [0.2, 0.1, 0.9, 0.7], "group_by": "city", "limit": 2, "group_size": 2}),
        ['Limit exceeded 4 > 3'], "groups limit x group_size")
setup()
strict({"enabled": True, "max_timeout": 2})
q3 = {"query": [0.2, 0.1, 0.9, 0.7], "limit": 3}
passes(query(q3, "?timeout=2"), "timeout 2")
refused(query(q3, "?timeout=3"), ['for "timeout"'], "timeout 3 > 2")
setup()

# Unindexed filters on reads.
fq = dict(q3, filter={"must": [{"key": "city", "match": {"value": "Berlin"}}]})
strict({"enabled": True, "unindexed_filtering_retrieve": True})
passes(query(fq), "unindexed filter allowed")
strict({"unindexed_filtering_retrieve": False})
refused(query(fq), ['Index required but not found for "city" of one of the following types: [keyword]',
                    'Help: Create an index for this key or use a different filter.'], "unindexed city")
refused(req("POST", C + "/points/count", {"filter": fq["filter"], "exact": False}), ['"city"'], "count with an unindexed filter")
ok("PUT", C + "/index?wait=true", {"field_name": "city", "field_schema": "keyword"})
passes(query(fq), "indexed city")
iq = dict(q3, filter={"must": [{"key": "count", "match": {"value": 1}}]})
refused(query(iq), ['"count"', "[integer]"], "unindexed count")
ok("PUT", C + "/index?wait=true", {"field_name": "count", "field_schema": {"type": "integer", "lookup": True, "range": True}})
passes(query(iq), "integer index with lookup")
ok("PUT", C + "/index?wait=true", {"field_name": "count", "field_schema": {"type": "integer", "lookup": False, "range": True}})
refused(query(iq), ['"count"'], "integer index without lookup")
passes(query(dict(q3, filter={"must": [{"key": "count", "range": {"gte": 1}}]})), "range on an integer index with range")
refused(query(dict(q3, filter={"should": [{"key": "price", "range": {"gte": 1}}]})), ['"price"', "[float, integer]"], "unindexed range")
refused(query(dict(q3, filter={"must": [{"nested": {"key": "parts", "filter": {"must": [{"key": "sku", "match": {"value": "x"}}]}}}]})),
        ['"parts[].sku"'], "unindexed key inside nested")
passes(query(dict(q3, filter={"must": [{"has_id": [1, 2]}]})), "has_id needs no index")
groups = {"query": [0.2, 0.1, 0.9, 0.7], "group_by": "price", "limit": 2, "group_size": 1}
refused(req("POST", C + "/points/query/groups", groups), ['Index required but not found for "price"'], "group_by unindexed")
ok("PUT", C + "/index?wait=true", {"field_name": "price", "field_schema": "float"})
refused(req("POST", C + "/points/query/groups", groups), ['Index of type "Float" found for "price"'], "group_by on a float index")
passes(req("POST", C + "/points/query/groups", dict(groups, group_by="city")), "group_by on a keyword index")
formula = {"prefetch": {"query": [0.1, 0.2, 0.3, 0.4]},
           "query": {"formula": {"sum": ["discount", "$score"]}, "defaults": {"discount": 0}}}
refused(query(formula), ['Index required but not found for "discount"', "formula expression"], "formula on an unindexed key")
ok("PUT", C + "/index?wait=true", {"field_name": "discount", "field_schema": {"type": "integer", "lookup": True, "range": False}})
passes(query(formula), "formula on an indexed key")
setup()

# Unindexed filters on writes.
delete = {"filter": {"must": [{"key": "city", "match": {"value": "Berlin"}}]}}
strict({"enabled": True, "unindexed_filtering_update": True})
passes(req("POST", C + "/points/delete?wait=true", delete), "unindexed delete allowed")
strict({"unindexed_filtering_update": False})
refused(req("POST", C + "/points/delete?wait=true", delete), ['"city"'], "unindexed delete")
refused(req("POST", C + "/points/payload?wait=true", dict(delete, payload={"a": 1})), ['"city"'], "unindexed set_payload")
refused(req("POST", C + "/points/batch?wait=true", {"operations": [{"delete": delete}]}), ['"city"'], "unindexed delete in a batch")
passes(req("POST", C + "/points/delete?wait=true", {"points": [1]}), "delete by id needs no index")
ok("PUT", C + "/index?wait=true", {"field_name": "city", "field_schema": "keyword"})
passes(req("POST", C + "/points/delete?wait=true", delete), "indexed delete")
setup()

# Search parameters.
for key, cfg_ok, cfg_bad, params in (
        ("hnsw_ef", {"search_max_hnsw_ef": 5}, {"search_max_hnsw_ef": 4}, {"hnsw_ef": 5}),
        ("oversampling", {"search_max_oversampling": 2.0}, {"search_max_oversampling": 1.9}, {"quantization": {"oversampling": 2.0}})):
    body = dict(q4, params=params)
    passes(query(body), key + " strict off")
    strict(dict(cfg_ok, enabled=True))
    passes(query(body), key + " within the limit")
    strict(cfg_bad)
    refused(query(body), ['for "%s"' % key], key + " over the limit")
    setup()
exact = dict(q4, params={"exact": True})
strict({"enabled": True, "search_allow_exact": True})
passes(query(exact), "exact allowed")
strict({"search_allow_exact": False})
refused(query(exact), ["Exact search disabled!", "Help: Set exact=false."], "exact refused")
refused(req("POST", C + "/points/count", {}), ["Exact search disabled!"], "count is exact by default")
passes(req("POST", C + "/points/count", {"exact": False}), "an approximate count")
setup()

# Batch sizes.
batch = {"batch": {"ids": [1, 2, 3, 4, 5, 6], "payloads": [{}] * 6, "vectors": [[1, 2, 3, 5]] * 6}}
passes(req("PUT", C + "/points?wait=true", batch), "upsert 6, strict off")
strict({"enabled": True, "upsert_max_batchsize": 6})
passes(req("PUT", C + "/points?wait=true", batch), "upsert 6 <= 6")
strict({"upsert_max_batchsize": 5})
refused(req("PUT", C + "/points?wait=true", batch), ['Limit exceeded 6 > 5 for "upsert limit"'], "upsert 6 > 5")
refused(req("POST", C + "/points/batch?wait=true", {"operations": [{"upsert": batch}]}), ['"upsert limit"'], "upsert in a batch")
vecs = {"points": [{"id": i, "vector": {"": [1, 2, 3, 4]}} for i in range(1, 7)]}
refused(req("PUT", C + "/points/vectors?wait=true", vecs), ['"update limit"'], "vector update 6 > 5")
setup()
strict({"enabled": True, "search_max_batchsize": 2})
searches = {"searches": [{"vector": [1, 2, 3, 4], "limit": 2}] * 3}
refused(req("POST", C + "/points/search/batch", searches), ['Limit exceeded 3 > 2 for "search batch size"'], "search batch")
passes(req("POST", C + "/points/search/batch", {"searches": searches["searches"][:2]}), "search batch of 2")

# Collection size: refused once the collection is at the limit.
setup()
up = lambda ids: req("PUT", C + "/points?wait=true", {"batch": {"ids": ids, "payloads": [{}] * len(ids), "vectors": [[1, 2, 3, 5]] * len(ids)}})
strict({"enabled": True, "max_collection_vector_size_bytes": 240})
passes(up([6, 7, 8, 9, 10]), "8 x 16 bytes + 2 more")  # 160 bytes of dense vectors after this
passes(up([12, 13, 14, 15, 16]), "160 < 240")
refused(up([17]), ["Max vector storage size limit of 0.00022888184MB reached!"], "240 >= 240")
strict({"max_collection_vector_size_bytes": 1e9, "max_points_count": 15})
refused(up([17]), ["Max points count limit of 15 reached!"], "points count")
strict({"max_points_count": 16})
passes(up([17]), "15 < 16")
setup()
strict({"enabled": True})

# Sparse and multivector lengths.
strict({"sparse_config": {"sparse-text": {"max_length": 2}}})
sp = lambda idx: req("PUT", C + "/points?wait=true", {"points": [{"id": 30, "vector": {"sparse-text": {"indices": idx, "values": [0.5] * len(idx)}}}]})
passes(sp([1, 2]), "sparse of 2")
refused(sp([1, 2, 3]), ["Sparse vector 'sparse-text' has a limit of 2 indices, but 3 were provided!"], "sparse of 3")
setup()
strict({"enabled": True})

# Filter conditions.
many = dict(q3, filter={"should": [{"key": "city", "match": {"value": c}} for c in ("a", "b", "c")]})
strict({"filter_max_conditions": 2})
refused(query(many), ["Filter condition limit reached (3 > 2)"], "3 conditions")
passes(query(dict(q3, filter={"should": many["filter"]["should"][:2]})), "2 conditions")
strict({"filter_max_conditions": 100, "condition_max_size": 2})
refused(query(dict(q3, filter={"must": [{"key": "city", "match": {"any": ["a", "b", "c"]}}]})), ["Condition size limit reached (3 > 2)"], "any of 3")
setup()
strict({"enabled": True})

# Payload index count.
strict({"max_payload_index_count": 0})
refused(req("PUT", C + "/index?wait=true", {"field_name": "price", "field_schema": {"type": "float"}}),
        ["Collection already has the maximum number of payload indices (0). Help: Please delete an existing index before creating a new one."], "index count 0")
strict({"max_payload_index_count": 1})
passes(req("PUT", C + "/index?wait=true", {"field_name": "city", "field_schema": {"type": "keyword"}}), "first index")
refused(req("PUT", C + "/index?wait=true", {"field_name": "price", "field_schema": {"type": "float"}}), ["(1)"], "second index")

# Rate limits: a bucket of N tokens a minute, full at first (Qdrant's
# test_strict_mode_read/write_rate_limiting).
setup()
for kind, cfg, call in (("Read", "read_rate_limit", lambda: query(q4)),
                        ("Write", "write_rate_limit",
                         lambda: req("PUT", C + "/points?wait=true", {"points": [{"id": 1, "vector": [0.05, 0.61, 0.76, 0.74]}]}))):
    strict({"enabled": True, cfg: 1})
    failed = 0
    for i in range(10):
        code, out = call()
        if code == 200:
            continue
        failed += 1
        if code != 429 or "Rate limiting exceeded: %s rate limit exceeded" % kind not in out["status"]["error"]:
            fail("%s rate limit: %d %s" % (kind, code, out))
        ra = int(srv.headers.get("Retry-After", "0"))
        if not 55 < ra <= 60:
            fail("%s rate limit: Retry-After %s" % (kind, ra))
    if failed != 9:
        fail("%s rate limit of 1 a minute: %d of 10 refused, want 9" % (kind, failed))
    strict({"enabled": False})
    for i in range(5):
        passes(call(), "%s rate limit disabled" % kind)
    setup()
strict({"enabled": True, "write_rate_limit": 3})
refused_code, out = req("PUT", C + "/points?wait=true", {"points": [{"id": i, "vector": [1, 2, 3, 4]} for i in range(1, 5)]})
if refused_code != 429 or "request larger than rate limiter capacity" not in out["status"]["error"]:
    fail("a write over the whole capacity: %d %s" % (refused_code, out))
# A PATCH's null leaves a strict mode setting as it was (Qdrant cannot unset one).
strict({"write_rate_limit": None})
if ok("GET", C)["config"]["strict_mode_config"].get("write_rate_limit") != 3:
    fail("a null in a strict_mode_config PATCH must keep the value")
setup()

# Payload size (max_collection_payload_size_bytes): at or over the limit,
# upserts, vector updates and payload sets are refused (Qdrant's
# check_collection_payload_size_limit, the limit in MB as an f32); the
# size is the bytes of the payloads held, so clearing them lets writes in.
setup()
ok("POST", C + "/points/payload/clear?wait=true", {"points": list(range(1, 11))})
strict({"enabled": True, "max_collection_payload_size_bytes": 1024})
big = {"t": "x" * 300}
for i in range(1, 5):  # 0, ~310, ~620, ~930 bytes before each: under 1024
    passes(req("PUT", C + "/points?wait=true", {"points": [{"id": i, "vector": [1, 2, 3, 4], "payload": big}]}),
           "payload %d under the limit" % i)
PAY = ["Max payload storage size limit of 0.0009765625MB reached!"]
refused(req("PUT", C + "/points?wait=true", {"points": [{"id": 5, "vector": [1, 2, 3, 4]}]}), PAY, "upsert at the limit")
refused(req("POST", C + "/points/payload?wait=true", {"payload": {"a": 1}, "points": [1]}), PAY, "set payload at the limit")
refused(req("PUT", C + "/points/payload?wait=true", {"payload": {"a": 1}, "points": [1]}), PAY, "overwrite payload at the limit")
refused(req("PUT", C + "/points/vectors?wait=true", {"points": [{"id": 1, "vector": [4, 3, 2, 1]}]}), PAY, "vector update at the limit")
refused(req("POST", C + "/points/batch?wait=true", {"operations": [{"set_payload": {"payload": {"a": 1}, "points": [1]}}]}),
        PAY, "batch set_payload at the limit")
passes(req("POST", C + "/points/delete?wait=true", {"points": [9]}), "a delete at the limit")
srv.stop()
srv.start()
refused(req("PUT", C + "/points?wait=true", {"points": [{"id": 5, "vector": [1, 2, 3, 4]}]}), PAY, "at the limit after a restart")
passes(req("POST", C + "/points/payload/clear?wait=true", {"points": [1]}), "clearing a payload at the limit")
passes(req("PUT", C + "/points?wait=true", {"points": [{"id": 5, "vector": [1, 2, 3, 4]}]}), "under the limit again")
ok("PUT", C + "/points?wait=true", {"points": [{"id": 1, "vector": [1, 2, 3, 4], "payload": big}]})
refused(req("PUT", C + "/points?wait=true", {"points": [{"id": 6, "vector": [1, 2, 3, 4]}]}), PAY, "a replaced payload counts")

# Full scans (Qdrant's Query::check_fullscan, test_strict_mode_full_scan*):
# with search_allow_exact false, a vector query on a dense vector whose
# hnsw m is 0 is refused unless it rescores prefetches or its filter
# targets a tenant index and payload_m > 0; sparse vectors, fusion and
# order_by pass.
F = "/collections/fullscan"
req("DELETE", F)
ok("PUT", F, {"vectors": {"dense": {"size": 4, "distance": "Dot"}}, "sparse_vectors": {"sparse": {}}})
ok("PUT", F + "/points?wait=true", {"points": [
    {"id": i, "vector": {"dense": [0.1 * i, 0.2, 0.3, 0.4], "sparse": {"indices": [i], "values": [1.0]}},
     "payload": {"city": "Berlin" if i % 2 else "London"}} for i in range(1, 9)]})
ok("PATCH", F, {"vectors": {"dense": {"hnsw_config": {"m": 0, "payload_m": 0}}}})
fq = lambda body: req("POST", F + "/points/query", body)  # noqa: E731
dense = {"query": 2, "using": "dense", "limit": 3}
passes(fq(dense), "m = 0, strict mode off")
ok("PATCH", F, {"strict_mode_config": {"enabled": True, "search_allow_exact": False}})
MSG = ("Request is forbidden on 'dense' because global vector indexing is disabled (hnsw_config.m = 0). "
       "Help: Use tenant-specific filter, enable global vector indexing or enable strict mode "
       "`search_allow_exact` option")
refused(fq(dense), [MSG], "m = 0, no exact search")
refused(req("POST", F + "/points/query/groups", dict(dense, group_by="city")), [MSG], "m = 0, groups")
refused(req("POST", F + "/points/query/batch", {"searches": [dense]}), [MSG], "m = 0, batch")
passes(fq({"query": 2, "using": "sparse", "limit": 3}), "sparse vectors are always indexed")
passes(fq({"prefetch": [{"query": 2, "using": "sparse", "limit": 5}], "query": 2, "using": "dense", "limit": 3}),
       "rescoring a prefetch")
refused(fq({"prefetch": [{"query": 2, "using": "dense", "limit": 5}], "query": 2, "using": "sparse", "limit": 3}),
        [MSG], "a prefetch on the unindexed vector")
passes(req("POST", F + "/points/query/groups", {"prefetch": [{"query": 2, "using": "dense", "limit": 5}], "query": 2,
                                                "using": "sparse", "group_by": "city", "limit": 2}),
       "a query group's prefetches are not checked (Qdrant's CollectionQueryGroupsRequest)")
passes(fq({"prefetch": [{"query": 2, "using": "sparse", "limit": 5}], "query": {"fusion": "rrf"}}), "fusion")
passes(req("POST", F + "/points/search", {"vector": {"name": "dense", "vector": [1, 0, 0, 0]}, "limit": 3}),
       "points/search has no full-scan check in Qdrant")
city = dict(dense, filter={"must": [{"key": "city", "match": {"value": "Berlin"}}]})
refused(fq(city), [MSG], "a filter without a tenant index")
ok("PUT", F + "/index?wait=true", {"field_name": "city", "field_schema": {"type": "keyword", "is_tenant": True}})
refused(fq(city), ["Request is forbidden on 'dense' because vector indexing is disabled (hnsw_config.m = 0 and "
                   "hnsw_config.payload_m = 0). Help: Enable vector indexing, use a prefetch query with indexed "
                   "vectors or enable strict mode `search_allow_exact` option"], "tenant filter, payload_m = 0")
ok("PATCH", F, {"vectors": {"dense": {"hnsw_config": {"m": 0, "payload_m": 1}}}})
passes(fq(city), "tenant filter, payload_m = 1")
ok("PATCH", F, {"vectors": {"dense": {"hnsw_config": {"m": 16}}}})
passes(fq(dense), "the vector's m back on")
# A vector's hnsw_config is a diff merged into the one it has (Qdrant's
# HnswConfigDiff::update): patching another field keeps its m = 0.
ok("PATCH", F, {"vectors": {"dense": {"hnsw_config": {"m": 0}}}})
ok("PATCH", F, {"vectors": {"dense": {"hnsw_config": {"ef_construct": 200}}}})
refused(fq(dense), [MSG], "m = 0 kept through a PATCH of the vector's ef_construct")
hc = ok("GET", F)["config"]["params"]["vectors"]["dense"]["hnsw_config"]
if hc.get("m") != 0 or hc.get("ef_construct") != 200 or hc.get("payload_m") != 1:
    fail("a vector's hnsw_config after two PATCHes of different fields: %s" % hc)
ok("PATCH", F, {"vectors": {"dense": {"hnsw_config": {"m": 16}}}})
passes(fq(dense), "the vector's m back on, again")
# The collection's m = 0 is inherited by vectors without their own, and
# reported as configured; the default vector goes unnamed in the message.
req("DELETE", F)
ok("PUT", F, {"vectors": {"size": 4, "distance": "Dot"}, "hnsw_config": {"m": 0}})
if ok("GET", F)["config"]["hnsw_config"]["m"] != 0:
    fail("a collection created with hnsw_config.m = 0 must report m 0")
ok("PUT", F + "/points?wait=true", {"points": [{"id": i, "vector": [0.1 * i, 0.2, 0.3, 0.4]} for i in range(1, 6)]})
ok("PATCH", F, {"strict_mode_config": {"enabled": True, "search_allow_exact": False}})
refused(fq({"query": [1, 0, 0, 0], "limit": 3}),
        ["Request is forbidden because global vector indexing is disabled (hnsw_config.m = 0)."], "default vector")
# A null field of a config diff keeps its value (Qdrant's Option fields).
ok("PATCH", F, {"hnsw_config": {"m": None, "ef_construct": 64}})
refused(fq({"query": [1, 0, 0, 0], "limit": 3}),
        ["Request is forbidden because global vector indexing is disabled (hnsw_config.m = 0)."],
        "m = 0 kept through a PATCH with m null")
if ok("GET", F)["config"]["hnsw_config"]["m"] != 0:
    fail("hnsw_config.m = 0 must survive a PATCH with m null")
ok("PATCH", F, {"hnsw_config": {"m": 16}})
passes(fq({"query": [1, 0, 0, 0], "limit": 3}), "the collection's m back on")
req("DELETE", F)

# Disabled: nothing is enforced; the settings survive a restart.
strict({"max_query_limit": 1, "enabled": False})
passes(query(q4), "strict mode disabled")
strict({"enabled": True})
srv.stop()
srv.start()
refused(query(q4), ['Limit exceeded 4 > 1 for "limit"'], "after a restart")
cfg = ok("GET", C)["config"]["strict_mode_config"]
if cfg.get("max_query_limit") != 1 or cfg.get("enabled") is not True:
    fail("strict_mode_config after a restart: %s" % cfg)
srv.stop()
print("qdrant_strict.py: ok (strict mode: limits, timeout, unindexed filters, search params, batch and "
      "collection sizes, payload size, sparse lengths, filter conditions, index count, full scans, rate limits, disabled, after a restart)")
