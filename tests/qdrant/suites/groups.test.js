// groups.test.js - POST /points/search/groups and /points/query/groups
// (group_by, group_size, limit), plus recommend/groups which the official
// clients also call.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startVitrine, raw, uniqueName } from '../lib/harness.js';
import { expectError } from '../lib/expect.js';
import { rng, randVec, topK, valuesAt, close, averageVectorQuery } from '../lib/brute.js';

const DIM = 6;
let srv, client, name;
const r = rng(90);
const DOCS = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
const data = [];
for (let i = 1; i <= 90; i++) {
    const payload = { docId: DOCS[i % DOCS.length], num: i % 4, both: i % 10 === 0 ? ['x', 'y'] : 'z' };
    if (i % 11 === 0) delete payload.docId;
    data.push({ id: i, vector: randVec(r, DIM), payload });
}

before(async () => {
    srv = await startVitrine(import.meta.url);
    client = srv.client;
    name = uniqueName('groups');
    await client.createCollection(name, { vectors: { size: DIM, distance: 'Dot' } });
    await client.upsert(name, { wait: true, points: data });
});
after(async () => { await srv?.stop(); });

// The brute-force grouping (lib/collection/src/grouping/group_by.rs and
// aggregator.rs): walk the points best first; each value of `group_by`
// (strings and integers, arrays give one group per element) names a group;
// new groups are opened until `limit` exist, each keeps its best
// `group_size` hits; groups come in the order of their best hit. Points
// without the key belong to no group.
function bruteGroups(ranked, key, groupSize, limit) {
    const groups = new Map();
    for (const p of ranked) {
        const vals = valuesAt(data.find((d) => d.id === p.id).payload, key).flatMap((v) => (Array.isArray(v) ? v : [v]))
            .filter((v) => typeof v === 'string' || Number.isInteger(v));
        for (const v of new Set(vals)) {
            const k = JSON.stringify(v);
            if (!groups.has(k)) {
                if (groups.size >= limit) continue;
                groups.set(k, { id: v, hits: [] });
            }
            const g = groups.get(k);
            if (g.hits.length < groupSize) g.hits.push(p);
        }
    }
    return [...groups.values()];
}

function assertGroups(got, want, what) {
    assert.equal(got.groups.length, want.length, `${what}: ${got.groups.length} groups, expected ${want.length}: ${JSON.stringify(got.groups.map((g) => g.id))} vs ${JSON.stringify(want.map((g) => g.id))}`);
    got.groups.forEach((g, i) => {
        assert.deepEqual(g.id, want[i].id, `${what}: group ${i}`);
        assert.deepEqual(g.hits.map((h) => h.id), want[i].hits.map((h) => h.id), `${what}: hits of ${g.id}`);
        g.hits.forEach((h, j) => assert.ok(close(h.score, want[i].hits[j].score), `${what}: score of ${h.id}`));
    });
}

test('search/groups equals brute-force grouping of the exact ranking', async () => {
    const q = randVec(rng(91), DIM);
    const ranked = topK(data, q, 'Dot', { limit: data.length });
    for (const [groupSize, limit] of [[3, 4], [1, 7], [5, 2]]) {
        const got = await client.searchPointGroups(name, {
            vector: q, group_by: 'docId', group_size: groupSize, limit, params: { exact: true }, with_payload: true,
        });
        assertGroups(got, bruteGroups(ranked, 'docId', groupSize, limit), `size ${groupSize} limit ${limit}`);
        // test_group.py test_search: every hit carries its group's value.
        for (const g of got.groups) for (const h of g.hits) assert.equal(h.payload.docId, g.id);
    }
});

test('search/groups with a filter, integer keys and array values', async () => {
    const q = randVec(rng(92), DIM);
    const filter = { must: [{ key: 'num', range: { gte: 1 } }] };
    const ranked = topK(data, q, 'Dot', { limit: data.length, filter });
    const got = await client.searchPointGroups(name, { vector: q, group_by: 'num', group_size: 2, limit: 5, filter, params: { exact: true } });
    // Integer values give integer group ids (test_group.py heterogenous fields).
    assertGroups(got, bruteGroups(ranked, 'num', 2, 5), 'integer key');
    for (const g of got.groups) assert.equal(typeof g.id, 'number');
    const all = topK(data, q, 'Dot', { limit: data.length });
    const multi = await client.searchPointGroups(name, { vector: q, group_by: 'both', group_size: 3, limit: 3, params: { exact: true } });
    // A point whose value is an array is in each of its groups
    // (test_group.py test_multi_value_group_by).
    assertGroups(multi, bruteGroups(all, 'both', 3, 3), 'array values');
});

test('search/groups on a missing key answers no groups', async () => {
    // test_group.py test_inexistent_group_by: 200 and zero groups.
    const got = await client.searchPointGroups(name, { vector: randVec(rng(93), DIM), group_by: 'no_such_key', group_size: 2, limit: 3 });
    assert.deepEqual(got.groups, []);
});

test('query/groups equals brute force; defaults group_size 3, limit 10', async () => {
    const q = randVec(rng(94), DIM);
    const ranked = topK(data, q, 'Dot', { limit: data.length });
    const got = await client.queryGroups(name, { query: q, group_by: 'docId', params: { exact: true } });
    // QueryBaseGroupRequest defaults: group_size 3, limit 10 (schema.rs).
    assertGroups(got, bruteGroups(ranked, 'docId', 3, 10), 'query/groups defaults');
    const g2 = await client.queryGroups(name, { query: { nearest: q }, group_by: 'docId', group_size: 2, limit: 3, params: { exact: true }, with_payload: ['docId'] });
    assertGroups(g2, bruteGroups(ranked, 'docId', 2, 3), 'query/groups');
    for (const g of g2.groups) for (const h of g.hits) assert.deepEqual(h.payload, { docId: g.id });
});

test('recommend/groups groups the recommendation ranking', async () => {
    const byId = new Map(data.map((p) => [p.id, p]));
    const qv = averageVectorQuery([byId.get(1).vector, byId.get(2).vector], []);
    const ranked = topK(data, qv, 'Dot', { limit: data.length, exclude: new Set(['1', '2']) });
    const got = await client.recommendPointGroups(name, { positive: [1, 2], group_by: 'docId', group_size: 2, limit: 3, params: { exact: true } });
    assertGroups(got, bruteGroups(ranked, 'docId', 2, 3), 'recommend/groups');
});

test('group validation: group_size 0 and limit 0 are 422', async () => {
    // BaseGroupRequest range(min = 1), flattened under search_group_request.
    const res = await raw(srv.base, 'POST', `/collections/${name}/points/search/groups`, { vector: [1, 0, 0, 0, 0, 0], group_by: 'docId', group_size: 0, limit: 3 });
    expectError(res, 422, 'Validation error in JSON body: [search_group_request.group_request.group_size: value 0 invalid, must be 1 or larger]');
    const res2 = await raw(srv.base, 'POST', `/collections/${name}/points/query/groups`, { query: [1, 0, 0, 0, 0, 0], group_by: 'docId', limit: 0 });
    expectError(res2, 422, 'Validation error in JSON body: [search_group_request.group_request.limit: value 0 invalid, must be 1 or larger]');
});
