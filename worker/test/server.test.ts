/**
 * The worker's HTTP API (contract/protocol.ts) end to end: a real worker from startWorker on
 * port 0, real ProcessRuntime containers, in-memory stores.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { createMemoryStores } from '../../storage/index.ts';
import type { Stores } from '../../storage/types.ts';
import { startWorker, type RunningWorker } from '../start-worker.ts';
import { WorkerHeaders, type InvokeSuccessBody, type WorkerStatus } from '../../contract/index.ts';
import { Code, CountingRuntime, deploy, fnId, quietLogger, testProcessRuntime, until } from './worker-fixtures.ts';

/** Asks for the detail headers (x-ringfaas-instance). */
const DETAILS = { [WorkerHeaders.details]: '1' };

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

async function call(base: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(`${base}${path}`, { method, body, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    // Prometheus text: keep the string
  }
  return { status: res.statusCode, headers: res.headers, body: parsed };
}

describe('worker HTTP server', () => {
  const runtime = new CountingRuntime(testProcessRuntime());
  let stores: Stores;
  let worker: RunningWorker;
  let drainedCalls = 0;
  const invoke = (id: string, body = '{"n":1}', headers: Record<string, string> = {}): Promise<Answer> =>
    call(worker.address, 'POST', `/invoke/${encodeURIComponent(id)}`, body, headers);

  before(async () => {
    stores = createMemoryStores();
    worker = await startWorker({
      id: `srv-${process.pid}`,
      capacityMb: 1024,
      coldPoolSize: 1,
      runtime,
      stores,
      logger: quietLogger(),
      maxInputBytes: 64 * 1024,
      heartbeatMs: 100,
      onDrained: () => drainedCalls++,
    });
  });
  after(async () => {
    await worker.close();
    await runtime.close();
  });

  test('registers its membership row at start', async () => {
    const row = await stores.membership.get(worker.id);
    assert.ok(row);
    assert.equal(row.address, worker.address);
    assert.equal(row.capacityMb, 1024);
    assert.equal(row.state, 'active');
    const first = row.heartbeatAt;
    await until(async () => ((await stores.membership.get(worker.id))?.heartbeatAt ?? 0) > first, 'a second heartbeat');
  });

  test('an invocation answers the output, the logs object and the x-ringfaas headers', async () => {
    const id = fnId('echo');
    await deploy(stores, id, Code.echo('hello'));
    const first = await invoke(id, '{"a":[1,2]}', DETAILS);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const body = first.body as InvokeSuccessBody;
    assert.deepEqual((body.output as { input: unknown }).input, { a: [1, 2] });
    assert.deepEqual(body.logs.lines, ['echo hello']);
    assert.equal(body.logs.truncated, false);
    assert.equal(body.logs.workerId, worker.id);
    assert.equal(body.logs.start, 'cold-pool');
    assert.equal(body.logs.version, 1);
    assert.equal(typeof body.logs.functionMs, 'number');
    assert.equal(typeof body.logs.workerMs, 'number');
    assert.equal(first.headers[WorkerHeaders.worker], worker.id);
    assert.equal(first.headers[WorkerHeaders.instance], body.logs.instanceId);
    assert.equal(first.headers[WorkerHeaders.start], 'cold-pool');
    assert.equal(first.headers['x-ringfaas-version'], undefined, 'version and durations are in the body only');
    assert.match(String(first.headers[WorkerHeaders.load]), /^\d+$/);

    const second = await invoke(id);
    assert.equal(second.headers[WorkerHeaders.start], 'warm');
    // Without x-ringfaas-details: no instance, no idle report, no Date (every header costs).
    assert.equal(second.headers[WorkerHeaders.instance], undefined);
    assert.equal(second.headers[WorkerHeaders.idle], undefined);
    assert.equal(second.headers.date, undefined);
    assert.equal((second.body as InvokeSuccessBody).logs.instanceId, body.logs.instanceId);
    const reported = await invoke(id, '{}', { [WorkerHeaders.reportIdle]: '1' });
    assert.match(String(reported.headers[WorkerHeaders.idle]), /^1 \d+$/, 'one idle warm container after the call');
  });

  test('an empty body is the input {}, as through a router', async () => {
    const id = fnId('echo');
    await deploy(stores, id, Code.echo());
    const res = await invoke(id, '');
    assert.equal(res.status, 200);
    assert.deepEqual((res.body.output as { input: unknown }).input, {});
  });

  test('input errors: not JSON 400 (the shim\'s, the container serves on), too large 413, unknown function 404, unknown route 404', async () => {
    const id = fnId('echo');
    await deploy(stores, id, Code.echo());
    const bad = await invoke(id, '{nope', DETAILS);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'RF_FUNCTION_BAD_INPUT');
    const after = await invoke(id, '{"n":1}', DETAILS);
    assert.equal(after.status, 200);
    assert.ok(bad.headers['x-ringfaas-instance']);
    assert.equal(after.headers['x-ringfaas-instance'], bad.headers['x-ringfaas-instance'], 'the same container answers the next call');
    const large = await invoke(id, JSON.stringify({ s: 'x'.repeat(70 * 1024) }));
    assert.equal(large.status, 413);
    assert.equal(large.body.error.code, 'RF_WORKER_BAD_INPUT');
    const missing = await invoke('no-such-function');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'RF_WORKER_FUNCTION_NOT_FOUND');
    const route = await call(worker.address, 'GET', '/nowhere');
    assert.equal(route.status, 404);
    assert.equal(route.body.error.code, 'RF_WORKER_ROUTE_NOT_FOUND');
    assert.equal(route.headers[WorkerHeaders.worker], worker.id, 'errors carry the worker header too');
  });

  test('function failures: RF_FUNCTION_ERROR 500 with logs, timeout 504, crash 502; a healthy function keeps answering', async () => {
    const healthy = fnId('ok');
    const throws = fnId('throw');
    const hangs = fnId('hang');
    const crashes = fnId('crash');
    await deploy(stores, healthy, Code.echo());
    await deploy(stores, throws, Code.throws());
    await deploy(stores, hangs, Code.hangs(), { timeoutMs: 300 });
    await deploy(stores, crashes, Code.crashes());
    const [t, h, c, ok] = await Promise.all([invoke(throws), invoke(hangs), invoke(crashes), invoke(healthy)]);
    assert.equal(t.status, 500);
    assert.equal(t.body.error.code, 'RF_FUNCTION_ERROR');
    assert.match(t.body.error.message, /boom/);
    assert.equal(t.body.error.details.logs.workerId, worker.id);
    assert.equal(h.status, 504);
    assert.equal(h.body.error.code, 'RF_WORKER_INVOKE_TIMEOUT');
    assert.equal(c.status, 502);
    assert.equal(c.body.error.code, 'RF_FUNCTION_CRASHED');
    assert.equal(ok.status, 200);
    assert.equal((await invoke(healthy)).status, 200);
  });

  test('invalidate: the next call runs the new version; old containers are retired', async () => {
    const id = fnId('ver');
    await deploy(stores, id, Code.echo('v1'));
    const v1 = await invoke(id);
    assert.equal(v1.body.output.tag, 'v1');
    await deploy(stores, id, Code.echo('v2'));
    const inv = await call(worker.address, 'POST', `/functions/${id}/invalidate`, '{"version":2}');
    assert.equal(inv.status, 204);
    assert.deepEqual(worker.pool.idleInstances(id, 1), []);
    const v2 = await invoke(id);
    assert.equal(v2.body.output.tag, 'v2');
    assert.equal(v2.body.logs.version, 2);
    const bad = await call(worker.address, 'POST', `/functions/${id}/invalidate`, '{"version":"x"}');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'RF_WORKER_BAD_INPUT');
  });

  test('DELETE /functions/{id} drops the function and its containers', async () => {
    const id = fnId('del');
    await deploy(stores, id, Code.echo());
    assert.equal((await invoke(id)).status, 200);
    await stores.functions.delete(id);
    const del = await call(worker.address, 'DELETE', `/functions/${id}`);
    assert.equal(del.status, 204);
    assert.deepEqual(worker.pool.idleInstances(id, 1), []);
    assert.equal((await invoke(id)).status, 404);
  });

  test('at capacity: 429 at once without a wait; with x-ringfaas-wait-ms served when a container frees', async () => {
    const id = fnId('big');
    await deploy(stores, id, Code.slow(), { memorySize: 1024 });
    // A pooled container being started reserves memory that cannot be evicted: let it settle.
    await until(() => worker.pool.coldPoolIdle === 1, 'the cold pool to settle');
    const slow = invoke(id, '{"ms":400}', DETAILS);
    await until(() => worker.pool.busy > 0, 'the first call to run');
    const refused = await invoke(id);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'RF_WORKER_AT_CAPACITY');
    const waited = invoke(id, '{"ms":1}', { [WorkerHeaders.waitMs]: '10000', ...DETAILS });
    const [first, second] = await Promise.all([slow, waited]);
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.equal(second.headers[WorkerHeaders.start], 'warm');
    assert.equal(second.headers[WorkerHeaders.instance], first.headers[WorkerHeaders.instance]);
  });

  test('GET /status, /healthz and /metrics', async () => {
    const health = await call(worker.address, 'GET', '/healthz');
    assert.deepEqual(health.body, { ok: true, details: { storage: { degraded: false, degradedSince: null, failures: 0 } } });
    const status = (await call(worker.address, 'GET', '/status')).body as WorkerStatus;
    assert.equal(status.id, worker.id);
    assert.equal(status.state, 'active');
    assert.equal(status.runtime, 'process');
    assert.equal(status.capacityMb, 1024);
    assert.equal(typeof status.reservedMb, 'number');
    assert.equal(status.coldPool.target, 1);
    assert.ok(Array.isArray(status.functions));
    const metrics = await call(worker.address, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    for (const name of [
      'ringfaas_worker_invocations_total{result="ok"}',
      'ringfaas_worker_starts_total{kind="warm"}',
      'ringfaas_worker_starts_total{kind="cold-pool"}',
      'ringfaas_worker_timeouts_total 1',
      'ringfaas_worker_crashes_total 1',
      'ringfaas_worker_memory_reserved_mb',
      'ringfaas_worker_cold_pool_idle',
      'ringfaas_worker_warm_idle',
      'ringfaas_worker_invocation_duration_seconds_bucket',
    ]) {
      assert.ok(String(metrics.body).includes(name), `metrics lack ${name}`);
    }
  });

  test('drain: in-flight work finishes, new invocations get 503 RF_WORKER_DRAINING, then the row and containers go', async () => {
    const id = fnId('drain');
    await deploy(stores, id, Code.slow());
    const other = fnId('drain-other');
    await deploy(stores, other, Code.echo());
    assert.equal((await invoke(other)).status, 200);
    const running = invoke(id, '{"ms":400}');
    await until(() => worker.pool.busy > 0, 'the call to run');
    const drain = await call(worker.address, 'POST', '/drain');
    assert.equal(drain.status, 202);
    const refused = await invoke(other);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'RF_WORKER_DRAINING');
    const done = await running;
    assert.equal(done.status, 200, 'the in-flight call finished');
    await until(() => drainedCalls === 1, 'the drain to finish');
    assert.equal(await stores.membership.get(worker.id), undefined, 'the membership row is removed');
    assert.equal(worker.pool.containerCount, 0);
    assert.equal(worker.pool.reservedMb, 0);
  });
});
