// service.test.js - GET /, /healthz, /livez, /readyz, /metrics, /telemetry,
// and the official client's version check.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { QdrantClient } from '@qdrant/js-client-rest';
import { startVitrine, raw } from '../lib/harness.js';
import { expectOk } from '../lib/expect.js';

let srv;
before(async () => { srv = await startVitrine(import.meta.url); });
after(async () => { await srv?.stop(); });

test('GET / answers VersionInfo with version 1.17.1, not wrapped in an envelope', async () => {
    const res = await raw(srv.base, 'GET', '/');
    assert.equal(res.status, 200);
    // src/actix/api/service_api.rs / src/actix/mod.rs: `index` returns
    // VersionInfo as is (lib/api/src/rest/models.rs), no ApiResponse.
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.equal(res.json.version, '1.17.1');
    assert.equal(typeof res.json.title, 'string');
    assert.ok(res.json.title.length > 0);
    assert.ok(!('result' in res.json), 'GET / is not enveloped');
    // tests/openapi/test_root_api.py: keys are exactly {title, version, commit}
    // (commit is optional in the schema: VersionInfo.commit is nullable).
    for (const k of Object.keys(res.json)) assert.ok(['title', 'version', 'commit'].includes(k), `unexpected key ${k}`);
});

test('the official client reads the version and does not warn about compatibility', async () => {
    const info = await srv.client.versionInfo();
    assert.equal(info.version, '1.17.1');
    // qdrant-client.js constructor: with checkCompatibility it GETs / and
    // console.warn()s when the versions are incompatible or unreadable.
    const warnings = [];
    const orig = console.warn;
    console.warn = (...a) => warnings.push(a.join(' '));
    try {
        // eslint-disable-next-line no-new
        new QdrantClient({ url: srv.base, checkCompatibility: true });
        await new Promise((r) => setTimeout(r, 500));
    } finally {
        console.warn = orig;
    }
    assert.deepEqual(warnings, []);
});

test('/healthz and /livez answer "healthz check passed" as text/plain', async () => {
    // src/actix/api/service_api.rs: both call kubernetes_healthz(), body
    // "healthz check passed", ContentType::plaintext(); asserted for both
    // routes by tests/openapi/test_k8s_health.py. (Issue 9 says "livez check
    // passed"; Qdrant's source and test say otherwise, and clients probe
    // Qdrant's text.)
    for (const p of ['/healthz', '/livez']) {
        const res = await raw(srv.base, 'GET', p);
        assert.equal(res.status, 200, p);
        assert.equal(res.text, 'healthz check passed', p);
        assert.match(res.headers.get('content-type'), /^text\/plain/, p);
    }
});

test('/readyz answers "all shards are ready"', async () => {
    // service_api.rs readyz: (StatusCode::OK, "all shards are ready").
    const res = await raw(srv.base, 'GET', '/readyz');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'all shards are ready');
    assert.match(res.headers.get('content-type'), /^text\/plain/);
});

test('/metrics answers Prometheus text', async () => {
    const res = await raw(srv.base, 'GET', '/metrics');
    assert.equal(res.status, 200);
    // OpenAPI /metrics 200: text/plain.
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    assert.match(res.text, /^# (HELP|TYPE) /m);
});

test('/telemetry answers a schema-valid TelemetryData in the envelope', async () => {
    const res = await raw(srv.base, 'GET', '/telemetry');
    const result = expectOk(res, '/telemetry');
    // TelemetryData requires id and collections (OpenAPI components); the
    // schema check validates the rest.
    assert.equal(typeof result.id, 'string');
    assert.equal(typeof result.collections, 'object');
    assert.equal(typeof result.collections.number_of_collections, 'number');
});

test('/telemetry counts collections', async () => {
    await srv.client.createCollection('tele', { vectors: { size: 2, distance: 'Dot' } });
    const res = await raw(srv.base, 'GET', '/telemetry');
    const result = expectOk(res, '/telemetry');
    assert.equal(result.collections.number_of_collections, 1);
    await srv.client.deleteCollection('tele');
});
