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
- An index made with enable_hnsw false gets no blocks.
- A point upserted into a value is found by its own vector at once; just
  after deletes and vector updates, answers hold no deleted point, no
  point twice, and a moved point is found first by its new vector; after
  a PATCH that rebuilds the graph the blocks are built again.
- After a restart the blocks are built again and answer the same.
- With m 0 (no main graph: Qdrant's multitenancy recipe) the 20% value
  gets a block too and its filtered searches walk it; an unfiltered
  search scores every point."""
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
gone = set()  # points deleted so far


def truth(q, c):
    """The exact top 10 of the points of value c (uv: their vectors now)."""
    uq = unit(q)
    members = [i for i in range(N) if cat(i) == c and i not in gone]
    return sorted(members, key=lambda i: -sum(map(operator.mul, uv[i], uq)))[:10]


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


def check_points(pts, c):
    """Every result in the value, none deleted, none twice."""
    ids = [p["id"] for p in pts]
    if len(set(ids)) != len(ids):
        fail("a point twice in one answer: %s" % ids)
    for p in pts:
        if p["id"] in gone or p["payload"].get("cat") != c:
            fail("a result outside the filter or deleted: %s" % json.dumps(p))


def search_all(key="cat"):
    """recall@10 of the NQ queries filtered on key (cat, or grp: the same
    values under another index)."""
    hit = 0
    for q, c in zip(qs, qcat):
        body = {"query": q, "limit": 10, "params": {"hnsw_ef": 128}, "with_payload": True,
                "filter": {"must": [{"key": key, "match": {"value": c}}]}}
        pts = ok("POST", C + "/points/query", body)["points"]
        check_points(pts, c)
        hit += len(set(p["id"] for p in pts) & set(truth(q, c)))
    return hit / (10.0 * NQ)


start()
ok("PUT", C, {"vectors": {"size": D, "distance": "Cosine"}, "hnsw_config": {"payload_m": 0}})
for k in range(0, N, 5000):
    ok("PUT", C + "/points?wait=true",
       {"points": [{"id": i, "vector": vecs[i], "payload": {"cat": cat(i), "grp": cat(i)}}
                   for i in range(k, k + 5000)]})
ok("PUT", C + "/index?wait=true", {"field_name": "cat", "field_schema": "keyword"})
# The same values under an index that asks for no HNSW links.
ok("PUT", C + "/index?wait=true", {"field_name": "grp", "field_schema": {"type": "keyword", "enable_hnsw": False}})
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
# enable_hnsw false: grp has no blocks (48000 are cat's), so its searches plan without.
b1 = block_plans()
search_all("grp")
if block_plans() != b1:
    fail("searches filtered on an index with enable_hnsw false walked a block")

# ---- a new point is found at once
v = [x + 0.001 for x in vecs[123]]
ok("PUT", C + "/points?wait=true", {"points": [{"id": N + 1, "vector": v, "payload": {"cat": "c3"}}]})
pts = ok("POST", C + "/points/query", {"query": v, "limit": 3,
                                       "filter": {"must": [{"key": "cat", "match": {"value": "c3"}}]}})["points"]
if not pts or pts[0]["id"] != N + 1:
    fail("the point just written is not found first: %s" % json.dumps(pts))

# ---- deletes and vector updates: the answer just after them holds no
# deleted point and no point twice (an updated member is scored exactly
# until its block is relinked), and neither does one through the blocks
# a PATCH rebuild builds again for its new graph.
c3 = [i for i in range(N) if cat(i) == "c3"]
dele, moved = c3[:300], c3[300:600]
ok("POST", C + "/points/delete?wait=true", {"points": dele})
gone.update(dele)
for i in moved:
    vecs[i] = [x + 0.05 for x in vecs[i]]
    uv[i] = unit(vecs[i])
ok("PUT", C + "/points/vectors?wait=true", {"points": [{"id": i, "vector": vecs[i]} for i in moved]})
for i in moved[:100]:
    pts = ok("POST", C + "/points/query", {"query": vecs[i], "limit": 10, "with_payload": True,
                                           "filter": {"must": [{"key": "cat", "match": {"value": "c3"}}]}})["points"]
    check_points(pts, "c3")
    if pts[0]["id"] != i:
        fail("a moved point is not found first by its new vector: %s" % [p["id"] for p in pts])
ok("PATCH", C, {"hnsw_config": {"ef_construct": 64}})
for _ in range(600):
    if ok("GET", C)["status"] == "green":
        break
    time.sleep(0.1)
wait_blocks(48001 - 300)
r = search_all()
if r < 0.95:
    fail("after a rebuild: recall@10 %.3f" % r)
print("qdrant_blocks.py: after deletes, moves and a rebuild: recall@10 %.3f" % r)

# ---- restart: built again, same answers
stop()
start()
wait_blocks(48001 - 300)
b2 = block_plans()
r2 = search_all()
if block_plans() - b2 != NQ or r2 < 0.95:
    fail("after a restart: %d block searches, recall@10 %.3f" % (block_plans() - b2, r2))
print("qdrant_blocks.py: after a restart: recall@10 %.3f" % r2)

# ---- m 0 (Qdrant's multitenancy recipe: no main graph, blocks only):
# every value past the threshold gets a block, the 20% one too, and it is
# what a filtered search walks; an unfiltered one scores every point.
ok("PATCH", C, {"hnsw_config": {"m": 0}})
wait_blocks(60001 - 300)
b3 = block_plans()
hit = 0
for q in qs:
    pts = ok("POST", C + "/points/query", {"query": q, "limit": 10, "params": {"hnsw_ef": 128}, "with_payload": True,
                                           "filter": {"must": [{"key": "cat", "match": {"value": "rest"}}]}})["points"]
    check_points(pts, "rest")
    hit += len(set(p["id"] for p in pts) & set(truth(q, "rest")))
r3 = hit / (10.0 * NQ)
if block_plans() - b3 != NQ or r3 < 0.95:
    fail("m 0: %d of %d searches walked the 20%% value's block, recall@10 %.3f" % (block_plans() - b3, NQ, r3))
a0 = metric("vitrine_search_plans", 'plan="all"')
ok("POST", C + "/points/query", {"query": qs[0], "limit": 10})
if metric("vitrine_search_plans", 'plan="all"') != a0 + 1:
    fail("m 0: an unfiltered search did not score every point")
print("qdrant_blocks.py: m 0: the 20%% value's block walked, recall@10 %.3f" % r3)
stop()
print("qdrant_blocks.py: ok")
