// payload.test.js - set (POST) / overwrite (PUT) / delete / clear payload,
// by ids and by filter, and `key` for a nested set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVitrine, raw, uniqueName } from '../lib/harness.js';
import { expectOk, expectError } from '../lib/expect.js';
import { matchFilter } from '../lib/brute.js';
import { makePoints, upsertAll } from '../lib/data.js';

let srv, client;
before(async () => { srv = await startVitrine(import.meta.url); client = srv.client; });
after(async () => { await srv?.stop(); });

async function seeded(n = 12) {
    const name = uniqueName('pay');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    const pts = makePoints(30, n, 4);
    await upsertAll(client, name, pts);
    return { name, pts };
}

async function payloadOf(name, id) {
    const [p] = await client.retrieve(name, { ids: [id], with_payload: true });
    return p.payload;
}

async function payloads(name) {
    const { points } = await client.scroll(name, { limit: 1000, with_payload: true });
    return new Map(points.map((p) => [p.id, p.payload]));
}

test('set payload by ids merges keys into the existing payload', async () => {
    const { name, pts } = await seeded();
    // POST /points/payload SetPayload: merge at the top level
    // (lib/segment/src/types.rs Payload::merge; test_payload_operations.py).
    const res = await client.setPayload(name, { wait: true, payload: { color: 'white', extra: [1, 2] }, points: [1, 2] });
    assert.equal(res.status, 'completed');
    for (const id of [1, 2]) {
        assert.deepEqual(await payloadOf(name, id), { ...pts[id - 1].payload, color: 'white', extra: [1, 2] });
    }
    assert.deepEqual(await payloadOf(name, 3), pts[2].payload, 'other points untouched');
});

test('set payload by filter changes exactly the matching points', async () => {
    const { name, pts } = await seeded(20);
    const filter = { must: [{ key: 'count', range: { gte: 5 } }] };
    await client.setPayload(name, { wait: true, payload: { flagged: true }, filter });
    const all = await payloads(name);
    for (const p of pts) {
        const want = matchFilter(filter, p) ? { ...p.payload, flagged: true } : p.payload;
        assert.deepEqual(all.get(p.id), want, `point ${p.id}`);
    }
});

test('set payload with `key` writes into a nested object, path forms included', async () => {
    const name = uniqueName('nested');
    await client.createCollection(name, { vectors: { size: 2, distance: 'Dot' } });
    await client.upsert(name, { wait: true, points: [{ id: 1, vector: [1, 0], payload: { top: 1 } }, { id: 9, vector: [0, 1] }] });
    // Ported from tests/openapi/test_payload_operations.py (the `key` cases).
    await client.setPayload(name, { wait: true, points: [1], payload: { key6: { subkey: 'xxx', arraykey: [{ a1: { a1k: 'xxx' } }, { a2: { a2k: 'xxx' } }], subkey2: { subkey3: 'xxx' } } } });
    await client.setPayload(name, { wait: true, points: [1], key: 'key6', payload: { subkey: 'yyy' } });
    let p = await payloadOf(name, 1);
    assert.equal(p.key6.subkey, 'yyy');
    assert.equal(p.key6.subkey2.subkey3, 'xxx', 'a nested set merges, it does not replace the object');
    await client.setPayload(name, { wait: true, points: [1], key: 'key6.subkey2', payload: { subkey3: 'yyy' } });
    await client.setPayload(name, { wait: true, points: [1], key: 'key6.arraykey[0].a1', payload: { a1k: 'yyy' } });
    await client.setPayload(name, { wait: true, points: [1], key: 'key6.arraykey[].a2', payload: { a2k: 'yyy' } });
    await client.setPayload(name, { wait: true, points: [1], key: 'key6.subkey7', payload: { key: 'xxx' } });
    p = await payloadOf(name, 1);
    assert.equal(p.top, 1);
    assert.equal(p.key6.subkey2.subkey3, 'yyy');
    assert.equal(p.key6.arraykey[0].a1.a1k, 'yyy');
    assert.equal(p.key6.arraykey[1].a2.a2k, 'yyy');
    // A key that does not exist yet is created (test: "not exists key").
    assert.deepEqual(p.key6.subkey7, { key: 'xxx' });
    // Idempotence (test_payload_operations.py): twice the same nested set.
    for (let i = 0; i < 2; i++) {
        await client.setPayload(name, { wait: true, points: [9], key: 'key', payload: { key: 'xxx' } });
        assert.deepEqual(await payloadOf(name, 9), { key: { key: 'xxx' } });
    }
});

test('overwrite payload (PUT) replaces the whole payload, by ids and by filter', async () => {
    const { name, pts } = await seeded(15);
    const res = await client.overwritePayload(name, { wait: true, payload: { only: 'this' }, points: [1] });
    assert.equal(res.status, 'completed');
    assert.deepEqual(await payloadOf(name, 1), { only: 'this' });
    const filter = { must: [{ key: 'color', match: { value: 'blue' } }] };
    await client.overwritePayload(name, { wait: true, payload: { was: 'blue' }, filter });
    const all = await payloads(name);
    for (const p of pts) {
        if (p.id === 1) continue;
        assert.deepEqual(all.get(p.id), matchFilter(filter, p) ? { was: 'blue' } : p.payload, `point ${p.id}`);
    }
});

test('delete payload keys, top-level and nested, by ids and by filter', async () => {
    const { name, pts } = await seeded(10);
    const res = await client.deletePayload(name, { wait: true, keys: ['color', 'meta.brand'], points: [1, 2] });
    assert.equal(res.status, 'completed');
    for (const id of [1, 2]) {
        const want = structuredClone(pts[id - 1].payload);
        delete want.color;
        delete want.meta.brand;
        assert.deepEqual(await payloadOf(name, id), want);
    }
    const filter = { must: [{ key: 'in_stock', match: { value: true } }] };
    await client.deletePayload(name, { wait: true, keys: ['cities'], filter });
    const all = await payloads(name);
    for (const p of pts) {
        if (p.id <= 2) continue;
        const want = structuredClone(p.payload);
        if (matchFilter(filter, p)) delete want.cities;
        assert.deepEqual(all.get(p.id), want, `point ${p.id}`);
    }
    // Deleting a key that is not there is not an error.
    await client.deletePayload(name, { wait: true, keys: ['no_such_key'], points: [3] });
});

test('clear payload by ids and by filter', async () => {
    const { name, pts } = await seeded(10);
    const res = await client.clearPayload(name, { wait: true, points: [1, 2] });
    assert.equal(res.status, 'completed');
    const empty = (x) => x == null || Object.keys(x).length === 0;
    assert.ok(empty(await payloadOf(name, 1)));
    const filter = { must: [{ key: 'count', match: { any: [3, 4] } }] };
    await client.clearPayload(name, { wait: true, filter });
    const all = await payloads(name);
    for (const p of pts) {
        if (p.id <= 2) continue;
        if (matchFilter(filter, p)) assert.ok(empty(all.get(p.id)), `point ${p.id} cleared`);
        else assert.deepEqual(all.get(p.id), p.payload, `point ${p.id} kept`);
    }
    // Vectors are kept by a payload clear.
    assert.equal((await client.count(name)).count, 10);
});

test('payload writes to a missing point are 404; to a missing collection 404', async () => {
    const { name, pts } = await seeded(3);
    // Segment set_payload on an absent id raises PointIdError ->
    // CollectionError::PointNotFound -> "No point with id {id} found"
    // (lib/collection/src/operations/types.rs:909).
    const r1 = await raw(srv.base, 'POST', `/collections/${name}/points/payload?wait=true`, { payload: { a: 1 }, points: [999] });
    expectError(r1, 404, 'Not found: No point with id 999 found');
    const r2 = await raw(srv.base, 'POST', `/collections/${name}_x/points/payload?wait=true`, { payload: { a: 1 }, points: [1] });
    expectError(r2, 404, `Not found: Collection \`${name}_x\` doesn't exist!`);
    // Nothing changed.
    assert.deepEqual(await payloadOf(name, 1), pts[0].payload);
});

test('payload routes answer UpdateResult in the envelope', async () => {
    const { name } = await seeded(2);
    const routes = [
        ['POST', '/points/payload', { payload: { z: 1 }, points: [1] }],
        ['PUT', '/points/payload', { payload: { z: 2 }, points: [1] }],
        ['POST', '/points/payload/delete', { keys: ['z'], points: [1] }],
        ['POST', '/points/payload/clear', { points: [1] }],
    ];
    for (const [m, p, body] of routes) {
        const result = expectOk(await raw(srv.base, m, `/collections/${name}${p}?wait=true`, body), `${m} ${p}`);
        assert.equal(result.status, 'completed');
        assert.equal(typeof result.operation_id, 'number');
    }
});
