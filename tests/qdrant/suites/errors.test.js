// errors.test.js - bad input over raw HTTP: malformed JSON, wrong types,
// wrong vector sizes, NaN, unknown collections, filters on missing keys,
// ids of the wrong type, limit 0, existing collection, unknown routes.
// After every bad request nothing stored may have changed.
//
// Statuses and messages: src/actix/mod.rs validation_error_handler
// (serde failures -> 400 "Format error in JSON body: <serde message>";
// validator failures -> 422 "Validation error in JSON body: [...]"),
// lib/storage/src/content_manager/errors.rs (prefixes and codes). Where the
// tail of a message is serde_json's own text (line/column positions, the
// untagged-enum wording) only the prefix is compared: vitrine parses with
// its own JSON reader and cannot be expected to reproduce serde's positions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVitrine, raw, uniqueName } from '../lib/harness.js';
import { expectOk, expectError } from '../lib/expect.js';
import { makePoints, upsertAll } from '../lib/data.js';
import { assertVectorEqual } from '../lib/brute.js';

let srv, client, name, named;
const data = makePoints(150, 20, 4);
let baseline;

before(async () => {
    srv = await startVitrine(import.meta.url);
    client = srv.client;
    name = uniqueName('err');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    await upsertAll(client, name, data);
    named = uniqueName('errnamed');
    await client.createCollection(named, { vectors: { image: { size: 3, distance: 'Dot' } } });
    await client.upsert(named, { wait: true, points: [{ id: 1, vector: { image: [1, 2, 3] }, payload: { k: 'v' } }] });
    baseline = await snapshotState();
});
after(async () => { await srv?.stop(); });

// What is stored: counts, every point of the main collection (payload and
// vector), the collection list and configs.
async function snapshotState() {
    const { points } = await client.scroll(name, { limit: 1000, with_payload: true, with_vector: true });
    const n = await client.scroll(named, { limit: 10, with_payload: true, with_vector: true });
    const cols = (await client.getCollections()).collections.map((c) => c.name).sort();
    const info = await client.getCollection(name);
    return { points, named: n.points, cols, count: (await client.count(name, { exact: true })).count, vectors: info.config.params.vectors, schema: info.payload_schema };
}

// On a mismatch the stored data is put back before the assertion error
// propagates, so one bad answer fails one test instead of every later one.
async function assertUnchanged(what) {
    try {
        await compareWithBaseline(what);
    } catch (e) {
        await restore();
        throw e;
    }
}

async function restore() {
    for (const n of (await client.getCollections()).collections.map((c) => c.name)) {
        if (!baseline.cols.includes(n)) await client.deleteCollection(n);
    }
    await client.deleteCollection(name);
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    await upsertAll(client, name, data);
    await client.deleteCollection(named);
    await client.createCollection(named, { vectors: { image: { size: 3, distance: 'Dot' } } });
    await client.upsert(named, { wait: true, points: [{ id: 1, vector: { image: [1, 2, 3] }, payload: { k: 'v' } }] });
}

async function compareWithBaseline(what) {
    const now = await snapshotState();
    assert.equal(now.count, baseline.count, `${what}: count changed`);
    assert.deepEqual(now.cols, baseline.cols, `${what}: collections changed`);
    assert.deepEqual(now.vectors, baseline.vectors, `${what}: config changed`);
    assert.deepEqual(now.schema, baseline.schema, `${what}: payload schema changed`);
    assert.deepEqual(now.named, baseline.named, `${what}: named collection changed`);
    assert.equal(now.points.length, data.length);
    now.points.forEach((p, i) => {
        assert.equal(p.id, data[i].id, `${what}: ids`);
        assert.deepEqual(p.payload, data[i].payload, `${what}: payload of ${p.id}`);
        assertVectorEqual(p.vector, data[i].vector, { what: `${what}: vector of ${p.id}` });
    });
    // And the single-record routes agree.
    const rec = expectOk(await raw(srv.base, 'GET', `/collections/${name}/points/1`), `${what}: GET point 1`);
    assert.deepEqual(rec.payload, data[0].payload);
}

const P = () => `/collections/${name}`;
const FORMAT = /^Format error in JSON body: /;

test('malformed JSON is 400 Format error on every body route; nothing changes', async () => {
    const bodies = ['{"points": [', '{points: []}', '{"points": [{"id": 1, "vector": [1,2,3,4]}]}}', '', 'null', '[]', '{"a":1,}'];
    const routes = [['PUT', '/points?wait=true'], ['POST', '/points/search'], ['POST', '/points/query'], ['POST', '/points/delete?wait=true'],
        ['POST', '/points/payload?wait=true'], ['POST', '/points/scroll'], ['POST', '/points/batch?wait=true']];
    for (const body of bodies) {
        for (const [m, p] of routes) {
            // Skip bodies that are valid for a route: {} / no body are valid
            // for scroll, and `null` parses as "no request" nowhere here.
            if (p === '/points/scroll' && body === '') continue;
            if (p === '/points/query' && body === '') continue;
            const res = await raw(srv.base, m, P() + p, body);
            expectError(res, 400, FORMAT, `${m} ${p} with ${JSON.stringify(body)}`);
        }
    }
    await assertUnchanged('malformed JSON');
});

test('wrong JSON types are 400 Format error; nothing changes', async () => {
    const cases = [
        ['PUT', '/points?wait=true', { points: [{ id: 1, vector: 'abc' }] }],
        ['PUT', '/points?wait=true', { points: [{ id: 1, vector: [1, 2, 'x', 4] }] }],
        ['PUT', '/points?wait=true', { points: [{ id: 1, vector: [1, 2, 3, 4], payload: [1, 2] }] }],
        ['PUT', '/points?wait=true', { points: { id: 1 } }],
        ['POST', '/points/search', { vector: [1, 2, 3, 4], limit: 'ten' }],
        ['POST', '/points/search', { vector: [1, 2, 3, 4], limit: -1 }],
        ['POST', '/points/search', { vector: [1, 2, 3, 4], limit: 2.5 }],
        ['POST', '/points/search', { vector: 5, limit: 3 }],
        ['POST', '/points/query', { query: 'nearest', limit: 3 }],
        ['POST', '/points/scroll', { filter: { must: { key: 'color', match: { value: ['a'] } } } }],
        ['POST', '/points/scroll', { filter: { foo: 1 } }],
        ['POST', '/points/count', { exact: 'yes' }],
        ['POST', '/points/payload?wait=true', { payload: 'x', points: [1] }],
        ['PUT', '', { vectors: { size: 'four', distance: 'Dot' } }],
        ['PUT', '', { vectors: { size: 4, distance: 'Hamming' } }],
        ['PUT', '', { vectors: { size: 0, distance: 'Dot' } }],
    ];
    for (const [m, p, body] of cases) {
        expectError(await raw(srv.base, m, P() + p, body), 400, FORMAT, `${m} ${p} ${JSON.stringify(body)}`);
    }
    // Missing required field (SearchRequestInternal.limit has no default).
    expectError(await raw(srv.base, 'POST', `${P()}/points/search`, { vector: [1, 2, 3, 4] }), 400, /^Format error in JSON body: missing field `limit`/);
    // Unknown fields of a Filter are refused (deny_unknown_fields,
    // lib/segment/src/types.rs Filter).
    expectError(await raw(srv.base, 'POST', `${P()}/points/scroll`, { filter: { foo: 1 } }), 400, /^Format error in JSON body: unknown field `foo`/);
    await assertUnchanged('wrong types');
});

test('wrong vector sizes are 400 with Qdrant\'s dimension message; nothing changes', async () => {
    // operation_error.rs:23 + types.rs From<OperationError> (BadInput);
    // tests/openapi/test_multi_vector.py asserts this wording.
    expectError(await raw(srv.base, 'PUT', `${P()}/points?wait=true`, { points: [{ id: 1, vector: [9, 9, 9] }] }), 400,
        'Wrong input: Vector dimension error: expected dim: 4, got 3');
    expectError(await raw(srv.base, 'PUT', `${P()}/points?wait=true`, { points: [{ id: 21, vector: [1, 2, 3, 4, 5] }, { id: 1, vector: [9, 9, 9, 9] }] }), 400,
        'Wrong input: Vector dimension error: expected dim: 4, got 5');
    expectError(await raw(srv.base, 'PUT', `${P()}/points?wait=true`, { batch: { ids: [1, 22], vectors: [[9, 9, 9, 9], [1, 2]] } }), 400,
        'Wrong input: Vector dimension error: expected dim: 4, got 2');
    expectError(await raw(srv.base, 'POST', `${P()}/points/search`, { vector: [1, 2, 3], limit: 3 }), 400,
        'Wrong input: Vector dimension error: expected dim: 4, got 3');
    expectError(await raw(srv.base, 'POST', `${P()}/points/query`, { query: [1, 2, 3, 4, 5, 6] }), 400,
        'Wrong input: Vector dimension error: expected dim: 4, got 6');
    expectError(await raw(srv.base, 'PUT', `${P()}/points/vectors?wait=true`, { points: [{ id: 1, vector: [1] }] }), 400,
        'Wrong input: Vector dimension error: expected dim: 4, got 1');
    expectError(await raw(srv.base, 'PUT', `/collections/${named}/points?wait=true`, { points: [{ id: 1, vector: { image: [1, 2] } }] }), 400,
        'Wrong input: Vector dimension error: expected dim: 3, got 2');
    // An unknown vector name (operation_error.rs:28).
    expectError(await raw(srv.base, 'PUT', `/collections/${named}/points?wait=true`, { points: [{ id: 1, vector: { photo: [1, 2, 3] } }] }), 400,
        'Wrong input: Not existing vector name error: photo');
    await assertUnchanged('vector sizes');
});

test('NaN, Infinity and out-of-range numbers are refused; nothing changes', async () => {
    // JSON has no NaN: as a bare token it does not parse; as a string it is
    // the wrong type; 1e999 overflows f32/f64 (serde_json: "number out of
    // range"). All are serde failures: 400 Format error.
    const texts = [
        '{"points":[{"id":1,"vector":[NaN,1,2,3]}]}',
        '{"points":[{"id":1,"vector":["NaN",1,2,3]}]}',
        '{"points":[{"id":1,"vector":[Infinity,1,2,3]}]}',
        '{"points":[{"id":1,"vector":[1e999,1,2,3]}]}',
        '{"points":[{"id":1,"vector":[-1e400,1,2,3]}]}',
    ];
    for (const t of texts) expectError(await raw(srv.base, 'PUT', `${P()}/points?wait=true`, t), 400, FORMAT, t);
    expectError(await raw(srv.base, 'POST', `${P()}/points/search`, '{"vector":[NaN,0,0,0],"limit":3}'), 400, FORMAT);
    expectError(await raw(srv.base, 'POST', `${P()}/points/query`, '{"query":["NaN",0,0,0]}'), 400, FORMAT);
    await assertUnchanged('NaN');
});

test('unknown collections are 404 "Collection `x` doesn\'t exist!" on every route', async () => {
    const ghost = uniqueName('ghost');
    const msg = `Not found: Collection \`${ghost}\` doesn't exist!`;
    const routes = [
        ['GET', ''], ['PATCH', '', { hnsw_config: { m: 8 } }],
        ['PUT', '/points?wait=true', { points: [{ id: 1, vector: [1, 2, 3, 4] }] }],
        ['POST', '/points', { ids: [1] }], ['GET', '/points/1'],
        ['POST', '/points/delete?wait=true', { points: [1] }],
        ['POST', '/points/payload?wait=true', { payload: { a: 1 }, points: [1] }],
        ['PUT', '/points/payload?wait=true', { payload: { a: 1 }, points: [1] }],
        ['POST', '/points/payload/delete?wait=true', { keys: ['a'], points: [1] }],
        ['POST', '/points/payload/clear?wait=true', { points: [1] }],
        ['PUT', '/points/vectors?wait=true', { points: [{ id: 1, vector: [1, 2, 3, 4] }] }],
        ['POST', '/points/vectors/delete?wait=true', { points: [1], vector: [''] }],
        ['POST', '/points/batch?wait=true', { operations: [{ delete: { points: [1] } }] }],
        ['POST', '/points/search', { vector: [1, 2, 3, 4], limit: 3 }],
        ['POST', '/points/search/batch', { searches: [{ vector: [1, 2, 3, 4], limit: 3 }] }],
        ['POST', '/points/recommend', { positive: [1], limit: 3 }],
        ['POST', '/points/recommend/batch', { searches: [{ positive: [1], limit: 3 }] }],
        ['POST', '/points/query', { query: [1, 2, 3, 4] }],
        ['POST', '/points/query/batch', { searches: [{ query: [1, 2, 3, 4] }] }],
        ['POST', '/points/query/groups', { query: [1, 2, 3, 4], group_by: 'a' }],
        ['POST', '/points/search/groups', { vector: [1, 2, 3, 4], group_by: 'a', group_size: 1, limit: 1 }],
        ['POST', '/points/scroll', {}], ['POST', '/points/count', {}],
        ['PUT', '/index?wait=true', { field_name: 'a', field_schema: 'keyword' }],
        ['DELETE', '/index/a?wait=true'],
        ['GET', '/snapshots'],
    ];
    for (const [m, p, body] of routes) expectError(await raw(srv.base, m, `/collections/${ghost}${p}`, body), 404, msg, `${m} ${p}`);
    // Nothing was created on the way.
    assert.deepEqual(await client.collectionExists(ghost), { exists: false });
    await assertUnchanged('unknown collections');
});

test('filters on keys no point has are valid and match nothing', async () => {
    const filter = { must: [{ key: 'nope', match: { value: 'x' } }] };
    const s = expectOk(await raw(srv.base, 'POST', `${P()}/points/search`, { vector: [1, 1, 1, 1], limit: 5, filter }));
    assert.deepEqual(s, []);
    const sc = expectOk(await raw(srv.base, 'POST', `${P()}/points/scroll`, { filter }));
    assert.deepEqual(sc.points, []);
    assert.equal(sc.next_page_offset ?? null, null);
    assert.deepEqual(expectOk(await raw(srv.base, 'POST', `${P()}/points/count`, { filter })), { count: 0 });
    // must_not on a missing key matches everything.
    const all = expectOk(await raw(srv.base, 'POST', `${P()}/points/count`, { filter: { must_not: [{ key: 'nope', match: { value: 'x' } }] } }));
    assert.deepEqual(all, { count: data.length });
    // Deleting by such a filter deletes nothing.
    expectOk(await raw(srv.base, 'POST', `${P()}/points/delete?wait=true`, { filter }));
    await assertUnchanged('missing-key filters');
});

test('ids of the wrong type are 400; nothing changes', async () => {
    for (const bad of ['-1', '1.5', '"abc"', 'true', '{"a":1}', '"550e8400-e29b-41d4-a716-44665544000g"']) {
        // ExtendedPointId's Deserialize (lib/segment/src/types.rs:239-260):
        // "value {v} is not a valid point ID, valid values are either an
        // unsigned integer or a UUID".
        expectError(await raw(srv.base, 'POST', `${P()}/points`, `{"ids":[${bad}]}`), 400,
            /^Format error in JSON body: .*is not a valid point ID, valid values are either an unsigned integer or a UUID/, `retrieve ${bad}`);
        expectError(await raw(srv.base, 'PUT', `${P()}/points?wait=true`, `{"points":[{"id":${bad},"vector":[1,2,3,4]}]}`), 400, FORMAT, `upsert ${bad}`);
        expectError(await raw(srv.base, 'POST', `${P()}/points/delete?wait=true`, `{"points":[${bad}]}`), 400, FORMAT, `delete ${bad}`);
    }
    // In a path: retrieve_api.rs:93.
    expectError(await raw(srv.base, 'GET', `${P()}/points/-1`), 400, 'Wrong input: Can not recognize "-1" as point id');
    await assertUnchanged('wrong id types');
});

test('limit 0 is 422 with the validator\'s field path; nothing changes', async () => {
    // validation.rs describe_error "range"; paths of the flattened request
    // structs (SearchRequest.search_request, RecommendRequest.recommend_request,
    // QueryRequest.internal, ScrollRequest.scroll_request); test_query.py:87.
    const v = [1, 2, 3, 4];
    const cases = [
        ['/points/search', { vector: v, limit: 0 }, 'search_request.limit'],
        ['/points/recommend', { positive: [1], limit: 0 }, 'recommend_request.limit'],
        ['/points/query', { query: v, limit: 0 }, 'internal.limit'],
        ['/points/scroll', { limit: 0 }, 'scroll_request.limit'],
        ['/points/query', { prefetch: [{ query: v, limit: 0 }], query: { fusion: 'rrf' } }, 'internal.prefetch[0].limit'],
        ['/points/search/batch', { searches: [{ vector: v, limit: 3 }, { vector: v, limit: 0 }] }, 'searches[1].search_request.limit'],
        ['/points/query/batch', { searches: [{ query: v, limit: 0 }] }, 'searches[0].internal.limit'],
    ];
    for (const [p, body, field] of cases) {
        expectError(await raw(srv.base, 'POST', P() + p, body), 422, `Validation error in JSON body: [${field}: value 0 invalid, must be 1 or larger]`, p);
    }
    // Other validator ranges: mmr diversity, hnsw ef_construct (config_diff.rs).
    expectError(await raw(srv.base, 'POST', `${P()}/points/query`, { query: { nearest: v, mmr: { diversity: 1.5 } } }), 422,
        'Validation error in JSON body: [internal.query.mmr.diversity: value 1.5 invalid, must be from 0.0 to 1.0]');
    const c = uniqueName('badcfg');
    expectError(await raw(srv.base, 'PUT', `/collections/${c}`, { vectors: { size: 4, distance: 'Dot' }, hnsw_config: { ef_construct: 0 } }), 422,
        'Validation error in JSON body: [hnsw_config.ef_construct: value 0 invalid, must be 4 or larger]');
    // tests/openapi/test_limits.py: size above 65536.
    expectError(await raw(srv.base, 'PUT', `/collections/${c}`, { vectors: { size: 65537, distance: 'Dot' } }), 422,
        'Validation error in JSON body: [vectors.size: value 65537 invalid, must be from 1 to 65536]');
    // Batch columns of different lengths (lib/api/src/rest/validate.rs).
    expectError(await raw(srv.base, 'PUT', `${P()}/points?wait=true`, { batch: { ids: [1, 2, 3], vectors: [[1, 1, 1, 1], [2, 2, 2, 2]] } }), 422,
        'Validation error in JSON body: [batch.batch: number of ids and vectors must be equal (3 != 2)]');
    assert.deepEqual(await client.collectionExists(c), { exists: false });
    await assertUnchanged('limit 0');
});

test('an existing collection is 409; invalid collection names are 422', async () => {
    expectError(await raw(srv.base, 'PUT', P(), { vectors: { size: 2, distance: 'Cosine' } }), 409, `Wrong input: Collection \`${name}\` already exists!`);
    // lib/common/common/src/validation.rs validate_collection_name; label
    // "path parameters" (src/actix/mod.rs).
    expectError(await raw(srv.base, 'PUT', '/collections/bad*name', { vectors: { size: 2, distance: 'Dot' } }), 422,
        'Validation error in path parameters: [collection_name: collection name cannot contain "*" char]');
    const long = 'x'.repeat(256);
    expectError(await raw(srv.base, 'PUT', `/collections/${long}`, { vectors: { size: 2, distance: 'Dot' } }), 422,
        /^Validation error in path parameters: \[collection_name: .*must be from 1 to 255 characters\]$/);
    await assertUnchanged('existing collection');
});

test('unknown routes are 404; a wrong method is refused; nothing changes', async () => {
    // Qdrant (actix default service): 404 with an empty body for an unknown
    // path and for a known path under another method (notes §1.6). vitrine
    // answers a wrong method with 405 + Allow (tests/e2e/serve.sh), which
    // no client distinguishes from 404; both are accepted here, with
    // either no body or Qdrant's error shape (checked by validate_schema.py).
    for (const [m, p] of [['GET', '/no/such/route'], ['GET', '/collections/x/points/scroll/extra'], ['DELETE', '/nothing']]) {
        const res = await raw(srv.base, m, p, m === 'POST' ? {} : undefined, { unlisted: true });
        assert.equal(res.status, 404, `${m} ${p}: ${res.status}`);
    }
    // POST on /points/{id}: the path template exists (GET), so vitrine
    // calls it a wrong method.
    for (const [m, p] of [['DELETE', '/collections'], ['PUT', `${P()}/points/search`], ['POST', '/healthz'], ['POST', '/collections/x/points/teleport']]) {
        const res = await raw(srv.base, m, p, m === 'GET' ? undefined : {}, { unlisted: true });
        assert.ok(res.status === 404 || res.status === 405, `${m} ${p}: ${res.status}`);
    }
    await assertUnchanged('unknown routes');
});

test('a JSON body with a non-JSON Content-Type is refused with 400', async () => {
    // actix JsonConfig via actix-web-validator: a present non-JSON content
    // type fails ("Content type error"), mapped to 400 by
    // validation_error_handler (notes §1.4).
    const res = await raw(srv.base, 'POST', `${P()}/points/search`, '{"vector":[1,2,3,4],"limit":3}', { headers: { 'content-type': 'text/plain' } });
    expectError(res, 400, /Content type error/);
    // A missing Content-Type is accepted.
    const ok = await fetch(`${srv.base}${P()}/points/search`, { method: 'POST', body: new TextEncoder().encode('{"vector":[1,2,3,4],"limit":3}') });
    assert.equal(ok.status, 200);
    await ok.text();
    await assertUnchanged('content type');
});

test('a failing operation in points/batch leaves the earlier ones applied, as Qdrant does', async () => {
    // Not atomic in Qdrant: operations are applied one by one (points/batch
    // handler loops over update operations); the failing one answers the
    // error. Here the first operation is a no-op delete of an absent id so
    // the stored state stays equal to the baseline.
    const res = await raw(srv.base, 'POST', `${P()}/points/batch?wait=true`, {
        operations: [{ delete: { points: [12345] } }, { upsert: { points: [{ id: 1, vector: [1, 2] }] } }],
    });
    expectError(res, 400, 'Wrong input: Vector dimension error: expected dim: 4, got 2');
    await assertUnchanged('batch');
});

test('features vitrine does not serve answer 400 or 501 naming them, never a crash or an invalid body', async () => {
    // Issue 9: "What vitrine does not serve (sharding, cluster, discover,
    // facet, multi-vectors, formula queries, ...) answers 400 or 501 with a
    // message that names the feature". A 200 is accepted too (the feature
    // was implemented); its body is then checked by validate_schema.py.
    // Discovery and context search are served (discover.test.js).
    const v = [1, 2, 3, 4];
    const cases = [
        ['POST', `${P()}/facet`, { key: 'color' }, /facet/i],
        ['POST', `${P()}/points/search/matrix/pairs`, { sample: 10, limit: 2 }, /matrix/i],
        ['POST', `${P()}/points/search/matrix/offsets`, { sample: 10, limit: 2 }, /matrix/i],
        ['PUT', `${P()}/shards`, { shard_key: 'a' }, /shard/i],
        ['POST', `${P()}/points/query`, { query: { formula: { sum: ['$score', 1] } } }, /formula/i],
        ['PUT', `/collections/${uniqueName('multi')}`, { vectors: { size: 4, distance: 'Dot', multivector_config: { comparator: 'max_sim' } } }, /multi/i],
    ];
    for (const [m, p, body, name] of cases) {
        const res = await raw(srv.base, m, p, body);
        if (res.status === 200) continue;
        assert.ok(res.status === 400 || res.status === 501, `${m} ${p}: HTTP ${res.status} ${res.text}`);
        const msg = expectError(res, res.status, undefined, `${m} ${p}`);
        assert.match(msg, name, `${m} ${p}: the message names the feature`);
    }
    // Still serving. A multivector collection that was accepted is dropped
    // so the stored state can be compared with the baseline.
    expectOk(await raw(srv.base, 'GET', `${P()}`));
    for (const c of (await client.getCollections()).collections) {
        if (c.name.startsWith('multi_')) await client.deleteCollection(c.name);
    }
    await assertUnchanged('unsupported features');
});

// Qdrant validates query and path parameters before anything else
// (src/actix/mod.rs validation_error_handler: 422 "Validation error in
// query parameters" / "path parameters").
test('timeout=0 and a collection name over 255 characters are 422 validation errors', async () => {
    const name = uniqueName('val');
    const t0 = await raw(srv.base, 'PUT', `/collections/${name}?timeout=0`, { vectors: { size: 2, distance: 'Dot' } });
    expectError(t0, 422, /^Validation error in query parameters: \[timeout: value 0 invalid, must be 1 or larger\]$/);
    const exists = await raw(srv.base, 'GET', `/collections/${name}/exists`);
    assert.equal(exists.json.result.exists, false);
    const long = 'n'.repeat(256);
    const r = await raw(srv.base, 'GET', `/collections/${long}/points/1`);
    expectError(r, 422, /^Validation error in path parameters: \[collection_name: .*must be from 1 to 255 characters\]$/);
    // 255 characters (two bytes each) are a valid name: an unknown collection.
    const ok = await raw(srv.base, 'GET', `/collections/${encodeURIComponent('é'.repeat(255))}/points/1`);
    assert.equal(ok.status, 404);
});
