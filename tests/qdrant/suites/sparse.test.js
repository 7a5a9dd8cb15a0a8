// sparse.test.js - sparse vectors: config (modifier idf), upsert and read
// back, exact dot-product queries with `using`, IDF weighting, and hybrid
// prefetch (dense + sparse) fused with rrf and dbsf.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVitrine, raw, uniqueName } from '../lib/harness.js';
import { expectOk, expectError } from '../lib/expect.js';
import { rng, randVec, topK, assertRanking, rrf, dbsf, cmpId } from '../lib/brute.js';

const DIM = 6;
const N = 80;
let srv, client, name, idfName;
const r = rng(120);
const data = [];
for (let i = 1; i <= N; i++) {
    // Sparse "term" vectors over a small vocabulary so terms overlap.
    const terms = new Map();
    const k = 1 + Math.floor(r() * 4);
    for (let j = 0; j < k; j++) terms.set(Math.floor(r() * 30) * 7, Math.fround(0.1 + r()));
    const indices = [...terms.keys()];
    const values = indices.map((x) => terms.get(x));
    const point = { id: i, dense: randVec(r, DIM), sparse: { indices, values }, payload: { even: i % 2 === 0 } };
    if (i % 9 === 0) point.sparse = null;
    data.push(point);
}

// Exact sparse score: the dot product over shared indices
// (lib/sparse/src/common/sparse_vector.rs score); only points sharing at
// least one index are candidates of the inverted index. With
// modifier idf, each query weight is multiplied by
// ln((n - df + 0.5) / (df + 0.5) + 1), n = points having the sparse vector,
// df = points having that index (query_context.rs fancy_idf).
function sparseTop(query, { limit = 10, filter = null, idf = false } = {}) {
    const withVec = data.filter((p) => p.sparse);
    const df = new Map();
    for (const p of withVec) for (const ix of p.sparse.indices) df.set(ix, (df.get(ix) ?? 0) + 1);
    const n = withVec.length;
    const qw = new Map(query.indices.map((ix, i) => {
        const w = query.values[i];
        return [ix, idf ? w * Math.log((n - (df.get(ix) ?? 0) + 0.5) / ((df.get(ix) ?? 0) + 0.5) + 1) : w];
    }));
    const rows = [];
    for (const p of withVec) {
        if (filter && !filter(p)) continue;
        let s = 0, shared = false;
        p.sparse.indices.forEach((ix, i) => {
            if (qw.has(ix)) { shared = true; s += qw.get(ix) * p.sparse.values[i]; }
        });
        if (shared) rows.push({ id: p.id, score: s });
    }
    rows.sort((a, b) => b.score - a.score || cmpId(a.id, b.id));
    return rows.slice(0, limit);
}

function toPoint(p) {
    const vector = { dense: p.dense };
    if (p.sparse) vector.text = p.sparse;
    return { id: p.id, vector, payload: p.payload };
}

before(async () => {
    srv = await startVitrine(import.meta.url);
    client = srv.client;
    name = uniqueName('sparse');
    await client.createCollection(name, {
        vectors: { dense: { size: DIM, distance: 'Dot' } },
        sparse_vectors: { text: {} },
    });
    await client.upsert(name, { wait: true, points: data.map(toPoint) });
    idfName = uniqueName('idf');
    await client.createCollection(idfName, {
        vectors: { dense: { size: DIM, distance: 'Dot' } },
        sparse_vectors: { text: { modifier: 'idf' } },
    });
    await client.upsert(idfName, { wait: true, points: data.map(toPoint) });
});
after(async () => { await srv?.stop(); });

test('sparse config is reported back, modifier included', async () => {
    const info = await client.getCollection(idfName);
    // CollectionParams.sparse_vectors {name: SparseVectorParams{index?, modifier?}}.
    assert.equal(info.config.params.sparse_vectors.text.modifier, 'idf');
    const plain = await client.getCollection(name);
    assert.ok(plain.config.params.sparse_vectors && 'text' in plain.config.params.sparse_vectors);
    assert.equal(plain.points_count, N);
});

test('sparse vectors read back as {indices, values}', async () => {
    const got = await client.retrieve(name, { ids: [1, 2, 9], with_vector: true });
    for (const rec of got) {
        const src = data[rec.id - 1];
        if (!src.sparse) {
            assert.ok(!rec.vector.text, 'a point upserted without the sparse vector has none');
            continue;
        }
        const sv = rec.vector.text;
        assert.ok(Array.isArray(sv.indices) && Array.isArray(sv.values), JSON.stringify(sv));
        // Compared as pairs: Qdrant may store the indices sorted.
        const pairs = (v) => v.indices.map((ix, i) => [ix, Math.fround(v.values[i])]).sort((a, b) => a[0] - b[0]);
        assert.deepEqual(pairs(sv), pairs(src.sparse));
        assert.equal(rec.vector.dense.length, DIM);
    }
});

test('query a sparse vector with `using`: exact dot product over shared indices', async () => {
    const rq = rng(121);
    for (let t = 0; t < 4; t++) {
        const q = { indices: [Math.floor(rq() * 30) * 7, Math.floor(rq() * 30) * 7 + (t === 3 ? 0 : 7)], values: [1.5, 0.5] };
        if (q.indices[0] === q.indices[1]) q.indices[1] += 7;
        const got = await client.query(name, { query: q, using: 'text', limit: 10 });
        // Sparse search is exact (inverted index with full scoring).
        assertRanking(got.points, sparseTop(q, { limit: 10 }), { what: `sparse ${t}` });
    }
    // With a filter.
    const q = { indices: [7, 14, 21, 28, 35], values: [1, 1, 1, 1, 1] };
    const f = await client.query(name, { query: q, using: 'text', limit: 5, filter: { must: [{ key: 'even', match: { value: true } }] } });
    assertRanking(f.points, sparseTop(q, { limit: 5, filter: (p) => p.payload.even }), { what: 'sparse filtered' });
});

test('the older search route takes a named sparse vector', async () => {
    const q = { indices: [14, 70, 140], values: [0.7, 1.1, 0.3] };
    const got = await client.search(name, { vector: { name: 'text', vector: q }, limit: 6 });
    assertRanking(got, sparseTop(q, { limit: 6 }), { what: 'search sparse' });
});

test('modifier idf weights query terms by inverse document frequency', async () => {
    const q = { indices: [0, 7, 63, 133], values: [1, 1, 1, 1] };
    const got = await client.query(idfName, { query: q, using: 'text', limit: 10 });
    assertRanking(got.points, sparseTop(q, { limit: 10, idf: true }), { tol: 1e-3, what: 'idf' });
});

test('hybrid: dense and sparse prefetches fused with rrf and with dbsf', async () => {
    const rq = rng(122);
    const dq = randVec(rq, DIM);
    const sq = { indices: [21, 42, 84, 105], values: [0.9, 0.4, 1.2, 0.6] };
    const denseView = data.map((p) => ({ id: p.id, vector: p.dense, payload: p.payload }));
    const dl = topK(denseView, dq, 'Dot', { limit: 20 });
    const sl = sparseTop(sq, { limit: 20 });
    const prefetch = [
        { query: dq, using: 'dense', limit: 20, params: { exact: true } },
        { query: sq, using: 'text', limit: 20 },
    ];
    const got = await client.query(name, { prefetch, query: { fusion: 'rrf' }, limit: 10 });
    assertRanking(got.points, rrf([dl, sl]).slice(0, 10), { tol: 1e-5, what: 'hybrid rrf', pool: rrf([dl, sl]) });
    const gotD = await client.query(name, { prefetch, query: { fusion: 'dbsf' }, limit: 10 });
    assertRanking(gotD.points, dbsf([dl, sl]).slice(0, 10), { tol: 1e-4, what: 'hybrid dbsf' });
});

test('sparse errors: a dense query on a sparse name, duplicate names, mismatched lengths', async () => {
    // A dense vector against a sparse name (operation_error.rs: "Conversion
    // between sparse and regular vectors failed").
    const r1 = await raw(srv.base, 'POST', `/collections/${name}/points/query`, { query: [1, 2, 3], using: 'text' });
    assert.equal(r1.status, 400, r1.text);
    // Dense and sparse names must differ (test_sparse_vector_validations.py wording).
    const dup = uniqueName('dup');
    const r2 = await raw(srv.base, 'PUT', `/collections/${dup}`, { vectors: { image: { size: 2, distance: 'Dot' } }, sparse_vectors: { image: {} } });
    expectError(r2, 400, "Wrong input: Dense and sparse vector names must be unique - duplicate found with 'image'");
    // indices and values of different lengths: 422 (validator message
    // "must be the same length as indices", test_sparse_vector_validations.py).
    const r3 = await raw(srv.base, 'PUT', `/collections/${name}/points?wait=true`, {
        points: [{ id: 500, vector: { dense: [1, 2, 3, 4, 5, 6], text: { indices: [1, 2], values: [1] } } }],
    });
    expectError(r3, 422, /must be the same length as indices/);
    assert.equal((await client.count(name)).count, N, 'nothing stored');
    const r4 = await raw(srv.base, 'PUT', `/collections/${name}/points?wait=true`, {
        points: [{ id: 501, vector: { dense: [1, 2, 3, 4, 5, 6], text: { indices: [1, 1], values: [1, 2] } } }],
    });
    expectError(r4, 422, /must be unique/);
    assert.equal((await client.count(name)).count, N, 'nothing stored');
});

test('updating a sparse vector replaces it for search', async () => {
    const c = uniqueName('sparse_upd');
    await client.createCollection(c, { sparse_vectors: { s: {} } });
    await client.upsert(c, { wait: true, points: [{ id: 1, vector: { s: { indices: [1], values: [1] } } }, { id: 2, vector: { s: { indices: [2], values: [1] } } }] });
    await client.updateVectors(c, { wait: true, points: [{ id: 1, vector: { s: { indices: [2], values: [3] } } }] });
    const got = await client.query(c, { query: { indices: [2], values: [1] }, using: 's' });
    assert.deepEqual(got.points.map((p) => [p.id, p.score]), [[1, 3], [2, 1]]);
    const none = expectOk(await raw(srv.base, 'POST', `/collections/${c}/points/query`, { query: { indices: [1], values: [1] }, using: 's' }));
    assert.deepEqual(none.points, []);
});
