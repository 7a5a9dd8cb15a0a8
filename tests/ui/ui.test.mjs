// ui.test.mjs - vitrine's web page (/ui) in headless Chromium, driven by
// playwright-core; run by tests/e2e/ui.sh, which finds the browser and
// installs the pinned playwright-core.
//
// Server A serves the fixture model with a catalogue of fixture images
// (title, price, category payloads, fixture texts) in "shop" and an empty
// collection "archive". Checked there, with the server's own API answers
// as the reference for every list of results:
//   - GET / from a browser lands on /ui; the picker lists both
//     collections with their item counts and starts on "shop";
//   - a typed query shows the API's results in the API's order, as
//     thumbnails that loaded (naturalWidth > 0), with score, title, price
//     (absent when the payload has none) and alt text = the title;
//   - a photo set on the file input shows that item first with score
//     1.000; the same for a dropped and a pasted photo;
//   - clicking a result, and Enter on a focused one, searches "more like
//     this" (the API's by-id results, the item itself excluded) and moves
//     the focus to the results heading;
//   - the filter field (category = animal) gives the API's filtered
//     results; classify shows the API's labels and scores in order;
//   - keyboard focus order; no horizontal scrolling at phone width;
//   - no console error, page error, failed request or HTTP error at all.
// Then the same data behind --api-key: the page asks for the key (focus on
// its field, the API's 401 message shown), then searches with it and
// shows thumbnails fetched with the key (blob: URLs); its only console
// errors are the browser's notes of the 401 answers before the key.
// Server B has no weights, first no collection and then one empty one:
// the page says how to add a collection, that no model is loaded (the
// API's 503 message), that the collection is empty, and a search shows
// the API's 503 message in the alert; its only console
// errors are the browser's notes of those 503 answers.
// Screenshots (desktop and phone width, and B) go to UI_ARTIFACTS.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BIN = process.env.VITRINE_BIN;
const FIX = process.env.VITRINE_FIXTURES;
const CHROMIUM = process.env.VITRINE_CHROMIUM;
const ART = process.env.UI_ARTIFACTS;
const work = mkdtempSync(join(tmpdir(), 'vitrine-ui-'));
const servers = [];
let browser = null;

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  for (const s of servers) if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}

async function fail(msg) {
  console.log(`ui.sh: FAIL: ${msg}`);
  for (const s of servers) {
    console.log(`--- server ${s.name} log (last lines)`);
    console.log(readFileSync(s.log, 'utf8').split('\n').slice(-15).join('\n'));
  }
  await cleanup();
  process.exit(1);
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

function startServer(name, args, dataName = name) {
  const log = join(work, `${name}.log`);
  const out = createWriteStream(log);
  const proc = spawn(BIN, ['serve', '--port', '0', '--data', join(work, `data-${dataName}`), ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  const s = { name, proc, log, url: null };
  servers.push(s);
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`server ${name} did not start`)), 15000);
    proc.stderr.on('data', (d) => {
      out.write(d);
      text += d;
      const m = text.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m && !s.url) {
        s.url = m[1];
        clearTimeout(timer);
        resolve(s);
      }
    });
    proc.on('exit', (code) => {
      if (!s.url) {
        clearTimeout(timer);
        reject(new Error(`server ${name} exited early (${code})`));
      }
    });
  });
}

async function api(s, method, path, body) {
  const res = await fetch(s.url + path, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let data;
  try {
    data = JSON.parse(text);
  } catch (e) {
    data = text;
  }
  return { status: res.status, data, headers: res.headers };
}

const image = (name) => readFileSync(join(FIX, 'images', name));
const mime = (name) => (name.endsWith('.png') ? 'image/png' : 'image/jpeg');

// The catalogue. Every title differs, so a card names its item.
const CATALOGUE = [
  ['astronaut.png', 'Astronaut portrait print', 24.5, 'poster'],
  ['camera.png', 'Vintage camera', 89, 'electronics'],
  ['chelsea.png', 'Chelsea the cat, framed photo', 12.9, 'animal'],
  ['coffee.png', 'Coffee cup', 7.5, 'kitchen'],
  ['horse.png', 'Horse figurine', 35, 'animal'],
  ['motorcycle_right.png', 'Red motorcycle', 4999, 'vehicle'],
  ['rocket.jpg', 'Rocket model kit', 45, 'toy'],
  ['hubble_deep_field.jpg', 'Deep field poster', 19.99, 'poster'],
  ['logo.png', 'Logo sticker', null, 'sticker'],
  ['page.png', 'Old book page', 5, 'paper'],
  ['color.png', 'Colour chart', 3, 'paper'],
  ['green_palette.png', 'Green palette swatch', 4, 'paper'],
];
const FIXTURE_TEXTS = JSON.parse(readFileSync(join(FIX, 'expected/tiny-p32/outputs.json'), 'utf8'))
  .texts.map((t) => t.text).filter((t) => t.trim());
const ITEMS = CATALOGUE.map(([file, title, price, category], i) => {
  const payload = { title, category };
  if (price !== null) payload.price = price;
  return { id: i + 1, file, title, price, category, text: FIXTURE_TEXTS[i % FIXTURE_TEXTS.length], payload };
});
const byId = new Map(ITEMS.map((it) => [it.id, it]));

// watch records everything that went wrong in a page.
function watch(page) {
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure() && r.failure().errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  return problems;
}

// waitResults waits for the status line to match re and for every
// thumbnail shown to have loaded, then returns the cards.
async function waitResults(page, re, what) {
  try {
    await page.waitForFunction((src) => {
      const st = document.getElementById('status').textContent;
      if (!new RegExp(src).test(st)) return false;
      const imgs = [...document.querySelectorAll('#results img')];
      return imgs.every((i) => i.complete && i.naturalWidth > 0);
    }, re.source, { timeout: 10000 });
  } catch (e) {
    const st = await page.textContent('#status');
    const err = await page.textContent('#error');
    throw new Error(`${what}: status is "${st}", alert "${err}" (waited for ${re})`);
  }
  return page.$$eval('#results .card', (cards) => cards.map((c) => {
    const img = c.querySelector('img');
    return {
      id: c.querySelector('button.hit').dataset.id,
      alt: img ? img.alt : null,
      loaded: img ? img.complete && img.naturalWidth > 0 : false,
      src: img ? img.getAttribute('src') : null,
      title: c.querySelector('.title').textContent,
      price: c.querySelector('.price') ? c.querySelector('.price').textContent : null,
      score: c.querySelector('.score').textContent,
    };
  }));
}

// sameAsApi checks the cards against the API's answer to the same search.
function sameAsApi(cards, hits, what) {
  check(hits.length > 0, `${what}: the API has no results, the test needs some`);
  check(cards.length === hits.length,
    `${what}: the page shows ${cards.length} results, the API answers ${hits.length}`);
  hits.forEach((h, i) => {
    const c = cards[i];
    const it = byId.get(h.id);
    check(c.id === String(h.id), `${what}: result ${i} is item ${c.id}, the API's is ${h.id}`);
    check(c.loaded, `${what}: the thumbnail of item ${c.id} did not load`);
    check(c.src === `/v1/collections/shop/items/${h.id}/thumbnail`, `${what}: thumbnail src ${c.src}`);
    check(c.title === it.title && c.alt === it.title, `${what}: item ${h.id} title "${c.title}", alt "${c.alt}", want "${it.title}"`);
    check(c.score === `score ${h.score.toFixed(3)}`, `${what}: item ${h.id} shows "${c.score}", API score ${h.score}`);
    if (it.price === null) check(c.price === null, `${what}: item ${h.id} has no price but shows "${c.price}"`);
    else check(c.price !== null && c.price.replace(/[^0-9]/g, '') === it.price.toFixed(2).replace(/[^0-9]/g, ''),
      `${what}: item ${h.id} price shown "${c.price}", payload ${it.price}`);
  });
}

async function searchApi(s, body) {
  const r = await api(s, 'POST', '/v1/collections/shop/search', { limit: 24, ...body });
  check(r.status === 200, `API search ${JSON.stringify(body).slice(0, 80)}: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data.result;
}

async function dropOrPaste(page, how, file) {
  const dt = await page.evaluateHandle(({ b64, name, type }) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const d = new DataTransfer();
    d.items.add(new File([bytes], name, { type }));
    return d;
  }, { b64: image(file).toString('base64'), name: file, type: mime(file) });
  if (how === 'drop') {
    await page.dispatchEvent('main', 'dragenter', { dataTransfer: dt });
    await page.dispatchEvent('main', 'dragover', { dataTransfer: dt });
    await page.dispatchEvent('main', 'drop', { dataTransfer: dt });
  } else {
    await page.evaluate((d) => {
      document.getElementById('q').focus();
      document.activeElement.dispatchEvent(new ClipboardEvent('paste', { clipboardData: d, bubbles: true, cancelable: true }));
    }, dt);
  }
}

async function serverA() {
  const s = await startServer('model', ['--weights', join(FIX, 'models/tiny-p32')]);
  const put = await api(s, 'PUT', '/v1/collections/shop/items?wait=true', {
    items: ITEMS.map((it) => ({ id: it.id, image: image(it.file).toString('base64'), text: it.text, payload: it.payload })),
  });
  check(put.status === 200 && put.data.result.items.every((x) => x.status === 'ok'),
    `ingest: ${put.status} ${JSON.stringify(put.data).slice(0, 300)}`);
  const dim = (await api(s, 'GET', '/collections/shop')).data.result.config.params.vectors.image.size;
  const mk = await api(s, 'PUT', '/collections/archive', {
    vectors: { image: { size: dim, distance: 'Cosine' }, text: { size: dim, distance: 'Cosine' } },
  });
  check(mk.status === 200, `create archive: ${mk.status} ${JSON.stringify(mk.data)}`);

  // GET / keeps answering API clients with Qdrant's JSON.
  const root = await api(s, 'GET', '/');
  check(root.status === 200 && root.data.title === 'qdrant - vector search engine', `GET / without Accept: ${root.status} ${JSON.stringify(root.data)}`);

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = watch(page);

  // A browser opening the server's root is sent to the page.
  await page.goto(s.url + '/');
  check(new URL(page.url()).pathname === '/ui', `GET / in a browser ended at ${page.url()}, not /ui`);
  await page.waitForSelector('html[data-ready="1"]');
  const options = await page.$$eval('#collection option', (os) => os.map((o) => [o.value, o.textContent]));
  check(JSON.stringify(options) === JSON.stringify([['archive', 'archive (0 items)'], ['shop', `shop (${ITEMS.length} items)`]]),
    `collection picker: ${JSON.stringify(options)}`);
  check(await page.inputValue('#collection') === 'shop', 'the picker does not start on the non-empty collection');
  check(await page.isHidden('#model-status'), 'the no-model banner shows although a model is loaded');

  // Keyboard: the focus order follows the page.
  const order = [];
  for (let i = 0; i < 7; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => {
      const a = document.activeElement;
      return a.id || `${a.tagName.toLowerCase()}:${a.textContent.trim().slice(0, 20)}`;
    }));
  }
  const wantOrder = ['a:Skip to the results', 'collection', 'q', 'button:Search', 'summary:Filter and options', 'photo', 'labels'];
  check(JSON.stringify(order) === JSON.stringify(wantOrder), `focus order ${JSON.stringify(order)}, want ${JSON.stringify(wantOrder)}`);

  // A typed query.
  const query = 'a red summer dress';
  await page.fill('#q', query);
  await page.press('#q', 'Enter');
  let cards = await waitResults(page, /results for "a red summer dress"/, 'text search');
  sameAsApi(cards, await searchApi(s, { text: query }), 'text search');
  check(new URL(page.url()).searchParams.get('q') === query, `the URL does not keep the query: ${page.url()}`);

  // A photo on the file input: that item first, score 1.
  await page.setInputFiles('#photo', join(FIX, 'images', 'chelsea.png'));
  cards = await waitResults(page, /results for the photo chelsea\.png/, 'photo search');
  sameAsApi(cards, await searchApi(s, { image: image('chelsea.png').toString('base64') }), 'photo search');
  check(cards[0].title === 'Chelsea the cat, framed photo' && cards[0].score === 'score 1.000',
    `photo search: first is "${cards[0].title}" ${cards[0].score}`);
  check(await page.isVisible('#preview'), 'no preview of the chosen photo');

  // Classify the chosen photo against typed labels.
  await page.fill('#labels', 'cat, dog, motorcycle');
  await page.click('#classify-form button');
  await page.waitForSelector('#classes li');
  const shown = await page.$$eval('#classes li', (ls) => ls.map((l) => [l.children[0].textContent, l.children[2].textContent]));
  const cls = await api(s, 'POST', '/v1/classify', { image: image('chelsea.png').toString('base64'), labels: ['cat', 'dog', 'motorcycle'] });
  check(cls.status === 200, `API classify: ${cls.status}`);
  const want = cls.data.result.map((r) => [r.label, `${(r.score * 100).toFixed(1)}%`]);
  check(JSON.stringify(shown) === JSON.stringify(want), `classify shows ${JSON.stringify(shown)}, the API ${JSON.stringify(want)}`);
  await page.screenshot({ path: join(ART, 'desktop.png'), fullPage: true });

  // Click a result: more like this.
  const second = cards[1];
  await page.click(`#results button.hit[data-id="${second.id}"]`);
  cards = await waitResults(page, /results for items like/, 'more like this (click)');
  sameAsApi(cards, await searchApi(s, { id: Number(second.id) }), 'more like this (click)');
  check(!cards.some((c) => c.id === second.id), 'more like this lists the item itself');
  check(await page.evaluate(() => document.activeElement.id) === 'results-heading', 'the focus did not move to the results');

  // The same by keyboard: Enter on a focused result.
  const third = cards[2];
  await page.focus(`#results button.hit[data-id="${third.id}"]`);
  await page.keyboard.press('Enter');
  cards = await waitResults(page, new RegExp(`results for items like "${byId.get(Number(third.id)).title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`), 'more like this (Enter)');
  sameAsApi(cards, await searchApi(s, { id: Number(third.id) }), 'more like this (Enter)');

  // The filter field: category = animal.
  await page.click('#options summary');
  await page.fill('#filter-key', 'category');
  await page.fill('#filter-value', 'animal');
  await page.fill('#q', 'a photo of a cat');
  await page.press('#q', 'Enter');
  cards = await waitResults(page, /results for "a photo of a cat", filtered/, 'filtered search');
  sameAsApi(cards, await searchApi(s, { text: 'a photo of a cat', filter: { must: [{ key: 'category', match: { value: 'animal' } }] } }), 'filtered search');
  check(cards.length === 2, `filtered search: ${cards.length} results, the catalogue has 2 animals`);
  await page.fill('#filter-key', '');
  await page.fill('#filter-value', '');

  // A dropped photo, then a pasted one.
  await dropOrPaste(page, 'drop', 'rocket.jpg');
  cards = await waitResults(page, /results for the photo rocket\.jpg/, 'dropped photo');
  check(cards[0].title === 'Rocket model kit' && cards[0].score === 'score 1.000', `dropped photo: first is "${cards[0].title}" ${cards[0].score}`);
  await dropOrPaste(page, 'paste', 'horse.png');
  cards = await waitResults(page, /results for the photo horse\.png/, 'pasted photo');
  check(cards[0].title === 'Horse figurine' && cards[0].score === 'score 1.000', `pasted photo: first is "${cards[0].title}" ${cards[0].score}`);

  // The empty collection says so.
  await page.selectOption('#collection', 'archive');
  const note = await page.textContent('#collection-note');
  check(/is empty/.test(note), `empty collection note: "${note}"`);
  await waitResults(page, /No results: the collection "archive" is empty/, 'search in the empty collection');

  check(problems.length === 0, `desktop page: ${problems.join('; ')}`);
  await context.close();

  // Phone width: the same page, one column, no horizontal scrolling.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  const ppage = await phone.newPage();
  const pproblems = watch(ppage);
  await ppage.goto(`${s.url}/ui?collection=shop&q=${encodeURIComponent('a photo of a cat')}`);
  cards = await waitResults(ppage, /results for "a photo of a cat"/, 'phone search');
  sameAsApi(cards, await searchApi(s, { text: 'a photo of a cat' }), 'phone search');
  const overflow = await ppage.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, `phone width: the page is ${overflow} px wider than the screen`);
  await ppage.screenshot({ path: join(ART, 'phone.png'), fullPage: true });
  check(pproblems.length === 0, `phone page: ${pproblems.join('; ')}`);
  await phone.close();

  // The same data behind an API key: the page (open) asks for the key,
  // then sends it, thumbnails included (fetched with it: an <img> cannot).
  s.proc.kill('SIGTERM');
  await new Promise((resolve) => (s.proc.exitCode !== null ? resolve() : s.proc.on('exit', resolve)));
  const k = await startServer('keyed', ['--weights', join(FIX, 'models/tiny-p32'), '--api-key', 'ui-test-key'], 'model');
  const kcontext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const kpage = await kcontext.newPage();
  const kproblems = watch(kpage);
  await kpage.goto(k.url + '/ui');
  await kpage.waitForSelector('#key-form:not([hidden])');
  check(await kpage.evaluate(() => document.activeElement.id) === 'api-key', 'the key field does not get the focus');
  const kerr = await kpage.textContent('#error');
  check(/answered 401: Must provide an API key.*: this server needs an API key, type it above$/.test(kerr), `without the key: alert "${kerr}"`);
  await kpage.fill('#api-key', 'ui-test-key');
  await kpage.press('#api-key', 'Enter');
  await kpage.waitForFunction(() => document.getElementById('collection').value === 'shop');
  check(await kpage.isHidden('#key-form') && await kpage.isHidden('#error'), 'the key form or the alert stays');
  await kpage.fill('#q', query);
  await kpage.press('#q', 'Enter');
  cards = await waitResults(kpage, /results for "a red summer dress"/, 'search with the key');
  check(cards.length > 0 && cards.every((c) => c.loaded && /^blob:/.test(c.src)), `with the key: thumbnails ${JSON.stringify(cards.slice(0, 2))}`);
  const kother = kproblems.filter((p) => !/^console error: Failed to load resource: .* 401/.test(p) && !/^HTTP 401: /.test(p));
  check(kother.length === 0, `page with a key: ${kother.join('; ')}`);
  await kcontext.close();
}

async function serverB() {
  const s = await startServer('nomodel', ['--weights', join(work, 'no-weights')]);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = watch(page);

  // No collection at all yet: the page says how to add one.
  await page.goto(s.url + '/ui');
  await page.waitForSelector('html[data-ready="1"]');
  const none = await page.textContent('#collection-note');
  check(/There are no collections yet\. Add products with PUT \/v1\/collections\/\{name\}\/items/.test(none),
    `no collections: note "${none}"`);

  const mk = await api(s, 'PUT', '/collections/shop', {
    vectors: { image: { size: 64, distance: 'Cosine' }, text: { size: 64, distance: 'Cosine' } },
  });
  check(mk.status === 200, `create shop: ${mk.status}`);
  const r503 = await api(s, 'POST', '/v1/collections/shop/search', { text: 'shoes' });
  check(r503.status === 503, `search without a model: ${r503.status}`);
  const apiMsg = r503.data.status.error;

  await page.reload();
  await page.waitForSelector('html[data-ready="1"]');
  const banner = await page.textContent('#model-status');
  check(await page.isVisible('#model-status') && /^No model is loaded: searching and classifying need one. The server says: no CLIP model is loaded/.test(banner) && /make weights/.test(banner),
    `no-model banner: "${banner}"`);
  check(/is empty/.test(await page.textContent('#collection-note')), 'no empty-collection note');
  await page.fill('#q', 'shoes');
  await page.press('#q', 'Enter');
  await page.waitForSelector('#error:not([hidden])');
  const alert = await page.textContent('#error');
  check(alert === `The server answered 503: ${apiMsg}`, `alert "${alert}", the API said "${apiMsg}"`);
  await page.screenshot({ path: join(ART, 'no-model.png'), fullPage: true });
  // The browser notes each 503 answer in the console; nothing else may go wrong.
  const other = problems.filter((p) => !/^console error: Failed to load resource: .* 503/.test(p) && !/^HTTP 503: /.test(p));
  check(other.length === 0, `no-model page: ${other.join('; ')}`);
  check(problems.some((p) => /^HTTP 503: GET .*\/v1\/models$/.test(p)), 'the page did not ask /v1/models');
  await context.close();
}

try {
  const t0 = Date.now();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container has no user namespace for Chromium's sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  await serverA();
  await serverB();
  console.log(`ui.sh: ok (${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in ${ART})`);
  await cleanup();
} catch (e) {
  await fail(e.message);
}
