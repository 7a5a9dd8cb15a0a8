// brute.js - the reference the suites compare vitrine against: exact
// search over the vectors a test upserted, Qdrant's filter semantics
// evaluated in JavaScript, and the fusion / recommendation / MMR formulas
// transcribed from Qdrant 1.17.1's source (each function cites its file).
// Nothing here asks the server anything.

import assert from 'node:assert/strict';

// Deterministic PRNG (mulberry32), so a failing case replays identically.
export function rng(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

// A random vector whose components are exact float32 values, so that what
// JSON carries is exactly what a float32 store keeps.
export function randVec(r, dim) {
    const v = new Array(dim);
    for (let i = 0; i < dim; i++) v[i] = Math.fround(r() * 2 - 1);
    return v;
}

export function dot(a, b) {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
}

export function norm(a) {
    return Math.sqrt(dot(a, a));
}

// Qdrant normalises Cosine vectors at upsert and stores the unit vector
// (lib/segment/src/spaces/simple.rs, CosineMetric::preprocess), so reads
// return it normalised.
export function normalize(a) {
    const n = norm(a);
    if (n === 0) return a.slice();
    return a.map((x) => x / n);
}

// Scores as Qdrant reports them (lib/segment/src/spaces/simple.rs and
// metric.rs `postprocess`): Cosine = dot of unit vectors, Dot = dot,
// Euclid = L2 distance (the internal negative squared distance is
// postprocessed to the distance), Manhattan = L1 distance.
export function score(distance, query, vec) {
    switch (distance) {
        case 'Cosine': return dot(normalize(query), normalize(vec));
        case 'Dot': return dot(query, vec);
        case 'Euclid': {
            let s = 0;
            for (let i = 0; i < query.length; i++) s += (query[i] - vec[i]) ** 2;
            return Math.sqrt(s);
        }
        case 'Manhattan': {
            let s = 0;
            for (let i = 0; i < query.length; i++) s += Math.abs(query[i] - vec[i]);
            return s;
        }
        default: throw new Error('unknown distance ' + distance);
    }
}

// Distance::distance_order (lib/segment/src/types.rs): Euclid and
// Manhattan are "smaller is better", Cosine and Dot "larger is better".
export function smallerIsBetter(distance) {
    return distance === 'Euclid' || distance === 'Manhattan';
}

// Internal similarity (larger is better) as Qdrant's raw scorers use it for
// recommendation and MMR (lib/segment/src/spaces/simple.rs): Euclid is the
// negated SQUARED distance (euclid_similarity; only nearest-search results
// are postprocessed to the distance, local_shard/search.rs), Manhattan the
// negated L1 distance, Cosine the dot of unit vectors, Dot the dot.
export function similarity(distance, a, b) {
    if (distance === 'Euclid') {
        let s = 0;
        for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
        return -s;
    }
    const s = score(distance, a, b);
    return smallerIsBetter(distance) ? -s : s;
}

// Exact top-k over points [{id, vector, payload}] (vector: the one named
// by the query). Returns [{id, score}] sorted best first, ties by id.
export function topK(points, query, distance, { limit = 10, offset = 0, filter, threshold, exclude } = {}) {
    const rows = [];
    for (const p of points) {
        if (p.vector == null) continue;
        if (filter && !matchFilter(filter, p)) continue;
        if (exclude && exclude.has(String(p.id))) continue;
        const s = score(distance, query, p.vector);
        if (threshold !== undefined) {
            // Qdrant's score_threshold keeps points whose score is at least
            // as good as the threshold (lib/segment/src/index/... check
            // `distance.check_threshold`): >= for larger-better, <= otherwise.
            if (smallerIsBetter(distance) ? s > threshold : s < threshold) continue;
        }
        rows.push({ id: p.id, score: s });
    }
    rows.sort((a, b) => (smallerIsBetter(distance) ? a.score - b.score : b.score - a.score) || cmpId(a.id, b.id));
    return rows.slice(offset, offset + limit);
}

export function cmpId(a, b) {
    // Qdrant orders ids numbers first, then UUIDs (ExtendedPointId's Ord).
    const na = typeof a === 'number', nb = typeof b === 'number';
    if (na && nb) return a - b;
    if (na) return -1;
    if (nb) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
}

// --- Filters --------------------------------------------------------------
// Qdrant semantics from lib/segment/src/payload_storage/condition_checker.rs
// and query_checker.rs: a field condition on an array matches when any
// element matches; a missing field matches nothing (check_empty is false)
// except is_empty / is_null; must = all, should = at least one (when not
// empty), must_not = none, min_should = at least min_count.

// Values at a JSON path ("a.b", "a[].b", "a[0]"), flattened one level as
// Qdrant's JsonPath::value_get does (lib/segment/src/json_path/mod.rs).
export function valuesAt(payload, key) {
    if (payload == null) return [];
    const parts = [];
    for (const seg of key.split('.')) {
        const m = seg.match(/^([^[\]]*)((\[\d*\])*)$/);
        if (!m) return [];
        if (m[1] !== '') parts.push({ key: m[1] });
        for (const br of (m[2].match(/\[\d*\]/g) || [])) {
            const idx = br.slice(1, -1);
            parts.push(idx === '' ? { all: true } : { index: Number(idx) });
        }
    }
    let cur = [payload];
    for (const p of parts) {
        const next = [];
        for (const v of cur) {
            if (p.key !== undefined) {
                if (v && typeof v === 'object' && !Array.isArray(v) && p.key in v) next.push(v[p.key]);
            } else if (p.all) {
                if (Array.isArray(v)) next.push(...v);
            } else if (Array.isArray(v) && p.index < v.length) {
                next.push(v[p.index]);
            }
        }
        cur = next;
    }
    return cur;
}

function flat(values) {
    const out = [];
    for (const v of values) {
        if (Array.isArray(v)) out.push(...v);
        else out.push(v);
    }
    return out;
}

function matchValue(m, v) {
    if ('value' in m) {
        const want = m.value;
        if (typeof want === 'boolean') return v === want;
        if (typeof want === 'string') return v === want;
        if (typeof want === 'number') return typeof v === 'number' && Number.isInteger(v) && v === want;
        return false;
    }
    if ('any' in m) {
        if (typeof v === 'string') return m.any.includes(v);
        if (typeof v === 'number') return Number.isInteger(v) && m.any.includes(v);
        return false;
    }
    if ('except' in m) {
        const list = m.except;
        const strings = list.length > 0 && typeof list[0] === 'string';
        if (v === null) return false;
        if (typeof v === 'string') return strings ? !list.includes(v) : true;
        if (typeof v === 'number') return strings ? true : !(Number.isInteger(v) && list.includes(v));
        return true;
    }
    if ('text' in m) return typeof v === 'string' && v.includes(m.text);
    throw new Error('unsupported match ' + JSON.stringify(m));
}

function inRange(r, v) {
    if (typeof v !== 'number') return false;
    if (r.gt != null && !(v > r.gt)) return false;
    if (r.gte != null && !(v >= r.gte)) return false;
    if (r.lt != null && !(v < r.lt)) return false;
    if (r.lte != null && !(v <= r.lte)) return false;
    return true;
}

// Haversine distance in metres on the mean Earth radius the geo crate uses.
export function haversine(a, b) {
    const R = 6371008.8;
    const rad = Math.PI / 180;
    const dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
    const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
    return 2 * R * Math.asin(Math.sqrt(h));
}

function inRing(ring, p) {
    // Even-odd ray casting; test points are kept away from edges.
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const a = ring[i], b = ring[j];
        if ((a.lat > p.lat) !== (b.lat > p.lat) &&
            p.lon < ((b.lon - a.lon) * (p.lat - a.lat)) / (b.lat - a.lat) + a.lon) inside = !inside;
    }
    return inside;
}

function isGeo(v) {
    return v && typeof v === 'object' && typeof v.lat === 'number' && typeof v.lon === 'number';
}

function checkField(c, point) {
    const raw = valuesAt(point.payload, c.key);
    if (c.is_empty !== undefined || c.is_null !== undefined) throw new Error('use the is_empty condition form');
    const vals = flat(raw);
    if (c.match) return vals.some((v) => matchValue(c.match, v));
    if (c.range) return vals.some((v) => inRange(c.range, v));
    if (c.geo_bounding_box) {
        const { top_left: tl, bottom_right: br } = c.geo_bounding_box;
        return vals.filter(isGeo).some((p) => tl.lon < p.lon && p.lon < br.lon && br.lat < p.lat && p.lat < tl.lat);
    }
    if (c.geo_radius) {
        return vals.filter(isGeo).some((p) => haversine(c.geo_radius.center, p) < c.geo_radius.radius);
    }
    if (c.geo_polygon) {
        const { exterior, interiors = [] } = c.geo_polygon;
        return vals.filter(isGeo).some((p) => inRing(exterior.points, p) && !interiors.some((r) => inRing(r.points, p)));
    }
    if (c.values_count) {
        const n = vals.length;
        const r = c.values_count;
        return inRange(r, n);
    }
    throw new Error('unsupported field condition ' + JSON.stringify(c));
}

function checkCondition(c, point) {
    if ('key' in c) return checkField(c, point);
    if ('is_empty' in c) {
        // check_is_empty: missing, null or [] is empty.
        const vals = valuesAt(point.payload, c.is_empty.key);
        return vals.length === 0 || vals.every((v) => v === null || (Array.isArray(v) && v.length === 0));
    }
    if ('is_null' in c) {
        const vals = valuesAt(point.payload, c.is_null.key);
        return vals.some((v) => v === null || (Array.isArray(v) && v.some((x) => x === null)));
    }
    if ('has_id' in c) return c.has_id.map(String).includes(String(point.id));
    if ('has_vector' in c) return point.vectors ? point.vectors[c.has_vector] != null : point.vector != null;
    if ('nested' in c) {
        const arr = flat(valuesAt(point.payload, c.nested.key));
        return arr.some((el) => matchFilter(c.nested.filter, { id: point.id, payload: el }));
    }
    if ('must' in c || 'should' in c || 'must_not' in c || 'min_should' in c) return matchFilter(c, point);
    throw new Error('unsupported condition ' + JSON.stringify(c));
}

const asList = (x) => (x == null ? [] : Array.isArray(x) ? x : [x]);

export function matchFilter(filter, point) {
    if (!filter) return true;
    const must = asList(filter.must), should = asList(filter.should), mustNot = asList(filter.must_not);
    if (!must.every((c) => checkCondition(c, point))) return false;
    if (should.length > 0 && !should.some((c) => checkCondition(c, point))) return false;
    if (mustNot.some((c) => checkCondition(c, point))) return false;
    if (filter.min_should) {
        const n = filter.min_should.conditions.filter((c) => checkCondition(c, point)).length;
        if (n < filter.min_should.min_count) return false;
    }
    return true;
}

// --- Fusion ---------------------------------------------------------------

// lib/segment/src/common/reciprocal_rank_fusion.rs: position_score(pos, k,
// weight) = 1 / ((pos + 1) / weight + k - 1), DEFAULT_RRF_K = 2; scores of
// one id add up over the prefetch lists; sorted descending.
export function rrf(lists, { k = 2, weights } = {}) {
    const acc = new Map();
    lists.forEach((list, li) => {
        const w = weights ? weights[li] : 1;
        list.forEach((p, pos) => {
            const s = w <= 0 ? 0 : 1 / ((pos + 1) / w + k - 1);
            acc.set(String(p.id), { id: p.id, score: (acc.get(String(p.id))?.score ?? 0) + s });
        });
    });
    return [...acc.values()].sort((a, b) => b.score - a.score || cmpId(a.id, b.id));
}

// lib/segment/src/common/score_fusion.rs distr_norm: per list, mean and
// sample variance (n - 1); scores mapped by (s - (mean - 3 sd)) / (6 sd);
// a one-element list scores 0.5; equal extremes give 0.5; then summed.
export function dbsf(lists) {
    const acc = new Map();
    for (const list of lists) {
        let normed;
        if (list.length < 2) {
            normed = list.map((p) => ({ id: p.id, score: 0.5 }));
        } else {
            const mean = list.reduce((s, p) => s + p.score, 0) / list.length;
            const variance = list.reduce((s, p) => s + (p.score - mean) ** 2, 0) / (list.length - 1);
            const sd = Math.sqrt(variance);
            const min = mean - 3 * sd, max = mean + 3 * sd;
            normed = list.map((p) => ({ id: p.id, score: min === max ? 0.5 : (p.score - min) / (max - min) }));
        }
        for (const p of normed) {
            acc.set(String(p.id), { id: p.id, score: (acc.get(String(p.id))?.score ?? 0) + p.score });
        }
    }
    return [...acc.values()].sort((a, b) => b.score - a.score || cmpId(a.id, b.id));
}

// lib/shard/src/query/mmr/mod.rs maximal_marginal_relevance: candidates
// are the `candidates_limit` nearest; the first pick is the most relevant;
// then argmax of lambda * sim(q, c) - (1 - lambda) * max sim(c, selected),
// lambda = 1 - diversity (default 0.5, collection_query.rs). Returned
// scores are the original query scores.
export function mmr(candidates, query, distance, { diversity = 0.5, limit = 10 }) {
    const lambda = 1 - diversity;
    const rel = candidates.map((c) => similarity(distance, query, c.vector));
    const remaining = candidates.map((_, i) => i);
    const selected = [];
    if (remaining.length === 0) return [];
    let best = remaining.reduce((bi, i) => (rel[i] > rel[bi] ? i : bi), remaining[0]);
    selected.push(best);
    remaining.splice(remaining.indexOf(best), 1);
    while (selected.length < limit && remaining.length > 0) {
        let bestIdx = -1, bestScore = -Infinity;
        for (const i of remaining) {
            let maxSim = -Infinity;
            for (const j of selected) maxSim = Math.max(maxSim, similarity(distance, candidates[i].vector, candidates[j].vector));
            const s = lambda * rel[i] - (1 - lambda) * maxSim;
            if (s > bestScore) { bestScore = s; bestIdx = i; }
        }
        selected.push(bestIdx);
        remaining.splice(remaining.indexOf(bestIdx), 1);
    }
    return selected.map((i) => ({ id: candidates[i].id, score: score(distance, query, candidates[i].vector) }));
}

// --- Recommendation -------------------------------------------------------

// lib/collection/src/recommendations.rs avg_vector_for_recommendation:
// avg(positives), and with negatives avg_pos + (avg_pos - avg_neg).
export function averageVectorQuery(positives, negatives) {
    const avg = (vs) => vs[0].map((_, i) => vs.reduce((s, v) => s + v[i], 0) / vs.length);
    const p = avg(positives);
    if (negatives.length === 0) return p;
    const n = avg(negatives);
    return p.map((x, i) => x + x - n[i]);
}

// lib/common/common/src/math.rs scaled_fast_sigmoid(x) = 0.5 * (x / (1 + |x|) + 1).
export function scaledFastSigmoid(x) {
    return 0.5 * (x / (1 + Math.abs(x)) + 1);
}

// lib/segment/src/vector_storage/query/reco_query.rs RecoBestScoreQuery:
// if the best positive similarity beats the best negative one, the score is
// sigmoid(best positive), else -sigmoid(best negative).
export function bestScore(distance, positives, negatives, vec) {
    const maxP = Math.max(...positives.map((p) => similarity(distance, p, vec)), -Infinity);
    const maxN = Math.max(...negatives.map((n) => similarity(distance, n, vec)), -Infinity);
    return maxP > maxN ? scaledFastSigmoid(maxP) : -scaledFastSigmoid(maxN);
}

// RecoSumScoresQuery: sum of positive similarities minus sum of negative ones.
export function sumScores(distance, positives, negatives, vec) {
    const sp = positives.reduce((s, p) => s + similarity(distance, p, vec), 0);
    const sn = negatives.reduce((s, n) => s + similarity(distance, n, vec), 0);
    return sp - sn;
}

// --- Discovery ---------------------------------------------------------------

// lib/common/common/src/math.rs fast_sigmoid(x) = x / (1 + |x|).
export function fastSigmoid(x) {
    return x / (1 + Math.abs(x));
}

// lib/segment/src/vector_storage/query/discover_query.rs DiscoverQuery:
// rank = sum over pairs of sign(sim(pos) - sim(neg)) (f32::total_cmp),
// score = rank + scaled_fast_sigmoid(sim(target)). pairs: [{positive, negative}] vectors.
export function discoverScore(distance, target, pairs, vec) {
    let rank = 0;
    for (const p of pairs) rank += Math.sign(similarity(distance, p.positive, vec) - similarity(distance, p.negative, vec));
    return rank + scaledFastSigmoid(similarity(distance, target, vec));
}

// context_query.rs ContextPair::loss_by summed: fast_sigmoid(min(sim(pos) -
// sim(neg) - f32::EPSILON, 0)); at most 0, and 0 inside the best zone.
export function contextScore(distance, pairs, vec) {
    let s = 0;
    for (const p of pairs) {
        const d = similarity(distance, p.positive, vec) - similarity(distance, p.negative, vec) - 2 ** -23;
        s += fastSigmoid(Math.min(d, 0));
    }
    return s;
}

// Ranks points by a custom larger-is-better scorer.
export function rankBy(points, scorer, { limit = 10, filter, exclude } = {}) {
    const rows = [];
    for (const p of points) {
        if (filter && !matchFilter(filter, p)) continue;
        if (exclude && exclude.has(String(p.id))) continue;
        rows.push({ id: p.id, score: scorer(p.vector) });
    }
    rows.sort((a, b) => b.score - a.score || cmpId(a.id, b.id));
    return rows.slice(0, limit);
}

// --- Assertions -------------------------------------------------------------

export function close(a, b, tol = 1e-4) {
    return Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
}

// Asserts that a scored list from vitrine equals the brute-force one: the
// same ids in the same order, scores within float32 tolerance. Ties (scores
// within tolerance) may come in either order, also across the cut of the
// list: `pool` is the whole reference ranking (defaults to `expected`), and
// a returned id is accepted at a rank when its reference score there ties.
export function assertRanking(actual, expected, { tol = 1e-4, what = 'ranking', pool } = {}) {
    const ref = new Map((pool ?? expected).map((e) => [String(e.id), e.score]));
    const got = actual.map((p) => ({ id: p.id, score: p.score }));
    assert.equal(new Set(got.map((p) => String(p.id))).size, got.length, `${what}: an id came back twice: ${JSON.stringify(got)}`);
    assert.equal(got.length, expected.length,
        `${what}: ${got.length} results, expected ${expected.length}\n got ${JSON.stringify(got)}\n want ${JSON.stringify(expected)}`);
    for (let i = 0; i < expected.length; i++) {
        assert.ok(close(got[i].score, expected[i].score, tol),
            `${what}: score at rank ${i} is ${got[i].score}, expected ${expected[i].score} (id ${expected[i].id})\n got ${JSON.stringify(got)}\n want ${JSON.stringify(expected)}`);
        if (String(got[i].id) !== String(expected[i].id)) {
            // Accept a swap among equal scores only.
            const refScore = ref.get(String(got[i].id));
            assert.ok(refScore !== undefined && close(refScore, expected[i].score, tol),
                `${what}: id at rank ${i} is ${got[i].id}, expected ${expected[i].id}\n got ${JSON.stringify(got)}\n want ${JSON.stringify(expected)}`);
        }
    }
}

// For approximate (HNSW) answers: every returned point carries its exact
// score, the list is sorted, and at least `recall` of the exact top-k is
// found. Used where the request does not ask for exact search.
export function assertApproxRanking(actual, exactAll, limit, distance, { recall = 0.9, tol = 1e-4, what = 'ranking' } = {}) {
    const byId = new Map(exactAll.map((e) => [String(e.id), e.score]));
    for (const p of actual) {
        assert.ok(byId.has(String(p.id)), `${what}: unexpected id ${p.id}`);
        assert.ok(close(p.score, byId.get(String(p.id)), tol), `${what}: id ${p.id} score ${p.score}, exact ${byId.get(String(p.id))}`);
    }
    for (let i = 1; i < actual.length; i++) {
        const ok = smallerIsBetter(distance) ? actual[i - 1].score <= actual[i].score + 1e-6 : actual[i - 1].score >= actual[i].score - 1e-6;
        assert.ok(ok, `${what}: not sorted at ${i}: ${JSON.stringify(actual.map((p) => p.score))}`);
    }
    const want = exactAll.slice(0, limit).map((e) => String(e.id));
    assert.equal(actual.length, want.length, `${what}: ${actual.length} results, expected ${want.length}`);
    const found = actual.filter((p) => want.includes(String(p.id))).length;
    assert.ok(found >= Math.ceil(recall * want.length), `${what}: recall ${found}/${want.length}`);
}

// Asserts stored vectors read back as sent (Cosine: normalised), float32-exact.
export function assertVectorEqual(got, want, { distance = 'Dot', what = 'vector' } = {}) {
    assert.ok(Array.isArray(got), `${what}: not an array: ${JSON.stringify(got)}`);
    assert.equal(got.length, want.length, `${what}: length`);
    const w = distance === 'Cosine' ? normalize(want) : want;
    for (let i = 0; i < w.length; i++) {
        if (distance === 'Cosine') {
            assert.ok(Math.abs(got[i] - w[i]) <= 1e-6, `${what}[${i}]: ${got[i]} vs ${w[i]}`);
        } else {
            assert.equal(Math.fround(got[i]), Math.fround(w[i]), `${what}[${i}]: ${got[i]} vs ${w[i]} (float32 round trip)`);
        }
    }
}

// A threshold strictly between two distinct score levels of a ranking
// (larger is better), at or after rank `from`: returns {threshold, keep}
// where `keep` is how many leading entries pass it.
export function thresholdAfter(ranking, from, { smallerBetter = false } = {}) {
    for (let i = from; i + 1 < ranking.length; i++) {
        const a = ranking[i].score, b = ranking[i + 1].score;
        if (Math.abs(a - b) > 1e-3 * Math.max(1, Math.abs(a))) {
            return { threshold: (a + b) / 2, keep: i + 1 };
        }
    }
    throw new Error('no distinct score levels to put a threshold between');
}
