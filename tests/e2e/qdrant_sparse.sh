#!/usr/bin/env bash
# qdrant_sparse.sh - sparse vectors over Qdrant's REST API with curl,
# checked against references computed here in Python from the data the
# script sends: sparse_vectors in the collection config (modifier idf,
# reported back), {indices, values} upserts read back sorted, search /
# query / recommend on a sparse vector (dot product over shared indices,
# IDF computed from the counts), filters, prefetch + rrf / dbsf mixing a
# sparse and a dense query, Qdrant's validation messages, delete, PATCH
# of the modifier, and a restart (the inverted index is rebuilt from LMDB).
# VITRINE_BIN is exported by tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
# Debian's interpreter when there is one: a version manager's shim in
# front of python3 can cost seconds per call, and this script makes ~70.
PY=${PYTHON:-python3}
[ -z "${PYTHON:-}" ] && [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
work=$(mktemp -d)
log=$work/serve.log
pid=
fail() {
    echo "qdrant_sparse.sh: FAIL: $*"
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

# check NAME PYTHON: runs PYTHON with r = the last response's JSON and the
# reference helpers below; it must not raise.
check() {
    "$PY" - "$work/body" "$work/data.json" <<EOF || fail "$1"
import json, math, sys
r = json.load(open(sys.argv[1]))
D = json.load(open(sys.argv[2]))
pts = {p["id"]: p for p in D["points"]}
def f32(x):
    import struct
    return struct.unpack("f", struct.pack("f", x))[0]
def dot(q, v):
    s, ov = 0.0, False
    for i, x in zip(q["indices"], q["values"]):
        if i in v["indices"]:
            s += x * v["values"][v["indices"].index(i)]
            ov = True
    return s, ov
def live(name):
    return [p for p in D["points"] if p["id"] not in D["deleted"] and name in p["vector"]]
def idf(name, q):
    vs = [p["vector"][name] for p in live(name) if p["vector"][name]["indices"]]
    n = len(vs)
    out = dict(q)
    out["values"] = [x * math.log((n - sum(i in v["indices"] for v in vs) + 0.5) /
                                  (sum(i in v["indices"] for v in vs) + 0.5) + 1)
                     for i, x in zip(q["indices"], q["values"])]
    return out
def ref(name, q, flt=None, use_idf=False, exclude=()):
    if use_idf: q = idf(name, q)
    hits = []
    for p in live(name):
        if p["id"] in exclude or (flt and not flt(p)): continue
        s, ov = dot(q, p["vector"][name])
        if ov: hits.append((p["id"], s))
    return sorted(hits, key=lambda h: (-h[1], h[0]))
def same(got, want, tol=1e-4):
    got = [(h["id"], h["score"]) for h in got]
    assert len(got) == len(want), (got, want)
    for (gi, gs), (wi, ws) in zip(got, want):
        assert abs(gs - ws) <= tol * (1 + abs(ws)), (got, want)
    # ids may swap only between equal scores
    assert sorted(gi for gi, _ in got) == sorted(wi for wi, _ in want) or \
        all(abs(g[1] - w[1]) < 1e-6 for g, w in zip(got, want)), (got, want)
$2
EOF
}

start

# The data: points 1..8 with a dense "image", most with sparse "text"
# (word hashes, IDF) and "sku" (plain dot); indices deliberately unsorted.
cat >"$work/data.json" <<'EOF'
{"deleted": [],
 "points": [
  {"id": 1, "vector": {"image": [0.1, 0.9, 0.2, 0.4], "text": {"indices": [30, 10, 20], "values": [0.5, 1.0, 0.25]},
                        "sku": {"indices": [4000000000, 7], "values": [2.0, 1.0]}}, "payload": {"shop": "a"}},
  {"id": 2, "vector": {"image": [0.8, 0.1, 0.3, 0.2], "text": {"indices": [10, 40], "values": [0.75, 0.5]},
                        "sku": {"indices": [7, 8], "values": [0.5, 3.0]}}, "payload": {"shop": "b"}},
  {"id": 3, "vector": {"image": [0.3, 0.3, 0.9, 0.1], "text": {"indices": [50, 10, 60, 20], "values": [1.0, 0.125, 2.0, 0.0]},
                        "sku": {"indices": [9], "values": [1.5]}}, "payload": {"shop": "a"}},
  {"id": 4, "vector": {"image": [0.5, 0.5, 0.5, 0.5], "text": {"indices": [70], "values": [1.0]}}, "payload": {"shop": "b"}},
  {"id": 5, "vector": {"image": [0.9, 0.2, 0.1, 0.7], "sku": {"indices": [8, 4000000000], "values": [1.0, 0.25]}}, "payload": {"shop": "a"}},
  {"id": 6, "vector": {"image": [0.2, 0.2, 0.8, 0.8], "text": {"indices": [], "values": []}}, "payload": {"shop": "b"}},
  {"id": 7, "vector": {"image": [0.6, 0.4, 0.2, 0.9], "text": {"indices": [20, 80, 10], "values": [1.5, 0.5, 0.25]},
                        "sku": {"indices": [7, 9, 8], "values": [0.25, 0.5, 1.0]}}, "payload": {"shop": "a"}},
  {"id": 8, "vector": {"image": [0.4, 0.8, 0.6, 0.2], "text": {"indices": [90, 10], "values": [2.0, 0.5]}}, "payload": {"shop": "b"}}
 ]}
EOF

# Config: sparse vectors reported back, names shared with dense ones.
ok PUT /collections/hyb '{"vectors": {"image": {"size": 4, "distance": "Dot"}},
    "sparse_vectors": {"text": {"modifier": "idf"}, "sku": {"index": {"on_disk": false, "full_scan_threshold": 5000}}}}'
ok GET /collections/hyb
check "config reported" '
sv = r["result"]["config"]["params"]["sparse_vectors"]
assert sv == {"text": {"modifier": "idf"}, "sku": {"index": {"on_disk": False, "full_scan_threshold": 5000}}}, sv
assert r["result"]["config"]["params"]["vectors"] == {"image": {"size": 4, "distance": "Dot"}}'
req PUT /collections/clash '{"vectors": {"image": {"size": 2, "distance": "Dot"}}, "sparse_vectors": {"image": {}}}'
[ "$code" = 400 ] || fail "a clashing name answered $code"
check "clash message" 'assert r["status"]["error"] == "Wrong input: Dense and sparse vector names must be unique - duplicate found with '"'"'image'"'"'", r'
req PUT /collections/bad '{"sparse_vectors": {"t": {"modifier": "bm25"}}}'
[ "$code" = 400 ] || fail "an unknown modifier answered $code"
ok PUT /collections/only '{"sparse_vectors": {"words": {}}}'
ok GET /collections/only
check "sparse-only collection" 'assert r["result"]["config"]["params"]["vectors"] == {}, r'

# Upsert, read back sorted by index.
ok PUT '/collections/hyb/points?wait=true' "$(cat "$work/data.json")"
ok POST /collections/hyb/points/scroll '{"limit": 10, "with_vector": true}'
check "read back sorted" '
got = {p["id"]: p["vector"] for p in r["result"]["points"]}
assert sorted(got) == list(range(1, 9)), got
for pid, p in pts.items():
    for name, v in p["vector"].items():
        if name == "image": continue
        want = sorted(zip(v["indices"], v["values"]))
        g = got[pid][name]
        assert g == {"indices": [i for i, _ in want], "values": [f32(x) for _, x in want]}, (pid, name, g)
    assert set(got[pid]) == set(p["vector"]), (pid, got[pid])'
ok POST /collections/hyb/points '{"ids": [5], "with_vector": ["sku"]}'
check "with_vector names a sparse vector" 'assert r["result"] == [{"id": 5, "vector": {"sku": {"indices": [8, 4000000000], "values": [1.0, 0.25]}}}], r'

# Search: plain dot product on "sku", only points sharing an index.
Q='{"indices": [8, 4000000000, 12345], "values": [1.0, 0.5, 9.0]}'
ok POST /collections/hyb/points/search "{\"vector\": {\"name\": \"sku\", \"vector\": $Q}, \"limit\": 10}"
check "search sku" "same(r['result'], ref('sku', $Q))"
ok POST /collections/hyb/points/query "{\"query\": $Q, \"using\": \"sku\", \"filter\": {\"must\": [{\"key\": \"shop\", \"match\": {\"value\": \"a\"}}]}}"
check "query sku filtered" "same(r['result']['points'], ref('sku', $Q, lambda p: p['payload']['shop'] == 'a'))"
ok POST /collections/hyb/points/query "{\"query\": {\"nearest\": $Q}, \"using\": \"sku\", \"limit\": 1, \"offset\": 1}"
check "offset" "same(r['result']['points'], ref('sku', $Q)[1:2])"
ok POST /collections/hyb/points/search '{"vector": {"name": "sku", "vector": {"indices": [], "values": []}}, "limit": 10}'
check "empty query" 'assert r["result"] == [], r'

# IDF on "text": the query weights times ln((N - df + 0.5) / (df + 0.5) + 1).
T='{"indices": [10, 60, 90], "values": [1.0, 1.0, 1.0]}'
ok POST /collections/hyb/points/search "{\"vector\": {\"name\": \"text\", \"vector\": $T}, \"limit\": 10}"
check "idf search" "same(r['result'], ref('text', $T, use_idf=True))"

# A dense vector on a sparse name, and the reverse.
req POST /collections/hyb/points/query '{"query": [1, 2, 3, 4], "using": "text"}'
[ "$code" = 400 ] || fail "dense query on a sparse vector answered $code"
check "conversion message" 'assert r["status"]["error"] == "Wrong input: Conversion between sparse and regular vectors failed", r'
req POST /collections/hyb/points/query "{\"query\": $Q, \"using\": \"image\"}"
[ "$code" = 400 ] || fail "sparse query on a dense vector answered $code"

# Hybrid: prefetch a sparse and a dense query, fuse (RRF k=2, ranks from
# 0; DBSF: mean +- 3 sample sd per list).
ok POST /collections/hyb/points/query "{\"query\": $Q, \"using\": \"sku\", \"limit\": 5}"
cp "$work/body" "$work/sparse.json"
ok POST /collections/hyb/points/query '{"query": [0.5, 0.5, 0.5, 0.5], "using": "image", "limit": 5}'
cp "$work/body" "$work/dense.json"
for fusion in rrf dbsf; do
    ok POST /collections/hyb/points/query "{\"prefetch\": [{\"query\": $Q, \"using\": \"sku\", \"limit\": 5},
        {\"query\": [0.5, 0.5, 0.5, 0.5], \"using\": \"image\", \"limit\": 5}], \"query\": {\"fusion\": \"$fusion\"}, \"limit\": 10}"
    check "fusion $fusion" "
lists = [json.load(open('$work/sparse.json'))['result']['points'], json.load(open('$work/dense.json'))['result']['points']]
assert len(lists[0]) == len(ref('sku', $Q)) and len(lists[1]) == 5, lists
fused = {}
for l in lists:
    sc = [h['score'] for h in l]
    if '$fusion' == 'dbsf' and len(sc) > 1:
        m = sum(sc) / len(sc)
        sd = math.sqrt(sum((x - m) ** 2 for x in sc) / (len(sc) - 1))
        lo, hi = m - 3 * sd, m + 3 * sd
    for rank, h in enumerate(l):
        if '$fusion' == 'rrf': s = 1.0 / (rank + 2)
        elif len(sc) < 2 or hi == lo: s = 0.5
        else: s = (h['score'] - lo) / (hi - lo)
        fused[h['id']] = fused.get(h['id'], 0) + s
want = sorted(fused.items(), key=lambda h: -h[1])
got = r['result']['points']
assert [h['id'] for h in got][:1] == [want[0][0]], (got, want)
same(got, want)"
done

# Recommend on a sparse vector: the example is excluded, average of one
# positive is the vector itself.
ok POST /collections/hyb/points/recommend '{"positive": [2], "using": "sku", "limit": 10}'
check "recommend sku" "same(r['result'], ref('sku', pts[2]['vector']['sku'], exclude=(2,)))"
ok POST /collections/hyb/points/query '{"query": {"recommend": {"positive": [{"indices": [9], "values": [2.0]}]}}, "using": "sku"}'
check "recommend raw sparse" "same(r['result']['points'], ref('sku', {'indices': [9], 'values': [2.0]}))"
ok POST /collections/hyb/points/query '{"query": 7, "using": "sku", "limit": 3}'
check "query by id" "same(r['result']['points'], ref('sku', pts[7]['vector']['sku'], exclude=(7,))[:3])"

# Qdrant's validation messages; nothing is stored.
req PUT '/collections/hyb/points?wait=true' '{"points": [{"id": 1, "vector": {"text": {"indices": [1, 2], "values": [0.5]}}}]}'
[ "$code" = 422 ] || fail "a length mismatch answered $code"
check "length message" 'assert "points[0].vector.?.values: Validation error: must be the same length as indices [{}]" in r["status"]["error"], r'
req PUT '/collections/hyb/points?wait=true' '{"points": [{"id": 1, "vector": {"text": {"indices": [3, 3], "values": [0.5, 1]}}}]}'
[ "$code" = 422 ] || fail "a repeated index answered $code"
check "unique message" 'assert "points[0].vector.?.indices: Validation error: must be unique [{}]" in r["status"]["error"], r'
req PUT '/collections/hyb/points?wait=true' '{"batch": {"ids": [1], "vectors": {"text": [{"indices": [-1], "values": [1]}]}}}'
[ "$code" = 400 ] || fail "a negative index answered $code"
ok POST /collections/hyb/points/search "{\"vector\": {\"name\": \"text\", \"vector\": $T}, \"limit\": 10}"
check "unchanged after bad input" "same(r['result'], ref('text', $T, use_idf=True))"

# Batch form; then delete: the point leaves the index (and IDF's counts).
ok PUT '/collections/hyb/points?wait=true' '{"batch": {"ids": [9], "vectors": {"image": [[0, 0, 0, 1]], "text": [{"indices": [60, 10], "values": [0.5, 0.5]}]}}}'
ok POST /collections/hyb/points/delete?wait=true '{"points": [3, 9]}'
"$PY" - "$work/data.json" <<'EOF' || fail "updating the model"
import json, sys
d = json.load(open(sys.argv[1])); d["deleted"] = [3, 9]
json.dump(d, open(sys.argv[1], "w"))
EOF
ok POST /collections/hyb/points/search "{\"vector\": {\"name\": \"text\", \"vector\": $T}, \"limit\": 10}"
check "idf after delete" "same(r['result'], ref('text', $T, use_idf=True))"

# PATCH the modifier: the next query is a plain dot product.
ok PATCH /collections/hyb '{"sparse_vectors": {"text": {"modifier": "none", "index": {"on_disk": true}}}}'
ok GET /collections/hyb
check "patched config" 'sv = r["result"]["config"]["params"]["sparse_vectors"]; assert sv["text"] == {"index": {"on_disk": True}, "modifier": "none"}, sv'
ok POST /collections/hyb/points/search "{\"vector\": {\"name\": \"text\", \"vector\": $T}, \"limit\": 10}"
check "plain dot after PATCH" "same(r['result'], ref('text', $T))"
req PATCH /collections/hyb '{"sparse_vectors": {"nope": {"modifier": "idf"}}}'
[ "$code" = 400 ] || fail "PATCH of an unknown sparse vector answered $code"

# Restart: the inverted indexes are rebuilt from what was stored.
stop
start
ok POST /collections/hyb/points/search "{\"vector\": {\"name\": \"text\", \"vector\": $T}, \"limit\": 10}"
check "after restart" "same(r['result'], ref('text', $T))"
ok POST /collections/hyb/points/search "{\"vector\": {\"name\": \"sku\", \"vector\": $Q}, \"limit\": 10}"
check "sku after restart" "same(r['result'], ref('sku', $Q))"
ok GET /collections/hyb
check "config after restart" 'sv = r["result"]["config"]["params"]["sparse_vectors"]; assert sv["text"]["modifier"] == "none", sv'

stop
rm -rf "$work"
echo "qdrant_sparse.sh: ok"
