/**
 * End to end on one machine: a router started by startRouter (the ring wired as in production)
 * and a real worker (startWorker, process runtime) over shared stores. Deploy → invoke → update
 * (the next invocation runs the new version) → a throwing function → delete → 404.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createMemoryStores } from '../../storage/index.ts';
import { ProcessRuntime } from '../../worker/process-runtime.ts';
import { startWorker, type RunningWorker } from '../../worker/index.ts';
import { loadRouterConfig } from '../config.ts';
import { startRouter, type RunningRouter } from '../main.ts';

let stores: ReturnType<typeof createMemoryStores>;
let worker: RunningWorker;
let router: RunningRouter;
let baseDir: string;

async function json(path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${router.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text.length > 0 ? JSON.parse(text) : undefined };
}

before(async () => {
  stores = createMemoryStores();
  baseDir = mkdtempSync(join(tmpdir(), 'ringfaas-e2e-'));
  const quiet = pino({ level: 'silent' });
  worker = await startWorker({
    id: 'e2e-worker-1',
    capacityMb: 1024,
    coldPoolSize: 0,
    runtime: new ProcessRuntime({ baseDir }),
    stores,
    logger: quiet,
    heartbeatMs: 200,
  });
  const config = loadRouterConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'unused-stores-given', RINGFAAS_PORT: '0' }, [], { routerId: 'e2e-router' });
  router = await startRouter({ config, stores, log: quiet, ring: { pollIntervalMs: 100 } });
  for (let i = 0; ; i++) {
    const listing = (await json('/workers')).body as { ringSize: number };
    if (listing.ringSize >= 1) break;
    if (i > 100) throw new Error('the worker never joined the ring');
    await new Promise((r) => setTimeout(r, 50));
  }
});

after(async () => {
  await router?.close();
  await worker?.close();
  await stores?.close();
  rmSync(baseDir, { recursive: true, force: true });
});

test('deploy, invoke, update, invoke the new version, delete', async () => {
  const created = await json('/functions', {
    method: 'POST',
    body: JSON.stringify({ name: 'greeter', memorySize: 128, env: { GREETING: 'hello' }, code: 'module.exports = async (input) => { console.log("called"); return { msg: `${process.env.GREETING} ${input.name}`, v: 1 }; }' }),
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id as string;

  const first = await json(`/functions/${id}/invoke`, { method: 'POST', body: '{"name":"ada"}' });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body.output, { msg: 'hello ada', v: 1 });
  assert.ok(Array.isArray(first.body.logs.lines));
  assert.equal(first.headers.get('x-ringfaas-worker'), 'e2e-worker-1');
  assert.ok(first.headers.get('x-request-id'));
  // Without x-ringfaas-details only the worker's header: the rest is in the body's logs.
  for (const name of ['x-ringfaas-start', 'x-ringfaas-instance', 'x-ringfaas-spills', 'x-ringfaas-router', 'x-ringfaas-load', 'x-ringfaas-idle']) {
    assert.equal(first.headers.get(name), null, name);
  }
  assert.equal(first.body.logs.workerId, 'e2e-worker-1');
  const second = await json(`/functions/${id}/invoke`, { method: 'POST', body: '{"name":"bob"}', headers: { 'x-ringfaas-details': '1' } });
  assert.equal(second.headers.get('x-ringfaas-start'), 'warm');
  assert.equal(second.body.logs.start, 'warm');
  assert.equal(second.headers.get('x-ringfaas-instance'), second.body.logs.instanceId);
  assert.equal(second.headers.get('x-ringfaas-spills'), '0');
  assert.ok(second.headers.get('x-ringfaas-router'));
  assert.equal(second.headers.get('x-ringfaas-load'), null, 'the load report is for routers');

  const updated = await json(`/functions/${id}`, { method: 'PUT', body: JSON.stringify({ code: 'module.exports = (input) => ({ msg: `bye ${input.name}`, v: 2 })' }) });
  assert.equal(updated.status, 200);
  assert.equal(updated.body.version, 2);
  const after = await json(`/functions/${id}/invoke`, { method: 'POST', body: '{"name":"ada"}' });
  assert.equal(after.status, 200, JSON.stringify(after.body));
  assert.deepEqual(after.body.output, { msg: 'bye ada', v: 2 }, 'the invocation right after the update ran the old version');

  const removed = await fetch(`${router.url}/functions/${id}`, { method: 'DELETE' });
  assert.equal(removed.status, 204);
  const gone = await json(`/functions/${id}/invoke`, { method: 'POST', body: '{}' });
  assert.equal(gone.status, 404);
  assert.match(gone.body.error.code, /FUNCTION_NOT_FOUND$/);
});

test('a throwing function answers RF_FUNCTION_ERROR with its message, and the worker keeps serving', async () => {
  const created = await json('/functions', { method: 'POST', body: JSON.stringify({ memorySize: 128, code: 'module.exports = () => { throw new Error("kaput") }' }) });
  const failed = await json(`/functions/${created.body.id}/invoke`, { method: 'POST', body: '{}' });
  assert.equal(failed.body.error.code, 'RF_FUNCTION_ERROR');
  assert.match(failed.body.error.message, /kaput/);
  assert.notEqual(failed.status, 200);
  const ok = await json('/functions', { method: 'POST', body: JSON.stringify({ memorySize: 128, code: 'module.exports = () => 7' }) });
  const res = await json(`/functions/${ok.body.id}/invoke`, { method: 'POST' });
  assert.equal(res.status, 200);
  assert.equal(res.body.output, 7);
});
