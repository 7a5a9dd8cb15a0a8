#!/usr/bin/env python3
"""qdrant_opnum.py BIN WORKDIR - telemetry's shard update_queue.op_num, the
number of the last update operation a collection applied, as Qdrant counts
them (its WAL sequence, from 1; tests/openapi/test_update_queue.py): 0 for
a new collection; one per point write acknowledged with wait=true; one per
operation of points/batch; one per payload index change; none for a
refused write or another collection's; kept across a restart; a
collection made again under the same name starts at 0. And the shard's
and segment's payloads_size_bytes: the bytes of the payloads held, as
compact UTF-8 JSON (a point without one holds {}), after writes, payload
edits, deletes and a restart; num_deferred_points 0 (nothing waits)."""
import json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qdrant_http import Server  # noqa: E402

srv = Server("qdrant_opnum.py", sys.argv[1], sys.argv[2])
fail, req, ok = srv.fail, srv.req, srv.ok
C = "/collections/ops"


def op_num(name="ops"):
    t = ok("GET", "/telemetry?details_level=10")
    for c in t["collections"]["collections"]:
        if c["id"] == name:
            q = c["shards"][0]["local"]["update_queue"]
            if q["length"] != 0:
                fail("update_queue.length %s: writes are applied as they commit" % q["length"])
            return q["op_num"]
    fail("collection %s not in telemetry" % name)


def want(n, what):
    got = op_num()
    if got != n:
        fail("%s: op_num %s, want %d" % (what, got, n))
    info = ok("GET", C)["update_queue"]
    if info != {"length": 0}:
        fail("%s: collection info's update_queue %s" % (what, info))


P = {"id": 1, "vector": [0.05, 0.61, 0.76, 0.74], "payload": {}}
srv.start()
ok("PUT", C, {"vectors": {"size": 4, "distance": "Dot"}})
ok("PUT", "/collections/other", {"vectors": {"size": 4, "distance": "Dot"}})
want(0, "a new collection")
ok("PUT", C + "/points?wait=true", {"points": [P]})
want(1, "the first upsert")
ok("PUT", C + "/points?wait=true", {"points": [P]})
want(2, "the same upsert again")
ok("POST", C + "/points/batch?wait=true", {"operations": [
    {"upsert": {"points": [dict(P, id=2)]}},
    {"set_payload": {"payload": {"a": 1}, "points": [1, 2]}},
    {"delete": {"points": [2]}}]})
want(5, "points/batch of three operations")
ok("PUT", C + "/index?wait=true", {"field_name": "a", "field_schema": "integer"})
want(6, "a payload index made")
ok("DELETE", C + "/index/a?wait=true")
want(7, "a payload index deleted")
code, _ = req("PUT", C + "/points?wait=true", {"points": [{"id": 3, "vector": [1, 2]}]})
if code != 400:
    fail("an upsert of a 2-d vector into a 4-d collection: %d" % code)
want(7, "a refused upsert")
ok("PUT", "/collections/other/points?wait=true", {"points": [P]})
want(7, "another collection's write")
if op_num("other") != 1:
    fail("the other collection's op_num: %s" % op_num("other"))
srv.stop()
srv.start()
want(7, "after a restart")
ok("PUT", C + "/points?wait=true", {"points": [P]})
want(8, "a write after the restart")
ok("DELETE", C)
ok("PUT", C, {"vectors": {"size": 4, "distance": "Dot"}})
want(0, "made again under the same name")

# Payload bytes: compared with the payloads' compact JSON, computed here.
def payload_bytes(payloads):
    return sum(len(json.dumps(p, separators=(",", ":"), ensure_ascii=False).encode()) for p in payloads)


def want_bytes(payloads, what):
    t = ok("GET", "/telemetry?details_level=4")
    shard = [c for c in t["collections"]["collections"] if c["id"] == "ops"][0]["shards"][0]["local"]
    seg = shard["segments"][0]["info"]
    got = (shard["payloads_size_bytes"], seg["payloads_size_bytes"], seg["num_deferred_points"])
    if got != (payload_bytes(payloads), payload_bytes(payloads), 0):
        fail("%s: payload bytes (shard, segment, deferred) %s, want %d" % (what, got, payload_bytes(payloads)))


A, B = {"city": "Zürich", "n": [1, 2.5, None], "ok": True}, {"k": "v" * 40}
ok("PUT", C + "/points?wait=true", {"points": [dict(P, payload=A), dict(P, id=2, payload=B), dict(P, id=3, payload=None)]})
want_bytes([A, B, {}], "three points")
ok("POST", C + "/points/payload?wait=true", {"payload": {"x": "é"}, "points": [3]})
want_bytes([A, B, {"x": "é"}], "a payload set")
ok("POST", C + "/points/delete?wait=true", {"points": [2]})
want_bytes([A, {"x": "é"}], "a point deleted")
ok("POST", C + "/points/payload/clear?wait=true", {"points": [1]})
want_bytes([{}, {"x": "é"}], "a payload cleared")
srv.stop()
srv.start()
want_bytes([{}, {"x": "é"}], "after a restart")
srv.stop()
print("qdrant_opnum.py: ok (op_num: new 0, per write, per batch operation, per index change, refused "
      "and other writes not counted, after a restart, a collection made again; payload bytes)")
