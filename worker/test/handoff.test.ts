/**
 * Warm hand-off (worker/handoff) with real workers (startWorker, ProcessRuntime containers,
 * in-memory stores): after a join, the moved functions that ran in the last minute start warm
 * on their new home; after a drain, the drained worker's hot functions start warm on their
 * next home. Cold starts are counted from the worker's x-ringfaas-start answer header; with no
 * hand-off each of these first calls would be a cold start (a new home holds no container).
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { request } from 'undici';
import { Ring } from '../../ring/index.ts';
import { createMemoryStores } from '../../storage/index.ts';
import type { Stores, WorkerRow } from '../../storage/types.ts';
import { RingInvoker, RingView, RingWorkersApi } from '../../router/index.ts';
import { azuriteSkip, openTestStores, type TestStores } from '../../testing/stores.ts';
import { startWorker, type RunningWorker } from '../start-worker.ts';
import { WorkerHeaders } from '../../contract/index.ts';
import { Code, deploy, fnId, quietLogger, testProcessRuntime, until } from './worker-fixtures.ts';

const KEY = `h15-handoff-key-${process.pid}-0123456789abcdef`;

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function invoke(base: string, id: string): Promise<{ status: number; start: string }> {
  const res = await request(`${base}/invoke/${encodeURIComponent(id)}`, {
    method: 'POST',
    body: '{"n":1}',
    headers: { 'content-type': 'application/json', 'x-ringfaas-cluster-key': KEY },
  });
  await res.body.text();
  return { status: res.statusCode, start: String(res.headers[WorkerHeaders.start]) };
}

describe('warm hand-off between real workers', () => {
  const runtime = testProcessRuntime();
  const stores = createMemoryStores();
  const workers: RunningWorker[] = [];
  const start = async (id: string): Promise<RunningWorker> => {
    const w = await startWorker({ id, capacityMb: 4096, coldPoolSize: 1, runtime, stores, logger: quietLogger(), heartbeatMs: 200, clusterKey: KEY, warmHandoff: true, drainTimeoutMs: 5000 });
    workers.push(w);
    return w;
  };
  after(async () => {
    for (const w of workers) await w.close();
    await runtime.close();
  });

  test('join: the moved functions invoked in the last minute are warm on the new worker; drain: the hot ones are warm on their next home', async () => {
    const a = await start(`h15-ho-a-${process.pid}`);
    const ids = Array.from({ length: 12 }, () => fnId('ho'));
    for (const id of ids) await deploy(stores, id, Code.echo('ho'));
    for (const id of ids) assert.equal((await invoke(a.address, id)).status, 200);

    // join: b warms, before it registers, the functions whose home becomes b
    const b = await start(`h15-ho-b-${process.pid}`);
    const rows = (await stores.membership.list()) as WorkerRow[];
    const ring = new Ring(rows.filter((r) => r.state === 'active'));
    const moved = ids.filter((id) => ring.home(id) === b.id);
    assert.ok(moved.length > 0, 'some homes moved to the new worker');
    const joinStarts = await Promise.all(moved.map((id) => invoke(b.address, id)));
    assert.deepEqual(joinStarts.map((s) => s.status), moved.map(() => 200));
    const coldAfterJoin = joinStarts.filter((s) => s.start !== 'warm').length;
    assert.equal(coldAfterJoin, 0, `cold starts of moved functions after the join: ${coldAfterJoin} of ${moved.length}`);

    // drain: functions only b ran are warmed on a (their next home) before b leaves
    const onlyB = Array.from({ length: 4 }, () => fnId('hob'));
    for (const id of onlyB) await deploy(stores, id, Code.echo('hob'));
    for (const id of onlyB) assert.equal((await invoke(b.address, id)).status, 200);
    await b.drain();
    await until(async () => (await stores.membership.get(b.id))?.state !== 'active', 'b left the ring');
    const drainStarts = await Promise.all(onlyB.map((id) => invoke(a.address, id)));
    assert.deepEqual(drainStarts.map((s) => s.status), onlyB.map(() => 200));
    const coldAfterDrain = drainStarts.filter((s) => s.start !== 'warm').length;
    assert.equal(coldAfterDrain, 0, `cold starts of b's hot functions on a after the drain: ${coldAfterDrain} of ${onlyB.length}`);
  });
});

describe('warm hand-off to spill targets, between three real workers', () => {
  const runtime = testProcessRuntime();
  const workers: RunningWorker[] = [];
  after(async () => {
    for (const w of workers) await w.close();
    await runtime.close();
  });
  /** A cluster of its own (each test's ring holds only its workers). */
  const cluster = (handOffGraceMs?: number): { stores: Stores; start: (id: string) => Promise<RunningWorker> } => {
    const stores = createMemoryStores();
    const start = async (id: string): Promise<RunningWorker> => {
      const w = await startWorker({ id, capacityMb: 4096, coldPoolSize: 1, runtime, stores, logger: quietLogger(), heartbeatMs: 200, clusterKey: KEY, warmHandoff: true, drainTimeoutMs: 5000, ...(handOffGraceMs === undefined ? {} : { handOffGraceMs }) });
      workers.push(w);
      return w;
    };
    return { stores, start };
  };
  /** A deployed function whose preference list on a ring of `ids` is `list` (ids drawn until one fits). */
  const deployWithList = async (stores: Stores, ids: readonly string[], list: readonly string[], code: string): Promise<string> => {
    const ring = new Ring(ids.map((id) => ({ id, address: '', capacityMb: 0, state: 'active', heartbeatAt: 0 })));
    for (;;) {
      const id = fnId('hs');
      if (ring.preferenceList(id).join(' ') !== list.join(' ')) continue;
      await deploy(stores, id, code);
      return id;
    }
  };
  const loaded = (w: RunningWorker, id: string): number => w.pool.status().functions.filter((f) => f.functionId === id).reduce((n, f) => n + f.idle + f.busy, 0);

  test("drain: a function the leaving worker held at k = 1 of its list (a spill) is warmed on the worker at k = 2, not on its home", async () => {
    const { stores, start } = cluster();
    const [a, b, c] = [await start(`h15-sd-a-${process.pid}`), await start(`h15-sd-b-${process.pid}`), await start(`h15-sd-c-${process.pid}`)];
    const ids = [a.id, b.id, c.id];
    const spilled = await deployWithList(stores, ids, [a.id, b.id, c.id], Code.echo('hs'));
    const homed = await deployWithList(stores, ids, [b.id, c.id, a.id], Code.echo('hs'));
    // each ran on b only (called there directly, as a router spilling it from a at the bound would)
    for (const id of [spilled, homed]) assert.equal((await invoke(b.address, id)).status, 200);
    await b.drain();
    assert.equal(loaded(c, spilled), 1, "the spill target after b (c) holds the function b spilled to");
    assert.equal(loaded(a, spilled), 0, 'its home (a) was not asked: it runs the function already');
    assert.equal(loaded(c, homed), 1, 'a function homed on b goes to its next home, as before');
    const first = await invoke(c.address, spilled);
    assert.deepEqual([first.status, first.start], [200, 'warm'], 'its first spill on c is warm');
  });

  test('drain: a function not called within the hand-off window but still held warm by the keep-alive is warmed on its next home too', async () => {
    // a window of 300 ms stands for the minute: the function last ran well before it
    const { stores, start } = cluster(300);
    const [a, b] = [await start(`h15-sw-a-${process.pid}`), await start(`h15-sw-b-${process.pid}`)];
    const ids = [a.id, b.id];
    const older = await deployWithList(stores, ids, [b.id, a.id], Code.echo('hs'));
    const recent = await deployWithList(stores, ids, [b.id, a.id], Code.echo('hs'));
    assert.equal((await invoke(b.address, older)).status, 200);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((await invoke(b.address, recent)).status, 200);
    assert.deepEqual(b.pool.idleFunctions().map((f) => f.functionId).sort(), [older, recent].sort(), 'both held idle on b');
    await b.drain();
    assert.equal(loaded(a, recent), 1, 'the recently called one is warmed on its next home');
    assert.equal(loaded(a, older), 1, 'so is the one the keep-alive still held, called before the window');
    const first = await invoke(a.address, older);
    assert.deepEqual([first.status, first.start], [200, 'warm'], 'its first call on its next home is warm');
  });

  test("join: a new worker that lands at k = 1 of a function's list, right before the peer that ran it, warms it to that peer's count", async () => {
    const { stores, start } = cluster();
    const [a, b] = [await start(`h15-sj-a-${process.pid}`), await start(`h15-sj-b-${process.pid}`)];
    const cId = `h15-sj-c-${process.pid}`;
    const ids = [a.id, b.id, cId];
    const before = await deployWithList(stores, ids, [a.id, cId, b.id], Code.slow());
    const after = await deployWithList(stores, ids, [a.id, b.id, cId], Code.echo('hs'));
    // two calls of `before` at once on b (its spills from a): b reports it with count 2
    const runs = [0, 1].map(() => request(`${b.address}/invoke/${encodeURIComponent(before)}`, { method: 'POST', body: '{"ms":2000}', headers: { 'content-type': 'application/json', 'x-ringfaas-cluster-key': KEY } }).then(async (r) => (await r.body.text(), r.statusCode)));
    assert.deepEqual(await Promise.all(runs), [200, 200]);
    assert.equal((await invoke(b.address, after)).status, 200);
    const hot = await request(`${b.address}/cluster/handoff/hot`, { headers: { 'x-ringfaas-cluster-key': KEY } }).then((r) => r.body.json() as Promise<{ functions: Array<{ functionId: string; count: number }> }>);
    assert.equal(hot.functions.find((f) => f.functionId === before)?.count, 2, 'b ran two at once');

    const c = await start(cId);
    assert.equal(loaded(c, before), 2, "c, now before b in the function's list, warmed it to b's count");
    assert.equal(loaded(c, after), 0, 'a function whose list has c after b is not warmed on c');
    const first = await invoke(c.address, before);
    assert.deepEqual([first.status, first.start], [200, 'warm']);
  });
});

describe('warm hand-off on a drain through a router', () => {
  const runtime = testProcessRuntime();
  const stores = createMemoryStores();
  const cleanups: Array<() => Promise<unknown> | void> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await runtime.close();
  });

  // The bug: DELETE /workers took the worker off the router's ring at once, while its hand-off
  // had only begun, so the first routed calls on the next home started cold.
  test("DELETE /workers: the first routed call of a function only the drained worker ran is warm on its next home", async () => {
    const start = async (id: string): Promise<RunningWorker> => {
      const w = await startWorker({ id, capacityMb: 4096, coldPoolSize: 1, runtime, stores, logger: quietLogger(), heartbeatMs: 200, clusterKey: KEY, warmHandoff: true, drainTimeoutMs: 5000 });
      cleanups.push(() => w.close());
      return w;
    };
    const a = await start(`h15-dr-a-${process.pid}`);
    const b = await start(`h15-dr-b-${process.pid}`);
    const view = new RingView({ membership: stores.membership, log: quietLogger(), pollIntervalMs: 100 });
    await view.start();
    const router = new RingInvoker({ view, routerId: `h15-dr-router-${process.pid}`, clusterKey: KEY });
    const api = new RingWorkersApi({ view, membership: stores.membership, routerId: `h15-dr-router-${process.pid}`, clusterKey: KEY, drainPollMs: 20 });
    cleanups.push(async () => {
      view.stop();
      await router.close();
      await api.close();
    });
    const ctx = { requestId: 'h15-drain', log: quietLogger() };
    const call = async (id: string): Promise<{ status: number; worker: string; start: string }> => {
      const res = await router.invoke(id, Buffer.from('{"n":1}'), ctx);
      return { status: res.status, worker: String(res.headers[WorkerHeaders.worker]), start: String(res.served?.start) };
    };
    await until(() => view.ring.has(a.id) && view.ring.has(b.id), 'the router has a and b on its ring');
    const onB: string[] = [];
    while (onB.length < 4) {
      const id = fnId('hdr');
      if (view.ring.home(id) !== b.id) continue;
      await deploy(stores, id, Code.echo('hdr'));
      onB.push(id);
    }
    // one call each, one at a time: each runs on b only (its home; no load to spill it)
    for (const id of onB) assert.deepEqual(await call(id).then((r) => [r.status, r.worker]), [200, b.id]);

    const removed = await api.remove(b.id, ctx);
    assert.equal((removed.body as { drained: boolean }).drained, true);
    const firsts = [];
    for (const id of onB) firsts.push(await call(id));
    assert.deepEqual(firsts.map((r) => [r.status, r.worker]), onB.map(() => [200, a.id]), 'routed to their next home');
    assert.deepEqual(firsts.map((r) => r.start), onB.map(() => 'warm'), 'the first routed call of each was warm');
  });
});

describe('warm hand-off behind a router, on Azurite', { skip: azuriteSkip() }, () => {
  const runtime = testProcessRuntime();
  const cleanups: Array<() => Promise<unknown> | void> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await runtime.close();
  });

  test("join: a moved function's first routed call on the new worker is warm", async () => {
    const storage: TestStores = await openTestStores('azure');
    cleanups.push(() => storage.close());
    const { stores } = storage;
    const start = async (id: string): Promise<RunningWorker> => {
      const w = await startWorker({ id, capacityMb: 4096, coldPoolSize: 1, runtime, stores, logger: quietLogger(), heartbeatMs: 200, clusterKey: KEY, warmHandoff: true, drainTimeoutMs: 5000 });
      cleanups.push(() => w.close());
      return w;
    };
    const a = await start(`h15-rt-a-${process.pid}`);
    const view = new RingView({ membership: stores.membership, log: quietLogger(), pollIntervalMs: 100 });
    await view.start();
    const router = new RingInvoker({ view, routerId: `h15-rt-router-${process.pid}`, clusterKey: KEY });
    cleanups.push(async () => {
      view.stop();
      await router.close();
    });
    const ctx = { requestId: 'h15-handoff', log: quietLogger() };
    const call = async (id: string): Promise<{ status: number; worker: string; start: string }> => {
      const res = await router.invoke(id, Buffer.from('{"n":1}'), ctx);
      return { status: res.status, worker: String(res.headers[WorkerHeaders.worker]), start: String(res.served?.start) };
    };
    await until(() => view.ring.has(a.id), 'the router has a on its ring');
    const ids = Array.from({ length: 12 }, () => fnId('hr'));
    for (const id of ids) await deploy(stores, id, Code.echo('hr'));
    for (const id of ids) assert.deepEqual(await call(id).then((r) => [r.status, r.worker]), [200, a.id]);

    const b = await start(`h15-rt-b-${process.pid}`);
    await until(() => view.ring.has(b.id), 'the router has b on its ring', 15_000);
    const moved = ids.filter((id) => view.ring.home(id) === b.id);
    assert.ok(moved.length > 0, 'some homes moved to the new worker');
    const firsts = [];
    for (const id of moved) firsts.push(await call(id));
    assert.deepEqual(firsts.map((r) => r.status), moved.map(() => 200));
    assert.deepEqual(firsts.map((r) => r.worker), moved.map(() => b.id), 'routed to their new home');
    assert.deepEqual(firsts.map((r) => r.start), moved.map(() => 'warm'), 'the first routed call of each moved function was warm');
  });

  test('join: a peer that never answers (or drips its answer) holds the join no longer than the bound', async () => {
    const stores = createMemoryStores();
    const keys: Array<string | undefined> = [];
    // answers headers, then one byte every 200 ms: only a bound on the whole call ends it
    const dripping: Server = createServer((req, res) => {
      keys.push(req.headers['x-ringfaas-cluster-key'] as string | undefined);
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => res.write(' '), 200);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => dripping.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => {
      dripping.closeAllConnections();
      dripping.close(() => resolve());
    }));
    const now = Date.now();
    const port = (dripping.address() as AddressInfo).port;
    await stores.membership.upsert({ id: `h15-down-${process.pid}`, address: `http://127.0.0.1:${port}`, capacityMb: 4096, state: 'active', heartbeatAt: now, startedAt: now } as WorkerRow);
    const timeoutMs = 1500;
    const workerPort = await freePort();
    const t0 = Date.now();
    const starting = startWorker({ id: `h15-down-c-${process.pid}`, port: workerPort, capacityMb: 4096, coldPoolSize: 1, runtime, stores, logger: quietLogger(), heartbeatMs: 200, clusterKey: KEY, warmHandoff: true, warmHandoffTimeoutMs: timeoutMs });
    // while it warms, before it registers, its health check says so (whoever waits for it waits for the join)
    const healthWhileJoining = new Set<string>();
    let started = false;
    void starting.then(() => (started = true), () => (started = true));
    while (!started) {
      const h = await request(`http://127.0.0.1:${workerPort}/healthz`).then(async (r) => `${r.statusCode} ${await r.body.text()}`, () => 'not listening');
      if (!started) healthWhileJoining.add(h);
      await new Promise((r) => setTimeout(r, 50));
    }
    const c = await starting;
    cleanups.push(() => c.close());
    const joinMs = Date.now() - t0;
    assert.ok(healthWhileJoining.has('503 {"ok":false,"details":{"state":"joining"}}'), [...healthWhileJoining].join(' | '));
    assert.equal((await request(`${c.address}/healthz`)).statusCode, 200);
    assert.equal((await stores.membership.get(c.id))?.state, 'active', 'c joined');
    assert.deepEqual(keys, [KEY], 'the peer was asked once, with the cluster key');
    // a start without the peer takes well under a second here; the margin is for a loaded machine
    assert.ok(joinMs >= timeoutMs - 100 && joinMs < timeoutMs + 20_000, `join took ${joinMs} ms (bound ${timeoutMs} ms)`);
  });
});
