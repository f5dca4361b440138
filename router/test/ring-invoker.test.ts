/**
 * The forwarder against real HTTP servers speaking the worker protocol (fixture workers with a
 * fixed number of slots), over a real in-memory membership store.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { MemoryMembershipStore } from '../../storage/index.ts';
import { isRfError } from '../../errors/index.ts';
import { RingInvoker } from '../ring-invoker.ts';
import { ClientLeft } from '../client-left.ts';
import { RingMetrics } from '../ring-metrics.ts';
import { RingView } from '../ring-view.ts';
import { startFixtureWorker, rowFor, quietLogger, testContext, type FixtureWorker, type FixtureWorkerOptions } from './ring-worker-fixture.ts';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function workers(specs: FixtureWorkerOptions[]): Promise<FixtureWorker[]> {
  const started = await Promise.all(specs.map((s) => startFixtureWorker(s)));
  for (const w of started) cleanups.push(() => w.close());
  return started;
}

async function router(membership: MemoryMembershipStore, options: { routerId?: string; loadFactor?: number; homeWaitMs?: number } = {}) {
  const registry = new Registry();
  const metrics = new RingMetrics(registry);
  const view = new RingView({ membership, log: quietLogger(), metrics, pollIntervalMs: 100 });
  await view.start();
  const forwarder = new RingInvoker({ view, routerId: options.routerId ?? 'r1', metrics, loadFactor: options.loadFactor, homeWaitMs: options.homeWaitMs });
  cleanups.push(async () => {
    view.stop();
    await forwarder.close();
  });
  return { view, forwarder, registry };
}

async function registerAll(membership: MemoryMembershipStore, ws: FixtureWorker[]): Promise<void> {
  for (const w of ws) await membership.upsert(rowFor(w));
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as Array<{ value: number; labels: Record<string, string | number> }>;
  return values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((sum, v) => sum + v.value, 0);
}

const input = (body: unknown = {}): Buffer => Buffer.from(JSON.stringify(body));

test('affinity: two routers over the same membership send a function to the same worker, warm after the first call', async () => {
  const ws = await workers([{ id: 'a', slots: 4 }, { id: 'b', slots: 4 }, { id: 'c', slots: 4 }]);
  const membership = new MemoryMembershipStore();
  await registerAll(membership, ws);
  const r1 = await router(membership, { routerId: 'r1' });
  const r2 = await router(membership, { routerId: 'r2' });
  const homes = new Set<string>();
  for (let f = 0; f < 12; f++) {
    const fnId = `fn-${f}`;
    const served: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await (i % 2 === 0 ? r1 : r2).forwarder.invoke(fnId, input({ i }), { ...testContext(), details: true });
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-ringfaas-spills'], '0');
      assert.equal(res.headers['x-ringfaas-router'], i % 2 === 0 ? 'r1' : 'r2');
      assert.equal(res.headers['x-ringfaas-start'], i === 0 ? 'cold-create' : 'warm');
      served.push(res.headers['x-ringfaas-worker'] as string);
    }
    assert.equal(new Set(served).size, 1, `${fnId} served by ${served}`);
    assert.equal(served[0], r1.view.ring.home(fnId));
    homes.add(served[0] as string);
  }
  assert.ok(homes.size >= 2, 'different functions have different homes');
  const body = JSON.parse((await r1.forwarder.invoke('fn-0', input({ x: 1 }), testContext())).body.toString()) as { output: { input: unknown } };
  assert.deepEqual(body.output.input, { x: 1 }, 'the input reaches the worker as is, the answer comes back as is');
});

test('invocations go over the invoke channel; a worker without it (404 on the upgrade) is asked over HTTP', async () => {
  const ws = await workers([{ id: 'ch', slots: 4 }, { id: 'plain', slots: 4, channel: false }]);
  const membership = new MemoryMembershipStore();
  await registerAll(membership, ws);
  const { view, forwarder } = await router(membership, { loadFactor: Infinity });
  for (const w of ws) {
    const fnId = Array.from({ length: 100 }, (_, i) => `ch-${i}`).find((id) => view.ring.home(id) === w.id) as string;
    const answers = await Promise.all([1, 2, 3].map((i) => forwarder.invoke(fnId, input({ i }), testContext())));
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.equal(a.headers['x-ringfaas-worker'], w.id);
    }
  }
  const [ch, plain] = ws as [FixtureWorker, FixtureWorker];
  assert.equal(ch.overChannel(), 3, 'all three over the channel');
  assert.equal(plain.overChannel(), 0);
  assert.equal([...plain.served.values()].reduce((a, b) => a + b, 0), 3, 'all three over HTTP');
});

test("the answer's headers are the client's: no load report, no hop-by-hop or length header, no credential", async () => {
  const ws = await workers([{ id: 'h', slots: 2 }]);
  const membership = new MemoryMembershipStore();
  await registerAll(membership, ws);
  const { forwarder } = await router(membership);
  const res = await forwarder.invoke('fn-headers', input(), testContext());
  assert.equal(res.status, 200);
  // The fixture worker answers x-ringfaas-load (for routers), content-length and keep-alive ones.
  for (const name of ['x-ringfaas-load', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'x-ringfaas-cluster-key', 'authorization', 'x-ringfaas-refusal']) {
    assert.equal(res.headers[name], undefined, `${name} is not relayed`);
  }
  // The detail headers only when the client asked (x-ringfaas-details: 1); the router counts either way.
  for (const name of ['x-ringfaas-start', 'x-ringfaas-instance', 'x-ringfaas-spills', 'x-ringfaas-router']) assert.equal(res.headers[name], undefined, name);
  assert.deepEqual(res.served, { spills: 0, start: 'cold-create' });
  const detailed = await forwarder.invoke('fn-headers', input(), { ...testContext(), details: true });
  assert.equal(detailed.headers['x-ringfaas-start'], 'warm');
  assert.equal(detailed.headers['x-ringfaas-instance'], 'h-i1');
  assert.equal(detailed.headers['x-ringfaas-spills'], '0');
  assert.equal(res.headers['x-ringfaas-worker'], 'h');
  assert.equal(res.headers['content-type'], 'application/json');
});

test('empty ring: RF_RING_EMPTY', async () => {
  const { forwarder } = await router(new MemoryMembershipStore());
  await assert.rejects(forwarder.invoke('f', input(), testContext()), (err) => isRfError(err) && err.code === 'RF_RING_EMPTY' && err.status === 503);
});

test('spill: the overflow of a saturated home is served by several other workers, with no failure', async () => {
  const ws = await workers([
    { id: 'w1', slots: 1 },
    { id: 'w2', slots: 2 },
    { id: 'w3', slots: 2 },
    { id: 'w4', slots: 2 },
    { id: 'w5', slots: 2 },
  ]);
  const membership = new MemoryMembershipStore();
  await registerAll(membership, ws);
  // bounded loads off: only the workers' 429 drives the spill here
  const { view, forwarder, registry } = await router(membership, { loadFactor: Number.POSITIVE_INFINITY, homeWaitMs: 5000 });
  const fnId = Array.from({ length: 200 }, (_, i) => `hot-${i}`).find((id) => view.ring.home(id) === 'w1') as string;
  const answers = await Promise.all(Array.from({ length: 9 }, (_, i) => forwarder.invoke(fnId, input({ sleepMs: 150, i }), testContext())));
  for (const a of answers) assert.equal(a.status, 200);
  const servedBy = new Set(answers.map((a) => a.headers['x-ringfaas-worker']));
  assert.ok(servedBy.has('w1'), 'the home served what it could');
  assert.ok(servedBy.size >= 4, `overflow spread over several neighbours: ${[...servedBy]}`);
  assert.ok(answers.some((a) => (a.served?.spills ?? 0) >= 2), 'some requests went past more than one worker');
  assert.ok((await metricValue(registry, 'ringfaas_ring_spills_total', { reason: 'at_capacity' })) > 0);
});

test('bounded loads: a busy home is skipped before it answers 429', async () => {
  const ws = await workers([{ id: 'b1', slots: 50 }, { id: 'b2', slots: 50 }, { id: 'b3', slots: 50 }, { id: 'b4', slots: 50 }]);
  const membership = new MemoryMembershipStore();
  await registerAll(membership, ws);
  const { view, forwarder, registry } = await router(membership);
  const fnId = 'bounded-fn';
  const home = view.ring.home(fnId) as string;
  const answers = await Promise.all(Array.from({ length: 12 }, () => forwarder.invoke(fnId, input({ sleepMs: 100 }), testContext())));
  const perWorker = new Map<string, number>();
  for (const a of answers) perWorker.set(a.headers['x-ringfaas-worker'] as string, (perWorker.get(a.headers['x-ringfaas-worker'] as string) ?? 0) + 1);
  // 12 requests on 4 workers, c = 1.25: nobody holds more than ceil(1.25 × 12 / 4) = 4
  for (const [id, n] of perWorker) assert.ok(n <= 4, `${id} got ${n}`);
  assert.equal(perWorker.get(home), 4, 'the home takes its bounded share first');
  assert.ok((await metricValue(registry, 'ringfaas_ring_spills_total', { reason: 'bounded_load' })) > 0);
  for (const w of ws) assert.equal(w.rejected(), 0, 'no worker had to answer 429');
});

/** Waits (bounded) until every fixture worker runs one invocation. */
async function bothBusy(ws: FixtureWorker[]): Promise<void> {
  for (let i = 0; i < 500 && !ws.every((w) => w.inFlight() === 1); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(ws.every((w) => w.inFlight() === 1), 'both workers busy');
}

test('every candidate full: the request waits at home, then RF_RING_AT_CAPACITY', async () => {
  const ws = await workers([{ id: 'f1', slots: 1 }, { id: 'f2', slots: 1 }]);
  const membership = new MemoryMembershipStore();
  await registerAll(membership, ws);
  const { forwarder, registry } = await router(membership, { loadFactor: Number.POSITIVE_INFINITY, homeWaitMs: 2000 });
  // two long requests fill both; a third waits at home and gets the slot when one ends
  const long = [forwarder.invoke('w', input({ sleepMs: 300 }), testContext()), forwarder.invoke('w', input({ sleepMs: 300 }), testContext())];
  await bothBusy(ws);
  const waited = await forwarder.invoke('w', input({ sleepMs: 0 }), testContext());
  assert.equal(waited.status, 200);
  assert.equal(waited.served?.spills, 2);
  for (const a of await Promise.all(long)) assert.equal(a.status, 200);
  assert.equal(await metricValue(registry, 'ringfaas_ring_waits_total'), 1);

  const { forwarder: impatient } = await router(membership, { loadFactor: Number.POSITIVE_INFINITY, homeWaitMs: 50 });
  const busy = [impatient.invoke('w', input({ sleepMs: 1000 }), testContext()), impatient.invoke('w', input({ sleepMs: 1000 }), testContext())];
  await bothBusy(ws);
  await assert.rejects(impatient.invoke('w', input(), testContext()), (err) => isRfError(err) && err.code === 'RF_RING_AT_CAPACITY' && err.status === 503);
  await Promise.all(busy);
});

test('connection refused: routed around at once (suspect), served by the next worker', async () => {
  const ws = await workers([{ id: 'c1', slots: 4 }, { id: 'c2', slots: 4 }, { id: 'c3', slots: 4 }]);
  const membership = new MemoryMembershipStore();
  await registerAll(membership, ws);
  const { view, forwarder, registry } = await router(membership);
  const dead = ws[0] as FixtureWorker;
  await dead.close();
  const fnIds = Array.from({ length: 100 }, (_, i) => `cr-${i}`).filter((id) => view.ring.home(id) === dead.id).slice(0, 5);
  const first = await forwarder.invoke(fnIds[0] as string, input(), testContext());
  assert.equal(first.status, 200);
  assert.equal(first.served?.spills, 1);
  assert.equal(first.headers['x-ringfaas-worker'], view.ring.preferenceList(fnIds[0] as string)[1]);
  assert.ok(view.isSuspect(dead.id));
  for (const fnId of fnIds.slice(1)) {
    const res = await forwarder.invoke(fnId, input(), testContext());
    assert.equal(res.served?.spills, 0, 'a suspect is not tried again');
    assert.equal(res.headers['x-ringfaas-worker'], view.ring.preferenceList(fnId)[1], 'the next in line takes over, as the ring will');
  }
  assert.equal(await metricValue(registry, 'ringfaas_ring_spills_total', { reason: 'connect_error' }), 1);
  assert.equal(await metricValue(registry, 'ringfaas_ring_suspect_workers'), 1);
});

test('a worker that breaks the connection after the request was sent: 502, never re-sent', async () => {
  const ws = await workers([{ id: 'k1', slots: 4 }, { id: 'k2', slots: 4 }]);
  const membership = new MemoryMembershipStore();
  await registerAll(membership, ws);
  const { view, forwarder } = await router(membership);
  const victim = ws[0] as FixtureWorker;
  const fnId = Array.from({ length: 100 }, (_, i) => `kill-${i}`).find((id) => view.ring.home(id) === victim.id) as string;
  const pending = forwarder.invoke(fnId, input({ sleepMs: 2000 }), testContext());
  await new Promise((resolve) => setTimeout(resolve, 100));
  await victim.kill();
  await assert.rejects(pending, (err) => isRfError(err) && err.code === 'RF_RING_WORKER_UNREACHABLE' && err.status === 502);
  assert.equal((ws[1] as FixtureWorker).served.get(fnId), undefined, 'not re-sent to another worker');
});

test('a draining worker (503 RF_WORKER_DRAINING) is spilled past', async () => {
  const ws = await workers([{ id: 'd1', slots: 4 }, { id: 'd2', slots: 4 }]);
  const membership = new MemoryMembershipStore();
  await registerAll(membership, ws);
  const { view, forwarder, registry } = await router(membership);
  const fnId = Array.from({ length: 100 }, (_, i) => `drain-${i}`).find((id) => view.ring.home(id) === 'd1') as string;
  await fetch(`${(ws[0] as FixtureWorker).address}/drain`, { method: 'POST' });
  const res = await forwarder.invoke(fnId, input(), testContext());
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-ringfaas-worker'], 'd2');
  assert.equal(await metricValue(registry, 'ringfaas_ring_spills_total', { reason: 'draining' }), 1);
});

/** A worker whose every answer is what `answer` writes (as a function patching its container could make a worker relay, before this was fixed). */
async function rawWorker(id: string, answer: (res: import('node:http').ServerResponse) => void): Promise<{ address: string; hits: () => number }> {
  const { createServer } = await import('node:http');
  let hits = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.once('end', () => {
      if (req.method === 'POST') hits++; // not the invoke channel's upgrade request (refused here: answered as HTTP)
      answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const port = (server.address() as import('node:net').AddressInfo).port;
  return { address: `http://127.0.0.1:${port}`, hits: () => hits };
}

test('a 429 RF_WORKER_AT_CAPACITY body without the worker\'s refusal mark is answered as is, never spilled', async () => {
  const fake = await rawWorker('x1', (res) => {
    res.writeHead(429, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'RF_WORKER_AT_CAPACITY', message: 'forged' } }));
  });
  const ws = await workers([{ id: 'x2', slots: 4 }]);
  const membership = new MemoryMembershipStore();
  await membership.upsert({ ...rowFor(ws[0] as FixtureWorker), id: 'x1', address: fake.address });
  await registerAll(membership, ws);
  const { view, forwarder } = await router(membership, { loadFactor: Infinity });
  const fnId = Array.from({ length: 100 }, (_, i) => `forged-${i}`).find((id) => view.ring.home(id) === 'x1') as string;
  const res = await forwarder.invoke(fnId, input(), testContext());
  assert.equal(res.status, 429);
  assert.equal(fake.hits(), 1);
  assert.equal((ws[0] as FixtureWorker).served.get(fnId), undefined, 'not sent to another worker');
});

test('an answer larger than the output bound is cut off: 502 RF_RING_WORKER_ANSWER_TOO_LARGE, not re-sent', async () => {
  const fake = await rawWorker('big1', (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = (): void => {
      while (sent < 64 * 1024 * 1024) {
        sent += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    res.on('error', () => undefined);
    pump();
  });
  const membership = new MemoryMembershipStore();
  await membership.upsert({ id: 'big1', address: fake.address, capacityMb: 1024, state: 'active', heartbeatAt: Date.now(), startedAt: Date.now() });
  const registry = new Registry();
  const view = new RingView({ membership, log: quietLogger(), metrics: new RingMetrics(registry), pollIntervalMs: 100 });
  await view.start();
  const forwarder = new RingInvoker({ view, routerId: 'r1', maxOutputBytes: 1024 * 1024 });
  cleanups.push(async () => {
    view.stop();
    await forwarder.close();
  });
  await assert.rejects(forwarder.invoke('f', input(), testContext()), (err) => isRfError(err) && err.code === 'RF_RING_WORKER_ANSWER_TOO_LARGE' && err.status === 502);
  assert.equal(fake.hits(), 1);
});

test('a client that leaves: the request to the worker is aborted at once and no other worker is tried', async () => {
  const ws = await workers([{ id: 'a', slots: 4, delayMs: 5000 }, { id: 'b', slots: 4, delayMs: 5000 }]);
  const membership = new MemoryMembershipStore();
  await registerAll(membership, ws);
  const { forwarder } = await router(membership);
  const left = new ClientLeft();
  const started = performance.now();
  const call = forwarder.invoke('fn-left', input(), { ...testContext(), left });
  setTimeout(() => left.leave(), 200);
  await assert.rejects(call, (err: unknown) => isRfError(err) && err.code === 'RF_ROUTER_REQUEST_CANCELLED');
  assert.ok(performance.now() - started < 4000, 'answered long before the function would have finished');
  const tried = ws.reduce((sum, w) => sum + (w.served.get('fn-left') ?? 0), 0);
  assert.ok(tried <= 1, `at most the home worker saw it (${tried})`);

  // Already gone before the first attempt: no worker is contacted.
  const gone = new ClientLeft();
  gone.leave();
  await assert.rejects(forwarder.invoke('fn-gone', input(), { ...testContext(), left: gone }), (err: unknown) => isRfError(err) && err.code === 'RF_ROUTER_REQUEST_CANCELLED');
  assert.equal(ws.reduce((sum, w) => sum + (w.served.get('fn-gone') ?? 0), 0), 0);
});

test('code unavailable (storage out, code not held): the refusal is retried at the next candidates, home first, at most twice; an unmarked 503 is never retried', async () => {
  // a lacks every function's code and says so (marked); b holds them.
  const [a, b] = await workers([{ id: 'a', slots: 4, codeUnavailable: 'marked' }, { id: 'b', slots: 4 }]);
  const membership = new MemoryMembershipStore();
  await registerAll(membership, [a as FixtureWorker, b as FixtureWorker]);
  const { view, forwarder, registry } = await router(membership);
  const fnId = Array.from({ length: 64 }, (_, i) => `fn-${i}`).find((id) => view.ring.home(id) === 'a') as string;
  const res = await forwarder.invoke(fnId, input(), testContext());
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-ringfaas-worker'], 'b');
  assert.equal(a?.codeRefusals(), 1);
  assert.equal(await metricValue(registry, 'ringfaas_ring_spills_total', { reason: 'code_unavailable' }), 1);

  // Nobody holds it: three workers asked (the first, then two more), the last refusal answered.
  const all = await workers(Array.from({ length: 5 }, (_, i) => ({ id: `m${i}`, slots: 4, codeUnavailable: 'marked' as const })));
  const m2 = new MemoryMembershipStore();
  await registerAll(m2, all);
  const r2 = await router(m2);
  const none = await r2.forwarder.invoke('fn-0', input(), testContext());
  assert.equal(none.status, 503);
  assert.equal(JSON.parse(none.body.toString()).error.code, 'RF_STORAGE_UNAVAILABLE');
  assert.equal(all.reduce((n, w) => n + w.codeRefusals(), 0), 3);

  // The same answer without the worker's own mark (as anything but the worker could make it): passed as is, never retried.
  const forged = await workers(Array.from({ length: 3 }, (_, i) => ({ id: `u${i}`, slots: 4, codeUnavailable: 'unmarked' as const })));
  const m3 = new MemoryMembershipStore();
  await registerAll(m3, forged);
  const r3 = await router(m3);
  const once = await r3.forwarder.invoke('fn-0', input(), testContext());
  assert.equal(once.status, 503);
  assert.equal(forged.reduce((n, w) => n + w.codeRefusals(), 0), 1);
});
