/**
 * One machine, one share (docs/ring.md): with `loadByHost`, workers whose addresses name the same
 * host are one bin of the bounded-load rule. Real fixture workers on loopback addresses
 * (127.0.0.1 and 127.0.0.2 stand for two machines), a real RingView and RingInvoker.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { MemoryMembershipStore } from '../../storage/index.ts';
import { RingInvoker } from '../ring-invoker.ts';
import { RingMetrics } from '../ring-metrics.ts';
import { RingView } from '../ring-view.ts';
import { HostGroups, hostOfAddress } from '../host-groups.ts';
import { startFixtureWorker, rowFor, quietLogger, testContext, type FixtureWorker, type FixtureWorkerOptions } from './ring-worker-fixture.ts';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function cluster(specs: FixtureWorkerOptions[], loadByHost: boolean, sustained = false) {
  const ws = await Promise.all(specs.map((s) => startFixtureWorker(s)));
  for (const w of ws) cleanups.push(() => w.close());
  const membership = new MemoryMembershipStore();
  for (const w of ws) await membership.upsert(rowFor(w));
  const view = new RingView({ membership, log: quietLogger(), metrics: new RingMetrics(new Registry()), pollIntervalMs: 100, loadByHost, ...(sustained ? { sustained: { c: 1.25, windowMs: 30_000 } } : {}) });
  await view.start();
  const invoker = new RingInvoker({ view, routerId: 'r1' });
  cleanups.push(async () => {
    view.stop();
    await invoker.close();
  });
  return { ws, view, invoker };
}

/** A function id whose preference list starts with `order`. */
function functionWithOrder(view: RingView, ...order: string[]): string {
  for (let i = 0; i < 10_000; i++) {
    const id = `fn-${i}`;
    const list = view.candidates(id, order.length);
    if (order.every((w, k) => list[k] === w)) return id;
  }
  throw new Error(`no function with preference order ${order.join(', ')}`);
}

/** `n` concurrent calls of `ms` each; the workers that answered, by id. */
async function burst(invoker: RingInvoker, fn: string, n: number, ms: number): Promise<Map<string, number>> {
  const answers = await Promise.all(Array.from({ length: n }, () => invoker.invoke(fn, Buffer.from(JSON.stringify({ sleepMs: ms })), testContext())));
  const by = new Map<string, number>();
  for (const a of answers) {
    assert.equal(a.status, 200);
    const w = a.headers['x-ringfaas-worker'] as string;
    by.set(w, (by.get(w) ?? 0) + 1);
  }
  return by;
}

const served = (ws: FixtureWorker[], fn: string): number[] => ws.map((w) => w.served.get(fn) ?? 0);

test('hosts of worker addresses: the URL hostname; workers on one host share a key, the rest are their own', () => {
  assert.equal(hostOfAddress('http://127.0.0.1:7001'), '127.0.0.1');
  assert.equal(hostOfAddress('https://[::1]:7001'), '[::1]');
  assert.equal(hostOfAddress('not a url'), undefined);
  const g = new HostGroups([
    { id: 'a', address: 'http://10.0.0.1:7001' },
    { id: 'b', address: 'http://10.0.0.2:7001' },
    { id: 'c', address: 'http://10.0.0.1:7002' },
    { id: 'd', address: 'garbage' },
    { id: 'e', address: 'garbage' },
  ]);
  assert.equal(g.size, 4, 'a and c share a host; unparsable addresses are hosts of their own');
  assert.equal(g.shared, true);
  assert.equal(g.keyOf('c'), 'a');
  assert.equal(g.keyOf('e'), 'e');
  const loads: Record<string, number> = { a: 2, b: 5, c: 3, d: 1, e: 4 };
  assert.equal(g.loadOf('c', (id) => loads[id] ?? 0), 5);
  assert.equal(g.loadOf('a', (id) => loads[id] ?? 0), 5);
  assert.equal(g.loadOf('b', (id) => loads[id] ?? 0), 5);
  assert.equal(g.loadOf('e', (id) => loads[id] ?? 0), 4);
  const alone = new HostGroups([
    { id: 'a', address: 'http://10.0.0.1:7001' },
    { id: 'b', address: 'http://10.0.0.2:7001' },
  ]);
  assert.equal(alone.shared, false);
  assert.equal(alone.size, 2);
});

test('two workers on one machine: a burst stays on its home with loadByHost, and is split by the bound without it', async () => {
  const specs = [{ id: 'a', slots: 16 }, { id: 'b', slots: 16 }];
  const byHost = await cluster(specs, true);
  assert.equal(byHost.view.boundSize, 1);
  const fn = functionWithOrder(byHost.view, 'a', 'b');
  await burst(byHost.invoker, fn, 8, 150);
  assert.deepEqual(served(byHost.ws, fn), [8, 0], 'every call on the home: the host is the only bin');

  const byWorker = await cluster(specs, false);
  assert.equal(byWorker.view.boundSize, 2);
  const fn2 = functionWithOrder(byWorker.view, 'a', 'b');
  await burst(byWorker.invoker, fn2, 8, 150);
  const [home, other] = served(byWorker.ws, fn2);
  assert.ok((other ?? 0) >= 2, `the bound splits the burst between the processes (${home}/${other})`);
});

test('one machine, a full home: the overflow still spreads to the other worker on its 429', async () => {
  const { ws, view, invoker } = await cluster([{ id: 'a', slots: 2 }, { id: 'b', slots: 8 }], true);
  const fn = functionWithOrder(view, 'a', 'b');
  await burst(invoker, fn, 6, 200);
  assert.deepEqual(served(ws, fn), [2, 4]);
  assert.ok((ws[0] as FixtureWorker).rejected() >= 4, 'the home answered 429 for what it could not hold');
});

test('two machines: a burst over the home machine\'s share spills to the other machine, not to the home\'s neighbour on the same one', async () => {
  for (const sustained of [false, true]) {
    const { ws, view, invoker } = await cluster(
      [
        { id: 'a', slots: 16 },
        { id: 'b', slots: 16 },
        { id: 'c', slots: 16, host: '127.0.0.2' },
      ],
      true,
      sustained,
    );
    assert.equal(view.boundSize, 2);
    const fn = functionWithOrder(view, 'a', 'b', 'c');
    await burst(invoker, fn, 10, 200);
    const [a, b, c] = served(ws, fn);
    assert.equal(b, 0, `the home's neighbour on its machine takes nothing (a ${a}, b ${b}, c ${c}; sustained ${sustained})`);
    assert.ok((c ?? 0) >= 3, `the other machine takes the home machine's excess (a ${a}, c ${c}; sustained ${sustained})`);
  }
});
