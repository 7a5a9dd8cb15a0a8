// expect.js - assertions on Qdrant's wire envelope, shared by the suites.
//
// Envelope and error shapes: lib/api/src/rest/models.rs ApiResponse
// (`result` omitted when None, `status`, `time`), src/actix/helpers.rs
// process_response; error Display prefixes from
// lib/storage/src/content_manager/errors.rs StorageError.

import assert from 'node:assert/strict';

// A successful Qdrant answer: HTTP 200, JSON, {"result", "status": "ok", "time": number}.
export function expectOk(res, what = 'response') {
    assert.equal(res.status, 200, `${what}: HTTP ${res.status}, body ${res.text}`);
    assert.ok(res.json && typeof res.json === 'object', `${what}: body is not JSON: ${res.text}`);
    assert.equal(res.json.status, 'ok', `${what}: status ${JSON.stringify(res.json.status)}`);
    assert.equal(typeof res.json.time, 'number', `${what}: time is not a number`);
    assert.ok('result' in res.json, `${what}: no result`);
    return res.json.result;
}

// A Qdrant error: the HTTP status, a JSON body {"status": {"error": msg},
// "time": number} and the message, compared exactly (string) or by pattern
// (RegExp) where the tail is a serde or library message vitrine cannot be
// expected to copy byte for byte.
export function expectError(res, status, message, what = 'error') {
    assert.equal(res.status, status, `${what}: HTTP ${res.status} (expected ${status}), body ${res.text}`);
    assert.ok(res.json && typeof res.json === 'object', `${what}: body is not JSON: ${res.text}`);
    assert.ok(res.json.status && typeof res.json.status === 'object', `${what}: status is not an object: ${res.text}`);
    const msg = res.json.status.error;
    assert.equal(typeof msg, 'string', `${what}: status.error is not a string: ${res.text}`);
    assert.equal(typeof res.json.time, 'number', `${what}: time is not a number: ${res.text}`);
    // ApiResponse skips `result` when None (skip_serializing_if).
    assert.ok(!('result' in res.json) || res.json.result === null, `${what}: error carries a result: ${res.text}`);
    if (message instanceof RegExp) assert.match(msg, message, what);
    else if (message !== undefined) assert.equal(msg, message, what);
    return msg;
}

// The official client throws ApiError (openapi-typescript-fetch) with
// .status and .data for a non-2xx answer.
export async function expectClientError(promise, status, message) {
    try {
        await promise;
    } catch (e) {
        assert.equal(e.status, status, `client error status ${e.status}, expected ${status}: ${e.message} ${JSON.stringify(e.data)}`);
        if (message !== undefined) {
            const msg = e.data?.status?.error;
            if (message instanceof RegExp) assert.match(msg, message);
            else assert.equal(msg, message);
        }
        return e;
    }
    assert.fail(`expected HTTP ${status}, the call succeeded`);
}
