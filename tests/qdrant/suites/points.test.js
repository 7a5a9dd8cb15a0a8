// points.test.js - upsert (list and batch forms, named and unnamed vectors,
// wait true/false), retrieve, GET by id, delete by ids and by filter,
// vectors update/delete, points/batch, ids (u64, UUID spellings).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVitrine, raw, uniqueName } from '../lib/harness.js';
import { expectOk, expectError } from '../lib/expect.js';
import { rng, randVec, matchFilter, assertVectorEqual } from '../lib/brute.js';
import { makePoints, makeNamedPoints, upsertAll } from '../lib/data.js';

let srv, client;
before(async () => { srv = await startVitrine(import.meta.url); client = srv.client; });
after(async () => { await srv?.stop(); });

async function plain(dim = 4, distance = 'Dot') {
    const name = uniqueName('pts');
    await client.createCollection(name, { vectors: { size: dim, distance } });
    return name;
}

async function named() {
    const name = uniqueName('named');
    await client.createCollection(name, {
        vectors: { image: { size: 6, distance: 'Dot' }, text: { size: 3, distance: 'Cosine' } },
    });
    return name;
}

async function allIds(name) {
    const { points } = await client.scroll(name, { limit: 1000, with_payload: false });
    return points.map((p) => p.id).sort((a, b) => a - b);
}

test('upsert a points list with wait=true answers completed; everything reads back exactly', async () => {
    const name = await plain();
    const pts = makePoints(10, 20, 4);
    const res = await client.upsert(name, { wait: true, points: pts });
    // UpdateResult (lib/collection/src/operations/types.rs): wait=true ->
    // UpdateStatus::Completed, operation_id a number.
    assert.equal(res.status, 'completed');
    assert.equal(typeof res.operation_id, 'number');
    const got = await client.retrieve(name, { ids: pts.map((p) => p.id), with_payload: true, with_vector: true });
    assert.equal(got.length, 20);
    const byId = new Map(got.map((r) => [r.id, r]));
    for (const p of pts) {
        const r = byId.get(p.id);
        assert.ok(r, `point ${p.id} missing`);
        assert.deepEqual(r.payload, p.payload);
        // Floats round-trip exactly through a float32 store (issue 9).
        assertVectorEqual(r.vector, p.vector, { what: `point ${p.id}` });
    }
});

test('operation_id increases from one write to the next', async () => {
    const name = await plain();
    const r = rng(11);
    const ids = [];
    for (let i = 0; i < 4; i++) {
        const res = await client.upsert(name, { wait: true, points: [{ id: i + 1, vector: randVec(r, 4) }] });
        ids.push(res.operation_id);
    }
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `operation ids ${ids}`);
});

test('upsert with wait=false answers acknowledged and the write becomes visible', async () => {
    const name = await plain();
    const pts = makePoints(12, 30, 4);
    const res = await client.upsert(name, { wait: false, points: pts });
    // UpdateStatus::Acknowledged when the caller does not wait
    // (lib/collection/src/operations/types.rs UpdateStatus).
    assert.equal(res.status, 'acknowledged');
    let count = 0;
    for (let i = 0; i < 100 && count !== 30; i++) {
        count = (await client.count(name, { exact: true })).count;
        if (count !== 30) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(count, 30, 'an acknowledged write is visible within 5 s');
});

test('upsert accepts the write-ordering query parameters', async () => {
    const name = await plain();
    for (const ordering of ['weak', 'medium', 'strong']) {
        // src/common/update.rs UpdateParams: wait, ordering, timeout.
        const res = await raw(srv.base, 'PUT', `/collections/${name}/points?wait=true&ordering=${ordering}&timeout=10`,
            { points: [{ id: 1, vector: [1, 2, 3, 4] }] });
        const result = expectOk(res, `ordering=${ordering}`);
        assert.equal(result.status, 'completed');
    }
});

test('upsert in batch (columns) form, with and without payloads', async () => {
    const name = await plain();
    const r = rng(13);
    const vectors = [randVec(r, 4), randVec(r, 4), randVec(r, 4)];
    // PointsBatch {batch: {ids, vectors, payloads}} (lib/api/src/rest/schema.rs Batch).
    const res = await client.upsert(name, {
        wait: true,
        batch: { ids: [7, 8, 9], vectors, payloads: [{ a: 1 }, { a: 2 }, null] },
    });
    assert.equal(res.status, 'completed');
    const got = await client.retrieve(name, { ids: [7, 8, 9], with_payload: true, with_vector: true });
    const byId = new Map(got.map((p) => [p.id, p]));
    assert.deepEqual(byId.get(7).payload, { a: 1 });
    assert.deepEqual(byId.get(8).payload, { a: 2 });
    // A null payload stores none: Record.payload is {} or null for it.
    assert.ok(byId.get(9).payload == null || Object.keys(byId.get(9).payload).length === 0);
    vectors.forEach((v, i) => assertVectorEqual(byId.get(7 + i).vector, v));
    // Without payloads at all.
    await client.upsert(name, { wait: true, batch: { ids: [10], vectors: [[1, 1, 1, 1]] } });
    assert.equal((await client.count(name)).count, 4);
});

test('named vectors: list and batch forms; with_vector by name; a point may lack one vector', async () => {
    const name = await named();
    const pts = makeNamedPoints(14, 10, 6, 3);
    await upsertAll(client, name, pts);
    const got = await client.retrieve(name, { ids: [1, 5], with_vector: true });
    const p1 = got.find((p) => p.id === 1), p5 = got.find((p) => p.id === 5);
    assertVectorEqual(p1.vector.image, pts[0].vectors.image);
    assertVectorEqual(p1.vector.text, pts[0].vectors.text, { distance: 'Cosine' });
    // Point 5 was upserted without `text`: only `image` comes back.
    assert.deepEqual(Object.keys(p5.vector), ['image']);
    // with_vector as a list of names selects (WithVector::Selector).
    const onlyText = await client.retrieve(name, { ids: [2], with_vector: ['text'] });
    assert.deepEqual(Object.keys(onlyText[0].vector), ['text']);
    // Batch form with named columns (BatchVectorStruct::Named).
    const r = rng(15);
    const img = [randVec(r, 6), randVec(r, 6)], txt = [randVec(r, 3), randVec(r, 3)];
    await client.upsert(name, { wait: true, batch: { ids: [100, 101], vectors: { image: img, text: txt } } });
    const b = await client.retrieve(name, { ids: [101], with_vector: true });
    assertVectorEqual(b[0].vector.image, img[1]);
    assertVectorEqual(b[0].vector.text, txt[1], { distance: 'Cosine' });
});

test('Cosine vectors are stored normalised and read back normalised', async () => {
    const name = await plain(3, 'Cosine');
    await client.upsert(name, { wait: true, points: [{ id: 1, vector: [3, 0, 4] }] });
    const [p] = await client.retrieve(name, { ids: [1], with_vector: true, with_payload: true });
    // CosineMetric::preprocess (lib/segment/src/spaces/simple.rs).
    assert.ok(Math.abs(p.vector[0] - 0.6) < 1e-6 && Math.abs(p.vector[1]) < 1e-6 && Math.abs(p.vector[2] - 0.8) < 1e-6, JSON.stringify(p.vector));
});

test('retrieve: missing ids are skipped; with_payload and with_vector default and forms', async () => {
    const name = await plain();
    const pts = makePoints(16, 5, 4);
    await upsertAll(client, name, pts);
    const res = await raw(srv.base, 'POST', `/collections/${name}/points`, { ids: [2, 1, 999, 2] });
    const got = expectOk(res);
    // Records in request order, missing ids skipped, duplicates collapsed
    // (lib/collection/src/collection/point_ops.rs retrieve).
    assert.deepEqual(got.map((p) => p.id), [2, 1]);
    // The code defaults with_payload to false (point_ops.rs retrieve:
    // `unwrap_or(&WithPayloadInterface::Bool(false))`, although the doc
    // comment says true) and with_vector to false.
    const p1 = got.find((p) => p.id === 1);
    assert.ok(p1.payload == null, `no payload unless asked: ${JSON.stringify(p1)}`);
    assert.ok(p1.vector == null, 'no vector unless asked');
    const withP = await client.retrieve(name, { ids: [1], with_payload: true });
    assert.deepEqual(withP[0].payload, pts[0].payload);
    const keys = await client.retrieve(name, { ids: [1], with_payload: ['color', 'count'] });
    assert.deepEqual(keys[0].payload, { color: pts[0].payload.color, count: pts[0].payload.count });
    const none = await client.retrieve(name, { ids: [1], with_payload: false });
    assert.ok(none[0].payload == null || Object.keys(none[0].payload).length === 0);
});

test('GET /points/{id}: the record; 404 for a missing one; 400 for an unparsable id', async () => {
    const name = await plain();
    const pts = makePoints(17, 3, 4);
    await upsertAll(client, name, pts);
    const res = await raw(srv.base, 'GET', `/collections/${name}/points/2`);
    const rec = expectOk(res);
    assert.equal(rec.id, 2);
    assert.deepEqual(rec.payload, pts[1].payload);
    // get_point returns with_payload and with_vector true (retrieve_api.rs).
    assertVectorEqual(rec.vector, pts[1].vector);
    // src/actix/api/retrieve_api.rs:118 (sic "exists").
    expectError(await raw(srv.base, 'GET', `/collections/${name}/points/5`), 404, 'Not found: Point with id 5 does not exists!');
    // retrieve_api.rs:93.
    expectError(await raw(srv.base, 'GET', `/collections/${name}/points/abc`), 400, 'Wrong input: Can not recognize "abc" as point id');
    expectError(await raw(srv.base, 'GET', `/collections/${name}_x/points/1`), 404, `Not found: Collection \`${name}_x\` doesn't exist!`);
});

test('upsert overwrites an existing point whole (vector and payload)', async () => {
    const name = await plain();
    await client.upsert(name, { wait: true, points: [{ id: 1, vector: [1, 1, 1, 1], payload: { a: 1, b: 2 } }] });
    await client.upsert(name, { wait: true, points: [{ id: 1, vector: [2, 2, 2, 2], payload: { c: 3 } }] });
    const [p] = await client.retrieve(name, { ids: [1], with_vector: true, with_payload: true });
    assert.deepEqual(p.payload, { c: 3 });
    assert.deepEqual(p.vector, [2, 2, 2, 2]);
    assert.equal((await client.count(name)).count, 1);
});

test('delete by ids and by filter', async () => {
    const name = await plain();
    const pts = makePoints(18, 30, 4);
    await upsertAll(client, name, pts);
    const res = await client.delete(name, { wait: true, points: [1, 2, 3, 1000] });
    assert.equal(res.status, 'completed');
    let left = pts.filter((p) => ![1, 2, 3].includes(p.id));
    assert.deepEqual(await allIds(name), left.map((p) => p.id));
    const filter = { must: [{ key: 'color', match: { value: 'red' } }] };
    await client.delete(name, { wait: true, filter });
    left = left.filter((p) => !matchFilter(filter, p));
    assert.deepEqual(await allIds(name), left.map((p) => p.id));
    // A filter matching nothing deletes nothing.
    await client.delete(name, { wait: true, filter: { must: [{ key: 'no_such_key', match: { value: 'x' } }] } });
    assert.equal((await client.count(name)).count, left.length);
});

test('vectors: update one named vector, delete one by name', async () => {
    const name = await named();
    const pts = makeNamedPoints(19, 6, 6, 3);
    await upsertAll(client, name, pts);
    const newImg = [1, 2, 3, 4, 5, 6];
    // PUT /points/vectors UpdateVectors {points: [{id, vector}]}: only the
    // named vectors given change (lib/api/src/rest/schema.rs PointVectors).
    const res = await client.updateVectors(name, { wait: true, points: [{ id: 1, vector: { image: newImg } }] });
    assert.equal(res.status, 'completed');
    let [p] = await client.retrieve(name, { ids: [1], with_vector: true, with_payload: true });
    assert.deepEqual(p.vector.image, newImg);
    assertVectorEqual(p.vector.text, pts[0].vectors.text, { distance: 'Cosine' });
    assert.deepEqual(p.payload, pts[0].payload, 'payload untouched');
    // POST /points/vectors/delete {points, vector: [names]}.
    await client.deleteVectors(name, { wait: true, points: [1, 2], vector: ['text'] });
    [p] = await client.retrieve(name, { ids: [1], with_vector: true, with_payload: true });
    assert.deepEqual(Object.keys(p.vector), ['image']);
    // The point itself stays.
    assert.equal((await client.count(name)).count, 6);
    // Deleting by filter.
    await client.deleteVectors(name, { wait: true, filter: { must: [{ key: 'group', match: { value: 'g3' } }] }, vector: ['image'] });
    const g3 = pts.filter((x) => x.payload.group === 'g3').map((x) => x.id);
    const after3 = await client.retrieve(name, { ids: g3, with_vector: true });
    for (const x of after3) assert.ok(!x.vector || !('image' in x.vector), `point ${x.id} still has image`);
});

test('update vectors of an unnamed-vector collection', async () => {
    const name = await plain();
    await client.upsert(name, { wait: true, points: [{ id: 1, vector: [1, 1, 1, 1], payload: { k: 1 } }] });
    await client.updateVectors(name, { wait: true, points: [{ id: 1, vector: [4, 3, 2, 1] }] });
    const [p] = await client.retrieve(name, { ids: [1], with_vector: true, with_payload: true });
    assert.deepEqual(p.vector, [4, 3, 2, 1]);
    assert.deepEqual(p.payload, { k: 1 });
    // A missing point: 404 (PointIdError -> "No point with id {id} found",
    // lib/collection/src/operations/types.rs:909; test_relevance_feedback.py).
    const res = await raw(srv.base, 'PUT', `/collections/${name}/points/vectors?wait=true`, { points: [{ id: 77, vector: [1, 2, 3, 4] }] });
    expectError(res, 404, 'Not found: No point with id 77 found');
});

test('points/batch applies its operations in order and answers one UpdateResult each', async () => {
    const name = await named();
    const r = rng(20);
    const v = () => ({ image: randVec(r, 6), text: randVec(r, 3) });
    const ops = [
        { upsert: { points: [{ id: 1, vector: v(), payload: { a: 1 } }, { id: 2, vector: v(), payload: { a: 2 } }, { id: 3, vector: v() }] } },
        { delete: { points: [3] } },
        { set_payload: { payload: { b: 'x' }, points: [1] } },
        { overwrite_payload: { payload: { c: true }, points: [2] } },
        { delete_payload: { keys: ['a'], points: [1] } },
        { update_vectors: { points: [{ id: 2, vector: { image: [6, 5, 4, 3, 2, 1] } }] } },
        { delete_vectors: { points: [1], vector: ['text'] } },
        { upsert: { points: [{ id: 4, vector: v(), payload: { d: 4 } }] } },
        { clear_payload: { points: [4] } },
    ];
    // UpdateOperations (lib/api/src/rest/schema.rs): the list is applied in
    // order (tests/openapi/test_batch_update.py).
    const res = await client.batchUpdate(name, { wait: true, operations: ops });
    assert.equal(res.length, ops.length);
    for (const x of res) assert.equal(x.status, 'completed');
    const got = await client.retrieve(name, { ids: [1, 2, 3, 4], with_vector: true, with_payload: true });
    const byId = new Map(got.map((p) => [p.id, p]));
    assert.ok(!byId.has(3), 'deleted in the batch');
    assert.deepEqual(byId.get(1).payload, { b: 'x' });
    assert.deepEqual(byId.get(2).payload, { c: true });
    assert.deepEqual(byId.get(2).vector.image, [6, 5, 4, 3, 2, 1]);
    assert.deepEqual(Object.keys(byId.get(1).vector), ['image']);
    assert.ok(byId.get(4).payload == null || Object.keys(byId.get(4).payload).length === 0);
});

test('UUID ids in every spelling Qdrant accepts come back canonical', async () => {
    const name = await plain();
    const canonical = '550e8400-e29b-41d4-a716-446655440000';
    // ExtendedPointId::Uuid deserialises with the uuid crate's parser
    // (lib/segment/src/types.rs): hyphenated, simple, braced, urn, any case;
    // it serialises hyphenated lowercase.
    const spellings = [
        '550E8400-E29B-41D4-A716-446655440000',
        '550e8400e29b41d4a716446655440000',
        '{550e8400-e29b-41d4-a716-446655440000}',
        'urn:uuid:550e8400-e29b-41d4-a716-446655440000',
    ];
    for (const [i, s] of spellings.entries()) {
        await client.upsert(name, { wait: true, points: [{ id: s, vector: [i, 1, 1, 1], payload: { spelling: i } }] });
    }
    // All spellings name one point.
    assert.equal((await client.count(name)).count, 1);
    const got = await client.retrieve(name, { ids: [spellings[1]], with_payload: true });
    assert.equal(got[0].id, canonical);
    assert.deepEqual(got[0].payload, { spelling: 3 });
    const rec = expectOk(await raw(srv.base, 'GET', `/collections/${name}/points/${spellings[0]}`));
    assert.equal(rec.id, canonical);
    // Mixed numeric and UUID ids; scroll orders numbers before UUIDs
    // (derived Ord of ExtendedPointId: NumId < Uuid).
    await client.upsert(name, { wait: true, points: [{ id: 5, vector: [1, 1, 1, 1] }] });
    const { points } = await client.scroll(name, { limit: 10 });
    assert.deepEqual(points.map((p) => p.id), [5, canonical]);
});

test('u64 ids up to 2^64-1 round-trip as integers', async () => {
    const name = await plain();
    // PointIdType::NumId(u64). JavaScript numbers lose precision above
    // 2^53, so the largest ids go as raw JSON text and are read as text.
    const big = '18446744073709551615';
    const res = await raw(srv.base, 'PUT', `/collections/${name}/points?wait=true`,
        `{"points":[{"id":${big},"vector":[1,2,3,4]},{"id":9007199254740993,"vector":[4,3,2,1]}]}`);
    expectOk(res);
    const got = await raw(srv.base, 'POST', `/collections/${name}/points`, `{"ids":[${big}, 9007199254740993]}`);
    expectOk(got);
    assert.ok(got.text.includes(`"id":${big}`), got.text);
    assert.ok(got.text.includes('"id":9007199254740993'), got.text);
    const one = await raw(srv.base, 'GET', `/collections/${name}/points/${big}`);
    expectOk(one);
    assert.ok(one.text.includes(`"id":${big}`), one.text);
});

test('payload values of every JSON kind round-trip unchanged', async () => {
    const name = await plain();
    const payload = {
        s: 'héllo "wörld" \\ \n\t ✓ 😀',
        i: -42,
        big: 9007199254740991,
        f: 0.1,
        e: 1.5e-10,
        t: true,
        n: null,
        arr: [1, 'two', { three: 3 }, [4]],
        obj: { nested: { deep: [] } },
        empty: {},
    };
    await client.upsert(name, { wait: true, points: [{ id: 1, vector: [1, 2, 3, 4], payload }] });
    const [p] = await client.retrieve(name, { ids: [1], with_payload: true });
    assert.deepEqual(p.payload, payload);
});

// Conditional writes (Qdrant 1.17, lib/shard/src/update.rs conditional_upsert
// and update_vectors_conditional): update_mode picks which points an upsert
// writes; update_filter leaves existing points that do not match it alone,
// while points that do not exist are unaffected by it.
test('update_mode insert_only / update_only and update_filter on upsert and update vectors', async () => {
    const name = await plain();
    await client.upsert(name, { wait: true, points: [
        { id: 1, vector: [1, 0, 0, 0], payload: { v: 1 } },
        { id: 2, vector: [0, 1, 0, 0], payload: { v: 5 } },
    ] });
    const payloads = async () => {
        const got = await client.retrieve(name, { ids: [1, 2, 3, 4], with_payload: true, with_vector: true });
        return new Map(got.map((r) => [r.id, r]));
    };
    // insert_only: 1 exists (kept), 3 is new (inserted).
    await client.upsert(name, { wait: true, update_mode: 'insert_only', points: [
        { id: 1, vector: [9, 9, 9, 9], payload: { v: 100 } },
        { id: 3, vector: [0, 0, 1, 0], payload: { v: 3 } },
    ] });
    let m = await payloads();
    assert.deepEqual(m.get(1).payload, { v: 1 });
    assert.deepEqual(m.get(3).payload, { v: 3 });
    // update_only: 2 exists (replaced), 4 is new (not inserted).
    await client.upsert(name, { wait: true, update_mode: 'update_only', points: [
        { id: 2, vector: [0, 2, 0, 0], payload: { v: 6 } },
        { id: 4, vector: [0, 0, 0, 1], payload: { v: 4 } },
    ] });
    m = await payloads();
    assert.deepEqual(m.get(2).payload, { v: 6 });
    assert.equal(m.has(4), false);
    // update_filter v < 5: 1 matches (replaced), 2 does not (kept), 4 is
    // new (inserted regardless of the filter).
    const vlt5 = { must: [{ key: 'v', range: { lt: 5 } }] };
    await client.upsert(name, { wait: true, update_filter: vlt5, points: [
        { id: 1, vector: [1, 1, 0, 0], payload: { v: 2 } },
        { id: 2, vector: [0, 0, 0, 0], payload: { v: 0 } },
        { id: 4, vector: [0, 0, 0, 1], payload: { v: 4 } },
    ] });
    m = await payloads();
    assert.deepEqual(m.get(1).payload, { v: 2 });
    assert.deepEqual(m.get(2).payload, { v: 6 });
    assert.deepEqual(m.get(2).vector, [0, 2, 0, 0]);
    assert.deepEqual(m.get(4).payload, { v: 4 });
    // update vectors with a filter: 3 (v 3) matches, 2 (v 6) does not (the
    // JS client's updateVectors does not pass update_filter: raw request).
    expectOk(await raw(srv.base, 'PUT', `/collections/${name}/points/vectors?wait=true`, { update_filter: vlt5, points: [
        { id: 3, vector: [5, 5, 5, 5] },
        { id: 2, vector: [7, 7, 7, 7] },
    ] }));
    m = await payloads();
    assert.deepEqual(m.get(3).vector, [5, 5, 5, 5]);
    assert.deepEqual(m.get(2).vector, [0, 2, 0, 0]);
    // A field condition without a condition is Qdrant's 422; an unknown
    // mode a 400 format error; nothing changes.
    const bad = await raw(srv.base, 'PUT', `/collections/${name}/points?wait=true`, {
        points: [{ id: 1, vector: [0, 0, 0, 0] }], update_filter: { must: [{ key: 'v' }] },
    });
    expectError(bad, 422, /At least one field condition must be specified/);
    const badMode = await raw(srv.base, 'PUT', `/collections/${name}/points?wait=true`, {
        points: [{ id: 1, vector: [0, 0, 0, 0] }], update_mode: 'sometimes',
    });
    expectError(badMode, 400, /unknown variant `sometimes`/);
    m = await payloads();
    assert.deepEqual(m.get(1).payload, { v: 2 });
});

// has_vector (Qdrant's HasVectorCondition): the points that have the named
// dense, sparse or unnamed vector; an unknown name matches nothing.
test('has_vector filters on dense, sparse and unnamed vectors', async () => {
    const name = uniqueName('hasvec');
    await client.createCollection(name, {
        vectors: { image: { size: 2, distance: 'Dot' }, text: { size: 2, distance: 'Dot' } },
        sparse_vectors: { words: {} },
    });
    const pts = [
        { id: 1, vector: { image: [1, 0] } },
        { id: 2, vector: { text: [0, 1] } },
        { id: 3, vector: { image: [1, 1], words: { indices: [3], values: [1] } } },
        { id: 4, vector: { words: { indices: [1], values: [2] } } },
        { id: 5, vector: {} },
    ];
    await client.upsert(name, { wait: true, points: pts });
    const has = (p, v) => Object.prototype.hasOwnProperty.call(p.vector, v);
    const ids = async (filter) => (await client.scroll(name, { filter, limit: 100 })).points.map((p) => p.id);
    for (const v of ['image', 'text', 'words', 'nothing']) {
        assert.deepEqual(await ids({ must: [{ has_vector: v }] }), pts.filter((p) => has(p, v)).map((p) => p.id), v);
        assert.deepEqual(await ids({ must_not: [{ has_vector: v }] }), pts.filter((p) => !has(p, v)).map((p) => p.id), `not ${v}`);
    }
    // Deleting a vector takes the point out of its has_vector set.
    await client.deleteVectors(name, { wait: true, points: [3], vector: ['words'] });
    assert.deepEqual(await ids({ must: [{ has_vector: 'words' }] }), [4]);
    // Unnamed vector: its name is "".
    const plainName = await plain(2);
    await client.upsert(plainName, { wait: true, points: [{ id: 1, vector: [1, 0] }] });
    assert.deepEqual((await client.scroll(plainName, { filter: { must: [{ has_vector: '' }] } })).points.map((p) => p.id), [1]);
});
