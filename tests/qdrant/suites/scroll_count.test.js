// scroll_count.test.js - POST /points/scroll (filter, limit, offset,
// next_page_offset, order_by, payload selectors) and /points/count.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVitrine, raw, uniqueName } from '../lib/harness.js';
import { expectOk, expectError } from '../lib/expect.js';
import { matchFilter, cmpId, assertVectorEqual } from '../lib/brute.js';
import { makePoints, upsertAll } from '../lib/data.js';

let srv, client, name;
const data = makePoints(80, 57, 4);

before(async () => {
    srv = await startVitrine(import.meta.url);
    client = srv.client;
    name = uniqueName('scroll');
    await client.createCollection(name, { vectors: { size: 4, distance: 'Dot' } });
    // Upserted in shuffled order: scroll must still go by id.
    const shuffled = [...data].sort((a, b) => ((a.id * 7919) % 57) - ((b.id * 7919) % 57));
    await upsertAll(client, name, shuffled, 20);
});
after(async () => { await srv?.stop(); });

test('scroll defaults: 10 points by id, payload included, no vector, next_page_offset', async () => {
    const res = expectOk(await raw(srv.base, 'POST', `/collections/${name}/points/scroll`, {}));
    // ScrollRequestInternal defaults: limit 10, with_payload true,
    // with_vector false (lib/shard/src/scroll.rs); next_page_offset is the
    // id of the first point of the next page (point_ops.rs scroll_by).
    assert.deepEqual(res.points.map((p) => p.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(res.next_page_offset, 11);
    assert.deepEqual(res.points[0].payload, data[0].payload);
    assert.ok(res.points[0].vector == null);
    // An empty body is accepted too (the client sends {}), as is no body.
});

test('scroll pages through everything with next_page_offset, which is null at the end', async () => {
    const seen = [];
    let offset;
    let pages = 0;
    do {
        const page = await client.scroll(name, { limit: 13, offset, with_payload: false });
        seen.push(...page.points.map((p) => p.id));
        offset = page.next_page_offset ?? undefined;
        pages += 1;
        assert.ok(pages < 20, 'runaway paging');
    } while (offset !== undefined);
    assert.deepEqual(seen, data.map((p) => p.id));
    assert.equal(pages, Math.ceil(57 / 13));
    // Offset is inclusive: scrolling from 57 gives 57 alone, then null.
    const last = await client.scroll(name, { limit: 5, offset: 57 });
    assert.deepEqual(last.points.map((p) => p.id), [57]);
    assert.equal(last.next_page_offset ?? null, null);
    // Exactly a full last page: no next page.
    const exact = await client.scroll(name, { limit: 7, offset: 51 });
    assert.deepEqual(exact.points.map((p) => p.id), [51, 52, 53, 54, 55, 56, 57]);
    assert.equal(exact.next_page_offset ?? null, null);
});

test('scroll with a filter equals the JS filter over the data', async () => {
    const filters = [
        { must: [{ key: 'color', match: { value: 'green' } }] },
        { should: [{ key: 'count', range: { gt: 7 } }, { key: 'meta.brand', match: { value: 'b0' } }] },
        { must_not: [{ key: 'cities', match: { any: ['Berlin'] } }] },
        { must: [{ key: 'no_such_key', range: { gt: 0 } }] },
        { must: [{ is_empty: { key: 'price' } }] },
        { must: [{ has_id: [3, 30, 33, 1000] }] },
        { must: [{ key: 'in_stock', match: { value: false } }, { key: 'price', range: { gte: 20, lt: 70 } }] },
        { must: [{ key: 'meta.rank', range: { gte: 50 } }] },
    ];
    for (const filter of filters) {
        const got = await client.scroll(name, { filter, limit: 100, with_payload: false });
        const want = data.filter((p) => matchFilter(filter, p)).map((p) => p.id);
        assert.deepEqual(got.points.map((p) => p.id), want, JSON.stringify(filter));
        const c = await client.count(name, { filter, exact: true });
        assert.equal(c.count, want.length, `count ${JSON.stringify(filter)}`);
    }
});

test('scroll with_vector and payload selectors', async () => {
    const got = await client.scroll(name, { limit: 2, with_vector: true, with_payload: { include: ['meta.brand'] } });
    assertVectorEqual(got.points[0].vector, data[0].vector);
    assert.deepEqual(got.points[0].payload, { meta: { brand: data[0].payload.meta.brand } });
    // tests/openapi/test_payload_selector.py: with_payload false -> no payload.
    const none = await client.scroll(name, { limit: 1, with_payload: false });
    assert.ok(none.points[0].payload == null);
    const exc = await client.scroll(name, { limit: 1, with_payload: { exclude: ['cities', 'meta'] } });
    const want = structuredClone(data[0].payload);
    delete want.cities; delete want.meta;
    assert.deepEqual(exc.points[0].payload, want);
});

test('payload selectors on nested arrays (ported from test_payload_selector.py)', async () => {
    const c = uniqueName('selector');
    await client.createCollection(c, { vectors: { size: 2, distance: 'Dot' } });
    const payload = {
        country: {
            name: 'Germany',
            capital: 'Berlin',
            cities: [
                { name: 'Berlin', population: 3.7, sightseeing: ['Brandenburg Gate', 'Reichstag'] },
                { name: 'Munich', population: 1.5, sightseeing: ['Marienplatz', 'Olympiapark'] },
            ],
        },
    };
    await client.upsert(c, { wait: true, points: [{ id: 1, vector: [1, 0], payload }] });
    const sel = async (with_payload) => (await client.scroll(c, { limit: 1, with_payload })).points[0].payload;
    assert.deepEqual(await sel({ include: ['country.name', 'country.capital'] }), { country: { name: 'Germany', capital: 'Berlin' } });
    assert.deepEqual(await sel({ include: ['country.cities[].name'] }), { country: { cities: [{ name: 'Berlin' }, { name: 'Munich' }] } });
    assert.deepEqual(await sel({ exclude: ['country.cities'] }), { country: { name: 'Germany', capital: 'Berlin' } });
    assert.deepEqual(await sel({ exclude: ['country.name', 'country.capital'] }), { country: { cities: payload.country.cities } });
});

test('scroll order_by on an indexed field: order_value, both directions, start_from, no next page', async () => {
    const c = uniqueName('order');
    await client.createCollection(c, { vectors: { size: 2, distance: 'Dot' } });
    const pts = [];
    for (let i = 0; i < 25; i++) pts.push({ id: i + 1, vector: [1, 0], payload: { payload_id: (i * 11) % 25, multi: [i, 100 + i] } });
    await client.upsert(c, { wait: true, points: pts });
    await client.createPayloadIndex(c, { field_name: 'payload_id', field_schema: 'integer', wait: true });
    await client.createPayloadIndex(c, { field_name: 'multi', field_schema: 'integer', wait: true });
    const sorted = [...pts].sort((a, b) => a.payload.payload_id - b.payload.payload_id);
    // test_order_by.py test_order_by_int_ascending / descending.
    const asc = await client.scroll(c, { order_by: { key: 'payload_id', direction: 'asc' }, limit: 5 });
    assert.deepEqual(asc.points.map((p) => p.id), sorted.slice(0, 5).map((p) => p.id));
    assert.deepEqual(asc.points.map((p) => p.order_value), [0, 1, 2, 3, 4]);
    assert.equal(asc.next_page_offset ?? null, null, 'order_by never gives a next page');
    const desc = await client.scroll(c, { order_by: { key: 'payload_id', direction: 'desc' }, limit: 5 });
    assert.deepEqual(desc.points.map((p) => p.order_value), [24, 23, 22, 21, 20]);
    // start_from is inclusive (order_by.rs as_range_from).
    const from = await client.scroll(c, { order_by: { key: 'payload_id', start_from: 10 }, limit: 3 });
    assert.deepEqual(from.points.map((p) => p.order_value), [10, 11, 12]);
    const fromDesc = await client.scroll(c, { order_by: { key: 'payload_id', direction: 'desc', start_from: 10 }, limit: 3 });
    assert.deepEqual(fromDesc.points.map((p) => p.order_value), [10, 9, 8]);
    // A bare key string orders ascending.
    const bare = expectOk(await raw(srv.base, 'POST', `/collections/${c}/points/scroll`, { order_by: 'payload_id', limit: 2 }));
    assert.deepEqual(bare.points.map((p) => p.order_value), [0, 1]);
    // test_multi_values_appear_multiple_times: one record per value.
    const multi = await client.scroll(c, { order_by: 'multi', limit: 50 });
    assert.equal(multi.points.length, 50);
    const freq = new Map();
    for (const p of multi.points) freq.set(p.id, (freq.get(p.id) ?? 0) + 1);
    assert.ok([...freq.values()].every((n) => n === 2));
    // test_cannot_use_offset_with_order_by: 400 (shard_ops.rs:178).
    expectError(await raw(srv.base, 'POST', `/collections/${c}/points/scroll`, { order_by: 'payload_id', offset: 10, limit: 10 }), 400,
        /^Wrong input: Cannot use an `offset` when using `order_by`/);
    // A filter combines with order_by.
    const f = await client.scroll(c, { order_by: 'payload_id', limit: 3, filter: { must: [{ key: 'payload_id', range: { gte: 20 } }] } });
    assert.deepEqual(f.points.map((p) => p.order_value), [20, 21, 22]);
});

test('count: all points, with a filter, exact and approximate', async () => {
    assert.deepEqual(await client.count(name, {}), { count: 57 });
    assert.deepEqual(await client.count(name, { exact: true }), { count: 57 });
    // exact:false may estimate (CountRequestInternal); vitrine counts, but
    // an estimate must stay plausible.
    const approx = await client.count(name, { exact: false, filter: { must: [{ key: 'color', match: { value: 'red' } }] } });
    assert.ok(approx.count >= 0 && approx.count <= 57);
    const res = expectOk(await raw(srv.base, 'POST', `/collections/${name}/points/count`, {}));
    assert.deepEqual(res, { count: 57 });
    // CountResult {count} only.
    assert.deepEqual(Object.keys(res), ['count']);
});

test('count and scroll follow deletes', async () => {
    const c = uniqueName('cnt');
    await client.createCollection(c, { vectors: { size: 4, distance: 'Dot' } });
    await upsertAll(client, c, data.slice(0, 20));
    await client.delete(c, { wait: true, points: [2, 4, 6] });
    assert.equal((await client.count(c)).count, 17);
    const { points } = await client.scroll(c, { limit: 100 });
    assert.deepEqual(points.map((p) => p.id), data.slice(0, 20).map((p) => p.id).filter((id) => ![2, 4, 6].includes(id)).sort(cmpId));
});

test('scroll limit 0 is a 422 validation error', async () => {
    // ScrollRequest { #[serde(flatten)] scroll_request } -> field path
    // scroll_request.limit; range(min = 1) (lib/shard/src/scroll.rs).
    const res = await raw(srv.base, 'POST', `/collections/${name}/points/scroll`, { limit: 0 });
    expectError(res, 422, 'Validation error in JSON body: [scroll_request.limit: value 0 invalid, must be 1 or larger]');
});
