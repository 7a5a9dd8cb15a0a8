// inference.test.mjs - Qdrant's inference objects through Qdrant's official
// JavaScript client (@qdrant/js-client-rest 1.17.0): Document {text, model}
// and Image {image, model} wherever the client sends a vector (upsert as
// points and as a batch, named and unnamed vectors, update vectors,
// query with and without nearest and prefetch, the legacy search,
// recommend examples), embedded by `vitrine serve` with the fixture model.
//
// The reference is the fixture's expected embeddings (transformers' numbers,
// tests/fixtures/clip/README.md): a stored vector must be the fixture's
// normalised embedding of that image or text, a ranking the brute-force
// ranking over the fixture embeddings. Run by tests/e2e/v1_inference.sh,
// which sets VITRINE_BIN and VITRINE_FIXTURES.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QdrantClient } from '@qdrant/js-client-rest';
import { rrf } from '../lib/brute.js';

const FIX = process.env.VITRINE_FIXTURES;
const BIN = process.env.VITRINE_BIN;
const exp = JSON.parse(readFileSync(join(FIX, 'expected/tiny-p32/outputs.json'), 'utf8'));
const unit = (v) => { const n = Math.hypot(...v); return v.map((x) => x / n); };
const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
const IMG = Object.fromEntries(Object.entries(exp.images).map(([k, v]) => [k, unit(v.image_embeds)]));
const TXT = Object.fromEntries(exp.texts.filter((t) => t.text).map((t) => [t.text, unit(t.text_embeds)]));
const DIM = IMG['chelsea.png'].length;
const b64 = (name) => readFileSync(join(FIX, 'images', name)).toString('base64');
// The names Qdrant's own inference uses for CLIP ViT-B/32, and the folder's.
const VISION = 'Qdrant/clip-ViT-B-32-vision';
const TEXT = 'Qdrant/clip-ViT-B-32-text';
const doc = (text, model = TEXT) => ({ text, model });
const img = (name, model = VISION) => ({ image: b64(name), model });

// PNG images only: their embeddings match the fixture to cosine 0.99999.
const IMAGES = ['astronaut.png', 'camera.png', 'chelsea.png', 'coffee.png', 'color.png', 'horse.png',
    'logo.png', 'page.png', 'tall_90x600.png', 'tiny_7x5.png'];
const TEXTS = Object.keys(TXT).slice(0, IMAGES.length);

let child, work, client, log = '';

before(async () => {
    work = mkdtempSync(join(tmpdir(), 'vitrine-inference-'));
    child = spawn(BIN, ['serve', '--port', '0', '--data', join(work, 'data'),
        '--weights', join(FIX, 'models/tiny-p32')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr.on('data', (d) => { log += d; });
    child.stdout.on('data', (d) => { log += d; });
    const port = await new Promise((ok, fail) => {
        const t0 = Date.now();
        const poll = () => {
            const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
            if (m) return ok(Number(m[1]));
            if (Date.now() - t0 > 15000) return fail(new Error('vitrine did not start:\n' + log));
            setTimeout(poll, 20);
        };
        poll();
    });
    client = new QdrantClient({ url: `http://127.0.0.1:${port}`, checkCompatibility: false, timeout: 60000 });
    await client.createCollection('docs', {
        vectors: { image: { size: DIM, distance: 'Cosine' }, text: { size: DIM, distance: 'Cosine' } },
    });
});

after(async () => {
    if (child && child.exitCode === null) {
        child.kill('SIGTERM');
        const code = await new Promise((ok) => child.on('exit', (c) => ok(c)));
        assert.equal(code, 0, 'vitrine exit status after SIGTERM; log:\n' + log.slice(-3000));
    }
    rmSync(work, { recursive: true, force: true });
});

function assertClose(got, want, tol, what) {
    assert.equal(got.length, want.length, `${what}: length`);
    const c = dot(unit(got), want);
    assert.ok(c >= 1 - tol, `${what}: cosine ${c} with the fixture`);
}

// brute ranks [id, vector] pairs by cosine with q.
function brute(q, pairs) {
    return pairs.map(([id, v]) => ({ id, score: dot(q, v) })).sort((a, b) => b.score - a.score);
}

// assertRanking: the same ids in the same order, except that ids with equal
// brute-force scores (within tol) may come in either order, and the same
// scores.
function assertRanking(got, want, what, tol = 1e-4) {
    assert.equal(got.length, want.length, `${what}: ${got.length} results, expected ${want.length}`);
    const ref = new Map(want.map((p) => [p.id, p.score]));
    got.forEach((p, i) => {
        assert.ok(ref.has(p.id), `${what}: id ${p.id} is not among ${want.map((w) => w.id)}`);
        assert.ok(Math.abs(ref.get(p.id) - want[i].score) <= tol,
            `${what}: position ${i} holds ${p.id}, brute force ${want[i].id} (${got.map((g) => g.id)} vs ${want.map((w) => w.id)})`);
        assert.ok(Math.abs(p.score - want[i].score) <= tol,
            `${what}: id ${p.id} score ${p.score}, brute force ${want[i].score}`);
    });
}

const imagePairs = () => IMAGES.map((n, i) => [i + 1, IMG[n]]);
const textPairs = () => TEXTS.map((t, i) => [i + 1, TXT[t]]);

test('upsert with Document and Image objects stores the fixture embeddings', async () => {
    const points = IMAGES.map((n, i) => ({
        id: i + 1,
        vector: { image: img(n), text: doc(TEXTS[i], i % 2 ? TEXT : 'tiny-p32') },
        payload: { name: n },
    }));
    const r = await client.upsert('docs', { wait: true, points });
    assert.equal(r.status, 'completed');
    const got = await client.retrieve('docs', { ids: IMAGES.map((_, i) => i + 1), with_vector: true });
    assert.equal(got.length, IMAGES.length);
    for (const p of got) {
        assertClose(p.vector.image, IMG[IMAGES[p.id - 1]], 1e-5, `point ${p.id} image`);
        assertClose(p.vector.text, TXT[TEXTS[p.id - 1]], 1e-5, `point ${p.id} text`);
    }
});

test('query with a Document and an Image ranks as brute force', async () => {
    for (const t of TEXTS.slice(0, 4)) {
        const r = await client.query('docs', { query: doc(t), using: 'image', limit: 100 });
        assertRanking(r.points, brute(TXT[t], imagePairs()), `query Document ${t} (image)`);
        const r2 = await client.query('docs', { query: { nearest: doc(t) }, using: 'text', limit: 100 });
        assertRanking(r2.points, brute(TXT[t], textPairs()), `query nearest Document ${t} (text)`);
    }
    for (const n of ['chelsea.png', 'horse.png']) {
        const r = await client.query('docs', { query: img(n), using: 'image', limit: 3 });
        assert.equal(r.points[0].id, IMAGES.indexOf(n) + 1);
        assert.ok(Math.abs(r.points[0].score - 1) < 1e-5, `self score ${r.points[0].score}`);
        // A photo against the text vectors.
        const r2 = await client.query('docs', { query: img(n), using: 'text', limit: 100 });
        assertRanking(r2.points, brute(IMG[n], textPairs()), `query Image ${n} (text)`);
    }
});

test('prefetch with Documents and Images, fused by rrf', async () => {
    const t = TEXTS[1];
    const r = await client.query('docs', {
        prefetch: [
            { query: doc(t), using: 'text', limit: 5 },
            { query: img('coffee.png'), using: 'image', limit: 5 },
        ],
        query: { fusion: 'rrf' },
        limit: 10,
    });
    // Reciprocal rank fusion (the conformance suite's transcription of
    // Qdrant's) over the two brute-force lists.
    const lists = [brute(TXT[t], textPairs()).slice(0, 5), brute(IMG['coffee.png'], imagePairs()).slice(0, 5)];
    assertRanking(r.points, rrf(lists), 'rrf', 1e-6);
});

test('the legacy search and recommend take inference objects', async () => {
    const t = TEXTS[2];
    const s = await client.search('docs', { vector: { name: 'image', vector: doc(t) }, limit: 100 });
    assertRanking(s, brute(TXT[t], imagePairs()), 'search');
    // average_vector with one positive example vector: the search of that vector.
    const rec = await client.recommend('docs', { positive: [img('tiny_7x5.png')], using: 'image', limit: 100 });
    assertRanking(rec, brute(IMG['tiny_7x5.png'], imagePairs()), 'recommend');
    const rq = await client.query('docs', { query: { recommend: { positive: [doc(t)] } }, using: 'text', limit: 100 });
    assertRanking(rq.points, brute(TXT[t], textPairs()), 'query recommend');
});

test('unnamed vectors: a Document as the vector, the batch form, update vectors', async () => {
    await client.createCollection('plain', { vectors: { size: DIM, distance: 'Cosine' } });
    await client.upsert('plain', { wait: true, points: [{ id: 1, vector: doc('a photo of a cat') }] });
    await client.upsert('plain', { wait: true, batch: { ids: [2, 3], vectors: [img('chelsea.png'), doc('a photo of a dog')] } });
    let got = await client.retrieve('plain', { ids: [1, 2, 3], with_vector: true });
    assertClose(got[0].vector, TXT['a photo of a cat'], 1e-5, 'point 1');
    assertClose(got[1].vector, IMG['chelsea.png'], 1e-5, 'point 2');
    assertClose(got[2].vector, TXT['a photo of a dog'], 1e-5, 'point 3');
    await client.updateVectors('plain', { wait: true, points: [{ id: 1, vector: img('horse.png') }] });
    got = await client.retrieve('plain', { ids: [1], with_vector: true });
    assertClose(got[0].vector, IMG['horse.png'], 1e-5, 'point 1 updated');
    await client.updateVectors('docs', { wait: true, points: [{ id: 1, vector: { text: doc('a red summer dress') } }] });
    got = await client.retrieve('docs', { ids: [1], with_vector: true });
    assertClose(got[0].vector.text, TXT['a red summer dress'], 1e-5, 'docs point 1 text updated');
    assertClose(got[0].vector.image, IMG[IMAGES[0]], 1e-5, 'docs point 1 image kept');
    await client.updateVectors('docs', { wait: true, points: [{ id: 1, vector: { text: doc(TEXTS[0]) } }] });
});

async function expectStatus(promise, status, re) {
    try {
        await promise;
    } catch (e) {
        assert.equal(e.status, status, `${e.message} ${JSON.stringify(e.data)}`);
        if (re) assert.match(e.data?.status?.error ?? '', re);
        return;
    }
    assert.fail(`expected HTTP ${status}, the call succeeded`);
}

test('errors: unknown model, InferenceObject, bad image, empty text; nothing stored', async () => {
    await expectStatus(client.upsert('docs', { wait: true, points: [{ id: 50, vector: { text: doc('x', 'nope/model') } }] }),
        404, /nope\/model/);
    await expectStatus(client.query('docs', { query: { object: { a: 1 }, model: TEXT }, using: 'text' }), 400, /InferenceObject/);
    await expectStatus(client.upsert('docs', { wait: true, points: [{ id: 51, vector: { image: { image: 'aGVsbG8=', model: VISION } } }] }),
        400, /image/);
    await expectStatus(client.upsert('docs', { wait: true, points: [{ id: 52, vector: { text: doc('') } }] }), 400, /empty/);
    await expectStatus(client.query('docs', { query: { image: 'https://example.com/a.jpg', model: VISION }, using: 'image' }),
        400, /fetch/i);
    const got = await client.retrieve('docs', { ids: [50, 51, 52] });
    assert.equal(got.length, 0);
    assert.equal((await client.count('docs', { exact: true })).count, IMAGES.length);
});
