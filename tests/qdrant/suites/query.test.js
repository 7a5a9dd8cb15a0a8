// query.test.js - POST /points/query and /query/batch: a vector, a point id,
// {nearest}, {nearest, mmr}, {recommend}, {order_by}, {fusion: rrf|dbsf}
// over prefetches, using, filter, limit, offset, score_threshold,
// params.hnsw_ef / exact, with_payload forms, with_vector.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVitrine, raw, uniqueName } from '../lib/harness.js';
import { expectOk, expectError } from '../lib/expect.js';
import {
    rng, randVec, topK, assertRanking, assertApproxRanking, averageVectorQuery, bestScore, sumScores,
    rankBy, rrf, dbsf, mmr, cmpId, thresholdAfter, assertVectorEqual,
} from '../lib/brute.js';
import { makePoints, makeNamedPoints, upsertAll, view } from '../lib/data.js';

const DIM = 8;
const N = 120;
let srv, client, dot, cosine, named;
const data = makePoints(60, N, DIM);
const byId = new Map(data.map((p) => [p.id, p]));
const npts = makeNamedPoints(61, 60, 6, 3);

before(async () => {
    srv = await startVitrine(import.meta.url);
    client = srv.client;
    dot = uniqueName('qdot');
    await client.createCollection(dot, { vectors: { size: DIM, distance: 'Dot' } });
    await upsertAll(client, dot, data);
    cosine = uniqueName('qcos');
    await client.createCollection(cosine, { vectors: { size: DIM, distance: 'Cosine' } });
    await upsertAll(client, cosine, data);
    named = uniqueName('qnamed');
    await client.createCollection(named, { vectors: { image: { size: 6, distance: 'Dot' }, text: { size: 3, distance: 'Cosine' } } });
    await upsertAll(client, named, npts);
});
after(async () => { await srv?.stop(); });

const exact = { exact: true };

test('query by a raw vector and by {nearest} equal exact search; result is {points}', async () => {
    const r = rng(62);
    for (let i = 0; i < 3; i++) {
        const q = randVec(r, DIM);
        const want = topK(data, q, 'Dot', { limit: 10 });
        const a = await client.query(dot, { query: q, params: exact });
        // QueryResponse {points} (lib/api/src/rest/schema.rs); default limit 10
        // (QueryRequestInternal doc comment "Default is 10").
        assertRanking(a.points, want, { what: 'raw vector' });
        const b = await client.query(dot, { query: { nearest: q }, params: exact });
        assertRanking(b.points, want, { what: '{nearest}' });
    }
});

test('query without exact uses the index and still finds the neighbours (hnsw_ef)', async () => {
    const q = randVec(rng(63), DIM);
    const got = await client.query(cosine, { query: q, limit: 10, params: { hnsw_ef: 100 } });
    assertApproxRanking(got.points, topK(data, q, 'Cosine', { limit: N }), 10, 'Cosine', { what: 'hnsw query' });
});

test('query by a point id searches with its vector and leaves the point out', async () => {
    for (const id of [3, 77]) {
        const got = await client.query(dot, { query: id, limit: 5, params: exact });
        // collection_query.rs exclude_referenced_ids: ids used in the query
        // are excluded from the results.
        assertRanking(got.points, topK(data, byId.get(id).vector, 'Dot', { limit: 5, exclude: new Set([String(id)]) }), { what: `id ${id}` });
    }
    const viaNearest = await client.query(dot, { query: { nearest: 3 }, limit: 5, params: exact });
    assertRanking(viaNearest.points, topK(data, byId.get(3).vector, 'Dot', { limit: 5, exclude: new Set(['3']) }), { what: '{nearest: id}' });
    // A missing id: 404 (test_query_full.py:482).
    const res = await raw(srv.base, 'POST', `/collections/${dot}/points/query`, { query: 100000 });
    expectError(res, 404, 'Not found: No point with id 100000 found');
});

test('query with `using` picks the named vector', async () => {
    const r = rng(64);
    const qi = randVec(r, 6), qt = randVec(r, 3);
    const gi = await client.query(named, { query: qi, using: 'image', limit: 6, params: exact });
    assertRanking(gi.points, topK(view(npts, 'image'), qi, 'Dot', { limit: 6 }), { what: 'using image' });
    const gt = await client.query(named, { query: qt, using: 'text', limit: 6, params: exact });
    assertRanking(gt.points, topK(view(npts, 'text'), qt, 'Cosine', { limit: 6 }), { what: 'using text' });
    // An unknown vector name (test_query_full.py:528).
    const res = await raw(srv.base, 'POST', `/collections/${named}/points/query`, { query: qi, using: 'non-existing-vector' });
    expectError(res, 400, 'Wrong input: Not existing vector name error: non-existing-vector');
});

test('query filter, limit, offset and score_threshold', async () => {
    const r = rng(65);
    const q = randVec(r, DIM);
    const filter = { must: [{ key: 'count', range: { lte: 6 } }], must_not: [{ key: 'color', match: { value: 'red' } }] };
    const got = await client.query(dot, { query: q, filter, limit: 5, offset: 3, params: exact });
    assertRanking(got.points, topK(data, q, 'Dot', { limit: 5, offset: 3, filter }), { what: 'filter+offset' });
    const full = topK(data, q, 'Dot', { limit: 20 });
    const threshold = (full[6].score + full[7].score) / 2;
    const thr = await client.query(dot, { query: q, limit: 20, score_threshold: threshold, params: exact });
    // test_query.py test_score_threshold: every score >= threshold.
    assertRanking(thr.points, full.slice(0, 7), { what: 'score_threshold' });
});

test('query with_payload forms and with_vector', async () => {
    const q = randVec(rng(66), DIM);
    const plain = await client.query(dot, { query: q, limit: 3 });
    // test_query.py test_nearest_with_mmr: nothing requested, nothing sent.
    for (const p of plain.points) {
        assert.ok(p.payload == null);
        assert.ok(p.vector == null);
    }
    const full = await client.query(dot, { query: q, limit: 3, with_payload: true, with_vector: true });
    for (const p of full.points) {
        assert.deepEqual(p.payload, byId.get(p.id).payload);
        assertVectorEqual(p.vector, byId.get(p.id).vector);
    }
    const inc = await client.query(dot, { query: q, limit: 3, with_payload: { include: ['meta.rank', 'color'] } });
    for (const p of inc.points) {
        assert.deepEqual(p.payload, { meta: { rank: byId.get(p.id).payload.meta.rank }, color: byId.get(p.id).payload.color });
    }
    const exc = await client.query(dot, { query: q, limit: 3, with_payload: { exclude: ['meta', 'cities', 'price'] } });
    for (const p of exc.points) {
        const want = structuredClone(byId.get(p.id).payload);
        delete want.meta; delete want.cities; delete want.price;
        assert.deepEqual(p.payload, want);
    }
    const list = await client.query(dot, { query: q, limit: 3, with_payload: ['count'] });
    for (const p of list.points) assert.deepEqual(p.payload, { count: byId.get(p.id).payload.count });
    // `with_vectors` is an alias (QueryRequestInternal #[serde(alias)]).
    const alias = expectOk(await raw(srv.base, 'POST', `/collections/${dot}/points/query`, { query: q, limit: 1, with_vectors: true }));
    assertVectorEqual(alias.points[0].vector, byId.get(alias.points[0].id).vector);
});

test('query without a query returns points by id', async () => {
    const got = await client.query(dot, { limit: 7 });
    // QueryRequestInternal.query doc: "If missing without prefetches,
    // returns points ordered by their IDs."
    assert.deepEqual(got.points.map((p) => p.id), [1, 2, 3, 4, 5, 6, 7]);
    const filtered = await client.query(dot, { limit: 5, filter: { must: [{ key: 'color', match: { value: 'blue' } }] } });
    const want = data.filter((p) => p.payload.color === 'blue').map((p) => p.id).sort(cmpId).slice(0, 5);
    assert.deepEqual(filtered.points.map((p) => p.id), want);
});

test('query {recommend} with the three strategies', async () => {
    const pos = [5, 6], neg = [7];
    const pv = pos.map((id) => byId.get(id).vector), nv = neg.map((id) => byId.get(id).vector);
    const exclude = new Set(['5', '6', '7']);
    const avg = await client.query(dot, { query: { recommend: { positive: pos, negative: neg } }, limit: 6, params: exact });
    // Default strategy average_vector (RecommendInput.strategy).
    assertRanking(avg.points, topK(data, averageVectorQuery(pv, nv), 'Dot', { limit: 6, exclude }), { what: 'query reco average' });
    const best = await client.query(dot, { query: { recommend: { positive: pos, negative: neg, strategy: 'best_score' } }, limit: 6, params: exact });
    assertRanking(best.points, rankBy(data, (v) => bestScore('Dot', pv, nv, v), { limit: 6, exclude }), { what: 'query reco best_score' });
    const sum = await client.query(dot, { query: { recommend: { positive: pos, negative: neg, strategy: 'sum_scores' } }, limit: 6, params: exact });
    assertRanking(sum.points, rankBy(data, (v) => sumScores('Dot', pv, nv, v), { limit: 6, exclude }), { what: 'query reco sum_scores' });
    // test_query.py test_basic_recommend_avg: /recommend and /query agree.
    const old = await client.recommend(dot, { positive: pos, negative: neg, limit: 6, params: exact });
    assert.deepEqual(old.map((p) => p.id), avg.points.map((p) => p.id));
});

test('query {order_by} on an indexed payload key, both directions', async () => {
    const name = uniqueName('qorder');
    await client.createCollection(name, { vectors: { size: 2, distance: 'Dot' } });
    const r = rng(67);
    const pts = [];
    for (let i = 1; i <= 30; i++) pts.push({ id: i, vector: [r(), r()], payload: { rank: (i * 37) % 31 + 0.5, tag: i % 2 ? 'odd' : 'even' } });
    await client.upsert(name, { wait: true, points: pts });
    // Qdrant needs a range index for order_by (test_order_by.py creates
    // them; without one: "No range index for `order_by` key").
    await client.createPayloadIndex(name, { field_name: 'rank', field_schema: 'float', wait: true });
    const sorted = [...pts].sort((a, b) => a.payload.rank - b.payload.rank);
    const asc = await client.query(name, { query: { order_by: { key: 'rank', direction: 'asc' } }, limit: 10, with_payload: true });
    assert.deepEqual(asc.points.map((p) => p.id), sorted.slice(0, 10).map((p) => p.id));
    // ScoredPoint.order_value carries the key's value (scroll.rs).
    asc.points.forEach((p) => assert.equal(p.order_value, p.payload.rank));
    const desc = await client.query(name, { query: { order_by: 'rank' }, limit: 5 });
    // A bare key string means ascending (OrderByInterface::Key).
    assert.deepEqual(desc.points.map((p) => p.id), sorted.slice(0, 5).map((p) => p.id));
    const d = await client.query(name, { query: { order_by: { key: 'rank', direction: 'desc' } }, limit: 5, filter: { must: [{ key: 'tag', match: { value: 'odd' } }] } });
    assert.deepEqual(d.points.map((p) => p.id), [...sorted].reverse().filter((p) => p.payload.tag === 'odd').slice(0, 5).map((p) => p.id));
    // test_query.py: score_threshold with order_by is a 400.
    const res = await raw(srv.base, 'POST', `/collections/${name}/points/query`, { query: { order_by: { key: 'rank' } }, score_threshold: 10 });
    expectError(res, 400, "Bad request: Can't use score_threshold with an order_by query.");
    // Without an index (lib/segment/src/common/operation_error.rs wording).
    const res2 = await raw(srv.base, 'POST', `/collections/${name}/points/query`, { query: { order_by: { key: 'tag' } } });
    expectError(res2, 400, /^Wrong input: No range index for `order_by` key: `tag`\. Please create one to use `order_by`\./);
});

test('fusion rrf over two prefetches equals the RRF of the two exact lists', async () => {
    const r = rng(68);
    const q1 = randVec(r, DIM), q2 = randVec(r, DIM);
    const l1 = topK(data, q1, 'Dot', { limit: 15 }), l2 = topK(data, q2, 'Dot', { limit: 15 });
    const got = await client.query(dot, {
        prefetch: [{ query: q1, limit: 15, params: exact }, { query: q2, limit: 15, params: exact }],
        query: { fusion: 'rrf' },
        limit: 10,
    });
    // reciprocal_rank_fusion.rs rrf_scoring with k = 2 (see lib/brute.js);
    // the same formula as tests/openapi/helpers/helpers.py.
    assertRanking(got.points, rrf([l1, l2]).slice(0, 10), { tol: 1e-5, what: 'rrf', pool: rrf([l1, l2]) });
    // A prefetch with a filter only contributes matching points.
    const filter = { must: [{ key: 'color', match: { value: 'green' } }] };
    const f = await client.query(dot, {
        prefetch: [{ query: q1, limit: 10, filter, params: exact }, { query: q2, limit: 10, params: exact }],
        query: { fusion: 'rrf' },
        limit: 10,
    });
    const fusedF = rrf([topK(data, q1, 'Dot', { limit: 10, filter }), topK(data, q2, 'Dot', { limit: 10 })]);
    assertRanking(f.points, fusedF.slice(0, 10), { tol: 1e-5, what: 'rrf filtered prefetch', pool: fusedF });
});

test('parametrised RRF: {rrf: {k}} and {rrf: {k, weights}}', async () => {
    const r = rng(68);
    const q1 = randVec(r, DIM), q2 = randVec(r, DIM);
    const l1 = topK(data, q1, 'Dot', { limit: 15 }), l2 = topK(data, q2, 'Dot', { limit: 15 });
    const prefetch = [{ query: q1, limit: 15, params: exact }, { query: q2, limit: 15, params: exact }];
    // Rrf {k, weights} (lib/api/src/rest/schema.rs); position_score with
    // the given k and per-prefetch weights (reciprocal_rank_fusion.rs).
    const k5 = await client.query(dot, { prefetch, query: { rrf: { k: 5 } }, limit: 10 });
    assertRanking(k5.points, rrf([l1, l2], { k: 5 }).slice(0, 10), { tol: 1e-5, what: 'rrf k=5', pool: rrf([l1, l2], { k: 5 }) });
    const w = await client.query(dot, { prefetch, query: { rrf: { k: 5, weights: [2, 0.5] } }, limit: 10 });
    const want = rrf([l1, l2], { k: 5, weights: [2, 0.5] });
    assertRanking(w.points, want.slice(0, 10), { tol: 1e-5, what: 'rrf k=5 weighted', pool: want });
});

test('fusion dbsf over two prefetches equals distribution-based score fusion', async () => {
    const r = rng(69);
    const q1 = randVec(r, DIM), q2 = randVec(r, DIM);
    const l1 = topK(data, q1, 'Dot', { limit: 12 }), l2 = topK(data, q2, 'Dot', { limit: 12 });
    const got = await client.query(dot, {
        prefetch: [{ query: q1, limit: 12, params: exact }, { query: q2, limit: 12, params: exact }],
        query: { fusion: 'dbsf' },
        limit: 10,
    });
    // score_fusion.rs ScoreFusion::dbsf (mean +- 3 sample sd, summed).
    assertRanking(got.points, dbsf([l1, l2]).slice(0, 10), { tol: 1e-4, what: 'dbsf' });
});

test('fusion: limit, offset and score_threshold apply to the fused list; fusion with `using` is refused', async () => {
    const r = rng(70);
    const q1 = randVec(r, DIM), q2 = randVec(r, DIM);
    const l1 = topK(data, q1, 'Dot', { limit: 10 }), l2 = topK(data, q2, 'Dot', { limit: 10 });
    const fused = rrf([l1, l2]);
    const got = await client.query(dot, {
        prefetch: [{ query: q1, limit: 10, params: exact }, { query: q2, limit: 10, params: exact }],
        query: { fusion: 'rrf' }, limit: 4, offset: 2,
    });
    assertRanking(got.points, fused.slice(2, 6), { tol: 1e-5, what: 'rrf offset', pool: fused });
    // RRF scores tie often: the threshold sits between two distinct levels.
    const { threshold: thr, keep } = thresholdAfter(fused, 2);
    const t = await client.query(dot, {
        prefetch: [{ query: q1, limit: 10, params: exact }, { query: q2, limit: 10, params: exact }],
        query: { fusion: 'rrf' }, limit: 20, score_threshold: thr,
    });
    assertRanking(t.points, fused.slice(0, keep), { tol: 1e-5, what: 'rrf threshold', pool: fused });
    // test_query_full.py:135.
    const res = await raw(srv.base, 'POST', `/collections/${named}/points/query`, {
        prefetch: [{ query: [1, 0, 0, 0, 0, 0], using: 'image' }], query: { fusion: 'rrf' }, using: 'image',
    });
    expectError(res, 400, "Bad request: Fusion queries cannot be combined with the 'using' field.");
});

test('a nearest query over a prefetch rescores only the prefetched points', async () => {
    const r = rng(71);
    const qi = randVec(r, 6), qt = randVec(r, 3);
    const filter = { must: [{ key: 'group', match: { any: ['g0', 'g1'] } }] };
    // Prefetch on `image` with a filter, then rescore by `text`.
    const pre = topK(view(npts, 'image'), qi, 'Dot', { limit: 20, filter });
    const ids = new Set(pre.map((p) => String(p.id)));
    const candidates = view(npts, 'text').filter((p) => ids.has(String(p.id)));
    const got = await client.query(named, {
        prefetch: { query: qi, using: 'image', limit: 20, filter, params: exact },
        query: qt, using: 'text', limit: 5,
    });
    assertRanking(got.points, topK(candidates, qt, 'Cosine', { limit: 5 }), { what: 'rescore' });
    // tests/openapi/test_query.py root_and_rescored_query: a prefetch of
    // everything rescored by the same query equals the plain query.
    const q = randVec(r, DIM);
    const rootQ = await client.query(dot, { query: q, limit: 10, params: exact });
    const nested = await client.query(dot, { prefetch: { limit: 1000 }, query: q, limit: 10 });
    assert.deepEqual(nested.points.map((p) => p.id), rootQ.points.map((p) => p.id));
});

test('nearest with MMR follows maximal marginal relevance', async () => {
    const r = rng(72);
    const q = randVec(r, DIM);
    for (const [diversity, candidates] of [[0.5, 30], [0.9, 40], [0.0, 20]]) {
        const got = await client.query(cosine, {
            query: { nearest: q, mmr: { diversity, candidates_limit: candidates } },
            limit: 8,
            params: exact,
        });
        // shard/src/query/mmr/mod.rs: candidates are the candidates_limit
        // nearest; lambda = 1 - diversity; result scores are query scores.
        const cand = topK(data, q, 'Cosine', { limit: candidates }).map((c) => ({ id: c.id, vector: byId.get(c.id).vector }));
        assertRanking(got.points, mmr(cand, q, 'Cosine', { diversity, limit: 8 }), { what: `mmr diversity ${diversity}` });
    }
    // test_query.py test_nearest_with_mmr: `mmr: {}` equals the defaults
    // (diversity 0.5, candidates_limit = limit).
    const d1 = await client.query(cosine, { query: { nearest: q, mmr: {} }, limit: 8, params: exact });
    const d2 = await client.query(cosine, { query: { nearest: q, mmr: { diversity: 0.5, candidates_limit: 8 } }, limit: 8, params: exact });
    assert.deepEqual(d1.points.map((p) => p.id), d2.points.map((p) => p.id));
});

test('query/batch answers one QueryResponse per request', async () => {
    const r = rng(73);
    const q1 = randVec(r, DIM), q2 = randVec(r, DIM);
    const got = await client.queryBatch(dot, {
        searches: [
            { query: q1, limit: 3, params: exact },
            { query: { nearest: q2 }, limit: 4, filter: { must: [{ key: 'in_stock', match: { value: true } }] }, params: exact },
            { prefetch: [{ query: q1, limit: 10, params: exact }, { query: q2, limit: 10, params: exact }], query: { fusion: 'rrf' }, limit: 5 },
        ],
    });
    assert.equal(got.length, 3);
    assertRanking(got[0].points, topK(data, q1, 'Dot', { limit: 3 }), { what: 'batch 0' });
    assertRanking(got[1].points, topK(data, q2, 'Dot', { limit: 4, filter: { must: [{ key: 'in_stock', match: { value: true } }] } }), { what: 'batch 1' });
    const fusedB = rrf([topK(data, q1, 'Dot', { limit: 10 }), topK(data, q2, 'Dot', { limit: 10 })]);
    assertRanking(got[2].points, fusedB.slice(0, 5), { tol: 1e-5, what: 'batch 2', pool: fusedB });
});

test('query validation errors use Qdrant\'s wording', async () => {
    const base = `/collections/${dot}/points/query`;
    // All four from tests/openapi/test_query.py test_query_validation.
    expectError(await raw(srv.base, 'POST', base, { prefetch: [{ query: { recommend: { positive: [1] } } }] }), 400,
        "Bad request: A query is needed to merge the prefetches. Can't have prefetches without defining a query.");
    expectError(await raw(srv.base, 'POST', base, { score_threshold: 10 }), 400,
        "Bad request: A query is needed to use the score_threshold. Can't have score_threshold without defining a query.");
    // limit 0 is a validator failure: 422 (src/actix/mod.rs
    // validation_error_handler: Validate -> UnprocessableEntity).
    expectError(await raw(srv.base, 'POST', base, { query: { recommend: { positive: [1] } }, limit: 0 }), 422,
        'Validation error in JSON body: [internal.limit: value 0 invalid, must be 1 or larger]');
    // The official client surfaces the same status.
    await assert.rejects(client.query(dot, { query: [1, 2, 3, 4, 5, 6, 7, 8], limit: 0 }), (e) => e.status === 422);
});

// {"sample": "random"} (Qdrant's ScrollOrder::Random): `limit` distinct
// points drawn from those the filter passes, in an order that changes from
// call to call; the offset is ignored without prefetches.
test('sample random: distinct points from the filtered set, varying order, offset ignored', async () => {
    const red = data.filter((p) => p.payload.color === 'red').map((p) => p.id).sort((a, b) => a - b);
    assert.ok(red.length > 5);
    const orders = new Set();
    for (let round = 0; round < 6; round++) {
        const res = await client.query(dot, { query: { sample: 'random' }, limit: 1000, offset: 7,
            filter: { must: [{ key: 'color', match: { value: 'red' } }] } });
        const ids = res.points.map((p) => p.id);
        assert.deepEqual([...ids].sort((a, b) => a - b), red);
        orders.add(ids.join(','));
    }
    assert.ok(orders.size > 1, 'six samples came back in the same order');
    const few = await client.query(dot, { query: { sample: 'random' }, limit: 5 });
    assert.equal(few.points.length, 5);
    assert.equal(new Set(few.points.map((p) => p.id)).size, 5);
    for (const p of few.points) assert.ok(byId.has(p.id));
    // Sampling prefetched points keeps to them.
    const pre = await client.query(dot, { prefetch: { query: data[0].vector, limit: 10 }, query: { sample: 'random' }, limit: 10 });
    const near = await client.query(dot, { query: data[0].vector, limit: 10, params: exact });
    assert.deepEqual(pre.points.map((p) => p.id).sort((a, b) => a - b), near.points.map((p) => p.id).sort((a, b) => a - b));
    const bad = await raw(srv.base, 'POST', `/collections/${dot}/points/query`, { query: { sample: 'sometimes' } });
    expectError(bad, 400, /expected `random`/);
});
