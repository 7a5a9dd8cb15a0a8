#!/usr/bin/env python3
"""qdrant_blocks.py BIN WORKDIR - payload blocks (Qdrant's payload_m) over
HTTP against the real binary. 60,000 points of 64 floats (15 MB of
vectors: past the full-scan size, so the graph is walked); a keyword
field "cat" with eight values of 6,000 points (10% each: a share whose
filtered searches would scan their matches or walk them alone) and one
of 12,000 (20%: the main graph walks it well, no block).

- Created with hnsw_config.payload_m 0 and a keyword index: no block is
  built (vitrine_payload_block_points stays 0) and no search walks one
  (vitrine_search_plans{plan="block"}).
- A PATCH of payload_m 16 builds the eight blocks in the background
  (48,000 points linked); filtered searches then walk them, with
  recall@10 >= 0.95 against a brute force computed here, every result
  in the filter.
- A point upserted into a value is found by its own vector at once.
- After a restart the blocks are built again and answer the same."""
import json, math, operator, os, random, re, sys, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qdrant_http import Server  # noqa: E402

srv = Server("qdrant_blocks.py", sys.argv[1], sys.argv[2])
fail, ok, start, stop = srv.fail, srv.ok, srv.start, srv.stop
C = "/collections/shop"
N, D, NQ = 60000, 64, 30
random.seed(5)
cent = [[random.gauss(0, 1) for _ in range(D)] for _ in range(60)]
vecs = [[round(x + 0.5 * random.gauss(0, 1), 4) for x in random.choice(cent)] for _ in range(N)]


def cat(i):
    return "c%d" % (i % 10) if i % 10 < 8 else "rest"


def unit(x):
    s = math.sqrt(sum(map(operator.mul, x, x)))
    return [a / s for a in x]


uv = [unit(v) for v in vecs]
qs = [[x + 0.3 * random.gauss(0, 1) for x in random.choice(vecs)] for _ in range(NQ)]
qcat = ["c%d" % (k % 8) for k in range(NQ)]
want = []
for q, c in zip(qs, qcat):
    uq = unit(q)
    members = [i for i in range(N) if cat(i) == c]
    want.append(sorted(members, key=lambda i: -sum(map(operator.mul, uv[i], uq)))[:10])


def metric(name, labels):
    with urllib.request.urlopen(srv.base + "/metrics", timeout=30) as r:
        text = r.read().decode()
    m = re.search(r"^%s\{%s\} ([0-9.e+]+)$" % (name, re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else 0.0


def blocks_points():
    return metric("vitrine_payload_block_points", 'id="shop"')


def block_plans():
    return metric("vitrine_search_plans", 'plan="block"')


def wait_blocks(n):
    for _ in range(600):
        if blocks_points() >= n:
            return
        time.sleep(0.1)
    fail("payload blocks: %d points linked, want %d" % (blocks_points(), n))


def search_all():
    """recall@10 of the NQ filtered queries; every result must be in the value."""
    hit = 0
    for q, c, w in zip(qs, qcat, want):
        body = {"query": q, "limit": 10, "params": {"hnsw_ef": 128}, "with_payload": True,
                "filter": {"must": [{"key": "cat", "match": {"value": c}}]}}
        pts = ok("POST", C + "/points/query", body)["points"]
        for p in pts:
            if p["payload"]["cat"] != c:
                fail("a result outside the filter: %s" % json.dumps(p))
        hit += len(set(p["id"] for p in pts) & set(w))
    return hit / (10.0 * NQ)


start()
ok("PUT", C, {"vectors": {"size": D, "distance": "Cosine"}, "hnsw_config": {"payload_m": 0}})
for k in range(0, N, 5000):
    ok("PUT", C + "/points?wait=true",
       {"points": [{"id": i, "vector": vecs[i], "payload": {"cat": cat(i)}} for i in range(k, k + 5000)]})
ok("PUT", C + "/index?wait=true", {"field_name": "cat", "field_schema": "keyword"})
for _ in range(100):
    if ok("GET", C)["status"] == "green":
        break
    time.sleep(0.1)

# ---- payload_m 0: no blocks
time.sleep(2)
b0 = block_plans()
r0 = search_all()
if blocks_points() != 0 or block_plans() != b0:
    fail("payload_m 0: %d points in blocks, %d block searches" % (blocks_points(), block_plans() - b0))
print("qdrant_blocks.py: payload_m 0: no blocks, recall@10 %.3f (the planner's scans and walks)" % r0)

# ---- payload_m 16: eight blocks, walked
t0 = time.perf_counter()
ok("PATCH", C, {"hnsw_config": {"payload_m": 16}})
wait_blocks(48000)
built = time.perf_counter() - t0
time.sleep(0.5)
if blocks_points() != 48000:
    fail("payload blocks link %d points, want 48000 (the 20%% value has none)" % blocks_points())
b1 = block_plans()
r1 = search_all()
if block_plans() - b1 != NQ:
    fail("%d of %d filtered searches walked a block" % (block_plans() - b1, NQ))
if r1 < 0.95:
    fail("recall@10 %.3f through the blocks" % r1)
print("qdrant_blocks.py: payload_m 16: 48000 points in 8 blocks after %.1f s, recall@10 %.3f" % (built, r1))

# ---- a new point is found at once
v = [x + 0.001 for x in vecs[123]]
ok("PUT", C + "/points?wait=true", {"points": [{"id": N + 1, "vector": v, "payload": {"cat": "c3"}}]})
pts = ok("POST", C + "/points/query", {"query": v, "limit": 3,
                                       "filter": {"must": [{"key": "cat", "match": {"value": "c3"}}]}})["points"]
if not pts or pts[0]["id"] != N + 1:
    fail("the point just written is not found first: %s" % json.dumps(pts))

# ---- restart: built again, same answers
stop()
start()
wait_blocks(48001)
b2 = block_plans()
r2 = search_all()
if block_plans() - b2 != NQ or r2 < 0.95:
    fail("after a restart: %d block searches, recall@10 %.3f" % (block_plans() - b2, r2))
print("qdrant_blocks.py: after a restart: recall@10 %.3f" % r2)
stop()
print("qdrant_blocks.py: ok")
