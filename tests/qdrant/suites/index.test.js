// index.test.js - PUT /collections/{name}/index (keyword, integer, float,
// bool, datetime, uuid, text, geo), DELETE .../index/{field}, payload_schema
// with point counts, and filtered search on indexed fields.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVitrine, raw, uniqueName } from '../lib/harness.js';
import { expectOk, expectError } from '../lib/expect.js';
import { rng, randVec, topK, assertRanking, matchFilter } from '../lib/brute.js';

let srv, client;
before(async () => { srv = await startVitrine(import.meta.url); client = srv.client; });
after(async () => { await srv?.stop(); });

function dataset(n = 60) {
    const r = rng(100);
    const pts = [];
    for (let i = 1; i <= n; i++) {
        const payload = {
            kw: `k${i % 6}`,
            int: i % 9,
            flt: Math.round(r() * 1000) / 10,
            flag: i % 2 === 0,
            when: new Date(Date.UTC(2024, 0, 1 + i)).toISOString(),
            uid: `00000000-0000-0000-0000-${String(i % 5).padStart(12, '0')}`,
            txt: `the quick brown fox number ${i}`,
            loc: { lon: -10 + (i % 20), lat: 40 + (i % 10) },
        };
        if (i % 4 === 0) delete payload.kw;
        if (i % 5 === 0) delete payload.int;
        pts.push({ id: i, vector: randVec(r, 4), payload });
    }
    return pts;
}

test('create every index type; payload_schema reports data_type and points', async () => {
    const name = uniqueName('idx');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    const pts = dataset();
    await client.upsert(name, { wait: true, points: pts });
    const types = { kw: 'keyword', int: 'integer', flt: 'float', flag: 'bool', when: 'datetime', uid: 'uuid', txt: 'text', loc: 'geo' };
    for (const [field, schema] of Object.entries(types)) {
        // PUT /index answers UpdateResult (collections_api.rs create_field_index).
        const res = await client.createPayloadIndex(name, { field_name: field, field_schema: schema, wait: true });
        assert.equal(res.status, 'completed', field);
    }
    const info = await client.getCollection(name);
    for (const [field, schema] of Object.entries(types)) {
        const s = info.payload_schema[field];
        assert.ok(s, `payload_schema lacks ${field}: ${JSON.stringify(info.payload_schema)}`);
        assert.equal(s.data_type, schema, field);
        // `points`: how many points have a value for the field
        // (local_shard/mod.rs payload index info).
        const want = pts.filter((p) => p.payload[field] !== undefined).length;
        assert.equal(s.points, want, `${field} points`);
    }
});

test('index with a params object is reported with its params', async () => {
    const name = uniqueName('idxp');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    await client.upsert(name, { wait: true, points: dataset(10) });
    await client.createPayloadIndex(name, { field_name: 'kw', field_schema: { type: 'keyword', is_tenant: true }, wait: true });
    await client.createPayloadIndex(name, { field_name: 'int', field_schema: { type: 'integer', lookup: true, range: true }, wait: true });
    const info = await client.getCollection(name);
    assert.equal(info.payload_schema.kw.data_type, 'keyword');
    assert.equal(info.payload_schema.kw.params.type, 'keyword');
    assert.equal(info.payload_schema.kw.params.is_tenant, true);
    assert.equal(info.payload_schema.int.params.type, 'integer');
});

test('the index counts follow later upserts and deletes', async () => {
    const name = uniqueName('idxc');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    await client.createPayloadIndex(name, { field_name: 'kw', field_schema: 'keyword', wait: true });
    const pts = dataset(20);
    await client.upsert(name, { wait: true, points: pts });
    let info = await client.getCollection(name);
    assert.equal(info.payload_schema.kw.points, pts.filter((p) => p.payload.kw).length);
    await client.delete(name, { wait: true, points: [1, 2, 3] });
    info = await client.getCollection(name);
    assert.equal(info.payload_schema.kw.points, pts.filter((p) => p.payload.kw && p.id > 3).length);
});

test('delete an index: gone from payload_schema, filters still work', async () => {
    const name = uniqueName('idxd');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    const pts = dataset(30);
    await client.upsert(name, { wait: true, points: pts });
    await client.createPayloadIndex(name, { field_name: 'int', field_schema: 'integer', wait: true });
    const res = await client.deletePayloadIndex(name, 'int', { wait: true });
    assert.equal(res.status, 'completed');
    const info = await client.getCollection(name);
    assert.ok(!('int' in info.payload_schema));
    const filter = { must: [{ key: 'int', match: { value: 3 } }] };
    const c = await client.count(name, { filter, exact: true });
    assert.equal(c.count, pts.filter((p) => matchFilter(filter, p)).length);
    // Deleting an index that does not exist is not an error (notes §2.3).
    const again = await raw(srv.base, 'DELETE', `/collections/${name}/index/int?wait=true`);
    expectOk(again);
});

test('filtered search on indexed keyword, integer, float, bool and uuid fields equals brute force', async () => {
    const name = uniqueName('idxs');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    const pts = dataset(60);
    await client.upsert(name, { wait: true, points: pts });
    for (const [f, s] of [['kw', 'keyword'], ['int', 'integer'], ['flt', 'float'], ['flag', 'bool'], ['uid', 'keyword']]) {
        await client.createPayloadIndex(name, { field_name: f, field_schema: s, wait: true });
    }
    const q = randVec(rng(101), 4);
    const filters = [
        { must: [{ key: 'kw', match: { value: 'k2' } }] },
        { must: [{ key: 'kw', match: { any: ['k1', 'k5'] } }, { key: 'int', range: { gte: 2 } }] },
        { must: [{ key: 'int', match: { value: 4 } }] },
        { must: [{ key: 'flt', range: { gt: 20, lt: 60 } }] },
        { must: [{ key: 'flag', match: { value: true } }], must_not: [{ key: 'kw', match: { value: 'k0' } }] },
        { must: [{ key: 'uid', match: { value: '00000000-0000-0000-0000-000000000003' } }] },
    ];
    for (const filter of filters) {
        const got = await client.search(name, { vector: q, filter, limit: 5, params: { exact: true } });
        assertRanking(got, topK(pts, q, 'Dot', { limit: 5, filter }), { what: JSON.stringify(filter) });
        const unexact = await client.search(name, { vector: q, filter, limit: 5 });
        for (const p of unexact) assert.ok(matchFilter(filter, pts[p.id - 1]), `hnsw+filter returned a non-matching ${p.id}`);
    }
});

test('datetime range filter on an indexed datetime field', async () => {
    const name = uniqueName('idxt');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    const pts = dataset(40);
    await client.upsert(name, { wait: true, points: pts });
    await client.createPayloadIndex(name, { field_name: 'when', field_schema: 'datetime', wait: true });
    // DatetimeRange accepts RFC 3339 strings (lib/segment/src/types.rs RangeInterface).
    const from = '2024-01-10T00:00:00Z', to = '2024-01-20T00:00:00Z';
    const got = await client.scroll(name, { filter: { must: [{ key: 'when', range: { gte: from, lt: to } }] }, limit: 100, with_payload: false });
    const want = pts.filter((p) => p.payload.when >= '2024-01-10T' && p.payload.when < '2024-01-20T').map((p) => p.id);
    assert.deepEqual(got.points.map((p) => p.id), want);
});

test('full-text match on a text index', async () => {
    const name = uniqueName('idxtext');
    await client.createCollection(name, { vectors: { size: 2, distance: 'Dot' } });
    const docs = ['red running shoes', 'blue suede shoes', 'a red hat', 'green socks'];
    await client.upsert(name, { wait: true, points: docs.map((t, i) => ({ id: i + 1, vector: [1, 0], payload: { t } })) });
    await client.createPayloadIndex(name, { field_name: 't', field_schema: 'text', wait: true });
    // With a word tokenizer, match.text requires every query token
    // (full_text_index; test_fts.py).
    const got = await client.scroll(name, { filter: { must: [{ key: 't', match: { text: 'red shoes' } }] } });
    assert.deepEqual(got.points.map((p) => p.id), [1]);
    const one = await client.scroll(name, { filter: { must: [{ key: 't', match: { text: 'shoes' } }] } });
    assert.deepEqual(one.points.map((p) => p.id), [1, 2]);
});

test('index errors: unknown collection 404; no field_schema is 400', async () => {
    const name = uniqueName('idxe');
    expectError(await raw(srv.base, 'PUT', `/collections/${name}/index`, { field_name: 'a', field_schema: 'keyword' }), 404,
        `Not found: Collection \`${name}\` doesn't exist!`);
    await client.createCollection(name, { vectors: { size: 2, distance: 'Dot' } });
    // src/common/update.rs:902.
    expectError(await raw(srv.base, 'PUT', `/collections/${name}/index?wait=true`, { field_name: 'a' }), 400,
        'Bad request: Can\'t auto-detect field type, please specify `field_schema` in the request');
    // An unknown schema name does not parse: 400 Format error.
    expectError(await raw(srv.base, 'PUT', `/collections/${name}/index`, { field_name: 'a', field_schema: 'nonsense' }), 400,
        /^Format error in JSON body: /);
});
