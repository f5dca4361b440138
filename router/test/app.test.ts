/**
 * The HTTP app around the CRUD: routing (404/405), request ids, the invoke route (raw bytes to
 * the Invoker, answer passed through, input checks), error mapping (deliberate vs unexpected),
 * the workers routes, /healthz and /metrics.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RfError } from '../../errors/index.ts';
import { MemoryArtifactStore, MemoryFunctionStore } from '../../storage/index.ts';
import { StorageErrors } from '../../storage/errors.ts';
import { call, jsonInit, startTestApp, type TestApp } from './app-harness.ts';

describe('router app', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ stores: { functions: new MemoryFunctionStore(), artifacts: new MemoryArtifactStore() } });
  });
  after(() => app.close());

  test('GET /healthz answers ok', async () => {
    const res = await call(`${app.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { ok: true, routerId: 'router-test' });
  });

  test('an unknown route answers 404 RF_ROUTER_ROUTE_NOT_FOUND, a wrong method 405 with Allow', async () => {
    const missing = await call(`${app.url}/nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'RF_ROUTER_ROUTE_NOT_FOUND');
    const wrong = await call(`${app.url}/functions`, { method: 'DELETE' });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.body.error.code, 'RF_ROUTER_METHOD_NOT_ALLOWED');
    assert.equal(wrong.headers.get('allow'), 'POST, GET');
    const wrongInvoke = await call(`${app.url}/functions/abc/invoke`);
    assert.equal(wrongInvoke.status, 405);
  });

  test('x-request-id: a sane client id is kept, anything else replaced by a fresh one', async () => {
    const kept = await fetch(`${app.url}/healthz`, { headers: { 'x-request-id': 'client-req.42' } });
    assert.equal(kept.headers.get('x-request-id'), 'client-req.42');
    const replaced = await fetch(`${app.url}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } });
    const replacedId = replaced.headers.get('x-request-id') ?? '';
    assert.match(replacedId, /^[A-Za-z0-9_-]{8}-[0-9a-z]+$/);
    const fresh = await fetch(`${app.url}/healthz`);
    const freshId = fresh.headers.get('x-request-id') ?? '';
    assert.match(freshId, /^[A-Za-z0-9_-]{8}-[0-9a-z]+$/);
    assert.notEqual(freshId, replacedId);
    assert.match(app.logText(), /"reqId":"client-req\.42"/);
  });

  test('invoke passes the raw input bytes and answers what the invoker answered', async () => {
    const raw = '{ "a" : [1, 2,  3],\n "b": "é" }';
    const res = await fetch(`${app.url}/functions/fn123/invoke`, { method: 'POST', body: raw, headers: { 'x-request-id': 'inv-1' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-ringfaas-worker'), 'echo');
    assert.equal(res.headers.get('x-request-id'), 'inv-1');
    const body = (await res.json()) as { output: { functionId: string; input: unknown } };
    assert.equal(body.output.functionId, 'fn123');
    const last = app.invoker.calls.at(-1);
    assert.equal(last?.input.toString('utf8'), raw);
    assert.equal(last?.requestId, 'inv-1');
  });

  test('invoke with an empty body sends {}', async () => {
    await fetch(`${app.url}/functions/fn123/invoke`, { method: 'POST' });
    assert.equal(app.invoker.calls.at(-1)?.input.toString('utf8'), '{}');
  });

  test('invoke answers from the worker are passed through, status, headers and body as they are', async () => {
    const saved = app.invoker.answer;
    // An Invoker's headers are the client's already (router/invoker.ts): the app adds the length only.
    app.invoker.answer = async () => ({
      status: 500,
      headers: { 'content-type': 'application/json', 'x-ringfaas-worker': 'w-7' },
      body: '{"error":{"code":"RF_FUNCTION_ERROR","message":"boom"}}',
    });
    try {
      const res = await call(`${app.url}/functions/fn123/invoke`, jsonInit('POST', {}));
      assert.equal(res.status, 500);
      assert.equal(res.headers.get('x-ringfaas-worker'), 'w-7');
      assert.deepEqual(res.body, { error: { code: 'RF_FUNCTION_ERROR', message: 'boom' } });
    } finally {
      app.invoker.answer = saved;
    }
  });

  test('invoke with malformed JSON answers 400 RF_ROUTER_BAD_JSON without invoking', async () => {
    const before = app.invoker.calls.length;
    const res = await call(`${app.url}/functions/fn123/invoke`, { method: 'POST', body: '{"a":' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'RF_ROUTER_BAD_JSON');
    assert.equal(app.invoker.calls.length, before);
  });

  test('invoke input over 6 MB answers 413 RF_ROUTER_BODY_TOO_LARGE without invoking; 6 MB exactly passes', async () => {
    const before = app.invoker.calls.length;
    const over = `"${'x'.repeat(6 * 1024 * 1024 - 1)}"`; // 6 MB + 1
    const res = await call(`${app.url}/functions/fn123/invoke`, { method: 'POST', body: over });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'RF_ROUTER_BODY_TOO_LARGE');
    assert.equal(app.invoker.calls.length, before);
    const exact = `"${'x'.repeat(6 * 1024 * 1024 - 2)}"`;
    const ok = await fetch(`${app.url}/functions/fn123/invoke`, { method: 'POST', body: exact });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    assert.equal(app.invoker.calls.length, before + 1);
  });

  test('deliberate errors (ring, storage outage) are answered as they are', async () => {
    const saved = app.invoker.answer;
    try {
      app.invoker.answer = async () => {
        throw new RfError({ code: 'RF_RING_EMPTY', status: 503 }, 'no worker is on the ring');
      };
      const ring = await call(`${app.url}/functions/fn123/invoke`, jsonInit('POST', {}));
      assert.equal(ring.status, 503);
      assert.deepEqual(ring.body, { error: { code: 'RF_RING_EMPTY', message: 'no worker is on the ring' } });
      app.invoker.answer = async () => {
        throw new RfError(StorageErrors.UNAVAILABLE, 'storage did not answer within 5000 ms');
      };
      const storage = await call(`${app.url}/functions/fn123/invoke`, jsonInit('POST', {}));
      assert.equal(storage.status, 503);
      assert.equal(storage.body.error.code, 'RF_STORAGE_UNAVAILABLE');
    } finally {
      app.invoker.answer = saved;
    }
  });

  test('an unexpected error answers a generic 500 RF_ROUTER_INTERNAL and is logged in full', async () => {
    const saved = app.invoker.answer;
    app.invoker.answer = async () => {
      throw new Error('secret internal detail at /srv/x');
    };
    try {
      const res = await call(`${app.url}/functions/fn123/invoke`, { method: 'POST', body: '{}', headers: { 'x-request-id': 'boom-1' } });
      assert.equal(res.status, 500);
      assert.equal(res.body.error.code, 'RF_ROUTER_INTERNAL');
      assert.doesNotMatch(res.body.error.message, /secret/);
      assert.match(res.body.error.message, /boom-1/);
      const line = app.logText().split('\n').find((l) => l.includes('"reqId":"boom-1"') && l.includes('request failed'));
      assert.ok(line, 'the failure was not logged');
      assert.match(line, /secret internal detail/);
      assert.match(line, /"stack"/);
    } finally {
      app.invoker.answer = saved;
    }
  });

  test('workers routes go to the WorkersApi', async () => {
    const added = await call(`${app.url}/workers`, jsonInit('POST', { id: 'w1', address: 'http://127.0.0.1:1' }));
    assert.equal(added.status, 201);
    const list = await call(`${app.url}/workers`);
    assert.deepEqual(list.body, { workers: [{ id: 'w1', address: 'http://127.0.0.1:1' }] });
    const removed = await call(`${app.url}/workers/w1`, { method: 'DELETE' });
    assert.equal(removed.status, 202);
    assert.deepEqual(removed.body, { id: 'w1', state: 'draining' });
    const bad = await call(`${app.url}/workers`, { method: 'POST', body: 'nope' });
    assert.equal(bad.body.error.code, 'RF_ROUTER_BAD_JSON');
  });

  test('GET /metrics has request counts and latency histograms by route template and status', async () => {
    await call(`${app.url}/functions/someid`);
    const res = await fetch(`${app.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    assert.match(text, /ringfaas_router_http_requests_total\{method="GET",route="\/functions\/\{id\}",status="404"\} 1/);
    assert.match(text, /ringfaas_router_http_requests_total\{method="POST",route="\/functions\/\{id\}\/invoke",status="200"\} \d+/);
    assert.match(text, /ringfaas_router_http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/healthz",status="200"\}/);
    assert.match(text, /route="unmatched",status="404"/);
    assert.doesNotMatch(text, /route="\/functions\/someid"/);
  });
});
