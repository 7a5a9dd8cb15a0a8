// collections.test.js - collections CRUD, exists, PATCH, aliases.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVitrine, raw, uniqueName } from '../lib/harness.js';
import { expectOk, expectError, expectClientError } from '../lib/expect.js';
import { makePoints, upsertAll } from '../lib/data.js';
import { rng, randVec, topK, assertRanking, assertApproxRanking } from '../lib/brute.js';

let srv, client;
before(async () => { srv = await startVitrine(import.meta.url); client = srv.client; });
after(async () => { await srv?.stop(); });

test('create a single-vector collection and read its info back', async () => {
    const name = uniqueName('single');
    // PUT /collections/{name} answers `true` (collections_api.rs create_collection).
    assert.equal(await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } }), true);
    const info = await client.getCollection(name);
    // CollectionInfo (lib/collection/src/operations/types.rs): a fresh
    // collection is green with no points.
    assert.equal(info.status, 'green');
    assert.equal(info.points_count, 0);
    assert.equal(typeof info.segments_count, 'number');
    assert.deepEqual(info.config.params.vectors, { size: 4, distance: 'Dot' });
    // Defaults from Qdrant's config/config.yaml (hnsw m 16, ef_construct
    // 100, full_scan_threshold 10000), asserted after a default create in
    // tests/openapi/test_collection_update.py.
    assert.equal(info.config.hnsw_config.m, 16);
    assert.equal(info.config.hnsw_config.ef_construct, 100);
    assert.equal(typeof info.config.optimizer_config, 'object');
    assert.equal(typeof info.config.wal_config, 'object');
    // test_collection_update.py: quantization_config is None by default.
    assert.equal(info.config.quantization_config ?? null, null);
    assert.deepEqual(info.payload_schema, {});
});

test('create with named vectors and every accepted config section; it is reported back', async () => {
    const name = uniqueName('named');
    const body = {
        vectors: {
            image: { size: 8, distance: 'Cosine' },
            text: { size: 4, distance: 'Euclid', on_disk: true },
        },
        hnsw_config: { m: 8, ef_construct: 64, full_scan_threshold: 5000 },
        optimizers_config: { indexing_threshold: 1000, deleted_threshold: 0.3 },
        wal_config: { wal_capacity_mb: 16 },
        on_disk_payload: true,
        quantization_config: { scalar: { type: 'int8', quantile: 0.99, always_ram: true } },
    };
    assert.equal(await client.createCollection(name, body), true);
    const info = await client.getCollection(name);
    const v = info.config.params.vectors;
    assert.equal(v.image.size, 8);
    assert.equal(v.image.distance, 'Cosine');
    assert.equal(v.text.size, 4);
    assert.equal(v.text.distance, 'Euclid');
    assert.equal(v.text.on_disk, true);
    assert.equal(info.config.params.on_disk_payload, true);
    assert.equal(info.config.hnsw_config.m, 8);
    assert.equal(info.config.hnsw_config.ef_construct, 64);
    assert.equal(info.config.hnsw_config.full_scan_threshold, 5000);
    assert.equal(info.config.optimizer_config.indexing_threshold, 1000);
    assert.equal(info.config.optimizer_config.deleted_threshold, 0.3);
    assert.equal(info.config.wal_config.wal_capacity_mb, 16);
    // test_collection_update.py reads quantization back as given.
    assert.equal(info.config.quantization_config.scalar.type, 'int8');
    assert.equal(info.config.quantization_config.scalar.quantile, 0.99);
    assert.equal(info.config.quantization_config.scalar.always_ram, true);
});

test('points_count and indexed_vectors_count follow upserts', async () => {
    const name = uniqueName('count');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    await upsertAll(client, name, makePoints(1, 25, 4));
    const info = await client.getCollection(name);
    assert.equal(info.points_count, 25);
    // indexed_vectors_count is a count, never above the points (types.rs).
    assert.ok(info.indexed_vectors_count == null || (info.indexed_vectors_count >= 0 && info.indexed_vectors_count <= 25));
});

test('GET /collections lists every collection by name', async () => {
    const a = uniqueName('list'), b = uniqueName('list');
    await client.createCollection(a, { vectors: { size: 2, distance: 'Dot' } });
    await client.createCollection(b, { vectors: { size: 2, distance: 'Dot' } });
    const { collections } = await client.getCollections();
    const names = collections.map((c) => c.name);
    assert.ok(names.includes(a) && names.includes(b), JSON.stringify(names));
    // CollectionDescription has only `name` (OpenAPI components).
    for (const c of collections) assert.deepEqual(Object.keys(c), ['name']);
});

test('GET /collections/{name}/exists', async () => {
    const name = uniqueName('exists');
    // tests/openapi/test_collection_exists.py: {"exists": true|false}, 200 both ways.
    assert.deepEqual(await client.collectionExists(name), { exists: false });
    await client.createCollection(name, { vectors: { size: 2, distance: 'Dot' } });
    assert.deepEqual(await client.collectionExists(name), { exists: true });
    const res = await raw(srv.base, 'GET', `/collections/${name}_nope/exists`);
    assert.deepEqual(expectOk(res), { exists: false });
});

test('creating an existing collection is 409 with Qdrant\'s message, and the original is untouched', async () => {
    const name = uniqueName('dup');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    await upsertAll(client, name, makePoints(2, 3, 4));
    const res = await raw(srv.base, 'PUT', `/collections/${name}`, { vectors: { size: 8, distance: 'Cosine' } });
    // lib/storage/src/content_manager/collections_ops.rs:17 (AlreadyExists,
    // Display "Wrong input: ..."), src/actix/helpers.rs: CONFLICT.
    expectError(res, 409, `Wrong input: Collection \`${name}\` already exists!`);
    const info = await client.getCollection(name);
    assert.deepEqual(info.config.params.vectors, { size: 4, distance: 'Dot' });
    assert.equal(info.points_count, 3);
});

test('unknown collection: 404 with Qdrant\'s message on info, delete answers false', async () => {
    const name = uniqueName('ghost');
    // collections_ops.rs:26 NotFound "Collection `x` doesn't exist!".
    expectError(await raw(srv.base, 'GET', `/collections/${name}`), 404, `Not found: Collection \`${name}\` doesn't exist!`);
    // toc/collection_meta_ops.rs delete_collection: result false when absent.
    assert.equal(await client.deleteCollection(name), false);
});

test('delete a collection: true, then gone', async () => {
    const name = uniqueName('del');
    await client.createCollection(name, { vectors: { size: 2, distance: 'Dot' } });
    assert.equal(await client.deleteCollection(name), true);
    assert.deepEqual(await client.collectionExists(name), { exists: false });
    await expectClientError(client.getCollection(name), 404);
});

test('PATCH /collections/{name} updates hnsw, optimizers, params and quantization; the rest is kept', async () => {
    const name = uniqueName('patch');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    await upsertAll(client, name, makePoints(3, 10, 4));
    // Ported from tests/openapi/test_collection_update.py (the unnamed
    // vector is addressed by the empty name there; here by top-level params).
    const ok = await client.updateCollection(name, {
        hnsw_config: { ef_construct: 123 },
        optimizers_config: { indexing_threshold: 10000 },
        params: { on_disk_payload: true },
        quantization_config: { scalar: { type: 'int8', quantile: 0.99, always_ram: true } },
    });
    assert.equal(ok, true);
    const info = await client.getCollection(name);
    assert.equal(info.config.hnsw_config.ef_construct, 123);
    assert.equal(info.config.hnsw_config.m, 16, 'a partial hnsw diff keeps m');
    assert.equal(info.config.optimizer_config.indexing_threshold, 10000);
    assert.equal(info.config.params.on_disk_payload, true);
    assert.equal(info.config.quantization_config.scalar.type, 'int8');
    assert.equal(info.config.quantization_config.scalar.quantile, 0.99);
    assert.equal(info.points_count, 10, 'PATCH keeps the points');
    // An unknown collection: 404.
    expectError(await raw(srv.base, 'PATCH', `/collections/${name}_x`, { hnsw_config: { m: 8 } }), 404,
        `Not found: Collection \`${name}_x\` doesn't exist!`);
});

test('bulk upload as Qdrant documents it: create with hnsw m 0, upload, PATCH m to build the graph', async () => {
    // Qdrant's indexing guide: "m": 0 while uploading (no graph; searches
    // are exact scans), then a PATCH of m builds the graph once.
    const name = uniqueName('bulk');
    const body = { vectors: { size: 8, distance: 'Cosine' }, hnsw_config: { m: 0 } };
    assert.equal(await client.createCollection(name, body), true);
    assert.equal((await client.getCollection(name)).config.hnsw_config.m, 0);
    const pts = makePoints(9, 300, 8);
    await upsertAll(client, name, pts);
    const r = rng(43);
    const queries = [0, 1, 2].map(() => randVec(r, 8));
    for (const [q, query] of queries.entries()) {
        const got = await client.search(name, { vector: query, limit: 10 });
        assertRanking(got, topK(pts, query, 'Cosine', { limit: 10 }), { what: `m 0, query ${q}` });
    }
    assert.equal(await client.updateCollection(name, { hnsw_config: { m: 16 } }), true);
    const info = await client.getCollection(name);
    assert.equal(info.config.hnsw_config.m, 16);
    assert.equal(info.points_count, 300, 'PATCH keeps the points');
    for (const [q, query] of queries.entries()) {
        const got = await client.search(name, { vector: query, limit: 10, params: { hnsw_ef: 128 } });
        assertApproxRanking(got, topK(pts, query, 'Cosine', { limit: 300 }), 10, 'Cosine', { what: `m 16, query ${q}` });
    }
    assert.equal(await client.deleteCollection(name), true);
});

test('aliases: create, list both ways, search through one, rename, delete', async () => {
    const name = uniqueName('aliased');
    const alias = uniqueName('alias');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    const pts = makePoints(4, 12, 4);
    await upsertAll(client, name, pts);
    // Ported from tests/openapi/test_alias.py test_alias_operations.
    assert.equal(await client.updateCollectionAliases({ actions: [{ create_alias: { alias_name: alias, collection_name: name } }] }), true);
    const all = await client.getAliases();
    assert.ok(all.aliases.some((a) => a.alias_name === alias && a.collection_name === name), JSON.stringify(all));
    const mine = await client.getCollectionAliases(name);
    assert.deepEqual(mine.aliases, [{ alias_name: alias, collection_name: name }]);
    // An alias works wherever a collection name does (issue 9).
    const viaAlias = await client.search(alias, { vector: [1, 0, 0, 0], limit: 3 });
    const direct = await client.search(name, { vector: [1, 0, 0, 0], limit: 3 });
    assert.deepEqual(viaAlias.map((p) => p.id), direct.map((p) => p.id));
    assert.equal((await client.getCollection(alias)).points_count, 12);
    assert.equal((await client.count(alias, { exact: true })).count, 12);
    // rename_alias (alias_mapping.rs rename_alias).
    const renamed = uniqueName('alias2');
    await client.updateCollectionAliases({ actions: [{ rename_alias: { old_alias_name: alias, new_alias_name: renamed } }] });
    const after1 = (await client.getCollectionAliases(name)).aliases;
    assert.deepEqual(after1, [{ alias_name: renamed, collection_name: name }]);
    await expectClientError(client.getCollection(alias), 404);
    // delete_alias; afterwards the alias no longer resolves (test_alias.py).
    await client.updateCollectionAliases({ actions: [{ delete_alias: { alias_name: renamed } }] });
    assert.deepEqual((await client.getCollectionAliases(name)).aliases, []);
    const res = await raw(srv.base, 'POST', `/collections/${renamed}/points/search`, { vector: [1, 0, 0, 0], limit: 3 });
    expectError(res, 404, `Not found: Collection \`${renamed}\` doesn't exist!`);
});

test('aliases: several actions in one call switch an alias between collections', async () => {
    const a = uniqueName('blue'), b = uniqueName('green'), alias = uniqueName('live');
    await client.createCollection(a, { vectors: { size: 2, distance: 'Dot' } });
    await client.createCollection(b, { vectors: { size: 2, distance: 'Dot' } });
    await client.upsert(a, { wait: true, points: [{ id: 1, vector: [1, 0] }] });
    await client.upsert(b, { wait: true, points: [{ id: 2, vector: [0, 1] }, { id: 3, vector: [1, 1] }] });
    await client.updateCollectionAliases({ actions: [{ create_alias: { alias_name: alias, collection_name: a } }] });
    assert.equal((await client.count(alias)).count, 1);
    // The blue/green switch of Qdrant's docs: delete + create in one list,
    // applied under one lock (toc/collection_meta_ops.rs update_aliases).
    await client.updateCollectionAliases({
        actions: [
            { delete_alias: { alias_name: alias } },
            { create_alias: { alias_name: alias, collection_name: b } },
        ],
    });
    assert.equal((await client.count(alias)).count, 2);
    assert.deepEqual((await client.getCollectionAliases(a)).aliases, []);
});

test('aliases: an alias may not take a collection\'s name (409), a collection may not take an alias\'s (400)', async () => {
    const a = uniqueName('ca'), b = uniqueName('cb'), alias = uniqueName('al');
    await client.createCollection(a, { vectors: { size: 2, distance: 'Dot' } });
    await client.createCollection(b, { vectors: { size: 2, distance: 'Dot' } });
    // test_alias.py test_cant_create_alias_if_collection_exists: 409.
    const r1 = await raw(srv.base, 'POST', '/collections/aliases', { actions: [{ create_alias: { alias_name: b, collection_name: a } }] });
    expectError(r1, 409, `Wrong input: Collection \`${b}\` already exists!`);
    // test_cant_create_collection_if_alias_exists: 400; message from
    // lib/storage/src/content_manager/toc/create_collection.rs.
    await client.updateCollectionAliases({ actions: [{ create_alias: { alias_name: alias, collection_name: a } }] });
    const r2 = await raw(srv.base, 'PUT', `/collections/${alias}`, { vectors: { size: 2, distance: 'Dot' } });
    expectError(r2, 400, `Wrong input: Can't create collection with name ${alias}. Alias with the same name already exists`);
    // An alias to a missing collection: 404 (validate_collection_exists).
    const ghost = uniqueName('ghost');
    const r3 = await raw(srv.base, 'POST', '/collections/aliases', { actions: [{ create_alias: { alias_name: uniqueName('x'), collection_name: ghost } }] });
    expectError(r3, 404, `Not found: Collection \`${ghost}\` doesn't exist!`);
    // Deleting a collection removes its aliases (delete_collection calls
    // alias_persistence.remove_collection).
    await client.deleteCollection(a);
    const all = await client.getAliases();
    assert.ok(!all.aliases.some((x) => x.alias_name === alias), JSON.stringify(all));
});
