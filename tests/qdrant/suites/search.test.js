// search.test.js - POST /points/search and /search/batch, /points/recommend
// and /recommend/batch (average_vector, best_score, sum_scores), the four
// distances, filters, offset, score_threshold, with_payload / with_vector.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVitrine, raw, uniqueName } from '../lib/harness.js';
import { expectOk, expectError } from '../lib/expect.js';
import {
    rng, randVec, topK, assertRanking, assertApproxRanking, averageVectorQuery, bestScore, sumScores,
    rankBy, normalize, smallerIsBetter, assertVectorEqual,
} from '../lib/brute.js';
import { makePoints, makeNamedPoints, upsertAll, view } from '../lib/data.js';

const DIM = 8;
const N = 150;
let srv, client;
const cols = {};
const data = makePoints(40, N, DIM);

before(async () => {
    srv = await startVitrine(import.meta.url);
    client = srv.client;
    for (const distance of ['Cosine', 'Dot', 'Euclid', 'Manhattan']) {
        const name = uniqueName(distance.toLowerCase());
        await client.createCollection(name, { vectors: { size: DIM, distance } });
        await upsertAll(client, name, data);
        cols[distance] = name;
    }
});
after(async () => { await srv?.stop(); });

for (const distance of ['Cosine', 'Dot', 'Euclid', 'Manhattan']) {
    test(`${distance}: exact search equals brute force, scores as Qdrant reports them`, async () => {
        const r = rng(41);
        for (let q = 0; q < 5; q++) {
            const query = randVec(r, DIM);
            const got = await client.search(cols[distance], { vector: query, limit: 10, params: { exact: true } });
            // Scores: Cosine similarity, Dot product, Euclid distance
            // ascending, Manhattan distance ascending (metric.rs postprocess).
            assertRanking(got, topK(data, query, distance, { limit: 10 }), { what: `${distance} query ${q}` });
            for (const p of got) assert.equal(typeof p.version, 'number', 'ScoredPoint.version is required');
        }
    });

    test(`${distance}: HNSW search finds the exact neighbours (recall >= 0.9, exact scores)`, async () => {
        const r = rng(42);
        for (let q = 0; q < 5; q++) {
            const query = randVec(r, DIM);
            const got = await client.search(cols[distance], { vector: query, limit: 10, params: { hnsw_ef: 128 } });
            assertApproxRanking(got, topK(data, query, distance, { limit: N }), 10, distance, { what: `${distance} hnsw ${q}` });
        }
    });
}

test('search with a filter equals the filtered brute force', async () => {
    const r = rng(43);
    const filters = [
        { must: [{ key: 'color', match: { value: 'red' } }] },
        { must: [{ key: 'count', range: { gte: 3, lt: 7 } }], must_not: [{ key: 'in_stock', match: { value: true } }] },
        { should: [{ key: 'cities', match: { any: ['Tokyo', 'Paris'] } }, { key: 'meta.brand', match: { value: 'b1' } }] },
        { must: [{ key: 'color', match: { except: ['red', 'green'] } }] },
        { must: [{ has_id: [1, 5, 9, 13, 17, 21, 25] }] },
        { must: [{ is_empty: { key: 'price' } }] },
        { min_should: { conditions: [{ key: 'color', match: { value: 'blue' } }, { key: 'in_stock', match: { value: true } }, { key: 'count', range: { lt: 5 } }], min_count: 2 } },
        { must: [{ key: 'price', range: { gt: 10.5, lte: 80.25 } }] },
        // Filters on a key no point has are valid and match nothing.
        { must: [{ key: 'no_such_key', match: { value: 'x' } }] },
    ];
    for (const [i, filter] of filters.entries()) {
        const query = randVec(r, DIM);
        const got = await client.search(cols.Dot, { vector: query, filter, limit: 7, params: { exact: true } });
        // Filter semantics: condition_checker.rs / query_checker.rs (see lib/brute.js).
        assertRanking(got, topK(data, query, 'Dot', { limit: 7, filter }), { what: `filter ${i} ${JSON.stringify(filter)}` });
    }
});

test('filtered HNSW search (no exact flag) still returns only matching points in order', async () => {
    const r = rng(44);
    const filter = { must: [{ key: 'color', match: { value: 'black' } }] };
    const query = randVec(r, DIM);
    const got = await client.search(cols.Cosine, { vector: query, filter, limit: 5 });
    assertApproxRanking(got, topK(data, query, 'Cosine', { limit: N, filter }), 5, 'Cosine', { what: 'filtered hnsw' });
});

test('offset pages through the exact ranking', async () => {
    const query = randVec(rng(45), DIM);
    for (const offset of [0, 10, 20, 145, 150]) {
        const got = await client.search(cols.Dot, { vector: query, limit: 10, offset, params: { exact: true } });
        // Past the end: fewer (145: five) or no results.
        assertRanking(got, topK(data, query, 'Dot', { limit: 10, offset }), { what: `offset ${offset}` });
    }
});

test('score_threshold keeps scores at least as good as the threshold', async () => {
    for (const distance of ['Dot', 'Euclid']) {
        const query = randVec(rng(46), DIM);
        const full = topK(data, query, distance, { limit: 20 });
        // A threshold half-way between the 5th and 6th score: exactly 5 pass
        // (tests/openapi/test_score_threshold.py; for Euclid "better" means
        // smaller, as the OpenAPI description of score_threshold says).
        const threshold = (full[4].score + full[5].score) / 2;
        const got = await client.search(cols[distance], { vector: query, limit: 20, score_threshold: threshold, params: { exact: true } });
        assertRanking(got, full.slice(0, 5), { what: `${distance} threshold` });
        for (const p of got) assert.ok(smallerIsBetter(distance) ? p.score <= threshold : p.score >= threshold);
    }
});

test('with_payload and with_vector forms on search results', async () => {
    const query = randVec(rng(47), DIM);
    const byId = new Map(data.map((p) => [p.id, p]));
    // SearchRequestInternal: with_payload and with_vector default to false.
    // (The JS client's search() sends with_payload: true unless told, so
    // the defaults are checked with a raw request.)
    const none = expectOk(await raw(srv.base, 'POST', `/collections/${cols.Dot}/points/search`, { vector: query, limit: 3 }));
    assert.equal(none.length, 3);
    for (const p of none) {
        assert.ok(p.payload == null, 'no payload by default');
        assert.ok(p.vector == null, 'no vector by default');
    }
    const all = await client.search(cols.Dot, { vector: query, limit: 3, with_payload: true, with_vector: true });
    for (const p of all) {
        assert.deepEqual(p.payload, byId.get(p.id).payload);
        assertVectorEqual(p.vector, byId.get(p.id).vector);
    }
    const keys = await client.search(cols.Dot, { vector: query, limit: 3, with_payload: ['color', 'meta'] });
    for (const p of keys) {
        const src = byId.get(p.id).payload;
        assert.deepEqual(p.payload, { color: src.color, meta: src.meta });
    }
    // PayloadSelectorInclude / Exclude with nested paths
    // (tests/openapi/test_payload_selector.py).
    const inc = await client.search(cols.Dot, { vector: query, limit: 3, with_payload: { include: ['meta.brand', 'count'] } });
    for (const p of inc) {
        const src = byId.get(p.id).payload;
        assert.deepEqual(p.payload, { meta: { brand: src.meta.brand }, count: src.count });
    }
    const exc = await client.search(cols.Dot, { vector: query, limit: 3, with_payload: { exclude: ['meta.rank', 'cities'] } });
    for (const p of exc) {
        const src = structuredClone(byId.get(p.id).payload);
        delete src.cities;
        delete src.meta.rank;
        assert.deepEqual(p.payload, src);
    }
    // Cosine vectors come back normalised.
    const cos = await client.search(cols.Cosine, { vector: query, limit: 2, with_vector: true });
    for (const p of cos) {
        const want = normalize(byId.get(p.id).vector);
        p.vector.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-6));
    }
});

test('search on named vectors; a point without the vector is never found by it', async () => {
    const name = uniqueName('named');
    await client.createCollection(name, { vectors: { image: { size: 6, distance: 'Dot' }, text: { size: 3, distance: 'Euclid' } } });
    const pts = makeNamedPoints(48, 40, 6, 3);
    await upsertAll(client, name, pts);
    const r = rng(49);
    const qi = randVec(r, 6), qt = randVec(r, 3);
    const gi = await client.search(name, { vector: { name: 'image', vector: qi }, limit: 5, params: { exact: true } });
    assertRanking(gi, topK(view(pts, 'image'), qi, 'Dot', { limit: 5 }), { what: 'image' });
    const gt = await client.search(name, { vector: { name: 'text', vector: qt }, limit: 40, params: { exact: true } });
    assertRanking(gt, topK(view(pts, 'text'), qt, 'Euclid', { limit: 40 }), { what: 'text (every 5th point has none)' });
    // with_vector by name.
    const wv = await client.search(name, { vector: { name: 'image', vector: qi }, limit: 1, with_vector: ['text'] });
    assert.ok(!wv[0].vector || Object.keys(wv[0].vector).every((k) => k === 'text'));
});

test('search/batch answers one list per search, each equal to the single search', async () => {
    const r = rng(50);
    const searches = [
        { vector: randVec(r, DIM), limit: 3, params: { exact: true } },
        { vector: randVec(r, DIM), limit: 5, filter: { must: [{ key: 'color', match: { value: 'green' } }] }, params: { exact: true } },
        { vector: randVec(r, DIM), limit: 2, offset: 1, params: { exact: true } },
    ];
    const got = await client.searchBatch(cols.Euclid, { searches });
    assert.equal(got.length, 3);
    searches.forEach((s, i) => {
        assertRanking(got[i], topK(data, s.vector, 'Euclid', { limit: s.limit, offset: s.offset ?? 0, filter: s.filter }), { what: `batch ${i}` });
    });
});

test('recommend average_vector (default): avg(pos) + avg(pos) - avg(neg), inputs excluded', async () => {
    const byId = new Map(data.map((p) => [p.id, p]));
    const cases = [
        { positive: [1, 2], negative: [] },
        { positive: [3], negative: [4, 5] },
        { positive: [6, 7, 8], negative: [9] },
    ];
    for (const c of cases) {
        const got = await client.recommend(cols.Dot, { ...c, limit: 8, params: { exact: true } });
        // recommendations.rs avg_vector_for_recommendation; the example ids
        // are excluded from the results (recommend_by adds must_not has_id).
        const q = averageVectorQuery(c.positive.map((id) => byId.get(id).vector), c.negative.map((id) => byId.get(id).vector));
        const exclude = new Set([...c.positive, ...c.negative].map(String));
        assertRanking(got, topK(data, q, 'Dot', { limit: 8, exclude }), { what: `average ${JSON.stringify(c)}` });
        for (const p of got) assert.ok(!exclude.has(String(p.id)), 'an input point came back');
    }
    // A raw vector is a valid example too (RecommendExample::Dense).
    const raw1 = randVec(rng(51), DIM);
    const got = await client.recommend(cols.Dot, { positive: [raw1, 10], limit: 5, params: { exact: true } });
    const q = averageVectorQuery([raw1, byId.get(10).vector], []);
    assertRanking(got, topK(data, q, 'Dot', { limit: 5, exclude: new Set(['10']) }), { what: 'raw vector example' });
});

test('recommend average_vector on Cosine averages the stored (normalised) vectors', async () => {
    const byId = new Map(data.map((p) => [p.id, p]));
    const got = await client.recommend(cols.Cosine, { positive: [11, 12], negative: [13], strategy: 'average_vector', limit: 6, params: { exact: true } });
    const q = averageVectorQuery([normalize(byId.get(11).vector), normalize(byId.get(12).vector)], [normalize(byId.get(13).vector)]);
    assertRanking(got, topK(data, q, 'Cosine', { limit: 6, exclude: new Set(['11', '12', '13']) }), { what: 'cosine average' });
});

test('recommend best_score: sigmoid of the best positive unless a negative is closer', async () => {
    const byId = new Map(data.map((p) => [p.id, p]));
    for (const c of [{ positive: [20, 21], negative: [22] }, { positive: [23], negative: [] }, { positive: [24], negative: [25, 26] }]) {
        const got = await client.recommend(cols.Dot, { ...c, strategy: 'best_score', limit: 10, params: { exact: true } });
        // reco_query.rs RecoBestScoreQuery::score_by.
        const pos = c.positive.map((id) => byId.get(id).vector), neg = c.negative.map((id) => byId.get(id).vector);
        const exclude = new Set([...c.positive, ...c.negative].map(String));
        const want = rankBy(data, (v) => bestScore('Dot', pos, neg, v), { limit: 10, exclude });
        assertRanking(got, want, { what: `best_score ${JSON.stringify(c)}` });
    }
});

test('recommend best_score with only negatives ranks the least similar first', async () => {
    const byId = new Map(data.map((p) => [p.id, p]));
    // best_score is the strategy that accepts no positives (Qdrant docs,
    // RecommendStrategy); every score is -sigmoid(max negative similarity).
    const got = await client.recommend(cols.Dot, { positive: [], negative: [30], strategy: 'best_score', limit: 5, params: { exact: true } });
    const want = rankBy(data, (v) => bestScore('Dot', [], [byId.get(30).vector], v), { limit: 5, exclude: new Set(['30']) });
    assertRanking(got, want, { what: 'negatives only' });
});

test('recommend sum_scores: sum of positive minus sum of negative similarities', async () => {
    const byId = new Map(data.map((p) => [p.id, p]));
    for (const distance of ['Dot', 'Euclid']) {
        const c = { positive: [31, 32], negative: [33] };
        const got = await client.recommend(cols[distance], { ...c, strategy: 'sum_scores', limit: 10, params: { exact: true } });
        // reco_query.rs RecoSumScoresQuery::score_by over raw similarities
        // (Euclid: negated distances). Output scores are the query scores.
        const pos = c.positive.map((id) => byId.get(id).vector), neg = c.negative.map((id) => byId.get(id).vector);
        const want = rankBy(data, (v) => sumScores(distance, pos, neg, v), { limit: 10, exclude: new Set(['31', '32', '33']) });
        assertRanking(got.map((p) => ({ id: p.id, score: p.score })), want.map((w) => ({ id: w.id, score: w.score })), { what: `sum_scores ${distance}` });
    }
});

test('recommend with a filter, offset and named vectors (`using`)', async () => {
    const name = uniqueName('reco_named');
    await client.createCollection(name, { vectors: { image: { size: 6, distance: 'Dot' }, text: { size: 3, distance: 'Dot' } } });
    const pts = makeNamedPoints(52, 40, 6, 3);
    await upsertAll(client, name, pts);
    const img = view(pts, 'image');
    const byId = new Map(img.map((p) => [p.id, p]));
    const filter = { must: [{ key: 'group', match: { any: ['g1', 'g2'] } }] };
    const got = await client.recommend(name, { positive: [1, 2], negative: [3], using: 'image', filter, limit: 4, offset: 1, params: { exact: true } });
    const q = averageVectorQuery([byId.get(1).vector, byId.get(2).vector], [byId.get(3).vector]);
    assertRanking(got, topK(img, q, 'Dot', { limit: 4, offset: 1, filter, exclude: new Set(['1', '2', '3']) }), { what: 'reco using image' });
});

test('recommend/batch answers one list per request', async () => {
    const byId = new Map(data.map((p) => [p.id, p]));
    const searches = [
        { positive: [40], limit: 3, params: { exact: true } },
        { positive: [41], negative: [42], strategy: 'sum_scores', limit: 4, params: { exact: true } },
    ];
    const got = await client.recommendBatch(cols.Dot, { searches });
    assert.equal(got.length, 2);
    assertRanking(got[0], topK(data, byId.get(40).vector, 'Dot', { limit: 3, exclude: new Set(['40']) }), { what: 'batch 0' });
    const want1 = rankBy(data, (v) => sumScores('Dot', [byId.get(41).vector], [byId.get(42).vector], v), { limit: 4, exclude: new Set(['41', '42']) });
    assertRanking(got[1], want1, { what: 'batch 1' });
});

test('recommend by an id that does not exist is 404; lookup_from to a missing collection is 404', async () => {
    const res = await raw(srv.base, 'POST', `/collections/${cols.Dot}/points/recommend`, { positive: [100000], limit: 3 });
    // PointNotFound -> "No point with id {id} found" (test_query_full.py:482 style).
    expectError(res, 404, 'Not found: No point with id 100000 found');
    // lookup_from: test_query_full.py:505 wording "Collection X not found".
    // vitrine may refuse lookup_from altogether with a clear 400 (issue 9).
    const r2 = await raw(srv.base, 'POST', `/collections/${cols.Dot}/points/recommend`, {
        positive: [1], limit: 3, lookup_from: { collection: 'non-existing-collection' },
    });
    assert.ok(r2.status === 404 || r2.status === 400, `lookup_from: ${r2.status} ${r2.text}`);
    if (r2.status === 404) expectError(r2, 404, 'Not found: Collection non-existing-collection not found');
    else expectError(r2, 400, /lookup_from/);
});

test('search answers ScoredPoint lists in the envelope', async () => {
    const res = await raw(srv.base, 'POST', `/collections/${cols.Dot}/points/search`, { vector: randVec(rng(53), DIM), limit: 2, with_payload: true });
    const result = expectOk(res);
    assert.equal(result.length, 2);
    for (const p of result) {
        assert.equal(typeof p.id, 'number');
        assert.equal(typeof p.score, 'number');
        assert.equal(typeof p.version, 'number');
    }
    // `top` is an alias of `limit` (SearchRequestInternal #[serde(alias = "top")]).
    const top = expectOk(await raw(srv.base, 'POST', `/collections/${cols.Dot}/points/search`, { vector: randVec(rng(54), DIM), top: 4 }));
    assert.equal(top.length, 4);
});
