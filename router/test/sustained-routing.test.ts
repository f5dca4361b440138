/**
 * The sustained-load bound in the router (ring/sustained-load.ts, docs/ring.md): a worker whose
 * load, averaged over the window, is over c × the averaged mean takes a request only when no
 * other worker does, and a request none of whose candidates accepts walks on around the ring.
 * Fixture workers speak the worker protocol over real HTTP; the view runs on a manual clock
 * (the averages), loads are this router's own in-flight counts.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { MemoryMembershipStore } from '../../storage/index.ts';
import { ManualClock } from '../../clock/index.ts';
import { RingInvoker } from '../ring-invoker.ts';
import { RingMetrics } from '../ring-metrics.ts';
import { RingView } from '../ring-view.ts';
import { startFixtureWorker, rowFor, quietLogger, testContext, type FixtureWorker } from './ring-worker-fixture.ts';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function setup(options: { sustained: boolean; maxCandidates?: number; warmFirst?: boolean }) {
  const ws: FixtureWorker[] = await Promise.all(['a', 'b', 'c'].map((id) => startFixtureWorker({ id, slots: 8 })));
  const membership = new MemoryMembershipStore();
  const clock = new ManualClock(Date.now());
  for (const w of ws) await membership.upsert(rowFor(w, clock.now()));
  const view = new RingView({
    membership,
    log: quietLogger(),
    clock,
    ttlMs: 3_600_000, // the manual clock moves minutes; the rows stay live
    pollIntervalMs: 3_600_000,
    ...(options.sustained ? { sustained: { c: 1.25, windowMs: 10_000 } } : {}),
  });
  await view.start();
  const invoker = new RingInvoker({
    view,
    routerId: 'r1',
    metrics: new RingMetrics(new Registry()),
    ...(options.maxCandidates === undefined ? {} : { maxCandidates: options.maxCandidates }),
    ...(options.warmFirst === undefined ? {} : { warmFirst: options.warmFirst }),
  });
  cleanups.push(async () => {
    view.stop();
    await invoker.close();
    await Promise.all(ws.map((w) => w.close()));
  });
  return { view, invoker, clock };
}

/** A function whose preference list starts with `home`, and the worker after it. */
function functionHomedOn(view: RingView, home: string): { fnId: string; second: string } {
  for (let i = 0; i < 1000; i++) {
    const fnId = `fn-${i}`;
    const list = view.ring.preferenceList(fnId);
    if (list[0] === home) return { fnId, second: list[1] as string };
  }
  throw new Error(`no function homed on ${home}`);
}

async function servedBy(invoker: RingInvoker, fnId: string): Promise<{ worker: string; spills: string }> {
  const res = await invoker.invoke(fnId, Buffer.from('{}'), { ...testContext(), details: true });
  assert.equal(res.status, 200);
  return { worker: res.headers['x-ringfaas-worker'] as string, spills: res.headers['x-ringfaas-spills'] as string };
}

test('a home busy for a whole window is held: the next call goes to an idle worker, although the home is under the instantaneous bound', async () => {
  for (const sustained of [true, false]) {
    // without warm first: the home's first call below leaves it an idle container, which warm first would prefer (last test)
    const { view, invoker, clock } = await setup({ sustained, warmFirst: false });
    const { fnId, second } = functionHomedOn(view, 'a');
    const idle = ['b', 'c'].find((id) => id !== second) as string;
    // two long requests each on the home and on the next worker of the function's list, none on the third
    for (const id of ['a', 'a', second, second]) view.requestStarted(id);
    // at once, the averages are still low (a burst): the home serves, under the bound ceil(1.25 × 5 / 3) = 3
    assert.equal((await servedBy(invoker, fnId)).worker, 'a', `sustained ${sustained}: a burst is not held`);
    clock.advance(30_000); // a and its neighbour average ~1.9, the mean ~1.3: threshold 1.58
    const served = await servedBy(invoker, fnId);
    if (sustained) assert.deepEqual(served, { worker: idle, spills: '2' }, 'held home and neighbour passed over');
    else assert.deepEqual(served, { worker: 'a', spills: '0' }, 'without the bound the home serves');
  }
});

test('none of the candidates accepts: the request walks on around the ring to the next worker that does', async () => {
  const { view, invoker, clock } = await setup({ sustained: true, maxCandidates: 1 });
  const { fnId, second } = functionHomedOn(view, 'a');
  for (const id of ['a', 'a', second, second]) view.requestStarted(id);
  clock.advance(30_000);
  // the one candidate (the home) is held, its neighbour too: the third worker, beyond the candidates, serves
  const idle = ['b', 'c'].find((id) => id !== second) as string;
  assert.deepEqual(await servedBy(invoker, fnId), { worker: idle, spills: '1' });
});

test('warm first may pick a held worker holding idle containers that precedes the accepting ones: its spills are those before it, not a negative count', async () => {
  // Until 2026-12-04 the spill count came out negative here, the metric threw, and the request
  // failed with RF_ROUTER_INTERNAL (router/test/burst-reuse.test.ts on a loaded machine)
  const { view, invoker, clock } = await setup({ sustained: true, warmFirst: true });
  const { fnId, second } = functionHomedOn(view, 'a');
  assert.equal((await servedBy(invoker, fnId)).worker, 'a', 'the home serves and reports its idle slots');
  for (const id of ['a', 'a', second, second]) view.requestStarted(id);
  clock.advance(30_000);
  // the home is held (and its neighbour); warm first sends the call back to the home's idle containers
  assert.deepEqual(await servedBy(invoker, fnId), { worker: 'a', spills: '0' }, 'a warm held home over a cold accepting worker');
});

test('warm first: a home at its bound that holds an idle warm container keeps the call (one over the bound), two over it does not', async () => {
  const { view, invoker } = await setup({ sustained: false, warmFirst: true });
  const { fnId } = functionHomedOn(view, 'a');
  assert.equal((await servedBy(invoker, fnId)).worker, 'a', 'the home serves and reports its idle slots');
  // two long requests on the home: bound ceil(1.25 × 3 / 3) = 2, the home is at it
  for (const id of ['a', 'a']) view.requestStarted(id);
  assert.deepEqual(await servedBy(invoker, fnId), { worker: 'a', spills: '0' }, 'a warm home at its bound over a cold neighbour');
  // a third: bound ceil(1.25 × 4 / 3) = 2, the home would be two over it; the neighbour starts one
  view.requestStarted('a');
  const served = await servedBy(invoker, fnId);
  assert.notEqual(served.worker, 'a', `two over the bound the call spills: ${JSON.stringify(served)}`);
});

test('warm first: a home held on its average gets no slack over the bound; in a burst (averages still low) it does', async () => {
  const { view, invoker, clock } = await setup({ sustained: true, warmFirst: true });
  const { fnId } = functionHomedOn(view, 'a');
  assert.equal((await servedBy(invoker, fnId)).worker, 'a', 'the home serves and reports its idle slots');
  for (const id of ['a', 'a']) view.requestStarted(id);
  // at once the home's average is low: one over the bound for its warm container
  assert.deepEqual(await servedBy(invoker, fnId), { worker: 'a', spills: '0' }, 'a burst: the warm home at its bound');
  clock.advance(30_000); // the home averages ~1.9 against a threshold of max(1.25 × 0.63, 1) = 1: held on its average
  const served = await servedBy(invoker, fnId);
  assert.notEqual(served.worker, 'a', `held on its average, the home at its bound spills: ${JSON.stringify(served)}`);
});
