// harness.js - starts `vitrine serve` for one test file and puts a recording
// proxy in front of it.
//
// Every suite talks to the proxy, never to vitrine directly: the proxy
// forwards each request unchanged, buffers the answer and appends
// {file, method, path, query, status, content_type, body} to the JSONL file
// named by QDRANT_RECORD (when set). validate_schema.py then checks each
// recorded answer against the OpenAPI document, so the schema check covers
// exactly what the suites saw, including error answers to raw requests.
//
// A request that deliberately goes to a route the OpenAPI document does not
// list (an unknown path, a wrong method) carries the header
// `x-test-unlisted: 1`; the proxy strips it and marks the record, so the
// validator does not count it as an undocumented route.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, appendFileSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve, basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QdrantClient } from '@qdrant/js-client-rest';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '..', '..', '..');
const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 10000;

function recordLine(rec) {
    const file = process.env.QDRANT_RECORD;
    if (!file) return;
    appendFileSync(file, JSON.stringify(rec) + '\n');
}

// Decodes a response body for the record: JSON when it parses, text for
// text/*, otherwise only its length (snapshot downloads are binary).
function decodeBody(contentType, buf) {
    const ct = (contentType || '').toLowerCase();
    if (buf.length === 0) return { kind: 'empty', body: null };
    if (ct.includes('json')) {
        try {
            return { kind: 'json', body: JSON.parse(buf.toString('utf8')) };
        } catch {
            return { kind: 'invalid-json', body: buf.toString('utf8').slice(0, 2000) };
        }
    }
    if (ct.startsWith('text/')) return { kind: 'text', body: buf.toString('utf8').slice(0, 2000) };
    return { kind: 'binary', body: null, length: buf.length };
}

function startProxy(targetPort, testFile) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const server = http.createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const body = Buffer.concat(chunks);
            const headers = { ...req.headers };
            const unlisted = headers['x-test-unlisted'] === '1';
            delete headers['x-test-unlisted'];
            delete headers['transfer-encoding'];
            if (body.length > 0 || 'content-length' in req.headers) {
                headers['content-length'] = String(body.length);
            }
            const up = http.request(
                { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers, agent },
                (ures) => {
                    const rchunks = [];
                    ures.on('data', (c) => rchunks.push(c));
                    ures.on('end', () => {
                        const rbody = Buffer.concat(rchunks);
                        const url = new URL(req.url, 'http://x');
                        const ct = ures.headers['content-type'] || '';
                        const dec = decodeBody(ct, rbody);
                        recordLine({
                            file: testFile,
                            method: req.method,
                            path: url.pathname,
                            query: url.search,
                            status: ures.statusCode,
                            content_type: ct,
                            kind: dec.kind,
                            body: dec.body,
                            length: rbody.length,
                            unlisted,
                        });
                        const out = { ...ures.headers };
                        delete out['transfer-encoding'];
                        delete out['connection'];
                        delete out['keep-alive'];
                        if (req.method !== 'HEAD') out['content-length'] = String(rbody.length);
                        res.writeHead(ures.statusCode, out);
                        res.end(req.method === 'HEAD' ? undefined : rbody);
                    });
                    ures.on('error', (e) => {
                        res.writeHead(502, { 'content-type': 'text/plain' });
                        res.end('proxy: upstream response error: ' + e.message);
                    });
                },
            );
            up.on('error', (e) => {
                res.writeHead(502, { 'content-type': 'text/plain' });
                res.end('proxy: upstream error: ' + e.message);
            });
            up.end(body);
        });
    });
    return new Promise((ok, fail) => {
        server.on('error', fail);
        server.listen(0, '127.0.0.1', () => ok({ server, agent, port: server.address().port }));
    });
}

// Starts vitrine on a free port with a fresh data folder and no weights
// (a pure vector database, as tests/e2e/serve.sh runs it), then the proxy.
// Returns { base, direct, work, dataDir, client, log(), stop() }.
export async function startVitrine(testFileUrl) {
    const testFile = testFileUrl ? basename(fileURLToPath(testFileUrl)) : 'unknown';
    const bin = process.env.VITRINE_BIN || join(REPO_ROOT, 'vitrine');
    const work = mkdtempSync(join(tmpdir(), 'vitrine-qdrant-'));
    const dataDir = join(work, 'data');
    let log = '';
    const child = spawn(
        bin,
        ['serve', '--port', '0', '--data', dataDir, '--weights', join(work, 'no-weights')],
        { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout.on('data', (d) => { log += d; });
    child.stderr.on('data', (d) => { log += d; });
    let exited = null;
    const exitPromise = new Promise((ok) => child.on('exit', (code, sig) => { exited = { code, sig }; ok(exited); }));
    child.on('error', (e) => { log += `spawn error: ${e.message}\n`; exited = { code: -1 }; });

    const port = await new Promise((ok, fail) => {
        const started = Date.now();
        const poll = () => {
            const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
            if (m) return ok(Number(m[1]));
            if (exited) return fail(new Error(`vitrine exited before listening (${JSON.stringify(exited)}):\n${log}`));
            if (Date.now() - started > START_TIMEOUT_MS) {
                return fail(new Error(`no 'listening on' line within ${START_TIMEOUT_MS} ms:\n${log}`));
            }
            setTimeout(poll, 20);
        };
        poll();
    });
    const proxy = await startProxy(port, testFile);
    const base = `http://127.0.0.1:${proxy.port}`;
    const client = new QdrantClient({ url: base, checkCompatibility: false, timeout: 30000 });

    // Stops the proxy and the server. A server that died on its own before
    // (a crash under some request), or that does not exit 0 on SIGTERM (a
    // sanitizer report at exit, a hang), fails the suite with its log.
    async function stop() {
        proxy.server.closeAllConnections?.();
        await new Promise((ok) => proxy.server.close(() => ok()));
        proxy.agent.destroy();
        const diedEarly = exited;
        let hung = false;
        if (!exited) {
            child.kill('SIGTERM');
            const t = setTimeout(() => { hung = true; child.kill('SIGKILL'); }, STOP_TIMEOUT_MS);
            await exitPromise;
            clearTimeout(t);
        }
        if (!process.env.QDRANT_KEEP_WORK) rmSync(work, { recursive: true, force: true });
        const tail = log.split('\n').slice(-60).join('\n');
        if (diedEarly) throw new Error(`vitrine died during the suite (${JSON.stringify(diedEarly)}); log tail:\n${tail}`);
        if (hung) throw new Error(`vitrine did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM; log tail:\n${tail}`);
        if (exited.code !== 0) throw new Error(`vitrine exited with ${JSON.stringify(exited)} after SIGTERM; log tail:\n${tail}`);
    }
    return { base, direct: `http://127.0.0.1:${port}`, work, dataDir, client, log: () => log, stop, child };
}

// One raw HTTP exchange through the proxy (or any base). body: an object
// (sent as JSON), a string or Buffer (sent as is), or undefined. Returns
// { status, headers, text, json } with json undefined when it does not parse.
export async function raw(base, method, path, body, { headers = {}, unlisted = false } = {}) {
    const h = { ...headers };
    let payload;
    if (body !== undefined) {
        if (typeof body === 'string' || Buffer.isBuffer(body)) payload = body;
        else payload = JSON.stringify(body);
        if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
    }
    if (unlisted) h['x-test-unlisted'] = '1';
    const res = await fetch(base + path, { method, headers: h, body: payload });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
}

// Finds a file by name anywhere under dir (snapshot files live wherever
// vitrine keeps them; the tests locate them instead of assuming a layout).
export function findFile(dir, name) {
    let entries;
    try { entries = readdirSync(dir); } catch { return null; }
    for (const e of entries) {
        const p = join(dir, e);
        let st;
        try { st = statSync(p); } catch { continue; }
        if (st.isDirectory()) {
            const r = findFile(p, name);
            if (r) return r;
        } else if (e === name) {
            return p;
        }
    }
    return null;
}

// Unique collection names per test, so a failure in one test does not leak
// state into the next.
let counter = 0;
export function uniqueName(prefix = 'c') {
    counter += 1;
    return `${prefix}_${process.pid}_${counter}`;
}
