/**
 * Two real router apps (router/app.ts) over one set of stores, with the ring wired in as
 * router/main.ts wires it, and workers speaking the worker protocol: a function deployed
 * through one router is served by one warm worker through both; an update through one router
 * reaches every worker before the PUT returns; GET /workers shows the same ring on both.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createMemoryStores } from '../../storage/index.ts';
import { createRouterApp } from '../app.ts';
import { RingInvoker } from '../ring-invoker.ts';
import { RingMetrics } from '../ring-metrics.ts';
import { RingView } from '../ring-view.ts';
import { WorkerChangeNotifier } from '../change-notifier.ts';
import { RingWorkersApi } from '../workers-api.ts';
import { startFixtureWorker, heartbeat, quietLogger, type FixtureWorker } from './ring-worker-fixture.ts';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('two routers: one warm worker per function, updates reach every worker, same ring', async () => {
  const stores = createMemoryStores();
  const workers: FixtureWorker[] = [];
  for (const id of ['rw-1', 'rw-2', 'rw-3']) workers.push(await startFixtureWorker({ id, slots: 8 }));
  cleanups.push(() => Promise.all(workers.map((w) => w.close())).then(() => undefined));
  const beats = heartbeat(stores.membership, () => workers, 200);
  cleanups.push(() => beats.stop());
  await new Promise((resolve) => setTimeout(resolve, 250));

  const urls: string[] = [];
  for (const routerId of ['router-a', 'router-b']) {
    const registry = new Registry();
    const metrics = new RingMetrics(registry);
    const view = new RingView({ membership: stores.membership, log: quietLogger(), metrics, pollIntervalMs: 200 });
    await view.start();
    const invoker = new RingInvoker({ view, routerId, metrics });
    const notifier = new WorkerChangeNotifier({ view });
    const workersApi = new RingWorkersApi({ view, membership: stores.membership, routerId, loadFactor: 1.25 });
    const app = createRouterApp({ stores, invoker, notifier, workers: workersApi, log: quietLogger(), registry, apiKeys: [], routerId });
    await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
    urls.push(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
    cleanups.push(async () => {
      view.stop();
      await new Promise((resolve) => app.server.close(resolve));
      app.server.closeAllConnections();
      await invoker.close();
      await notifier.close();
      await workersApi.close();
    });
  }
  const [a, b] = urls as [string, string];
  const created = await fetch(`${a}/functions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code: 'module.exports = (input) => input;', memorySize: 128, name: 'echo' }),
  });
  assert.equal(created.status, 201);
  const { id } = (await created.json()) as { id: string };

  const served: string[] = [];
  const starts: string[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await fetch(`${i % 2 === 0 ? a : b}/functions/${id}/invoke`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-ringfaas-details': '1' }, body: JSON.stringify({ i }) });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    served.push(res.headers.get('x-ringfaas-worker') ?? '');
    starts.push(res.headers.get('x-ringfaas-start') ?? '');
    assert.equal(res.headers.get('x-ringfaas-router'), i % 2 === 0 ? 'router-a' : 'router-b');
    assert.equal(res.headers.get('x-ringfaas-spills'), '0');
  }
  assert.equal(new Set(served).size, 1, `served by ${served}`);
  assert.deepEqual(starts, ['cold-create', 'warm', 'warm', 'warm', 'warm', 'warm']);

  const updated = await fetch(`${b}/functions/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code: 'module.exports = () => 2;', memorySize: 128, name: 'echo' }),
  });
  assert.equal(updated.status, 200);
  for (const w of workers) assert.deepEqual(w.invalidations, [{ functionId: id, version: 2 }], `${w.id} heard of the update before the PUT returned`);
  assert.equal((await fetch(`${a}/functions/${id}`, { method: 'DELETE' })).status, 204);
  for (const w of workers) assert.deepEqual(w.deletes, [id]);

  const rings = await Promise.all(urls.map(async (url) => ((await (await fetch(`${url}/workers`)).json()) as { workers: Array<{ id: string; inRing: boolean; share: number }> }).workers));
  for (const ring of rings) assert.deepEqual(ring.filter((w) => w.inRing).map((w) => w.id), ['rw-1', 'rw-2', 'rw-3']);
  assert.deepEqual(rings[0]?.map((w) => w.share), rings[1]?.map((w) => w.share), 'both routers see the same ring');
});
