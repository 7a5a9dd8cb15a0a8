// geo.test.js - geo_bounding_box, geo_radius, geo_polygon filters, with
// and without a geo payload index.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVitrine, raw, uniqueName } from '../lib/harness.js';
import { expectError } from '../lib/expect.js';
import { rng, randVec, matchFilter, haversine } from '../lib/brute.js';

let srv, client, plain, indexed, indexError;
// The points of tests/openapi/helpers/collection_setup.py geo_collection_setup,
// plus a grid of cities so the filters select non-trivial sets.
const base = [
    { id: 1, loc: { lon: 50.52, lat: 50.405 } },
    { id: 2, loc: { lon: 60.52, lat: 60.405 } },
    { id: 3, loc: { lon: -60.52, lat: -60.405 } },
    { id: 4, loc: { lon: 80.52, lat: 80.405 } },
    { id: 5, loc: { lon: -72.52, lat: -72.405 } },
    { id: 6, loc: null },
];
const r = rng(130);
const data = base.map((b) => ({ id: b.id, vector: randVec(r, 4), payload: b.loc ? { value: b.id, location: b.loc } : { value: b.id } }));
for (let i = 0; i < 60; i++) {
    const lon = -20 + (i % 10) * 4.3 + 0.11, lat = 35 + Math.floor(i / 10) * 3.1 + 0.07;
    const payload = { value: 100 + i, location: { lon, lat } };
    // Some points carry several locations (any of them may match).
    if (i % 13 === 0) payload.location = [{ lon, lat }, { lon: lon + 50, lat: -lat }];
    data.push({ id: 100 + i, vector: randVec(r, 4), payload });
}

before(async () => {
    srv = await startVitrine(import.meta.url);
    client = srv.client;
    plain = uniqueName('geo');
    indexed = uniqueName('geoidx');
    for (const n of [plain, indexed]) {
        await client.createCollection(n, { vectors: { size: 4, distance: 'Dot' } });
        await client.upsert(n, { wait: true, points: data });
    }
    // A failing index creation fails only the tests on the indexed
    // collection, so the plain-filter results still show.
    indexError = await client.createPayloadIndex(indexed, { field_name: 'location', field_schema: 'geo', wait: true })
        .then(() => null, (e) => e);
});
after(async () => { await srv?.stop(); });

async function ids(name, filter) {
    const { points } = await client.scroll(name, { filter, limit: 1000, with_payload: false });
    return points.map((p) => p.id);
}

function expected(filter) {
    return data.filter((p) => matchFilter(filter, p)).map((p) => p.id).sort((a, b) => a - b);
}

const boxes = [
    { top_left: { lon: 55, lat: 65 }, bottom_right: { lon: 65, lat: 55 } },
    { top_left: { lon: -10, lat: 47 }, bottom_right: { lon: 12, lat: 38 } },
    { top_left: { lon: -100, lat: 0 }, bottom_right: { lon: 0, lat: -80 } },
];
const radii = [
    { center: { lon: 0, lat: 40 }, radius: 700000 },
    { center: { lon: 60, lat: 60 }, radius: 100000 },
    { center: { lon: -5.2, lat: 44.1 }, radius: 250000 },
];
const polygons = [
    // test_geo_filter.py test_geo_polygon_simple picks 2 and 4.
    { exterior: { points: [{ lon: 55, lat: 55 }, { lon: 85, lat: 55 }, { lon: 85, lat: 85 }, { lon: 55, lat: 85 }, { lon: 55, lat: 55 }] } },
    // With a hole (test_geo_polygon_with_interiors).
    {
        exterior: { points: [{ lon: -21, lat: 34 }, { lon: 21, lat: 34 }, { lon: 21, lat: 54 }, { lon: -21, lat: 54 }, { lon: -21, lat: 34 }] },
        interiors: [{ points: [{ lon: -5, lat: 40 }, { lon: 5, lat: 40 }, { lon: 5, lat: 48 }, { lon: -5, lat: 48 }, { lon: -5, lat: 40 }] }],
    },
    // A triangle.
    { exterior: { points: [{ lon: -20, lat: 35 }, { lon: 20, lat: 35 }, { lon: 0, lat: 52 }, { lon: -20, lat: 35 }] } },
];

function indexedName() {
    if (indexError) throw indexError;
    return indexed;
}

for (const [label, nameOf] of [['no index', () => plain], ['geo index', indexedName]]) {
    test(`geo_bounding_box (${label}) equals the box test`, async () => {
        for (const b of boxes) {
            const filter = { must: [{ key: 'location', geo_bounding_box: b }] };
            // GeoBoundingBox::check_point (lib/segment/src/types.rs).
            assert.deepEqual(await ids(nameOf(), filter), expected(filter), JSON.stringify(b));
        }
    });

    test(`geo_radius (${label}) equals the haversine distance test`, async () => {
        for (const g of radii) {
            const filter = { must: [{ key: 'location', geo_radius: g }] };
            // Keep clear of the rim: no point within 0.5% of the radius, so
            // the Earth radius constant cannot decide a case.
            for (const p of data) {
                const locs = p.payload.location ? [].concat(p.payload.location) : [];
                for (const l of locs) assert.ok(Math.abs(haversine(g.center, l) - g.radius) > g.radius * 0.005, `test data too close to the rim: ${p.id}`);
            }
            assert.deepEqual(await ids(nameOf(), filter), expected(filter), JSON.stringify(g));
        }
    });

    test(`geo_polygon (${label}) equals point-in-polygon, holes excluded`, async () => {
        for (const poly of polygons) {
            const filter = { must: [{ key: 'location', geo_polygon: poly }] };
            assert.deepEqual(await ids(nameOf(), filter), expected(filter), JSON.stringify(poly));
        }
        const simple = await ids(nameOf(), { must: [{ key: 'location', geo_polygon: polygons[0] }] });
        assert.deepEqual(simple, [2, 4], 'test_geo_polygon_simple');
    });
}

test('geo filters combine with search and with other conditions', async () => {
    const filter = { must: [{ key: 'location', geo_radius: radii[0] }, { key: 'value', range: { gte: 110 } }], must_not: [{ key: 'location', geo_bounding_box: boxes[1] }] };
    for (const name of [plain, indexedName()]) {
        const got = await client.search(name, { vector: [1, 1, 1, 1], filter, limit: 100, params: { exact: true } });
        assert.deepEqual(got.map((p) => p.id).sort((a, b) => a - b), expected(filter));
        assert.equal((await client.count(name, { filter })).count, expected(filter).length);
    }
});

test('geo index is reported in payload_schema', async () => {
    const info = await client.getCollection(indexedName());
    assert.equal(info.payload_schema.location.data_type, 'geo');
    assert.equal(info.payload_schema.location.points, data.filter((p) => p.payload.location).length);
});

test('an open or short polygon is a 400 format error', async () => {
    // test_geo_filter.py test_geo_polygon_invalid asserts only "not ok". Over
    // REST the ring check is GeoPolygon's serde try_from (types.rs
    // validate_line_string), so serde reports it: 400 "Format error in JSON
    // body: Validation failed: polygon invalid, ...". The 422 closed_line /
    // min_line_length wording of validation.rs belongs to the gRPC API.
    let res = await raw(srv.base, 'POST', `/collections/${plain}/points/scroll`, {
        filter: { must: [{ key: 'location', geo_polygon: { exterior: { points: [{ lon: 0, lat: 0 }, { lon: 1, lat: 0 }, { lon: 1, lat: 1 }, { lon: 0, lat: 1 }] } } }] },
    });
    expectError(res, 400, /^Format error in JSON body: Validation failed: polygon invalid, the first and the last points should be the same to form a closed line/);
    res = await raw(srv.base, 'POST', `/collections/${plain}/points/scroll`, {
        filter: { must: [{ key: 'location', geo_polygon: { exterior: { points: [{ lon: 0, lat: 0 }, { lon: 1, lat: 0 }, { lon: 0, lat: 0 }] } } }] },
    });
    expectError(res, 400, /^Format error in JSON body: Validation failed: polygon invalid, the size must be at least 4, got 3/);
    // GeoPoint's own range check, also inside the deserializer.
    res = await raw(srv.base, 'POST', `/collections/${plain}/points/count`, {
        filter: { must: [{ key: 'location', geo_radius: { center: { lon: 10, lat: 91.5 }, radius: 5 } }] },
    });
    expectError(res, 400, /^Format error in JSON body: Wrong format of GeoPoint payload: expected `lat` = 91.5 within \[-90;90\] and `lon` = 10 within \[-180;180\]/);
});
