#!/usr/bin/env python3
"""qdrant_optimize.py BIN WORKDIR - Qdrant's bulk-upload recipe on a
collection large enough for the background rebuild
(COLLECTION_REBUILD_ASYNC_MIN, 5000 points), over HTTP against the real
binary: created with hnsw_config.m 0, 20,000 points of 160 floats
uploaded, PATCH m 16. The PATCH answers at once (well within a 5 s
client timeout); GET reports the new m with status yellow and
optimizer_status "ok", /optimizations the rebuild running (both valid
against Qdrant's OpenAPI document); writes go on (points added and
deleted while it builds) and searches meanwhile are exact scans of the
bare graph, equal to a brute force computed here. Then status turns
green, the graph answers (recall@10 against the brute force over the
final points), the points written meanwhile are found by their own
vectors, and a restart keeps it green with the same answers. Then
optimizers_config.indexing_threshold: indexed_vectors_count as Qdrant's
test_disable_indexing expects it, and the older bulk recipe (threshold
0 while uploading, then a PATCH turning indexing on)."""
import json, math, operator, os, random, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qdrant_http import Server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
srv = Server("qdrant_optimize.py", sys.argv[1], sys.argv[2])
fail, ok, start, stop = srv.fail, srv.ok, srv.start, srv.stop
work = sys.argv[2]
C = "/collections/big"

# The data: 20,000 points of 160 floats around 50 centres (12 MB of
# vectors: past COLLECTION_FULL_SCAN_BYTES, so the built graph is walked),
# 2,000 more written during the rebuild, 20 queries, and the brute-force
# top 10 of each over the final set (ids 0..19999 but the deleted
# multiples of 7, and 20000..21999).
N, MORE, D = 20000, 2000, 160
random.seed(11)
cent = [[random.gauss(0, 1) for _ in range(D)] for _ in range(50)]
vecs = [[x + 0.4 * random.gauss(0, 1) for x in random.choice(cent)] for _ in range(N + MORE)]
qs = [[x + 0.3 * random.gauss(0, 1) for x in random.choice(vecs)] for _ in range(20)]
deleted = list(range(0, N, 7))


def unit(x):
    s = math.sqrt(sum(map(operator.mul, x, x)))
    return [a / s for a in x]


uv = [unit(v) for v in vecs]
final = [i for i in range(N + MORE) if not (i < N and i % 7 == 0)]
want = [sorted(final, key=lambda i, uq=unit(q): -sum(map(operator.mul, uv[i], uq)))[:10] for q in qs]


def query(q, limit=10, params=None):
    body = {"query": q, "limit": limit}
    if params:
        body["params"] = params
    return [p["id"] for p in ok("POST", C + "/points/query", body)["points"]]


start()
# ef_construct 400: the build takes a few seconds, long enough to look at.
ok("PUT", C, {"vectors": {"size": D, "distance": "Cosine"}, "hnsw_config": {"m": 0, "ef_construct": 400}})
for k in range(0, N, 2000):
    ok("PUT", C + "/points?wait=true", {"points": [{"id": i, "vector": vecs[i]} for i in range(k, k + 2000)]})

# ---- the PATCH answers at once; the graph is built behind it
t0 = time.perf_counter()
ok("PATCH", C, {"hnsw_config": {"m": 16}})
patch_secs = time.perf_counter() - t0
if patch_secs > 2.0:
    fail("the PATCH took %.2f s: it should answer before the graph is built" % patch_secs)
info = ok("GET", C)
if info["config"]["hnsw_config"]["m"] != 16 or info["status"] != "yellow" or info["optimizer_status"] != "ok":
    fail("GET after the PATCH: want m 16, status yellow, optimizer ok: %s" % json.dumps(info)[:400])
path = C + "/optimizations?with=queued,completed,idle_segments"
opt = ok("GET", path)
run = opt["running"]
if not (len(run) == 1 and run[0]["optimizer"] == "config mismatch" and run[0]["status"] == "optimizing"
        and run[0]["progress"]["children"][0]["total"] == N and opt["summary"]["idle_segments"] == 0
        and opt["idle_segments"] == []):
    fail("optimizations during the rebuild: %s" % json.dumps(opt)[:600])
# Both answers as Qdrant's OpenAPI document describes them.
with open(os.path.join(work, "records.jsonl"), "w") as f:
    for p, body in ((C, info), (path, opt)):
        f.write(json.dumps({"file": "qdrant_optimize.py", "method": "GET", "path": p.split("?")[0],
                            "query": "?" + p.split("?")[1] if "?" in p else "", "status": 200,
                            "content_type": "application/json", "kind": "json",
                            "body": {"result": body, "status": "ok", "time": 0.001}}) + "\n")
r = subprocess.run([sys.executable, os.path.join(HERE, "../qdrant/validate_schema.py"),
                    os.path.join(work, "records.jsonl"), "--openapi",
                    os.path.join(HERE, "../qdrant/openapi-1.17.1.json")], capture_output=True, text=True)
if r.returncode:
    fail("the answers during the rebuild against the OpenAPI document:\n" + r.stdout + r.stderr)

# Writes go on while it builds.
ok("PUT", C + "/points?wait=true", {"points": [{"id": i, "vector": vecs[i]} for i in range(N, N + MORE)]})
ok("POST", C + "/points/delete?wait=true", {"points": deleted})
# Searches meanwhile scan the bare graph: exactly the brute force, when
# the collection is still yellow after them.
bad = [(got, w) for got, w in ((query(q), w) for q, w in zip(qs[:8], want)) if got != w]
status = ok("GET", C)["status"]
print("  during the rebuild: %d of 8 searches equal to the brute force; then %s" % (8 - len(bad), status))
if bad and status == "yellow":
    fail("a search during the rebuild: got %s, want %s" % bad[0])

# ---- green once the graph is in
for _ in range(600):
    status = ok("GET", C)["status"]
    if status != "yellow":
        break
    time.sleep(0.1)
if status != "green":
    fail("status %s after 60 s" % status)
log = open(srv.log).read()
rebuilt = log[log.find("rebuilt in the background"):].split("\n")[0]
if not rebuilt:
    fail("the log does not tell of the background rebuild")


def check_graph(what):
    """recall@10 at hnsw_ef 64 against the brute force, and the points
    written during the rebuild found by their own vectors."""
    found = 0
    for q, w in zip(qs, want):
        got = query(q, params={"hnsw_ef": 64})
        if any(g < N and g % 7 == 0 for g in got):
            fail(what + ": a deleted point was returned")
        found += len(set(got) & set(w))
    recall = found / (10 * len(qs))
    own = sum(query(vecs[i], 1) == [i] for i in range(N, N + MORE, 20))
    print("  %s: recall@10 %.3f at hnsw_ef 64; %d of %d points written during the rebuild found "
          "by their own vector" % (what, recall, own, MORE // 20))
    if recall < 0.9 or own < 0.97 * (MORE // 20):
        fail(what + ": the rebuilt graph misses points")


check_graph("after the rebuild")
info = ok("GET", C)
if info["points_count"] != N + MORE - len(deleted) or info["config"]["hnsw_config"]["m"] != 16:
    fail("counts after the rebuild: %s" % json.dumps(info)[:400])
opt = ok("GET", C + "/optimizations")
if opt["running"] != [] or opt["summary"]["idle_segments"] != 1:
    fail("optimizations once green: %s" % json.dumps(opt)[:400])
if info["indexed_vectors_count"] != info["points_count"]:
    fail("12 MB of vectors, past the indexing threshold, counted as indexed: %s" % json.dumps(info)[:300])
stop()
start()
if ok("GET", C)["status"] != "green":
    fail("not green after a restart")
check_graph("after a restart")

# ---- optimizers_config.indexing_threshold, as Qdrant's test_disable_indexing
# (tests/openapi/test_vector_config.py) checks it: 100 vectors of 256 floats
# (100 KB) are indexed under a 10 KB threshold and not with indexing off.
for name, threshold, want in (("idx", 10, 100), ("noidx", 0, 0), ("dflt", None, 0)):
    body = {"vectors": {"size": 256, "distance": "Dot"}}
    if threshold is not None:
        body["optimizers_config"] = {"indexing_threshold": threshold}
    ok("PUT", "/collections/" + name, body)
    ok("PUT", "/collections/%s/points?wait=true" % name,
       {"points": [{"id": i, "vector": [random.random() for _ in range(256)]} for i in range(100)]})
    got = ok("GET", "/collections/" + name)["indexed_vectors_count"]
    if got != want:
        fail("indexing_threshold %s: indexed_vectors_count %s, want %d" % (threshold, got, want))
    ok("DELETE", "/collections/" + name)

# Qdrant's older bulk-upload recipe: indexing off (threshold 0: no graph,
# exact searches, as m 0), upload, then a PATCH of the threshold builds the
# graph, in the background from 5000 points on.
ok("PUT", "/collections/off", {"vectors": {"size": D, "distance": "Cosine"},
                               "optimizers_config": {"indexing_threshold": 0}})
for k in range(0, 6000, 2000):
    ok("PUT", "/collections/off/points?wait=true",
       {"points": [{"id": i, "vector": vecs[i]} for i in range(k, k + 2000)]})
info = ok("GET", "/collections/off")
if info["indexed_vectors_count"] != 0 or info["status"] != "green":
    fail("indexing off: %s" % json.dumps(info)[:300])
ok("PATCH", "/collections/off", {"optimizers_config": {"indexing_threshold": 1000}})
info = ok("GET", "/collections/off")
if info["status"] != "yellow" or info["config"]["optimizer_config"]["indexing_threshold"] != 1000:
    fail("after the PATCH turning indexing on: %s" % json.dumps(info)[:300])
for _ in range(600):
    info = ok("GET", "/collections/off")
    if info["status"] != "yellow":
        break
    time.sleep(0.1)
if info["status"] != "green" or info["indexed_vectors_count"] != 6000:
    fail("indexing on: %s" % json.dumps(info)[:300])
if query(vecs[4321], 1) != [4321]:
    fail("indexing on: a point not found by its own vector")
stop()
print("qdrant_optimize.py: ok (the PATCH answered in %.3f s; the graph %s)" % (patch_secs, rebuilt))
