#!/usr/bin/env python3
# bench_blocks.py BASE.fvecs N V BIN - filtered queries over HTTP with and
# without payload blocks (docs/http-api.md): N points of 512-d
# (the clustered set), payload cat = "c<i % V>" with a keyword index (V values:
# 1/V share each), float32, m 16 ef_construct 100, uploaded with m 0 and PATCHed.
# Phases on one server: payload_m 0 (the planner's scan / walk), then PATCH
# payload_m 16 and wait for the blocks; queries/s of one client for SECS
# seconds at hnsw_ef 40, 64, 100, 200, and recall@10 against numpy brute force.
import http.client, json, re, subprocess, sys, time, tempfile, shutil
import numpy as np
base, n, V, binp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
SECS = 4
raw = np.fromfile(base, dtype=np.int32, count=513 * n)
X = raw.reshape(-1, 513)[:, 1:].view(np.float32).copy()
X /= np.linalg.norm(X, axis=1, keepdims=True)
work = tempfile.mkdtemp()
log = open(work + "/log", "w")
srv = subprocess.Popen([binp, "serve", "--port", "0", "--data", work + "/data", "--weights", work + "/nw"], stderr=log)
port = None
for _ in range(300):
    time.sleep(0.1)
    for line in open(work + "/log"):
        if "listening on http://127.0.0.1:" in line:
            port = int(line.rsplit(":", 1)[1].split()[0])
    if port: break
conn = http.client.HTTPConnection("127.0.0.1", port)
def req(m, p, b=None, raw=False):
    conn.request(m, p, body=None if b is None else json.dumps(b), headers={"Content-Type": "application/json"})
    r = conn.getresponse(); data = r.read()
    assert r.status == 200, (m, p, r.status, data[:200])
    return data.decode() if raw else json.loads(data)
def metric(name, labels):
    t = req("GET", "/metrics", raw=True)
    m = re.search(r"^%s\{%s\} ([0-9.e+]+)$" % (name, re.escape(labels)), t, re.M)
    return float(m.group(1)) if m else 0.0
req("PUT", "/collections/c", {"vectors": {"size": 512, "distance": "Cosine"}, "hnsw_config": {"m": 0, "payload_m": 0}})
t0 = time.perf_counter()
for k in range(0, n, 1000):
    req("PUT", "/collections/c/points?wait=true", {"points": [{"id": i, "vector": X[i].tolist(), "payload": {"cat": "c%d" % (i % V)}} for i in range(k, k + 1000)]})
req("PUT", "/collections/c/index?wait=true", {"field_name": "cat", "field_schema": "keyword"})
req("PATCH", "/collections/c", {"hnsw_config": {"m": 16, "ef_construct": 100}})
while req("GET", "/collections/c")["result"]["status"] != "green": time.sleep(0.5)
print("loaded and indexed in %.0f s" % (time.perf_counter() - t0), flush=True)
rng = np.random.default_rng(3)
qs = [X[int(rng.integers(n))] + 0.05 * rng.standard_normal(512).astype(np.float32) for _ in range(200)]
qs = [q / np.linalg.norm(q) for q in qs]
truth = []
for k, q in enumerate(qs):
    ids = np.arange(k % V, n, V)
    s = X[ids] @ q
    truth.append(set(ids[np.argsort(-s)[:10]].tolist()))
def run(label):
    for ef in (40, 64, 100, 200):
        t0 = time.perf_counter(); k = 0; hit = 0; tot = 0
        while time.perf_counter() - t0 < SECS:
            j = k % len(qs)
            r = req("POST", "/collections/c/points/query", {"query": qs[j].tolist(), "limit": 10, "params": {"hnsw_ef": ef},
                                                           "filter": {"must": [{"key": "cat", "match": {"value": "c%d" % (j % V)}}]}})
            if k < len(qs):
                hit += len(set(p["id"] for p in r["result"]["points"]) & truth[j]); tot += 10
            k += 1
        print("%s ef %d: %.0f q/s, recall@10 %.3f" % (label, ef, k / (time.perf_counter() - t0), hit / tot), flush=True)
    t0 = time.perf_counter(); k = 0
    while time.perf_counter() - t0 < SECS:
        req("POST", "/collections/c/points/query", {"query": qs[k % len(qs)].tolist(), "limit": 10, "params": {"hnsw_ef": 64}}); k += 1
    print("%s unfiltered ef 64: %.0f q/s" % (label, k / (time.perf_counter() - t0)), flush=True)
run("payload_m 0")
t0 = time.perf_counter()
req("PATCH", "/collections/c", {"hnsw_config": {"payload_m": 16}})
while metric("vitrine_payload_block_points", 'id="c"') < n: time.sleep(0.5)
print("blocks of %d points built in %.1f s, %.1f MB" % (n, time.perf_counter() - t0, metric("vitrine_payload_block_bytes", 'id="c"') / 1e6), flush=True)
run("payload_m 16")
print("plans:", {p: metric("vitrine_search_plans", 'plan="%s"' % p) for p in ("scan", "sparse", "walk", "block", "all")})
srv.terminate(); srv.wait()
shutil.rmtree(work)
