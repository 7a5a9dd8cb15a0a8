// embeddings.test.mjs - vitrine serve's /v1 through the official OpenAI
// Node SDK (npm `openai`, baseURL = the server's /v1), against the CLIP
// fixture's expected embeddings (transformers' numbers; contract in the
// fixture README). The SDK's default encoding is base64 (it asks for it
// and decodes the little-endian float32 itself), so the default path is
// the one most clients take. Run by tests/e2e/v1_openai.sh, which starts
// the server: VITRINE_URL is its base URL, VITRINE_FIXTURES the fixtures.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import OpenAI from 'openai';

const base = process.env.VITRINE_URL;
const fix = process.env.VITRINE_FIXTURES;
assert.ok(base && fix, 'VITRINE_URL and VITRINE_FIXTURES must be set');

const expected = JSON.parse(readFileSync(`${fix}/expected/tiny-p32/outputs.json`, 'utf8'));
const texts = new Map(expected.texts.map((t) => [t.text, t]));
const IMAGE_TOKENS = 50; // (224 / 32)^2 patches + the class token

const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'not-needed', maxRetries: 0 });

const b64 = (name) => readFileSync(`${fix}/images/${name}`).toString('base64');

function cosine(a, b) {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

// check compares a response with the fixture, input by input, in order.
function check(res, items, what) {
  assert.equal(res.object, 'list', what);
  assert.equal(res.data.length, items.length, `${what}: count`);
  let tokens = 0;
  res.data.forEach((d, i) => {
    const [kind, key] = items[i];
    assert.equal(d.object, 'embedding', what);
    assert.equal(d.index, i, `${what}: index`);
    assert.ok(Array.isArray(d.embedding), `${what}: data[${i}] is not decoded into numbers`);
    const norm = Math.sqrt(d.embedding.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-5, `${what}: data[${i}] norm ${norm}`);
    const ref = kind === 'text' ? texts.get(key).text_embeds : expected.images[key].image_embeds;
    const c = cosine(d.embedding, ref);
    const bar = key.endsWith('.jpg') ? 0.9999 : 0.99999;
    assert.ok(c >= bar, `${what}: data[${i}] (${key}) cosine ${c} < ${bar}`);
    tokens += kind === 'text' ? texts.get(key).input_ids.length : IMAGE_TOKENS;
  });
  assert.deepEqual(res.usage, { prompt_tokens: tokens, total_tokens: tokens }, `${what}: usage`);
}

test('models.list names the model and its aliases', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, ['tiny-p32', 'openai/clip-vit-base-patch32', 'Qdrant/clip-ViT-B-32-vision',
    'Qdrant/clip-ViT-B-32-text']);
  const m = await client.models.retrieve('openai/clip-vit-base-patch32');
  assert.equal(m.id, 'openai/clip-vit-base-patch32');
  assert.equal(m.object, 'model');
});

test('texts with the default (base64) encoding equal the fixture', async () => {
  const keys = ['a photo of a cat', 'A Beautiful RED   summer dress!!', 'size 42 shoes, 100% cotton, $19.99',
    expected.texts[expected.texts.length - 1].text];
  const res = await client.embeddings.create({ model: 'tiny-p32', input: keys });
  check(res, keys.map((k) => ['text', k]), 'texts, base64');
  assert.equal(res.model, 'tiny-p32');
  const one = await client.embeddings.create({ model: 'openai/clip-vit-base-patch32', input: 'a photo of a dog' });
  check(one, [['text', 'a photo of a dog']], 'one string');
});

test('Jina multimodal input (texts, base64 images, data: URLs) in order, both encodings', async () => {
  const items = [['image', 'astronaut.png'], ['text', 'a red summer dress'], ['image', 'rocket.jpg'],
    ['image', 'coffee_lossy.webp'], ['text', 'a photo of a cat'], ['image', 'horse.png']];
  const input = items.map(([kind, key], i) => {
    if (kind === 'text') return { text: key };
    const data = b64(key);
    const type = key.endsWith('.jpg') ? 'jpeg' : key.split('.').pop();
    return { image: i % 2 ? `data:image/${type};base64,${data}` : data };
  });
  check(await client.embeddings.create({ model: 'Qdrant/clip-ViT-B-32-vision', input }), items,
    'multimodal, base64');
  check(await client.embeddings.create({ model: 'tiny-p32', input, encoding_format: 'float' }), items,
    'multimodal, float');
});

test('errors come back as the SDK\'s typed errors', async () => {
  await assert.rejects(client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found');
  await assert.rejects(client.embeddings.create({ model: 'tiny-p32',
    input: [{ text: 'ok' }, { image: 'https://example.com/cat.jpg' }] }),
  (e) => e instanceof OpenAI.BadRequestError && /input\[1\]: image URLs are not fetched/.test(e.message));
  await assert.rejects(client.embeddings.create({ model: 'tiny-p32', input: ['ok', ''] }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'invalid_text' && /input\[1\]/.test(e.message));
  // Still serving.
  const res = await client.embeddings.create({ model: 'tiny-p32', input: 'a photo of a cat' });
  check(res, [['text', 'a photo of a cat']], 'after the errors');
});
