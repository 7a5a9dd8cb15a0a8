// auth.mjs - Qdrant's JavaScript client against a `vitrine serve` started
// with API keys (by tests/e2e/auth.sh):
//
//   node auth.mjs BASE_URL READ_WRITE_KEY READ_ONLY_KEY
//
// The client's `apiKey` option sends the `api-key` header
// (@qdrant/js-client-rest's api-client.ts); `headers` carries
// `Authorization: Bearer`. What each key may do follows Qdrant
// (src/common/auth/mod.rs): the read-write key everything, the read-only
// key reads (search, scroll, count, retrieve) and 403 on writes, no key
// or a wrong key 401. Exits 0 when every check passed.
import assert from 'node:assert/strict';
import { QdrantClient } from '@qdrant/js-client-rest';

const [base, rwKey, roKey] = process.argv.slice(2);
if (!base || !rwKey || !roKey) {
    console.error('usage: node auth.mjs BASE_URL READ_WRITE_KEY READ_ONLY_KEY');
    process.exit(2);
}
// The client warns about a key over plain http; loopback is the point here.
const origWarn = console.warn;
console.warn = (...a) => { if (!String(a[0]).includes('unsecure')) origWarn(...a); };

const url = new URL(base);
const opts = { host: url.hostname, port: Number(url.port), https: false, checkCompatibility: false };
const rw = new QdrantClient({ ...opts, apiKey: rwKey });
const rwBearer = new QdrantClient({ ...opts, headers: { Authorization: `Bearer ${rwKey}` } });
const ro = new QdrantClient({ ...opts, apiKey: roKey });
const roBearer = new QdrantClient({ ...opts, headers: { Authorization: `Bearer ${roKey}` } });
const none = new QdrantClient(opts);
const wrong = new QdrantClient({ ...opts, apiKey: rwKey + 'x' });

// expectStatus runs fn and asserts that the client threw an ApiError with
// that HTTP status.
async function expectStatus(status, fn, what) {
    let err = null;
    try {
        await fn();
    } catch (e) {
        err = e;
    }
    assert.ok(err, `${what}: expected HTTP ${status}, the call succeeded`);
    assert.equal(err.status, status, `${what}: status ${err.status} (${err.message})`);
    return err;
}

let checks = 0;
const name = 'auth_js';
const points = [
    { id: 1, vector: [1, 0, 0, 0], payload: { tag: 'a' } },
    { id: 2, vector: [0, 1, 0, 0], payload: { tag: 'b' } },
    { id: 3, vector: [0.6, 0.8, 0, 0], payload: { tag: 'a' } },
];

// Read-write key, both header forms.
await rw.createCollection(name, { vectors: { size: 4, distance: 'Dot' } }); checks++;
const up = await rwBearer.upsert(name, { wait: true, points }); checks++;
assert.equal(up.status, 'completed');

// Read-only key: every read works, with either header form.
for (const [label, c] of [['api-key', ro], ['bearer', roBearer]]) {
    const hits = await c.search(name, { vector: [1, 0, 0, 0], limit: 2 });
    assert.deepEqual(hits.map((h) => h.id), [1, 3], `${label}: search`); checks++;
    const q = await c.query(name, { query: [0, 1, 0, 0], limit: 1 });
    assert.equal(q.points[0].id, 2, `${label}: query`); checks++;
    const sc = await c.scroll(name, { limit: 10, with_payload: true });
    assert.equal(sc.points.length, 3, `${label}: scroll`); checks++;
    const cnt = await c.count(name, { filter: { must: [{ key: 'tag', match: { value: 'a' } }] } });
    assert.equal(cnt.count, 2, `${label}: count`); checks++;
    const got = await c.retrieve(name, { ids: [3], with_vector: true });
    assert.deepEqual(got[0].vector, [0.6, 0.8, 0, 0], `${label}: retrieve`); checks++;
    const info = await c.getCollection(name);
    assert.equal(info.points_count, 3, `${label}: collection info`); checks++;
    const list = await c.getCollections();
    assert.ok(list.collections.some((x) => x.name === name), `${label}: list`); checks++;
}

// Read-only key: writes are 403 and change nothing.
const e403 = await expectStatus(403, () => ro.upsert(name, { wait: true, points: [{ id: 9, vector: [0, 0, 1, 0] }] }),
    'read-only upsert'); checks++;
assert.match(JSON.stringify(e403.data ?? ''), /Forbidden: Global manage access is required/);
await expectStatus(403, () => roBearer.delete(name, { wait: true, points: [1] }), 'read-only delete'); checks++;
await expectStatus(403, () => ro.setPayload(name, { wait: true, points: [1], payload: { x: 1 } }),
    'read-only set payload'); checks++;
await expectStatus(403, () => ro.createCollection('auth_js_ro', { vectors: { size: 4, distance: 'Dot' } }),
    'read-only create collection'); checks++;
await expectStatus(403, () => ro.deleteCollection(name), 'read-only delete collection'); checks++;
await expectStatus(403, () => ro.createSnapshot(name), 'read-only snapshot'); checks++;
await expectStatus(403, () => ro.createPayloadIndex(name, { field_name: 'tag', field_schema: 'keyword', wait: true }),
    'read-only payload index'); checks++;
assert.equal((await rw.count(name, {})).count, 3, 'the refused writes left the points alone'); checks++;
assert.deepEqual((await rw.retrieve(name, { ids: [1], with_payload: true }))[0].payload, { tag: 'a' }); checks++;

// No key and a wrong key: 401 on reads and writes alike.
await expectStatus(401, () => none.getCollections(), 'no key: list'); checks++;
await expectStatus(401, () => none.search(name, { vector: [1, 0, 0, 0], limit: 1 }), 'no key: search'); checks++;
await expectStatus(401, () => wrong.getCollections(), 'wrong key: list'); checks++;
await expectStatus(401, () => wrong.upsert(name, { wait: true, points }), 'wrong key: upsert'); checks++;

// The read-write key may still delete what it made.
assert.equal(await rw.deleteCollection(name), true); checks++;
console.log(`auth.mjs: ${checks} checks passed`);
