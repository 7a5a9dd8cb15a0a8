// vitrine's web page: a client of the server's public HTTP API, nothing
// else. Collections and their counts come from Qdrant's routes
// (GET /collections, GET /collections/{c}); searching, thumbnails and
// classification from vitrine's /v1 routes (docs/http-api.md). Every error
// the API answers is shown with its message, never swallowed.
'use strict';

(function () {
  const PAGE_SIZE = 24;

  const $ = (id) => document.getElementById(id);
  const el = {
    modelStatus: $('model-status'),
    collection: $('collection'),
    collectionNote: $('collection-note'),
    textForm: $('text-form'),
    q: $('q'),
    photo: $('photo'),
    previewRow: $('preview-row'),
    preview: $('preview'),
    previewName: $('preview-name'),
    filterKey: $('filter-key'),
    filterValue: $('filter-value'),
    using: $('using'),
    classifyForm: $('classify-form'),
    labels: $('labels'),
    classes: $('classes'),
    error: $('error'),
    status: $('status'),
    resultsHeading: $('results-heading'),
    results: $('results'),
    more: $('more'),
    keyForm: $('key-form'),
    apiKey: $('api-key'),
  };

  // A server started with --api-key wants the key on every API call
  // (the page itself is open). It is kept for this tab only.
  const KEY_STORE = 'vitrine.api-key';

  // What is on screen: the query that produced the results (so "Show
  // more" asks for the next page of the same search), the photo chosen
  // last (searched with and classified), and a counter so an answer that
  // arrives after a newer request was sent is dropped.
  const state = {
    collections: new Map(), // name -> {count, searchable}
    query: null, // {body: search body without limit / offset, label}
    offset: 0,
    photo: null, // {dataUrl, name, objectUrl}
    seq: 0,
    apiKey: sessionStorage.getItem(KEY_STORE) || '',
    thumbUrls: [], // object URLs of thumbnails fetched with the key
  };

  // ---- talking to the API ----

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // api sends a request and returns the parsed JSON answer, or throws an
  // ApiError carrying the server's own message: Qdrant's envelope
  // {"status": {"error"}} and OpenAI's {"error": {"message"}} both occur.
  async function api(method, path, body) {
    const init = { method, headers: { Accept: 'application/json' } };
    if (state.apiKey) init.headers['api-key'] = state.apiKey;
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, `cannot reach the server (${e.message})`);
    }
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      let msg = '';
      if (data && data.status && typeof data.status.error === 'string') msg = data.status.error;
      else if (data && data.error && typeof data.error.message === 'string') msg = data.error.message;
      else msg = text.trim().slice(0, 500) || res.statusText;
      if (res.status === 401) {
        askForKey();
        msg += state.apiKey ? ': the API key given is not accepted, type it again above'
          : ': this server needs an API key, type it above';
      }
      throw new ApiError(res.status, msg);
    }
    if (data === null) throw new ApiError(res.status, `${method} ${path}: the answer is not JSON`);
    return data;
  }

  const enc = encodeURIComponent;

  function describe(err) {
    if (err instanceof ApiError && err.status) return `The server answered ${err.status}: ${err.message}`;
    return err && err.message ? err.message : String(err);
  }

  // ---- messages ----

  function showError(err) {
    el.error.textContent = typeof err === 'string' ? err : describe(err);
    el.error.hidden = false;
  }

  function clearError() {
    el.error.hidden = true;
    el.error.textContent = '';
  }

  function setStatus(text) {
    el.status.textContent = text;
  }

  function askForKey() {
    if (!el.keyForm.hidden) return;
    el.keyForm.hidden = false;
    el.apiKey.focus();
  }

  // ---- the model ----

  // checkModel asks GET /v1/models once: without weights it answers 503
  // with the message that says how to install them, shown as a banner
  // (Qdrant's routes, and so browsing the collections, still work).
  async function checkModel() {
    try {
      const r = await api('GET', '/v1/models');
      const names = (r.data || []).map((m) => m.id);
      el.modelStatus.hidden = true;
      return names;
    } catch (err) {
      // Without the key the model is unknown yet: the key form says why.
      if (err.status === 401) {
        el.modelStatus.hidden = true;
        return null;
      }
      el.modelStatus.textContent = err.status === 503
        ? `No model is loaded: searching and classifying need one. The server says: ${err.message}`
        : `Cannot read the model list: ${describe(err)}`;
      el.modelStatus.hidden = false;
      return null;
    }
  }

  // ---- collections ----

  function collectionLabel(name, info) {
    if (!info) return name;
    const n = info.count;
    let label = `${name} (${n === 1 ? '1 item' : `${n} items`})`;
    if (!info.searchable) label += ', not searchable here';
    return label;
  }

  // A collection is searchable by this page when it has the named vectors
  // that /v1 search reads ("image" and / or "text"), as collections made
  // by PUT /v1/collections/{c}/items do.
  function searchableVectors(config) {
    const vectors = config && config.params && config.params.vectors;
    if (!vectors || typeof vectors !== 'object' || 'size' in vectors) return [];
    return ['image', 'text'].filter((k) => k in vectors);
  }

  async function loadCollections() {
    const wanted = new URLSearchParams(location.search).get('collection');
    let list;
    try {
      list = (await api('GET', '/collections')).result.collections.map((c) => c.name);
    } catch (err) {
      el.collection.replaceChildren(new Option('(unavailable)', ''));
      showError(`Cannot list the collections. ${describe(err)}`);
      return;
    }
    list.sort();
    state.collections.clear();
    // Counts in parallel: one GET per collection.
    const infos = await Promise.all(list.map(async (name) => {
      try {
        const r = (await api('GET', `/collections/${enc(name)}`)).result;
        const vecs = searchableVectors(r.config);
        return { count: r.points_count || 0, searchable: vecs.length > 0, vectors: vecs };
      } catch (err) {
        showError(`Cannot read the collection "${name}". ${describe(err)}`);
        return null;
      }
    }));
    el.collection.replaceChildren();
    if (list.length === 0) {
      el.collection.append(new Option('(no collections yet)', ''));
      el.collectionNote.textContent = 'There are no collections yet. Add products with '
        + 'PUT /v1/collections/{name}/items (an image, a text and a payload each; '
        + 'see the HTTP API documentation), then reload this page.';
      return;
    }
    list.forEach((name, i) => {
      if (infos[i]) state.collections.set(name, infos[i]);
      el.collection.append(new Option(collectionLabel(name, infos[i]), name));
    });
    let pick = list.includes(wanted) ? wanted : null;
    if (!pick) pick = list.find((n) => state.collections.get(n) && state.collections.get(n).searchable && state.collections.get(n).count > 0) || list[0];
    el.collection.value = pick;
    noteCollection();
  }

  // noteCollection explains the chosen collection when it cannot give
  // results: empty, or without the vectors /v1 search uses.
  function noteCollection() {
    const name = el.collection.value;
    const info = state.collections.get(name);
    let note = '';
    if (info && info.count === 0) {
      note = `The collection "${name}" is empty: add products with PUT /v1/collections/${name}/items, then reload.`;
    } else if (info && !info.searchable) {
      note = `"${name}" has no "image" or "text" named vectors, which this page searches; `
        + 'collections made by PUT /v1/collections/{name}/items have them.';
    }
    el.collectionNote.textContent = note;
    const params = new URLSearchParams(location.search);
    if (name) params.set('collection', name);
    history.replaceState(null, '', `${location.pathname}?${params}`);
  }

  // ---- filter ----

  // filterValue reads the typed value as Qdrant's match value: an integer,
  // true / false, or text ("..." forces text).
  function filterValue(raw) {
    const v = raw.trim();
    if (/^".*"$/.test(v)) return v.slice(1, -1);
    if (/^-?\d+$/.test(v) && Number.isSafeInteger(Number(v))) return Number(v);
    if (v === 'true') return true;
    if (v === 'false') return false;
    return v;
  }

  function currentFilter() {
    const key = el.filterKey.value.trim();
    const raw = el.filterValue.value;
    if (!key && !raw.trim()) return null;
    if (!key) throw new Error('The filter has a value but no payload key: type the key too, or clear the value.');
    if (!raw.trim()) throw new Error(`The filter on "${key}" has no value: type one, or clear the key.`);
    return { must: [{ key, match: { value: filterValue(raw) } }] };
  }

  // ---- search ----

  function itemTitle(hit) {
    const p = hit.payload || {};
    for (const k of ['title', 'name']) {
      if (typeof p[k] === 'string' && p[k].trim()) return p[k].trim();
    }
    return null;
  }

  function formatPrice(p) {
    const price = p.price;
    if (price === undefined || price === null || price === '') return null;
    if (typeof price === 'number') {
      const cur = typeof p.currency === 'string' && /^[A-Za-z]{3}$/.test(p.currency) ? p.currency.toUpperCase() : null;
      try {
        return cur
          ? new Intl.NumberFormat(undefined, { style: 'currency', currency: cur }).format(price)
          : new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(price);
      } catch (e) {
        return String(price);
      }
    }
    return String(price);
  }

  function thumbnailUrl(collection, id) {
    return `/v1/collections/${enc(collection)}/items/${enc(String(id))}/thumbnail`;
  }

  // setThumbnail points img at a thumbnail. An <img> cannot send the API
  // key, so with a key the bytes are fetched with it and shown from an
  // object URL (freed when the results are replaced).
  function setThumbnail(img, url) {
    if (!state.apiKey) {
      img.src = url;
      return;
    }
    fetch(url, { headers: { 'api-key': state.apiKey } })
      .then((res) => (res.ok ? res.blob() : Promise.reject(new Error(`HTTP ${res.status}`))))
      .then((blob) => {
        const u = URL.createObjectURL(blob);
        state.thumbUrls.push(u);
        img.src = u;
      })
      .catch(() => img.dispatchEvent(new Event('error')));
  }

  function clearResults() {
    el.results.replaceChildren();
    for (const u of state.thumbUrls) URL.revokeObjectURL(u);
    state.thumbUrls = [];
  }

  function renderHit(collection, hit) {
    const li = document.createElement('li');
    li.className = 'card';
    const title = itemTitle(hit);
    const name = title || `Item ${hit.id}`;

    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'hit';
    button.dataset.id = String(hit.id);
    const img = document.createElement('img');
    img.alt = name;
    img.width = 256;
    img.height = 256;
    img.decoding = 'async';
    // Points written through Qdrant's routes have no thumbnail (404): a
    // text placeholder takes the image's place.
    img.addEventListener('error', () => {
      const span = document.createElement('span');
      span.className = 'nophoto';
      span.textContent = 'no photo';
      img.replaceWith(span);
    }, { once: true });
    setThumbnail(img, thumbnailUrl(collection, hit.id));
    const sr = document.createElement('span');
    sr.className = 'visually-hidden';
    sr.textContent = `: show items like ${name}`;
    button.append(img, sr);
    button.addEventListener('click', () => moreLikeThis(hit.id, name));

    const meta = document.createElement('div');
    meta.className = 'meta';
    const t = document.createElement('span');
    t.className = 'title';
    t.textContent = name;
    meta.append(t);
    const price = formatPrice(hit.payload || {});
    if (price !== null) {
      const p = document.createElement('span');
      p.className = 'price';
      p.textContent = price;
      meta.append(p);
    }
    const s = document.createElement('span');
    s.className = 'score';
    s.textContent = `score ${typeof hit.score === 'number' ? hit.score.toFixed(3) : hit.score}`;
    meta.append(s);

    li.append(button, meta);
    return li;
  }

  // search runs the query q ({text} | {image} | {id}) on the chosen
  // collection; more = 1 appends the next page to what is shown.
  async function search(q, label, more) {
    clearError();
    const collection = el.collection.value;
    if (!collection) {
      showError('Choose a collection first (there is none yet: add products with PUT /v1/collections/{name}/items).');
      return;
    }
    let filter;
    try {
      filter = currentFilter();
    } catch (err) {
      showError(err.message);
      return;
    }
    if (!more) {
      state.query = { q, label, filter, using: el.using.value, collection };
      state.offset = 0;
    }
    const query = state.query;
    const body = Object.assign({}, query.q, { using: query.using, limit: PAGE_SIZE, offset: state.offset, with_payload: true });
    if (query.filter) body.filter = query.filter;
    const seq = ++state.seq;
    setStatus(`Searching ${query.label}…`);
    el.results.setAttribute('aria-busy', 'true');
    let hits;
    try {
      hits = (await api('POST', `/v1/collections/${enc(query.collection)}/search`, body)).result;
    } catch (err) {
      if (seq !== state.seq) return;
      el.results.removeAttribute('aria-busy');
      setStatus('');
      showError(err);
      return;
    } finally {
      if (seq === state.seq) el.results.removeAttribute('aria-busy');
    }
    if (seq !== state.seq) return;
    if (!more) clearResults();
    for (const hit of hits) el.results.append(renderHit(query.collection, hit));
    state.offset += hits.length;
    el.more.hidden = hits.length < PAGE_SIZE;
    const shown = el.results.children.length;
    if (shown === 0) {
      const info = state.collections.get(query.collection);
      if (info && info.count === 0) setStatus(`No results: the collection "${query.collection}" is empty.`);
      else setStatus(`No results for ${query.label}${query.filter ? ' with this filter' : ''}.`);
    } else {
      setStatus(`${shown} result${shown === 1 ? '' : 's'} for ${query.label}${query.filter ? ', filtered' : ''}.`);
    }
  }

  function moreLikeThis(id, name) {
    search({ id }, `items like "${name}"`, false).then(() => {
      // Keyboard and screen-reader users land on the new results.
      el.resultsHeading.focus();
    });
  }

  // ---- photos: file input, drop, paste ----

  function readAsDataUrl(file) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => resolve(r.result);
      r.onerror = () => reject(new Error(`Cannot read ${file.name || 'the photo'}: ${r.error && r.error.message}`));
      r.readAsDataURL(file);
    });
  }

  async function usePhoto(file, how) {
    clearError();
    if (!file) return;
    if (file.type && !file.type.startsWith('image/')) {
      showError(`${file.name || 'That file'} is not an image (${file.type}).`);
      return;
    }
    let dataUrl;
    try {
      dataUrl = await readAsDataUrl(file);
    } catch (err) {
      showError(err.message);
      return;
    }
    if (state.photo && state.photo.objectUrl) URL.revokeObjectURL(state.photo.objectUrl);
    const objectUrl = URL.createObjectURL(file);
    const name = file.name || `${how} photo`;
    state.photo = { dataUrl, name, objectUrl };
    el.preview.src = objectUrl;
    el.previewName.textContent = name;
    el.previewRow.hidden = false;
    el.classes.replaceChildren();
    // The words typed before are not part of this search: clear them so
    // the box does not suggest otherwise.
    el.q.value = '';
    await search({ image: dataUrl }, `the photo ${name}`, false);
  }

  function firstImage(files) {
    for (const f of files || []) {
      if (!f.type || f.type.startsWith('image/')) return f;
    }
    return files && files.length ? files[0] : null;
  }

  // ---- classify ----

  async function classify() {
    clearError();
    const labels = el.labels.value.split(',').map((s) => s.trim()).filter(Boolean);
    if (!state.photo) {
      showError('Choose, drop or paste a photo first: the labels are scored against it.');
      return;
    }
    if (labels.length === 0) {
      showError('Type at least one label, for example: shoe, dress, handbag.');
      el.labels.focus();
      return;
    }
    setStatus(`Classifying ${state.photo.name}…`);
    let result;
    try {
      result = (await api('POST', '/v1/classify', { image: state.photo.dataUrl, labels })).result;
    } catch (err) {
      setStatus('');
      showError(err);
      return;
    }
    el.classes.replaceChildren();
    for (const r of result) {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = r.label;
      const bar = document.createElement('progress');
      bar.max = 1;
      bar.value = r.score;
      bar.setAttribute('aria-label', r.label);
      const pct = document.createElement('span');
      pct.className = 'pct';
      pct.textContent = `${(r.score * 100).toFixed(1)}%`;
      li.append(name, bar, pct);
      el.classes.append(li);
    }
    setStatus(result.length ? `${state.photo.name} looks most like "${result[0].label}".` : '');
  }

  // ---- wiring ----

  el.textForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = el.q.value.trim();
    if (!text) {
      showError('Type some words to search for, or choose a photo.');
      el.q.focus();
      return;
    }
    const params = new URLSearchParams(location.search);
    params.set('q', text);
    history.replaceState(null, '', `${location.pathname}?${params}`);
    search({ text }, `"${text}"`, false);
  });

  el.photo.addEventListener('change', () => {
    usePhoto(firstImage(el.photo.files), 'chosen');
  });

  el.collection.addEventListener('change', () => {
    noteCollection();
    clearResults();
    el.more.hidden = true;
    setStatus('');
    clearError();
    // The same words or photo in the newly chosen collection; an item id
    // belongs to the collection it came from, so "more like this" is not
    // carried over.
    if (state.query && !('id' in state.query.q)) search(state.query.q, state.query.label, false);
  });

  el.more.addEventListener('click', () => {
    if (state.query) search(state.query.q, state.query.label, true);
  });

  el.classifyForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    classify();
  });

  // A photo dropped anywhere on the page searches with it.
  let dragDepth = 0;
  const hasFiles = (ev) => ev.dataTransfer && Array.from(ev.dataTransfer.types || []).includes('Files');
  document.addEventListener('dragenter', (ev) => {
    if (!hasFiles(ev)) return;
    dragDepth++;
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) document.body.classList.remove('dragging');
  });
  document.addEventListener('dragover', (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = 'copy';
  });
  document.addEventListener('drop', (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    dragDepth = 0;
    document.body.classList.remove('dragging');
    usePhoto(firstImage(ev.dataTransfer.files), 'dropped');
  });

  // A pasted image (a screenshot, a copied photo) searches with it; pasted
  // text goes where it was pasted as usual.
  document.addEventListener('paste', (ev) => {
    const items = (ev.clipboardData && ev.clipboardData.items) || [];
    for (const it of items) {
      if (it.kind === 'file' && it.type.startsWith('image/')) {
        ev.preventDefault();
        usePhoto(it.getAsFile(), 'pasted');
        return;
      }
    }
  });

  el.keyForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.apiKey = el.apiKey.value.trim();
    if (state.apiKey) sessionStorage.setItem(KEY_STORE, state.apiKey);
    else sessionStorage.removeItem(KEY_STORE);
    el.keyForm.hidden = true;
    clearError();
    start();
  });

  async function start() {
    const q = new URLSearchParams(location.search).get('q');
    await Promise.all([checkModel(), loadCollections()]);
    if (q) {
      el.q.value = q;
      if (el.collection.value) search({ text: q }, `"${q}"`, false);
    }
    document.documentElement.dataset.ready = '1';
  }

  start();
})();
