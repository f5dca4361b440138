/** The ring view over a real in-memory membership store, with a manual clock. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { MemoryMembershipStore } from '../../storage/index.ts';
import type { WorkerRow } from '../../storage/types.ts';
import { RingMetrics } from '../ring-metrics.ts';
import { RingView } from '../ring-view.ts';
import { quietLogger } from './ring-worker-fixture.ts';

function clock(start = 100_000): { now(): number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function row(id: string, heartbeatAt: number, state: WorkerRow['state'] = 'active'): WorkerRow {
  return { id, address: `http://127.0.0.1:1/${id}`, capacityMb: 1024, state, heartbeatAt, startedAt: 0 };
}

async function setup() {
  const membership = new MemoryMembershipStore();
  const c = clock();
  const registry = new Registry();
  const view = new RingView({ membership, log: quietLogger(), clock: c, metrics: new RingMetrics(registry), ttlMs: 5000, suspectMinMs: 2000 });
  return { membership, c, view, registry };
}

test('the ring follows the live rows: joins, TTL expiry, draining; changes are counted once', async () => {
  const { membership, c, view, registry } = await setup();
  await membership.upsert(row('a', c.now()));
  await membership.upsert(row('b', c.now()));
  const changes: string[][] = [];
  view.onChange((next) => changes.push([...next.ids]));
  assert.equal(await view.refresh(), true);
  assert.deepEqual(view.ring.ids, ['a', 'b']);
  assert.equal(await view.refresh(), false, 'same rows: no change');
  c.advance(4000);
  await membership.upsert(row('a', c.now()));
  c.advance(1001); // b's heartbeat is now 5001 ms old
  assert.equal(await view.refresh(), true);
  assert.deepEqual(view.ring.ids, ['a']);
  await membership.upsert(row('c', c.now(), 'draining'));
  assert.equal(await view.refresh(), false, 'a draining row does not join the ring');
  assert.deepEqual(view.liveRows().map((r) => r.id).sort(), ['a', 'c'], 'but it still hears of function changes');
  assert.deepEqual(changes, [['a', 'b'], ['a']]);
  const metrics = await registry.getMetricsAsJSON();
  assert.equal(metrics.find((m) => m.name === 'ringfaas_ring_changes_total')?.values[0]?.value, 2);
  assert.equal(metrics.find((m) => m.name === 'ringfaas_ring_size')?.values[0]?.value, 1);
});

test('a suspect is routed around until a newer heartbeat shows, and at least suspectMinMs', async () => {
  const { membership, c, view } = await setup();
  for (const id of ['a', 'b', 'c']) await membership.upsert(row(id, c.now()));
  await view.refresh();
  const key = 'some-function';
  const [home, next] = view.ring.preferenceList(key);
  view.markSuspect(home as string, 'test');
  assert.equal(view.candidates(key, 3)[0], next, 'skipped at once');
  assert.equal(view.candidates(key, 3).length, 2);
  c.advance(1000);
  for (const id of ['a', 'b', 'c']) await membership.upsert(row(id, c.now()));
  await view.refresh();
  assert.ok(view.isSuspect(home as string), 'a newer heartbeat alone is not enough within suspectMinMs');
  c.advance(1000);
  await view.refresh();
  assert.ok(!view.isSuspect(home as string), 'newer heartbeat and old enough: back');
  assert.equal(view.candidates(key, 3)[0], home);
  // a suspect whose heartbeat never comes back leaves with its row
  view.markSuspect(home as string, 'test');
  c.advance(6000);
  for (const id of ['a', 'b', 'c'].filter((id) => id !== home)) await membership.upsert(row(id, c.now()));
  await view.refresh();
  assert.ok(view.isSuspect(home as string));
  assert.ok(!view.ring.has(home as string), 'dropped after the TTL');
});

test('every candidate suspect: the unfiltered list is tried (a mark may be stale)', async () => {
  const { membership, c, view } = await setup();
  for (const id of ['a', 'b']) await membership.upsert(row(id, c.now()));
  await view.refresh();
  view.markSuspect('a', 'test');
  view.markSuspect('b', 'test');
  assert.equal(view.candidates('k', 5).length, 2);
});

test('loads: own in-flight, refined by the reported load while it is recent', async () => {
  const { membership, c, view } = await setup();
  for (const id of ['a', 'b']) await membership.upsert(row(id, c.now()));
  await view.refresh();
  view.requestStarted('a');
  view.requestStarted('a');
  assert.equal(view.loadOf('a'), 2);
  assert.equal(view.totalLoad, 2);
  view.requestEnded('a', 7); // another router keeps it busy
  assert.equal(view.loadOf('a'), 7);
  view.requestStarted('b');
  assert.equal(view.totalLoad, 8);
  c.advance(3001);
  await view.refresh();
  assert.equal(view.loadOf('a'), 1, 'an old report is forgotten');
  view.requestEnded('a', undefined);
  view.requestEnded('b', 0);
  assert.equal(view.totalLoad, 0);
});

test('a worker marked draining (a GOAWAY, a draining refusal) comes back only as a new start: a row of another startedAt', async () => {
  const { membership, c, view } = await setup();
  for (const id of ['a', 'b']) await membership.upsert(row(id, c.now()));
  await view.refresh();
  const key = Array.from({ length: 50 }, (_, i) => `k${i}`).find((k) => view.ring.home(k) === 'a') as string;
  view.markDraining('a');
  c.advance(500);
  await membership.upsert(row('a', c.now()));
  await view.refresh();
  assert.deepEqual(view.candidates(key, 2), ['b'], 'the same start heartbeating: still draining here');
  await membership.upsert({ ...row('a', c.now()), startedAt: c.now() });
  await view.refresh();
  assert.deepEqual(view.candidates(key, 2), ['a', 'b'], 'restarted under the same id: taken again');
});

test('a drain started by this router takes the worker off at once; membership read failures keep the last ring', async () => {
  const { membership, c, view } = await setup();
  for (const id of ['a', 'b']) await membership.upsert(row(id, c.now()));
  await view.refresh();
  const key = Array.from({ length: 50 }, (_, i) => `k${i}`).find((k) => view.ring.home(k) === 'a') as string;
  view.markDraining('a');
  assert.deepEqual(view.candidates(key, 2), ['b']);
  await membership.setState('a', 'draining');
  await view.refresh();
  assert.deepEqual(view.ring.ids, ['b']);
  let down = false;
  const flaky = {
    upsert: (r: WorkerRow) => membership.upsert(r),
    get: (id: string) => membership.get(id),
    list: () => (down ? Promise.reject(new Error('storage down')) : membership.list()),
    setState: (id: string, state: WorkerRow['state']) => membership.setState(id, state),
    remove: (id: string) => membership.remove(id),
  };
  const other = new RingView({ membership: flaky, log: quietLogger(), clock: c });
  await other.refresh();
  assert.deepEqual(other.ring.ids, ['b']);
  down = true;
  c.advance(10_000);
  assert.equal(await other.refresh(), false);
  assert.deepEqual(other.ring.ids, ['b'], 'the last ring is kept while the table cannot be read');
  const describe = view.describe();
  assert.deepEqual(describe.map((d) => [d.id, d.inRing, d.draining]), [['a', false, true], ['b', true, false]]);
  assert.ok(Math.abs((describe[1]?.share ?? 0) - 1) < 1e-9);
});

test("describe(): a worker whose heartbeat lapsed is 'gone', not 'active'", async () => {
  const { membership, c, view } = await setup();
  await membership.upsert(row('a', c.now()));
  await membership.upsert(row('b', c.now()));
  await view.refresh();
  c.advance(4000);
  await membership.upsert(row('a', c.now()));
  c.advance(1001);
  await view.refresh();
  const states = view.describe().map((d) => [d.id, d.state, d.inRing]);
  assert.deepEqual(states, [['a', 'active', true], ['b', 'gone', false]]);
});

test('describe() shows the latest heartbeat, not the one of the last ring change', async () => {
  const { membership, c, view } = await setup();
  await membership.upsert(row('a', c.now()));
  await view.refresh();
  for (let i = 0; i < 5; i++) {
    c.advance(1000);
    await membership.upsert(row('a', c.now()));
    assert.equal(await view.refresh(), false, 'a heartbeat alone is no ring change');
  }
  c.advance(300);
  const [entry] = view.describe();
  assert.equal(entry?.heartbeatAgeMs, 300);
  assert.equal(view.row('a')?.heartbeatAt, c.now() - 300);
});

test("home(): the ring's home, from the memoised preference list once there is one, and again after a ring change", async () => {
  const { membership, c, view } = await setup();
  for (const id of ['a', 'b', 'c']) await membership.upsert(row(id, c.now()));
  await view.refresh();
  const keys = Array.from({ length: 50 }, (_, i) => `fn-${i}`);
  for (const key of keys) assert.equal(view.home(key), view.ring.home(key), 'before any list is memoised');
  for (const key of keys) view.candidates(key, 3);
  for (const key of keys) assert.equal(view.home(key), view.ring.home(key), 'from the memo');
  await membership.upsert(row('d', c.now()));
  await view.refresh();
  assert.ok(keys.some((key) => view.ring.home(key) === 'd'), 'some homes moved to the new worker');
  for (const key of keys) assert.equal(view.home(key), view.ring.home(key), 'the memo was dropped with the old ring');
});
