/** The workers API and the change notifier against fixture workers and a real membership store. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { MemoryMembershipStore } from '../../storage/index.ts';
import { isRfError } from '../../errors/index.ts';
import { RingView } from '../ring-view.ts';
import { RingWorkersApi } from '../workers-api.ts';
import { WorkerChangeNotifier } from '../change-notifier.ts';
import { startFixtureWorker, rowFor, quietLogger, testContext, type FixtureWorker } from './ring-worker-fixture.ts';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function fixture(id: string, slots = 4): Promise<FixtureWorker> {
  const w = await startFixtureWorker({ id, slots });
  cleanups.push(() => w.close());
  return w;
}

/** A port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function setup() {
  const membership = new MemoryMembershipStore();
  const view = new RingView({ membership, log: quietLogger() });
  const api = new RingWorkersApi({ view, membership, routerId: 'r-test', loadFactor: 1.25, drainPollMs: 20 });
  const notifier = new WorkerChangeNotifier({ view, timeoutMs: 1000 });
  cleanups.push(async () => {
    view.stop();
    await api.close();
    await notifier.close();
  });
  return { membership, view, api, notifier };
}

const rejectsWith = (code: string, status: number) => (err: unknown) => isRfError(err) && err.code === code && err.status === status;

test('add: validates the body, checks the worker answers, takes its id, and the ring has it at once', async () => {
  const { api, view, membership } = await setup();
  const w = await fixture('added-1');
  await assert.rejects(api.add({ address: 'ftp://x' }, testContext()), rejectsWith('RF_RING_BAD_WORKER', 400));
  await assert.rejects(api.add({ address: w.address, extra: 1 }, testContext()), rejectsWith('RF_RING_BAD_WORKER', 400));
  await assert.rejects(api.add('nope', testContext()), rejectsWith('RF_RING_BAD_WORKER', 400));
  await assert.rejects(api.add({ address: `http://127.0.0.1:${await closedPort()}` }, testContext()), rejectsWith('RF_RING_WORKER_UNREACHABLE', 502));
  await assert.rejects(api.add({ address: w.address, id: 'someone-else' }, testContext()), rejectsWith('RF_RING_BAD_WORKER', 400));
  const created = await api.add({ address: `${w.address}/` }, testContext());
  assert.equal(created.status, 201);
  assert.equal((created.body as { id: string }).id, 'added-1');
  assert.equal((created.body as { address: string }).address, w.address);
  assert.equal((await membership.get('added-1'))?.capacityMb, 512, 'capacity from the worker status');
  assert.ok(view.ring.has('added-1'));
  const again = await api.add({ address: w.address, id: 'added-1', capacityMb: 2048 }, testContext());
  assert.equal(again.status, 200);
  assert.equal((await membership.get('added-1'))?.capacityMb, 2048);
  const listing = await api.list();
  assert.equal(listing.router, 'r-test');
  assert.equal(listing.ringSize, 1);
  assert.equal(listing.workers[0]?.id, 'added-1');
  assert.equal(listing.workers[0]?.inRing, true);
  assert.equal(listing.workers[0]?.vnodes, 40);
});

test('remove: 404 for an unknown id; drain, wait for in-flight work, remove the row', async () => {
  const { api, view, membership } = await setup();
  await assert.rejects(api.remove('ghost', testContext()), rejectsWith('RF_RING_WORKER_NOT_FOUND', 404));
  const w = await fixture('leaving', 2);
  await membership.upsert(rowFor(w));
  await view.refresh();
  const running = fetch(`${w.address}/invoke/f`, { method: 'POST', body: JSON.stringify({ sleepMs: 300 }) });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const answer = await api.remove('leaving', testContext());
  assert.equal(answer.status, 200);
  assert.deepEqual({ ...(answer.body as object), waitedMs: 0 }, { id: 'leaving', address: w.address, drained: true, reachable: true, inFlight: 0, waitedMs: 0 });
  assert.equal((await running).status, 200, 'the running invocation finished');
  assert.ok(w.draining());
  assert.equal(await membership.get('leaving'), undefined);
  assert.equal(view.ring.has('leaving'), false);
  // a dead worker is removed without waiting
  const port = await closedPort();
  await membership.upsert(rowFor({ id: 'dead', address: `http://127.0.0.1:${port}` }));
  const dead = await api.remove('dead', testContext());
  assert.equal((dead.body as { reachable: boolean }).reachable, false);
  assert.equal(await membership.get('dead'), undefined);
});

test('notifier: every live worker hears of updates and deletes; an unreachable one is suspect and the call returns', async () => {
  const { view, notifier, membership } = await setup();
  const ws = [await fixture('n1'), await fixture('n2'), await fixture('n3')];
  for (const w of ws) await membership.upsert(rowFor(w));
  const drainingWorker = await fixture('n4');
  await membership.upsert({ ...rowFor(drainingWorker), state: 'draining' });
  const port = await closedPort();
  await membership.upsert(rowFor({ id: 'n-dead', address: `http://127.0.0.1:${port}` }));
  await notifier.functionUpdated('fn-x', 3, testContext());
  for (const w of [...ws, drainingWorker]) assert.deepEqual(w.invalidations, [{ functionId: 'fn-x', version: 3 }]);
  assert.ok(view.isSuspect('n-dead'));
  await notifier.functionDeleted('fn-x', testContext());
  for (const w of ws) assert.deepEqual(w.deletes, ['fn-x']);
});
