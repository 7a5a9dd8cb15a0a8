// discover.test.js - POST /points/discover and /discover/batch, and the
// query API's {discover: {target, context}} and {context: [...]} kinds:
// scores against Qdrant's formulas computed by brute force (brute.js
// discoverScore / contextScore), examples as ids and raw vectors on the
// four distances, the example ids excluded, filter, offset, using,
// prefetch, score_threshold, and the errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVitrine, raw, uniqueName } from '../lib/harness.js';
import { expectOk, expectError } from '../lib/expect.js';
import { rng, randVec, assertRanking, assertVectorEqual, rankBy, discoverScore, contextScore, matchFilter, topK } from '../lib/brute.js';
import { makePoints, makeNamedPoints, upsertAll, view } from '../lib/data.js';

const DIM = 8;
const N = 120;
let srv, client, named;
const cols = {};
const data = makePoints(70, N, DIM);
const byId = new Map(data.map((p) => [p.id, p]));
const npts = makeNamedPoints(71, 60, 6, 3);
const exact = { exact: true };

before(async () => {
    srv = await startVitrine(import.meta.url);
    client = srv.client;
    for (const distance of ['Cosine', 'Dot', 'Euclid', 'Manhattan']) {
        const name = uniqueName(`d${distance.toLowerCase()}`);
        await client.createCollection(name, { vectors: { size: DIM, distance } });
        await upsertAll(client, name, data);
        cols[distance] = name;
    }
    named = uniqueName('dnamed');
    await client.createCollection(named, { vectors: { image: { size: 6, distance: 'Dot' }, text: { size: 3, distance: 'Cosine' } } });
    await upsertAll(client, named, npts);
});
after(async () => { await srv?.stop(); });

// A random example: a point id (1..N) or a raw vector.
function example(r, dim = DIM, n = N) {
    return r() < 0.5 ? 1 + Math.floor(r() * n) : randVec(r, dim);
}

// The vector of an example and the ids a request refers to.
const vecOf = (x, pts = byId) => (Array.isArray(x) ? x : pts.get(x).vector);
function referenced(target, context) {
    const ids = new Set();
    for (const x of [target, ...context.flatMap((p) => [p.positive, p.negative])])
        if (x !== undefined && x !== null && !Array.isArray(x)) ids.add(String(x));
    return ids;
}
function vecPairs(context, pts = byId) {
    return context.map((p) => ({ positive: vecOf(p.positive, pts), negative: vecOf(p.negative, pts) }));
}

// The brute-force ranking of a discovery (target given) or context search.
function reference(distance, target, context, { limit = N, filter, points = data, pts = byId } = {}) {
    const pairs = vecPairs(context, pts);
    const exclude = referenced(target, context);
    const scorer = target !== undefined
        ? (v) => discoverScore(distance, vecOf(target, pts), pairs, v)
        : (v) => contextScore(distance, pairs, v);
    return rankBy(points.filter((p) => p.vector != null), scorer, { limit, filter, exclude });
}

for (const distance of ['Cosine', 'Dot', 'Euclid', 'Manhattan']) {
    test(`${distance}: discover scores rank + scaled_fast_sigmoid(sim(target)), examples excluded`, async () => {
        const r = rng(72);
        for (let q = 0; q < 6; q++) {
            const target = example(r);
            const context = [];
            for (let k = 0; k < q % 4; k++) context.push({ positive: example(r), negative: example(r) });
            const got = await client.discoverPoints(cols[distance], { target, context, limit: 10 });
            const pool = reference(distance, target, context);
            assertRanking(got, pool.slice(0, 10), { pool, what: `${distance} discover ${q}` });
            const ex = referenced(target, context);
            for (const p of got) assert.ok(!ex.has(String(p.id)), `example ${p.id} came back`);
            // The integer part is the rank, the fraction the target's sigmoid in (0, 1).
            for (const p of got) assert.ok(Math.abs(p.score) <= context.length + 1, `score ${p.score} out of range`);
        }
    });

    test(`${distance}: context search scores the summed pair losses (<= 0)`, async () => {
        const r = rng(73);
        for (let q = 0; q < 5; q++) {
            const context = [];
            for (let k = 0; k <= q % 3; k++) context.push({ positive: example(r), negative: example(r) });
            const got = await client.discoverPoints(cols[distance], { context, limit: 12 });
            const pool = reference(distance, undefined, context);
            assertRanking(got, pool.slice(0, 12), { pool, what: `${distance} context ${q}` });
            for (const p of got) assert.ok(p.score <= 0, `context score ${p.score} > 0`);
        }
    });
}

test('a one-sided context: the loss is strictly negative off the positive side', async () => {
    // Positive e1, negative -e1: on Dot the loss is fast_sigmoid(2 x0) for x0 < 0.
    const e1 = [1, 0, 0, 0, 0, 0, 0, 0], m1 = [-1, 0, 0, 0, 0, 0, 0, 0];
    const got = await client.discoverPoints(cols.Dot, { context: [{ positive: e1, negative: m1 }], limit: N });
    assert.equal(got.length, N);
    for (const p of got) {
        const x0 = byId.get(p.id).vector[0];
        const d = 2 * x0 - 2 ** -23;
        assert.ok(Math.abs(p.score - (d < 0 ? d / (1 - d) : 0)) < 1e-5, `id ${p.id} x0 ${x0} score ${p.score}`);
    }
    // Those on the positive side (score 0) come first.
    const zeros = data.filter((p) => 2 * p.vector[0] - 2 ** -23 >= 0).length;
    for (let i = 0; i < zeros; i++) assert.equal(got[i].score, 0);
    assert.ok(got[zeros].score < 0);
});

test('discover with only a target orders as search does, with sigmoid scores', async () => {
    const r = rng(74);
    for (const distance of ['Cosine', 'Euclid']) {
        const target = randVec(r, DIM);
        const got = await client.discoverPoints(cols[distance], { target, limit: 8 });
        const search = topK(data, target, distance, { limit: 8 });
        assert.deepEqual(got.map((p) => p.id), search.map((p) => p.id), `${distance} order`);
        for (const p of got) assert.ok(p.score > 0 && p.score < 1, `${distance} score ${p.score}`);
    }
});

test('discover: filter, offset, with_payload, with_vector; limit bounds the page', async () => {
    const r = rng(75);
    const filter = { must: [{ key: 'color', match: { any: ['red', 'blue'] } }] };
    const target = randVec(r, DIM);
    const context = [{ positive: 3, negative: randVec(r, DIM) }, { positive: randVec(r, DIM), negative: 8 }];
    const pool = reference('Dot', target, context, { filter });
    // The client's discoverPoints drops `filter` (1.17.0), so this goes raw.
    const disc = async (body) => expectOk(await raw(srv.base, 'POST', `/collections/${cols.Dot}/points/discover`, body));
    const got = await disc({ target, context, filter, offset: 4, limit: 6, with_payload: true, with_vector: true });
    assertRanking(got, pool.slice(4, 10), { pool, what: 'filtered, offset 4' });
    for (const p of got) {
        assert.ok(matchFilter(filter, byId.get(p.id)), `id ${p.id} does not match the filter`);
        assert.deepEqual(p.payload, byId.get(p.id).payload);
        assertVectorEqual(p.vector, byId.get(p.id).vector, { what: `vector of ${p.id}` });
    }
    // HNSW parameters are accepted (the objective is scored exactly anyway).
    const hnsw = await disc({ target, context, filter, limit: 10, params: { hnsw_ef: 16 } });
    assertRanking(hnsw, pool.slice(0, 10), { pool, what: 'params.hnsw_ef' });
    // offset: null is no offset (test_discover.py test_null_offset).
    assertRanking(await disc({ target, context, filter, limit: 3, offset: null }), pool.slice(0, 3), { pool, what: 'offset null' });
});

test('discover on a named vector (using), ids resolved from that vector', async () => {
    const r = rng(76);
    for (const [using, dim, distance] of [['image', 6, 'Dot'], ['text', 3, 'Cosine']]) {
        const points = view(npts, using);
        const pts = new Map(points.filter((p) => p.vector).map((p) => [p.id, p]));
        const ids = [...pts.keys()];
        const pick = () => (r() < 0.5 ? ids[Math.floor(r() * ids.length)] : randVec(r, dim));
        const target = pick();
        const context = [{ positive: pick(), negative: pick() }, { positive: pick(), negative: pick() }];
        const got = await client.discoverPoints(named, { target, context, using, limit: 10 });
        const pool = reference(distance, target, context, { points, pts });
        assertRanking(got, pool.slice(0, 10), { pool, what: `using ${using}` });
        const ctx = await client.discoverPoints(named, { context, using, limit: 10 });
        const cpool = reference(distance, undefined, context, { points, pts });
        assertRanking(ctx, cpool.slice(0, 10), { pool: cpool, what: `context using ${using}` });
    }
});

test('discover/batch answers each request as the single route does', async () => {
    const r = rng(77);
    const searches = [];
    for (let q = 0; q < 4; q++) {
        const context = [{ positive: example(r), negative: example(r) }];
        searches.push(q % 2 ? { context, limit: 5 } : { target: example(r), context, limit: 5, with_payload: true });
    }
    const batch = await client.discoverBatchPoints(cols.Cosine, { searches });
    assert.equal(batch.length, searches.length);
    for (let q = 0; q < searches.length; q++) {
        const single = await client.discoverPoints(cols.Cosine, searches[q]);
        assert.deepEqual(batch[q], single, `batch[${q}]`);
        const s = searches[q];
        const pool = reference('Cosine', s.target, s.context);
        assertRanking(batch[q], pool.slice(0, 5), { pool, what: `batch[${q}]` });
    }
});

test('query {discover} and {context} equal the brute force; examples excluded', async () => {
    const r = rng(78);
    for (const distance of ['Dot', 'Euclid']) {
        const target = example(r);
        const context = [{ positive: example(r), negative: example(r) }, { positive: example(r), negative: example(r) }];
        const got = await client.query(cols[distance], { query: { discover: { target, context } }, limit: 10, params: exact });
        const pool = reference(distance, target, context);
        assertRanking(got.points, pool.slice(0, 10), { pool, what: `${distance} query discover` });
        const ctx = await client.query(cols[distance], { query: { context }, limit: 10 });
        const cpool = reference(distance, undefined, context);
        assertRanking(ctx.points, cpool.slice(0, 10), { pool: cpool, what: `${distance} query context` });
    }
    // MaybeOneOrMany: one pair without a list, or none at all.
    const pair = { positive: 5, negative: 9 };
    const one = await client.query(cols.Dot, { query: { context: pair }, limit: 6 });
    const pool1 = reference('Dot', undefined, [pair]);
    assertRanking(one.points, pool1.slice(0, 6), { pool: pool1, what: 'context: one pair' });
    const t = randVec(r, DIM);
    const noCtx = await client.query(cols.Dot, { query: { discover: { target: t, context: null } }, limit: 6 });
    const pool2 = reference('Dot', t, []);
    assertRanking(noCtx.points, pool2.slice(0, 6), { pool: pool2, what: 'discover without context' });
    // Qdrant's query API scores every point 0 for a context without pairs.
    const empty = expectOk(await raw(srv.base, 'POST', `/collections/${cols.Dot}/points/query`, { query: { context: [] }, limit: 4 }));
    assert.equal(empty.points.length, 4);
    for (const p of empty.points) assert.equal(p.score, 0);
});

test('query {discover} rescores prefetch candidates; score_threshold, offset, batch', async () => {
    const r = rng(79);
    const near = randVec(r, DIM);
    const target = randVec(r, DIM);
    const context = [{ positive: 12, negative: randVec(r, DIM) }];
    const cand = topK(data, near, 'Dot', { limit: 30 });
    const candSet = new Set(cand.map((p) => p.id));
    const got = await client.query(cols.Dot, {
        prefetch: { query: near, limit: 30, params: exact },
        query: { discover: { target, context } },
        limit: 8, offset: 2,
    });
    const pool = reference('Dot', target, context, { points: data.filter((p) => candSet.has(p.id)) });
    assertRanking(got.points, pool.slice(2, 10), { pool, what: 'discover over prefetch' });
    // score_threshold keeps scores >= t (the objective is larger-is-better).
    const full = reference('Dot', target, context);
    const t = full[5].score - 1e-3;
    const thr = await client.query(cols.Dot, { query: { discover: { target, context } }, score_threshold: t, limit: 50 });
    const want = full.filter((p) => p.score >= t);
    assertRanking(thr.points, want, { pool: full, what: 'score_threshold' });
    const b = await client.queryBatch(cols.Dot, { searches: [{ query: { context }, limit: 3 }, { query: { discover: { target, context } }, limit: 3 }] });
    const cpool = reference('Dot', undefined, context);
    assertRanking(b[0].points, cpool.slice(0, 3), { pool: cpool, what: 'query batch context' });
    assertRanking(b[1].points, full.slice(0, 3), { pool: full, what: 'query batch discover' });
});

test('query groups with {discover}: groups of the best-scoring points', async () => {
    const target = byId.get(20).vector;
    const context = [{ positive: 21, negative: 22 }];
    const res = await raw(srv.base, 'POST', `/collections/${cols.Dot}/points/query/groups`, {
        query: { discover: { target, context } }, group_by: 'color', limit: 4, group_size: 2,
    });
    const groups = expectOk(res).groups;
    const pool = reference('Dot', target, context);
    // The first group holds the best point, its hits sorted by score.
    assert.ok(groups.length > 0);
    assert.equal(String(groups[0].hits[0].id), String(pool[0].id));
    for (const g of groups) {
        for (const h of g.hits) {
            assert.equal(byId.get(h.id).payload.color, g.id);
            const ref = pool.find((p) => p.id === h.id);
            assert.ok(ref && Math.abs(ref.score - h.score) < 1e-4, `group hit ${h.id} score ${h.score}`);
        }
    }
});

test('discover errors: Qdrant status and message', async () => {
    const P = `/collections/${cols.Dot}/points`;
    const v = [1, 2, 3, 4, 5, 6, 7, 8];
    expectError(await raw(srv.base, 'POST', `${P}/discover`, { limit: 3 }), 400,
        'Bad request: target and/or context_pairs must be specified');
    expectError(await raw(srv.base, 'POST', `${P}/discover`, { context: [], limit: 3 }), 400,
        'Bad request: target and/or context_pairs must be specified');
    expectError(await raw(srv.base, 'POST', `${P}/discover/batch`, { searches: [{ target: v, limit: 3 }, { limit: 3 }] }), 400,
        'Bad request: target and/or context_pairs must be specified');
    expectError(await raw(srv.base, 'POST', `${P}/discover`, { target: 99999, limit: 3 }), 404,
        'Not found: No point with id 99999 found');
    expectError(await raw(srv.base, 'POST', `${P}/discover`, { context: [{ positive: 1, negative: 99998 }], limit: 3 }), 404,
        'Not found: No point with id 99998 found');
    expectError(await raw(srv.base, 'POST', `${P}/discover`, { target: [1, 2, 3], limit: 3 }), 400,
        'Wrong input: Vector dimension error: expected dim: 8, got 3');
    expectError(await raw(srv.base, 'POST', `${P}/discover`, { target: v, using: 'nope', limit: 3 }), 400,
        'Wrong input: Not existing vector name error: nope');
    // lookup_from: the target id names a point of the lookup collection
    // (here this one), so it is not excluded, and its vector is the target.
    const lookup = await raw(srv.base, 'POST', `${P}/discover`, { target: 1, limit: 3, lookup_from: { collection: cols.Cosine } });
    const byVector = await raw(srv.base, 'POST', `${P}/discover`, { target: byId.get(1).vector, limit: 3 });
    assert.equal(lookup.status, 200, lookup.text);
    assert.deepEqual(lookup.json.result.map((p) => p.id), byVector.json.result.map((p) => p.id));
    expectError(await raw(srv.base, 'POST', `${P}/discover`, { target: 1, limit: 3, lookup_from: { collection: 'nowhere' } }), 404,
        'Not found: Collection nowhere not found');
    const sparse = await raw(srv.base, 'POST', `${P}/discover`, { target: { indices: [1], values: [0.5] }, limit: 3 });
    assert.match(expectError(sparse, 400), /sparse/);
    const missing = await raw(srv.base, 'POST', `${P}/discover`, { target: v });
    assert.match(expectError(missing, 400), /limit/);
    const qmissing = await raw(srv.base, 'POST', `${P}/query`, { query: { discover: { context: [] } } });
    assert.match(expectError(qmissing, 400), /target/);
    const qmulti = await raw(srv.base, 'POST', `${P}/query`, { query: { context: { positive: [[1, 2]], negative: 1 } } });
    assert.match(expectError(qmulti, 400), /multivector/);
});
