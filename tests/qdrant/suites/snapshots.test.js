// snapshots.test.js - create, list, download, delete, recover from file://
// and upload (multipart) collection snapshots, consistent while serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startVitrine, raw, uniqueName, findFile } from '../lib/harness.js';
import { expectOk, expectError } from '../lib/expect.js';
import { makePoints, upsertAll } from '../lib/data.js';
import { rng, randVec, assertVectorEqual } from '../lib/brute.js';

let srv, client;
before(async () => { srv = await startVitrine(import.meta.url); client = srv.client; });
after(async () => { await srv?.stop(); });

async function seeded(n = 40) {
    const name = uniqueName('snap');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    const pts = makePoints(140, n, 4);
    await upsertAll(client, name, pts);
    return { name, pts };
}

async function assertHolds(name, pts) {
    assert.equal((await client.count(name, { exact: true })).count, pts.length, `${name} count`);
    const got = await client.retrieve(name, { ids: pts.map((p) => p.id), with_payload: true, with_vector: true });
    const byId = new Map(got.map((p) => [p.id, p]));
    for (const p of pts) {
        const g = byId.get(p.id);
        assert.ok(g, `${name}: point ${p.id} missing`);
        assert.deepEqual(g.payload, p.payload);
        assertVectorEqual(g.vector, p.vector);
    }
}

async function download(name, snap) {
    const res = await fetch(`${srv.base}/collections/${name}/snapshots/${encodeURIComponent(snap)}`);
    return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
}

test('create, list, download and delete a snapshot', async () => {
    const { name } = await seeded();
    const desc = await client.createSnapshot(name, { wait: true });
    // SnapshotDescription {name, creation_time, size, checksum?}
    // (lib/collection/src/operations/snapshot_ops.rs).
    assert.equal(typeof desc.name, 'string');
    assert.ok(desc.name.endsWith('.snapshot'), desc.name);
    assert.ok(desc.name.startsWith(`${name}-`), `snapshot names start with the collection (snapshots.rs:60): ${desc.name}`);
    assert.ok(desc.size > 0);
    if (desc.creation_time != null) assert.match(desc.creation_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    const list = await client.listSnapshots(name);
    assert.ok(list.some((s) => s.name === desc.name && s.size === desc.size), JSON.stringify(list));
    const file = await download(name, desc.name);
    assert.equal(file.status, 200);
    assert.equal(file.body.length, desc.size, 'download is the whole file');
    if (desc.checksum) assert.equal(createHash('sha256').update(file.body).digest('hex'), desc.checksum, 'checksum is the sha256 of the file');
    assert.equal(await client.deleteSnapshot(name, desc.name, { wait: true }), true);
    assert.ok(!(await client.listSnapshots(name)).some((s) => s.name === desc.name));
    assert.equal((await download(name, desc.name)).status, 404);
});

test('a fresh collection has no snapshots; unknown collections 404', async () => {
    const { name } = await seeded(3);
    assert.deepEqual(await client.listSnapshots(name), []);
    const ghost = uniqueName('ghost');
    expectError(await raw(srv.base, 'POST', `/collections/${ghost}/snapshots`), 404, `Not found: Collection \`${ghost}\` doesn't exist!`);
    expectError(await raw(srv.base, 'GET', `/collections/${ghost}/snapshots`), 404, `Not found: Collection \`${ghost}\` doesn't exist!`);
    // Downloading a snapshot name that does not exist.
    const res = await raw(srv.base, 'GET', `/collections/${name}/snapshots/nope.snapshot`);
    assert.equal(res.status, 404);
    const del = await raw(srv.base, 'DELETE', `/collections/${name}/snapshots/nope.snapshot`);
    assert.equal(del.status, 404, del.text);
});

test('create with wait=false is accepted (202)', async () => {
    const { name } = await seeded(3);
    const res = await raw(srv.base, 'POST', `/collections/${name}/snapshots?wait=false`);
    // helpers.rs time_or_accept: 202 {"status": "accepted", "time"}.
    assert.equal(res.status, 202, res.text);
    assert.equal(res.json.status, 'accepted');
    for (let i = 0; i < 100 && (await client.listSnapshots(name)).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await client.listSnapshots(name)).length, 1);
});

test('recover from a file:// location restores the snapshot state, into the same or a new collection', async () => {
    const { name, pts } = await seeded(30);
    const desc = await client.createSnapshot(name, { wait: true });
    const path = findFile(srv.work, desc.name);
    assert.ok(path, `snapshot file ${desc.name} not found under ${srv.work}`);
    // Change the collection after the snapshot.
    await client.delete(name, { wait: true, points: [1, 2, 3] });
    await client.setPayload(name, { wait: true, points: [4], payload: { changed: true } });
    await client.upsert(name, { wait: true, points: [{ id: 999, vector: [1, 1, 1, 1] }] });
    // PUT /snapshots/recover {location} answers true (snapshot_api.rs).
    assert.equal(await client.recoverSnapshot(name, { location: `file://${path}`, wait: true }), true);
    await assertHolds(name, pts);
    // Into a collection that does not exist yet: it is created.
    const other = uniqueName('restored');
    assert.equal(await client.recoverSnapshot(other, { location: `file://${path}`, wait: true }), true);
    await assertHolds(other, pts);
    const info = await client.getCollection(other);
    assert.deepEqual(info.config.params.vectors, { size: 4, distance: 'Dot' });
});

test('upload a snapshot as multipart/form-data', async () => {
    const { name, pts } = await seeded(25);
    const desc = await client.createSnapshot(name, { wait: true });
    const file = await download(name, desc.name);
    const target = uniqueName('uploaded');
    const form = new FormData();
    // The multipart field is `snapshot` (snapshot_api.rs SnapshottingForm).
    form.append('snapshot', new Blob([file.body]), desc.name);
    const res = await fetch(`${srv.base}/collections/${target}/snapshots/upload?wait=true`, { method: 'POST', body: form });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.equal(JSON.parse(text).result, true);
    await assertHolds(target, pts);
    // A checksum that does not match: 400 (ChecksumMismatch).
    const bad = new FormData();
    bad.append('snapshot', new Blob([file.body]), desc.name);
    const r2 = await fetch(`${srv.base}/collections/${uniqueName('bad')}/snapshots/upload?wait=true&checksum=${'0'.repeat(64)}`, { method: 'POST', body: bad });
    assert.equal(r2.status, 400, await r2.text());
});

test('recover errors use Qdrant\'s wording', async () => {
    const { name } = await seeded(3);
    // All from tests/openapi/test_snapshot.py.
    expectError(await raw(srv.base, 'PUT', `/collections/${name}/snapshots/recover`, { location: 'file://whatever.snapshot' }), 400,
        'Bad request: Invalid snapshot URI, file path must be absolute or on localhost');
    expectError(await raw(srv.base, 'PUT', `/collections/${name}/snapshots/recover`, { location: 'file:///whatever.snapshot' }), 400,
        'Bad request: Snapshot file "/whatever.snapshot" does not exist');
    // A file that exists outside the snapshots directory: 403 Forbidden
    // (test_snapshot.py; download.rs checks existence first, then the
    // directory). The server's temp folder holds the data folder, so a file
    // at its top is outside wherever vitrine keeps snapshots below it.
    const outside = join(srv.work, 'outside.snapshot');
    writeFileSync(outside, 'not a snapshot');
    const res = await raw(srv.base, 'PUT', `/collections/${name}/snapshots/recover`, { location: `file://${outside}` });
    expectError(res, 403, /^Forbidden: Snapshot file path must be inside the snapshots directory/);
    assert.equal((await client.count(name)).count, 3, 'nothing changed');
});

test('a snapshot taken while writes go on is consistent', async () => {
    const name = uniqueName('busy');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    const r = rng(141);
    // A writer upserts batches of 10 (each one operation) while the
    // snapshot is taken; a consistent snapshot holds whole batches only.
    let stop = false;
    let written = 0;
    const writer = (async () => {
        for (let b = 0; b < 60 && !stop; b++) {
            const points = [];
            for (let i = 0; i < 10; i++) points.push({ id: b * 10 + i + 1, vector: randVec(r, 4), payload: { batch: b } });
            await client.upsert(name, { wait: true, points });
            written = b + 1;
        }
    })();
    while (written < 3) await new Promise((res) => setTimeout(res, 5));
    const desc = await client.createSnapshot(name, { wait: true });
    stop = true;
    await writer;
    const path = findFile(srv.work, desc.name);
    const copy = uniqueName('copy');
    await client.recoverSnapshot(copy, { location: `file://${path}`, wait: true });
    const { count } = await client.count(copy, { exact: true });
    assert.ok(count >= 30 && count % 10 === 0, `snapshot holds ${count} points: not whole batches`);
    const { points } = await client.scroll(copy, { limit: 1000, with_vector: true });
    const batches = new Set(points.map((p) => p.payload.batch));
    assert.equal(batches.size * 10, count);
    for (const p of points) assert.equal(p.vector.length, 4);
    // The serving collection kept answering and kept every write.
    assert.equal((await client.count(name, { exact: true })).count, written * 10);
});
