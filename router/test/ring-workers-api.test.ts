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

const CLUSTER_KEY = 'cluster-key-of-the-ring-workers-api-test-0123';

/** A fixture worker holding `clusterKey` (null: none). */
async function fixture(id: string, slots = 4, clusterKey: string | null = CLUSTER_KEY): Promise<FixtureWorker> {
  const w = await startFixtureWorker({ id, slots, ...(clusterKey === null ? {} : { clusterKey }) });
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

async function setup(clusterKey: string | null = CLUSTER_KEY) {
  const membership = new MemoryMembershipStore();
  const view = new RingView({ membership, log: quietLogger() });
  const key = clusterKey === null ? {} : { clusterKey };
  const api = new RingWorkersApi({ view, membership, routerId: 'r-test', loadFactor: 1.25, drainPollMs: 20, ...key });
  const notifier = new WorkerChangeNotifier({ view, timeoutMs: 1000, ...key });
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
  // The worker proves its own id only: another id is not proven.
  await assert.rejects(api.add({ address: w.address, id: 'someone-else' }, testContext()), rejectsWith('RF_RING_WORKER_UNPROVEN', 403));
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

test('add by proof: a worker without the key, with another key, or a router without a key: 403 RF_RING_WORKER_UNPROVEN, nothing written', async () => {
  const { api, membership } = await setup();
  const keyless = await fixture('keyless-1', 4, null);
  const otherKey = await fixture('other-key-1', 4, 'a-different-cluster-key-0123456789abcdef');
  for (const w of [keyless, otherKey]) {
    await assert.rejects(api.add({ address: w.address }, testContext()), rejectsWith('RF_RING_WORKER_UNPROVEN', 403));
    assert.equal(await membership.get(w.id), undefined);
  }
  const noKeyRouter = await setup(null);
  const good = await fixture('proven-1');
  await assert.rejects(noKeyRouter.api.add({ address: good.address }, testContext()), rejectsWith('RF_RING_WORKER_UNPROVEN', 403));
  assert.equal((await membership.list()).length, 0);
});

test('add: a live worker keeps its address (409 RF_RING_WORKER_ID_TAKEN), even against a proven one with its id', async () => {
  const { api, membership } = await setup();
  const first = await fixture('twin');
  const second = await fixture('twin');
  assert.equal((await api.add({ address: first.address }, testContext())).status, 201);
  await assert.rejects(api.add({ address: second.address }, testContext()), rejectsWith('RF_RING_WORKER_ID_TAKEN', 409));
  assert.equal((await membership.get('twin'))?.address, first.address);
});

test('remove: 404 for an unknown id; drain, wait for in-flight work, remove the row', async () => {
  const { api, view, membership } = await setup();
  await assert.rejects(api.remove('ghost', testContext()), rejectsWith('RF_RING_WORKER_NOT_FOUND', 404));
  const w = await fixture('leaving', 2);
  await membership.upsert(rowFor(w));
  await view.refresh();
  const running = fetch(`${w.address}/invoke/f`, { method: 'POST', headers: { 'x-ringfaas-cluster-key': CLUSTER_KEY }, body: JSON.stringify({ sleepMs: 300 }) });
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
