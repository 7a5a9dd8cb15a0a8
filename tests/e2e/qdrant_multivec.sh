#!/usr/bin/env bash
# qdrant_multivec.sh - multivectors over Qdrant's REST API with curl,
# checked against references computed here in Python from the data the
# script sends: multivector_config in the collection config (reported
# back), [[...]] upserts (points list, batch, the legacy plain vector) read
# back (cosine: each vector normalised), MaxSim search / query / recommend
# on cosine, dot, euclid and manhattan multivectors (Qdrant's reported
# scores: sqrt(|sum|) for euclid, |sum| for manhattan), filters, offset,
# score_threshold, query by id, a prefetch reranked by a multivector
# (ColBERT), MMR, Qdrant's validation messages, vector updates and
# deletes, the uint8 datatype, and a restart.
# VITRINE_BIN is exported by tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
# Debian's interpreter when there is one: a version manager's shim in
# front of python3 can cost seconds per call.
PY=${PYTHON:-python3}
[ -z "${PYTHON:-}" ] && [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
work=$(mktemp -d)
log=$work/serve.log
pid=
fail() {
    echo "qdrant_multivec.sh: FAIL: $*"
    echo "--- last response: $(cat "$work/body" 2>/dev/null)"
    echo "--- server log"
    tail -20 "$log" 2>/dev/null
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$work"
    exit 1
}

start() {
    "$BIN" serve --port 0 --data "$work/data" --weights "$work/no-weights" 2>"$log" &
    pid=$!
    port=
    for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | tail -1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || fail "server exited early"
        sleep 0.1
    done
    [ -n "$port" ] || fail "no 'listening on' line in the log"
    base=http://127.0.0.1:$port
}

stop() {
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && fail "server did not stop on SIGTERM"
    wait "$pid" 2>/dev/null
    pid=
    : >"$log"
}

# req METHOD PATH [BODY]: the status code in $code, the body in $work/body.
req() {
    local data=()
    [ $# -ge 3 ] && data=(--data-binary "$3")
    code=$(curl -sS --max-time 10 -o "$work/body" -w '%{http_code}' -X "$1" \
        -H 'Content-Type: application/json' "${data[@]}" "$base$2") || fail "curl $1 $2"
}

# ok METHOD PATH [BODY]: req, and the answer must be 200.
ok() {
    req "$@"
    [ "$code" = 200 ] || fail "$1 $2 answered $code"
}

# err STATUS METHOD PATH BODY MESSAGE: the answer has that status and
# exactly that error message.
err() {
    req "$2" "$3" "$4"
    [ "$code" = "$1" ] || fail "$2 $3 answered $code, expected $1"
    check "message of $2 $3" "assert r['status']['error'] == '''$5''', r['status']['error']"
}

# check NAME PYTHON: runs PYTHON with r = the last response's JSON and the
# reference helpers below; it must not raise.
check() {
    "$PY" - "$work/body" "$work/data.json" <<EOF || fail "$1"
import json, math, struct, sys
r = json.load(open(sys.argv[1]))
D = json.load(open(sys.argv[2]))
DIST = {"colbert": "Cosine", "dot": "Dot", "euc": "Euclid", "man": "Manhattan"}
def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]
def multi(v):
    # a plain vector given for a multivector is a list of one
    return v if v and isinstance(v[0], list) else [v]
def norm(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v] if n else list(v)
def sim(dist, a, b):
    if dist == "Cosine": a, b = norm(a), norm(b)
    if dist == "Euclid": return -sum((x - y) ** 2 for x, y in zip(a, b))
    if dist == "Manhattan": return -sum(abs(x - y) for x, y in zip(a, b))
    return sum(x * y for x, y in zip(a, b))
def maxsim(dist, q, d):
    return sum(max(sim(dist, a, b) for b in d) for a in q)
def report(dist, s):
    return math.sqrt(abs(s)) if dist == "Euclid" else abs(s) if dist == "Manhattan" else s
def live(name):
    return [p for p in D["points"] if p["id"] not in D["deleted"] and name in p["vector"]]
def ref(name, q, flt=None, exclude=(), only=None):
    dist, hits = DIST[name], []
    for p in live(name):
        if p["id"] in exclude or (flt and not flt(p)) or (only is not None and p["id"] not in only):
            continue
        raw = maxsim(dist, multi(q), multi(p["vector"][name]))
        hits.append((p["id"], report(dist, raw), raw))
    return [(i, s) for i, s, _ in sorted(hits, key=lambda h: (-h[2], h[0]))]
def same(got, want, tol=1e-4):
    got = [(h["id"], h["score"]) for h in got]
    assert len(got) == len(want), (got, want)
    for (gi, gs), (wi, ws) in zip(got, want):
        assert abs(gs - ws) <= tol * (1 + abs(ws)), (got, want)
        assert gi == wi or abs(gs - ws) < 1e-5, (got, want)
$2
EOF
}

start

# The data: points 1..8, most with some of four multivectors of each
# distance, a plain "image" and a payload. Point 4's "dot" is a plain
# vector (Qdrant's legacy form: a list of one); point 6 has none.
cat >"$work/data.json" <<'EOF'
{"deleted": [],
 "points": [
  {"id": 1, "vector": {"image": [0.9, 0.1], "colbert": [[1, 0, 0], [0, 1, 1], [0.5, 0.5, 0]],
                        "dot": [[1, 2], [-1, 0.5]], "euc": [[1, 2, 3], [3, 3, 3], [4, 5, 6]], "man": [[0, 1]]},
   "payload": {"shop": "a"}},
  {"id": 2, "vector": {"image": [0.2, 0.8], "colbert": [[0, 0, 1]], "dot": [[0.5, 0.5], [2, -1], [0, 3]],
                        "euc": [[3, 3, 3], [4, 2, 1]], "man": [[1, 1], [2, -2]]}, "payload": {"shop": "b"}},
  {"id": 3, "vector": {"image": [0.5, 0.5], "colbert": [[1, 1, 1], [-1, 0, 2]], "dot": [[-2, 1]],
                        "euc": [[0, 0, 0]], "man": [[3, 0], [0, 3], [1, 1]]}, "payload": {"shop": "a"}},
  {"id": 4, "vector": {"image": [0.7, 0.3], "dot": [1.5, -0.5], "euc": [[2, 2, 2], [1, 0, 1]]},
   "payload": {"shop": "b"}},
  {"id": 5, "vector": {"image": [0.1, 0.9], "colbert": [[0.2, 0.9, 0.1], [0.3, 0.3, 0.3]], "dot": [[3, 3]],
                        "man": [[-1, 0.5], [0.25, 0.75]]}, "payload": {"shop": "a"}},
  {"id": 6, "vector": {"image": [0.4, 0.4]}, "payload": {"shop": "b"}},
  {"id": 7, "vector": {"image": [0.6, 0.2], "colbert": [[0, 1, 0], [1, 0, 1], [0, 0, 2], [1, 1, 0]],
                        "dot": [[0.25, -0.5], [1, 1]], "euc": [[5, 1, 1]], "man": [[0.5, 0.5]]}, "payload": {"shop": "a"}},
  {"id": 8, "vector": {"image": [0.3, 0.6], "colbert": [[2, 0, 1]], "dot": [[-1, -1], [0.5, 2]],
                        "euc": [[1, 1, 1], [2, 1, 0]], "man": [[2, 2]]}, "payload": {"shop": "b"}}
 ]}
EOF

# Config: multivector_config reported back beside the plain vector.
MV='"multivector_config": {"comparator": "max_sim"}'
ok PUT /collections/mv "{\"vectors\": {\"image\": {\"size\": 2, \"distance\": \"Dot\"},
    \"colbert\": {\"size\": 3, \"distance\": \"Cosine\", $MV}, \"dot\": {\"size\": 2, \"distance\": \"Dot\", $MV},
    \"euc\": {\"size\": 3, \"distance\": \"Euclid\", $MV, \"on_disk\": true},
    \"man\": {\"size\": 2, \"distance\": \"Manhattan\", $MV}}, \"sparse_vectors\": {\"kw\": {}}}"
ok GET /collections/mv
check "config reported" '
v = r["result"]["config"]["params"]["vectors"]
mc = {"comparator": "max_sim"}
assert v == {"image": {"size": 2, "distance": "Dot"},
             "colbert": {"size": 3, "distance": "Cosine", "multivector_config": mc},
             "dot": {"size": 2, "distance": "Dot", "multivector_config": mc},
             "euc": {"size": 3, "distance": "Euclid", "on_disk": True, "multivector_config": mc},
             "man": {"size": 2, "distance": "Manhattan", "multivector_config": mc}}, v'
req PUT /collections/bad '{"vectors": {"size": 2, "distance": "Dot", "multivector_config": {"comparator": "min_sim"}}}'
[ "$code" = 400 ] || fail "an unknown comparator answered $code"
check "comparator message" 'assert "unknown variant `min_sim`, expected `max_sim`" in r["status"]["error"], r'
req PUT /collections/bad '{"vectors": {"size": 2, "distance": "Dot", "datatype": "uint8"}}'
[ "$code" = 501 ] || fail "a uint8 single vector answered $code"

# Upsert (list, then batch), read back.
ok PUT '/collections/mv/points?wait=true' "$(cat "$work/data.json")"
ok PUT '/collections/mv/points?wait=true' '{"batch": {"ids": [9, 10], "vectors": {"image": [[1, 0], [0, 1]],
    "dot": [[[1, 1], [2, 0]], [0.5, 0.5]]}, "payloads": [{"shop": "a"}, {"shop": "b"}]}}'
"$PY" - "$work/data.json" <<'EOF' || fail "updating the model"
import json, sys
d = json.load(open(sys.argv[1]))
d["points"] += [{"id": 9, "vector": {"image": [1, 0], "dot": [[1, 1], [2, 0]]}, "payload": {"shop": "a"}},
                {"id": 10, "vector": {"image": [0, 1], "dot": [0.5, 0.5]}, "payload": {"shop": "b"}}]
json.dump(d, open(sys.argv[1], "w"))
EOF
ok POST /collections/mv/points/scroll '{"limit": 20, "with_vector": true}'
check "read back" '
got = {p["id"]: p["vector"] for p in r["result"]["points"]}
assert sorted(got) == list(range(1, 11)), sorted(got)
for p in D["points"]:
    g = got[p["id"]]
    assert set(g) == set(p["vector"]), (p["id"], g)
    for name, v in p["vector"].items():
        if name == "image":
            assert [f32(x) for x in g[name]] == [f32(x) for x in v], (p["id"], g[name])
            continue
        want = [norm(x) if DIST[name] == "Cosine" else x for x in multi(v)]
        assert len(g[name]) == len(want), (p["id"], name, g[name])
        for a, b in zip(g[name], want):
            assert all(abs(x - y) < 1e-6 for x, y in zip(a, b)), (p["id"], name, g[name])'
ok GET /collections/mv/points/4
check "legacy form reads back as a list of one" 'assert r["result"]["vector"]["dot"] == [[1.5, -0.5]], r'
ok POST /collections/mv/points '{"ids": [2], "with_vector": ["euc"]}'
check "with_vector names a multivector" 'assert r["result"] == [{"id": 2, "vector": {"euc": [[3.0, 3.0, 3.0], [4.0, 2.0, 1.0]]}}], r'

# MaxSim search on each distance, multi and plain queries.
Q2='[[1, 0.5], [-0.5, 2]]'
Q3='[[1, 2, 3], [3, 3, 3], [4, 5, 6]]'
ok POST /collections/mv/points/query "{\"query\": $Q2, \"using\": \"dot\", \"limit\": 20}"
check "dot" "same(r['result']['points'], ref('dot', $Q2))"
ok POST /collections/mv/points/query "{\"query\": $Q3, \"using\": \"euc\"}"
check "euclid (Qdrant's test_multi_with_euclidean)" "
same(r['result']['points'], ref('euc', $Q3))
byid = {h['id']: h['score'] for h in r['result']['points']}
assert byid[1] == 0.0 and byid[2] == 4.358899, byid"
ok POST /collections/mv/points/query '{"query": [[0.5, 1], [1, 0]], "using": "man"}'
check "manhattan" "same(r['result']['points'], ref('man', [[0.5, 1], [1, 0]]))"
ok POST /collections/mv/points/query '{"query": {"nearest": [[1, 0.2, 0.3], [0, 0, 1]]}, "using": "colbert"}'
check "cosine" "same(r['result']['points'], ref('colbert', [[1, 0.2, 0.3], [0, 0, 1]]))"
ok POST /collections/mv/points/query '{"query": [0.3, 1, 0], "using": "colbert"}'
check "plain query on a multivector" "same(r['result']['points'], ref('colbert', [[0.3, 1, 0]]))"
ok POST /collections/mv/points/search '{"vector": {"name": "dot", "vector": [1, -1]}, "limit": 10}'
check "legacy search" "same(r['result'], ref('dot', [[1, -1]]))"
ok POST /collections/mv/points/query "{\"query\": $Q2, \"using\": \"dot\", \"limit\": 2, \"offset\": 1,
    \"filter\": {\"must\": [{\"key\": \"shop\", \"match\": {\"value\": \"a\"}}]}}"
check "filter and offset" "same(r['result']['points'], ref('dot', $Q2, lambda p: p['payload']['shop'] == 'a')[1:3])"
ok POST /collections/mv/points/query "{\"query\": $Q2, \"using\": \"dot\", \"score_threshold\": 3.1}"
check "threshold" "same(r['result']['points'], [h for h in ref('dot', $Q2) if h[1] >= 3.1])"
ok POST /collections/mv/points/query "{\"query\": $Q3, \"using\": \"euc\", \"score_threshold\": 5}"
check "euclid threshold keeps distances up to it" "
want = [h for h in ref('euc', $Q3) if h[1] <= 5]
assert 0 < len(want) < len(ref('euc', $Q3)), want
same(r['result']['points'], want)"
ok POST /collections/mv/points/query '{"query": 2, "using": "dot", "limit": 3, "with_vector": ["dot"]}'
check "query by id" "
same(r['result']['points'], ref('dot', D['points'][1]['vector']['dot'], exclude=(2,))[:3])
assert all('dot' in h['vector'] for h in r['result']['points']), r"

# ColBERT reranking: a prefetch on the plain vector, its candidates
# rescored by MaxSim (Qdrant's test_sparse_dense_rerank_colbert shape).
ok POST /collections/mv/points/query '{"prefetch": [{"query": [0.9, 0.1], "using": "image", "limit": 4}],
    "query": [[0.2, 0.9, 0.1]], "using": "colbert", "limit": 3}'
check "rerank" "
img = sorted(((p['id'], sum(x * y for x, y in zip([0.9, 0.1], p['vector']['image']))) for p in live('image')),
             key=lambda h: (-h[1], h[0]))[:4]
same(r['result']['points'], ref('colbert', [[0.2, 0.9, 0.1]], only=[i for i, _ in img])[:3])"

# RRF over a multivector and a plain prefetch.
ok POST /collections/mv/points/query "{\"prefetch\": [{\"query\": $Q2, \"using\": \"dot\", \"limit\": 5},
    {\"query\": [0.5, 0.5], \"using\": \"image\", \"limit\": 5}], \"query\": {\"fusion\": \"rrf\"}, \"limit\": 10}"
check "rrf" "
img = sorted(((p['id'], sum(x * y for x, y in zip([0.5, 0.5], p['vector']['image']))) for p in live('image')),
             key=lambda h: (-h[1], h[0]))[:5]
fused = {}
for l in (ref('dot', $Q2)[:5], img):
    for rank, (i, _) in enumerate(l):
        fused[i] = fused.get(i, 0) + 1.0 / (rank + 2)
want = sorted(fused.items(), key=lambda h: -h[1])
got = r['result']['points']
assert len(got) == len(want), (got, want)
for h, (i, s) in zip(got, want):
    assert abs(h['score'] - s) < 1e-6, (got, want)"

# MMR: candidates by relevance, then lambda * relevance - (1 - lambda) *
# the best MaxSim of the candidate (as the query) against those chosen.
ok POST /collections/mv/points/query "{\"query\": {\"nearest\": $Q2, \"mmr\": {\"diversity\": 0.6, \"candidates_limit\": 6}},
    \"using\": \"dot\", \"limit\": 4}"
check "mmr" "
cand = ref('dot', $Q2)[:6]
vec = {p['id']: multi(p['vector']['dot']) for p in live('dot')}
rel = {i: maxsim('Dot', $Q2, vec[i]) for i, _ in cand}
lam = 1 - 0.6
chosen = [max(cand, key=lambda h: rel[h[0]])[0]]
while len(chosen) < 4:
    rest = [i for i, _ in cand if i not in chosen]
    chosen.append(max(rest, key=lambda i: lam * rel[i] - (1 - lam) * max(maxsim('Dot', vec[i], vec[c]) for c in chosen)))
assert [h['id'] for h in r['result']['points']] == chosen, (r['result']['points'], chosen)
score = dict(cand)
for h in r['result']['points']: assert abs(h['score'] - score[h['id']]) < 1e-4, h"

# Recommend: average of point examples concatenates them (negatives
# negated); raw plain examples average as vectors; best_score by MaxSim.
ok POST /collections/mv/points/recommend '{"positive": [1, 3], "negative": [2], "using": "dot", "limit": 10}'
check "average_vector" "
v = {p['id']: multi(p['vector']['dot']) for p in live('dot')}
q = v[1] + v[3] + [[-x for x in y] for y in v[2]]
same(r['result'], ref('dot', q, exclude=(1, 2, 3)))"
ok POST /collections/mv/points/recommend '{"positive": [[1, 2]], "negative": [[3, 4]], "using": "dot", "limit": 10}'
check "raw plain examples" "same(r['result'], ref('dot', [[2 * 1 - 3, 2 * 2 - 4]]))"
ok POST /collections/mv/points/recommend '{"negative": [[1, 2]], "strategy": "best_score", "using": "dot", "limit": 10}'
check "best_score, negatives only" "
want = []
for p in live('dot'):
    s = maxsim('Dot', [[1, 2]], multi(p['vector']['dot']))
    want.append((p['id'], -0.5 * (s / (1 + abs(s)) + 1)))
want.sort(key=lambda h: (-h[1], h[0]))
same(r['result'], want)
assert all(h['score'] < 0 for h in r['result']), r"
ok POST /collections/mv/points/query '{"query": {"recommend": {"positive": [[[0, 1], [1, 0]], 5], "strategy": "sum_scores"}},
    "using": "dot", "limit": 10}'
check "sum_scores with a raw multivector" "
v = {p['id']: multi(p['vector']['dot']) for p in live('dot')}
want = sorted(((i, maxsim('Dot', [[0, 1], [1, 0]], d) + maxsim('Dot', v[5], d)) for i, d in v.items() if i != 5),
              key=lambda h: (-h[1], h[0]))
same(r['result']['points'], want)"
req POST /collections/mv/points/recommend '{"positive": [1, [1, 2]], "using": "dot", "limit": 3}'
[ "$code" = 400 ] || fail "mixed average answered $code"
check "mixed message" 'assert r["status"]["error"] == "Wrong input: Can'"'"'t average vectors with different types", r'

# Qdrant's validation messages; nothing is stored.
err 422 PUT '/collections/mv/points?wait=true' '{"points": [{"id": 1, "vector": {"dot": [[]]}}]}' \
    'Validation error in JSON body: [points[0].vector.?.data: all vectors must be non-empty]'
err 422 PUT '/collections/mv/points?wait=true' '{"points": [{"id": 1, "vector": {"dot": [[1, 2], [1]]}}]}' \
    'Validation error in JSON body: [points[0].vector.?.data: all vectors must have the same dimension, found vector with dimension 1]'
err 400 PUT '/collections/mv/points?wait=true' '{"points": [{"id": 1, "vector": {"dot": []}}]}' \
    'Wrong input: Vector dimension error: expected dim: 2, got 0'
err 400 PUT '/collections/mv/points?wait=true' '{"points": [{"id": 1, "vector": {"dot": [[1, 2, 3]]}}]}' \
    'Wrong input: Vector dimension error: expected dim: 2, got 3'
err 400 PUT '/collections/mv/points?wait=true' '{"points": [{"id": 1, "vector": {"image": [[1, 2]]}}]}' \
    'Wrong input: Conversion between multi and regular vectors failed'
err 400 POST /collections/mv/points/query '{"query": [[1, 2]], "using": "image"}' \
    'Wrong input: Conversion between multi and regular vectors failed'
err 400 POST /collections/mv/points/query '{"query": {"indices": [1], "values": [1]}, "using": "dot"}' \
    'Wrong input: Conversion between sparse and regular vectors failed'
err 400 POST /collections/mv/points/query '{"query": [[1, 2, 3]], "using": "dot"}' \
    'Wrong input: Vector dimension error: expected dim: 2, got 3'
ok POST /collections/mv/points/query "{\"query\": $Q2, \"using\": \"dot\", \"limit\": 20}"
check "unchanged after bad input" "same(r['result']['points'], ref('dot', $Q2))"

# Update and delete vectors, delete a point.
ok PUT '/collections/mv/points/vectors?wait=true' '{"points": [{"id": 6, "vector": {"dot": [[4, 0], [0, 4]]}},
    {"id": 1, "vector": {"euc": [[9, 9, 9]]}}]}'
ok POST '/collections/mv/points/vectors/delete?wait=true' '{"points": [2, 3], "vector": ["dot", "man"]}'
ok POST '/collections/mv/points/delete?wait=true' '{"points": [7]}'
"$PY" - "$work/data.json" <<'EOF' || fail "updating the model"
import json, sys
d = json.load(open(sys.argv[1]))
pts = {p["id"]: p for p in d["points"]}
pts[6]["vector"]["dot"] = [[4, 0], [0, 4]]
pts[1]["vector"]["euc"] = [[9, 9, 9]]
for i in (2, 3):
    pts[i]["vector"].pop("dot", None)
    pts[i]["vector"].pop("man", None)
d["deleted"] = [7]
json.dump(d, open(sys.argv[1], "w"))
EOF
ok POST /collections/mv/points/query "{\"query\": $Q2, \"using\": \"dot\", \"limit\": 20}"
check "dot after updates" "same(r['result']['points'], ref('dot', $Q2))"
ok POST /collections/mv/points/query "{\"query\": $Q3, \"using\": \"euc\", \"limit\": 20}"
check "euclid after updates" "same(r['result']['points'], ref('euc', $Q3))"
ok POST /collections/mv/points/query '{"query": [[0.5, 1], [1, 0]], "using": "man", "limit": 20}'
check "manhattan after deletes" "same(r['result']['points'], ref('man', [[0.5, 1], [1, 0]]))"
ok GET /collections/mv
# Nine points stay below Qdrant's indexing threshold (10,000 KB): a plain
# segment, whose vectors Qdrant does not count as indexed.
check "indexed vectors count" "
assert r['result']['indexed_vectors_count'] == 0 and r['result']['points_count'] == 9, r['result']"

# uint8 (Qdrant's test_multi_vector_uint8.py): values truncated, saturated.
ok PUT /collections/bytes "{\"vectors\": {\"size\": 4, \"distance\": \"Dot\", \"datatype\": \"uint8\", $MV}}"
ok PUT '/collections/bytes/points?wait=true' '{"points": [{"id": 1, "vector": [[256.19, 1.81, 2.75, 3.11], [2.05, 2.61, 2.76, -2.74]]}]}'
ok GET /collections/bytes/points/1
check "uint8 read back" 'assert r["result"]["vector"] == [[255, 1, 2, 3], [2, 2, 2, 0]], r'
ok GET /collections/bytes
check "datatype reported" 'v = r["result"]["config"]["params"]["vectors"]; assert v["datatype"] == "uint8" and v["multivector_config"] == {"comparator": "max_sim"}, v'
ok POST /collections/bytes/points/query '{"query": [[1.9, 0.5, 1, 1]]}'
check "uint8 query rounded too" 'assert r["result"]["points"][0]["score"] == 255 + 0 + 2 + 3, r'

# Restart: everything read back from LMDB.
stop
start
ok POST /collections/mv/points/query "{\"query\": $Q2, \"using\": \"dot\", \"limit\": 20}"
check "dot after restart" "same(r['result']['points'], ref('dot', $Q2))"
ok POST /collections/mv/points/query '{"query": {"nearest": [[1, 0.2, 0.3], [0, 0, 1]]}, "using": "colbert"}'
check "cosine after restart" "same(r['result']['points'], ref('colbert', [[1, 0.2, 0.3], [0, 0, 1]]))"
ok GET /collections/mv
check "config after restart" 'assert r["result"]["config"]["params"]["vectors"]["euc"]["multivector_config"] == {"comparator": "max_sim"}, r'
ok GET /collections/bytes/points/1
check "uint8 after restart" 'assert r["result"]["vector"] == [[255, 1, 2, 3], [2, 2, 2, 0]], r'

stop
rm -rf "$work"
echo "qdrant_multivec.sh: ok"
