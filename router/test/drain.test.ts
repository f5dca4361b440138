/**
 * Drain under load: two routers over one membership, steady load on many functions, one worker
 * drained through one router's workers API. Zero failed requests; the drained worker gets no
 * new work once its drain finished. And the end of a drain seen by a router that has not yet
 * heard of it: the worker closes its invoke channels (GOAWAY) while requests are open and more
 * are being written, and none of them fails.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryMembershipStore } from '../../storage/index.ts';
import { RingInvoker } from '../ring-invoker.ts';
import { RingView } from '../ring-view.ts';
import { RingWorkersApi } from '../workers-api.ts';
import { startFixtureWorker, heartbeat, quietLogger, testContext, runLoad, eventually, type FixtureWorker } from './ring-worker-fixture.ts';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('drain under load through one router: zero failed requests on either router', async () => {
  const workers: FixtureWorker[] = [];
  for (const id of ['d-1', 'd-2', 'd-3', 'd-4']) workers.push(await startFixtureWorker({ id, slots: 16 }));
  cleanups.push(() => Promise.all(workers.map((w) => w.close())).then(() => undefined));
  const membership = new MemoryMembershipStore();
  const beats = heartbeat(membership, () => workers, 100);
  cleanups.push(() => beats.stop());
  await new Promise((resolve) => setTimeout(resolve, 150));
  const routers = await Promise.all(
    ['ra', 'rb'].map(async (routerId) => {
      const view = new RingView({ membership, log: quietLogger(), pollIntervalMs: 100, ttlMs: 2000 });
      await view.start();
      const forwarder = new RingInvoker({ view, routerId });
      cleanups.push(async () => {
        view.stop();
        await forwarder.close();
      });
      return { view, forwarder };
    }),
  );
  const ra = routers[0] as (typeof routers)[number];
  assert.equal(ra.view.ring.size, 4);
  const api = new RingWorkersApi({ view: ra.view, membership, routerId: 'ra', drainPollMs: 20, drainTimeoutMs: 10_000 });
  cleanups.push(() => api.close());

  let phase: 'before' | 'draining' | 'after' = 'before';
  let stopAt = Number.POSITIVE_INFINITY;
  const servedAfterDrain = { count: 0 };
  const load = runLoad({
    concurrency: 8,
    maxRequests: 20_000,
    stop: () => Date.now() > stopAt,
    send: async (i) => {
      const router = routers[i % 2] as (typeof routers)[number];
      // sent after the drain finished: a request sent before may answer later on a loaded machine
      const sentAfterDrain = phase === 'after';
      const res = await router.forwarder.invoke(`fn-${i % 40}`, Buffer.from(JSON.stringify({ sleepMs: 10 })), testContext());
      if (sentAfterDrain && res.headers['x-ringfaas-worker'] === 'd-2') servedAfterDrain.count++;
      return res;
    },
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  phase = 'draining';
  const drained = await api.remove('d-2', testContext());
  phase = 'after';
  assert.equal((drained.body as { drained: boolean }).drained, true);
  await new Promise((resolve) => setTimeout(resolve, 300));
  stopAt = 0;
  const result = await load;
  assert.deepEqual(result.failures, [], 'no request failed');
  assert.ok(result.ok > 50, `load ran: ${result.ok} requests`);
  assert.ok((result.servedBy.get('d-2') ?? 0) > 0, 'd-2 served before the drain');
  assert.equal(servedAfterDrain.count, 0, 'nothing reached d-2 after its drain finished');
  for (const r of routers) assert.equal(r.view.ring.has('d-2'), false, 'off every router ring');
});

test('a worker closing its invoke channels under load, before the router heard it drain: no request fails, none is lost', async () => {
  const closing = await startFixtureWorker({ id: 'g-1', slots: 64 });
  const other = await startFixtureWorker({ id: 'g-2', slots: 64 });
  cleanups.push(() => Promise.all([closing.close(), other.close()]).then(() => undefined));
  const membership = new MemoryMembershipStore();
  const beats = heartbeat(membership, () => [closing, other], 100);
  cleanups.push(() => beats.stop());
  await new Promise((resolve) => setTimeout(resolve, 150));
  // The router never polls again: to it the worker stays active, as in the moment before a poll.
  const view = new RingView({ membership, log: quietLogger(), pollIntervalMs: 3_600_000, ttlMs: 3_600_000 });
  await view.start();
  const forwarder = new RingInvoker({ view, routerId: 'r', loadFactor: Number.POSITIVE_INFINITY });
  cleanups.push(async () => {
    view.stop();
    await forwarder.close();
  });
  const homedOnClosing = Array.from({ length: 64 }, (_, i) => `gf-${i}`).filter((id) => view.candidates(id, 1)[0] === 'g-1');
  assert.ok(homedOnClosing.length > 4, 'functions homed on the closing worker');

  let stopAt = Number.POSITIVE_INFINITY;
  const load = runLoad({
    concurrency: 16,
    maxRequests: 20_000,
    stop: () => Date.now() > stopAt,
    send: (i) => forwarder.invoke(homedOnClosing[i % homedOnClosing.length] as string, Buffer.from(JSON.stringify({ sleepMs: i % 3 === 0 ? 30 : 0 })), testContext()),
  });
  await eventually(() => closing.overChannel() > 200, 10_000, 'load over the channel');
  // The drain's end: refuse new work, then close the channels with executions still open.
  const drained = await fetch(`${closing.address}/drain`, { method: 'POST' });
  assert.equal(drained.status, 202);
  assert.ok(closing.inFlight() > 0, 'executions open when the channels close');
  await closing.closeChannels();
  await new Promise((resolve) => setTimeout(resolve, 300));
  stopAt = 0;
  const result = await load;
  assert.deepEqual(result.failures, [], 'no request failed');
  assert.ok((result.servedBy.get('g-2') ?? 0) > 0, 'requests spilled to the other worker once the channels closed');
  assert.equal(view.ring.has('g-1'), true, 'the router still saw the closing worker as a member');
  assert.equal(view.describe().find((w) => w.id === 'g-1')?.draining, true, 'but drains it: no new work goes there');
});
