#!/usr/bin/env python3
"""qdrant_formula.py BIN WORKDIR - formula queries against the real binary,
each score recomputed here from Qdrant's definitions (rescore_formula/
formula_scorer.rs): $score and $score[i], payload variables with
defaults, conditions, sum / mult / div / pow / sqrt / exp / ln / log10 /
abs / neg, geo_distance (haversine meters), datetime and datetime_key,
the three decays, score_threshold and limit, and Qdrant's errors."""
import math, os, sys
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qdrant_http import Server  # noqa: E402

srv = Server("qdrant_formula.py", sys.argv[1], sys.argv[2])
fail, req, ok = srv.fail, srv.req, srv.ok
srv.start()
C = "/collections/f"
ok("PUT", C, {"vectors": {"size": 3, "distance": "Dot"}})
pts = {}
for i in range(1, 13):
    p = {"price": 5.0 * i, "city": "Berlin" if i % 3 == 0 else "Paris",
         "loc": {"lon": 13.4 + 0.01 * i, "lat": 52.5 - 0.02 * i},
         "added": "2026-0%d-1%dT10:00:00Z" % (1 + i % 9, i % 10)}
    if i == 4:
        del p["price"]
    pts[i] = ([0.1 * i, 1.0 - 0.05 * i, 0.3], p)
ok("PUT", C + "/points?wait=true", {"points": [{"id": i, "vector": v, "payload": p} for i, (v, p) in pts.items()]})
Q1, Q2 = [1.0, 0.2, 0.1], [0.0, 1.0, 0.5]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def f32(x):
    import struct
    return struct.unpack("f", struct.pack("f", x))[0]


def haversine(lon1, lat1, lon2, lat2):
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def run(formula, expect, limit=20, defaults=None, threshold=None, prefetch_limit=6):
    body = {"prefetch": [{"query": Q1, "limit": prefetch_limit}, {"query": Q2, "limit": prefetch_limit}],
            "query": {"formula": formula, "defaults": defaults or {}}, "limit": limit}
    if threshold is not None:
        body["score_threshold"] = threshold
    got = ok("POST", C + "/points/query", body)["points"]
    s1 = dict(sorted(((i, f32(dot(Q1, v))) for i, (v, _) in pts.items()), key=lambda t: -t[1])[:prefetch_limit])
    s2 = dict(sorted(((i, f32(dot(Q2, v))) for i, (v, _) in pts.items()), key=lambda t: -t[1])[:prefetch_limit])
    want = []
    for i in set(s1) | set(s2):
        e = expect(s1.get(i, 0.0), s2.get(i, 0.0), pts[i][1])
        if threshold is None or e >= threshold:
            want.append((i, e))
    want.sort(key=lambda t: (-t[1], t[0]))
    want = want[:limit]
    if [p["id"] for p in got] != [i for i, _ in want] or \
            any(not math.isclose(p["score"], e, rel_tol=1e-5, abs_tol=1e-6) for p, (_, e) in zip(got, want)):
        fail("formula %s: got %s, want %s" % (formula, [(p["id"], p["score"]) for p in got], want))


price = lambda p, d=0.0: p.get("price", d)
run({"sum": [{"mult": ["$score", 0.4]}, {"mult": ["price", 0.6]}]}, lambda a, b, p: 0.4 * a + 0.6 * price(p), defaults={"price": 0.0})
run({"sum": ["$score[1]", {"neg": "$score[0]"}]}, lambda a, b, p: b - a)
run({"mult": ["$score", {"key": "city", "match": {"value": "Berlin"}}]}, lambda a, b, p: a if p["city"] == "Berlin" else 0.0)
run({"div": {"left": "price", "right": {"sum": [1.0, {"abs": "price"}]}}}, lambda a, b, p: price(p) / (1 + abs(price(p))), defaults={"price": 0})
run({"pow": {"base": {"sqrt": "price"}, "exponent": 2}}, lambda a, b, p: price(p), defaults={"price": 0.0})
run({"sum": [{"ln": "price"}, {"log10": "price"}, {"exp": {"neg": "$score"}}]},
    lambda a, b, p: math.log(price(p, 1.0)) + math.log10(price(p, 1.0)) + math.exp(-a), defaults={"price": 1.0})
run({"div": {"left": 1.0, "right": {"sum": ["price", -10.0]}, "by_zero_default": 7.5}},
    lambda a, b, p: 7.5 if price(p, 3.0) == 10.0 else 1.0 / (price(p, 3.0) - 10.0), defaults={"price": 3.0})
origin = {"lon": 13.4, "lat": 52.5}
run({"geo_distance": {"origin": origin, "to": "loc"}}, lambda a, b, p: haversine(13.4, 52.5, p["loc"]["lon"], p["loc"]["lat"]))
for kind in ("lin_decay", "exp_decay", "gauss_decay"):
    scale, mid = 4000.0, 0.3
    lam = {"lin_decay": (1 - mid) / scale, "exp_decay": math.log(f32(mid)) / scale,
           "gauss_decay": math.log(f32(mid)) / scale ** 2}[kind]

    def decay(a, b, p, kind=kind, lam=lam):
        d = haversine(13.4, 52.5, p["loc"]["lon"], p["loc"]["lat"]) - 1000.0
        if kind == "lin_decay":
            return max(1 - ((1 - f32(mid)) / scale) * abs(d), 0.0)
        return math.exp(lam * abs(d)) if kind == "exp_decay" else math.exp(lam * d * d)
    run({kind: {"x": {"geo_distance": {"origin": origin, "to": "loc"}}, "target": 1000.0, "scale": scale, "midpoint": mid}}, decay)
run({"sum": [{"datetime_key": "added"}, {"neg": {"datetime": "2026-01-01T00:00:00Z"}}]},
    lambda a, b, p: ts(p["added"]) - ts("2026-01-01T00:00:00Z"))
run({"mult": ["$score", "price"]}, lambda a, b, p: a * price(p, 1.0), defaults={"price": 1.0}, limit=3, threshold=2.0)

# Errors, with Qdrant's wording.
base = {"prefetch": {"query": Q1, "limit": 12}, "limit": 5}
for formula, defaults, words in (
        ("price", {}, "Expected number value for price in the payload and/or in the formula defaults. Error: No value found in a payload nor defaults"),
        ("city", {}, "Expected number value for city in the payload and/or in the formula defaults. Error: Value is not a number"),
        ({"ln": {"sum": ["price", -5.0]}}, {"price": 0}, "produced a non-finite number"),
        ("$bogus", {}, "Invalid reserved word: $bogus")):
    code, out = req("POST", C + "/points/query", dict(base, query={"formula": formula, "defaults": defaults}))
    if code != 400 or words not in out["status"]["error"]:
        fail("formula error %s: %d %s" % (formula, code, out))
code, out = req("POST", C + "/points/query", {"query": {"formula": "$score"}, "limit": 3})
if code != 400 or "cannot apply Formula without prefetches" not in out["status"]["error"]:
    fail("a formula without prefetches: %d %s" % (code, out))
srv.stop()
print("qdrant_formula.py: ok (formula queries: scores, payload variables, conditions, arithmetic, geo distance, "
      "datetimes, decays, threshold and limit equal a recomputation; Qdrant's errors)")
