// facet.test.js - the client's facet(), searchMatrixPairs() and
// searchMatrixOffsets() against counts and nearest neighbours computed
// here by brute force (brute.js) on random data: keyword, integer and
// bool facets with and without a filter, limits, the missing-index error,
// and a distance matrix over the whole collection (sample >= points, so
// the sample is every point and the answer is deterministic).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVitrine, raw, uniqueName } from '../lib/harness.js';
import { expectError } from '../lib/expect.js';
import { rng, randVec } from '../lib/brute.js';

const DIM = 6;
const N = 60;
const COLORS = ['red', 'green', 'blue', 'black', 'white'];
let srv, client, name;
const r = rng(81);
const pts = Array.from({ length: N }, (_, i) => ({
    id: i + 1,
    vector: randVec(r, DIM),
    payload: {
        color: r() < 0.2 ? [COLORS[i % 5], COLORS[(i + 1) % 5]] : COLORS[Math.floor(r() * 5)],
        size: Math.floor(r() * 4),
        sale: r() < 0.3,
    },
}));

before(async () => {
    srv = await startVitrine(import.meta.url);
    client = srv.client;
    name = uniqueName('facet');
    await client.createCollection(name, { vectors: { size: DIM, distance: 'Cosine' } });
    await client.upsert(name, { wait: true, points: pts });
    await client.createPayloadIndex(name, { field_name: 'color', field_schema: 'keyword', wait: true });
    await client.createPayloadIndex(name, { field_name: 'size', field_schema: 'integer', wait: true });
    await client.createPayloadIndex(name, { field_name: 'sale', field_schema: 'bool', wait: true });
});
after(async () => { await srv?.stop(); });

// Expected hits: count per distinct value per point, by count desc then value asc.
function expected(key, keep = () => true, limit = 10) {
    const counts = new Map();
    for (const p of pts.filter(keep)) {
        const vals = new Set([].concat(p.payload[key]));
        for (const v of vals) counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    return [...counts].map(([value, count]) => ({ value, count }))
        .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
        .slice(0, limit);
}

test('facet counts keyword, integer and bool values like a brute-force count', async () => {
    for (const key of ['color', 'size', 'sale']) {
        const res = await client.facet(name, { key });
        assert.deepEqual(res.hits, expected(key), key);
    }
    const two = await client.facet(name, { key: 'color', limit: 2, exact: true });
    assert.deepEqual(two.hits, expected('color', () => true, 2));
    const onSale = await client.facet(name, { key: 'color', filter: { must: [{ key: 'sale', match: { value: true } }] } });
    assert.deepEqual(onSale.hits, expected('color', (p) => p.payload.sale));
    const small = await client.facet(name, { key: 'sale', filter: { must: [{ key: 'size', range: { lt: 2 } }] } });
    assert.deepEqual(small.hits, expected('sale', (p) => p.payload.size < 2));
});

test('facet on a field without a keyword, integer, uuid or bool index is a 400', async () => {
    const res = await raw(srv.base, 'POST', `/collections/${name}/facet`, { key: 'title' });
    expectError(res, 400, /No appropriate index for faceting: `title`/);
    const zero = await raw(srv.base, 'POST', `/collections/${name}/facet`, { key: 'color', limit: 0 });
    assert.equal(zero.status, 422);
});

function cosine(a, b) {
    let d = 0, na = 0, nb = 0;
    for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
    return d / Math.sqrt(na * nb);
}

test('the distance matrix lists each point\'s nearest other points, as pairs and as offsets', async () => {
    const limit = 3;
    const pairs = await client.searchMatrixPairs(name, { sample: 100, limit });
    const offsets = await client.searchMatrixOffsets(name, { sample: 100, limit });
    assert.deepEqual(offsets.ids, pts.map((p) => p.id));
    assert.equal(pairs.pairs.length, N * limit);
    for (let row = 0; row < N; row++) {
        const a = pts[row];
        const want = pts.filter((p) => p.id !== a.id)
            .map((p) => ({ id: p.id, s: cosine(a.vector, p.vector) }))
            .sort((x, y) => y.s - x.s).slice(0, limit);
        const got = pairs.pairs.slice(row * limit, (row + 1) * limit);
        for (let k = 0; k < limit; k++) {
            assert.equal(got[k].a, a.id);
            assert.equal(got[k].b, want[k].id, `row ${a.id} rank ${k}`);
            assert.ok(Math.abs(got[k].score - want[k].s) < 1e-5);
            const o = row * limit + k;
            assert.equal(offsets.offsets_row[o], row);
            assert.equal(offsets.ids[offsets.offsets_col[o]], want[k].id);
            assert.equal(offsets.scores[o], got[k].score);
        }
    }
    const sampled = await client.searchMatrixPairs(name, { sample: 5, limit: 2, filter: { must: [{ key: 'size', match: { value: 1 } }] } });
    for (const p of sampled.pairs) {
        assert.equal(pts[p.a - 1].payload.size, 1);
        assert.equal(pts[p.b - 1].payload.size, 1);
    }
});
