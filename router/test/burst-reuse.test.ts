/**
 * Warm reuse under repeated bursts (issue 12): a burst of N concurrent calls of a slow
 * function, then at once the same burst again. The second burst must start no container: N
 * warm ones have just answered. And after a worker joined, the bound's spills go to a worker
 * holding an idle container rather than to the new one, which would start one (warm first, the
 * routers' default).
 * Counted by containers started (x-ringfaas-start), not time: every execution waits at a
 * barrier (a loopback HTTP server of the test) until all N of its burst run, so that a burst is
 * a burst even on a loaded machine.
 * Real router (startRouter) and real workers (process runtime, each on its own loopback address,
 * standing for a machine) over shared memory stores.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { createMemoryStores } from '../../storage/index.ts';
import { ProcessRuntime } from '../../worker/process-runtime.ts';
import { startWorker, type RunningWorker } from '../../worker/index.ts';
import { loadRouterConfig } from '../config.ts';
import { Ring } from '../../ring/index.ts';
import { startRouter, type RunningRouter } from '../main.ts';

let stores: ReturnType<typeof createMemoryStores>;
const quiet = pino({ level: 'silent' });
const workers: RunningWorker[] = [];
let router: RunningRouter;
let baseDir: string;
let barrier: Server;
let barrierUrl: string;
/** Executions waiting at the barrier; released when `need` are there (or after 30 s: the test then fails on its counts). */
const waiting: ServerResponse[] = [];
let need = Infinity;

function releaseAll(): void {
  for (const res of waiting.splice(0)) res.end('{}');
}

before(async () => {
  barrier = createServer((_req, res) => {
    waiting.push(res);
    if (waiting.length >= need) releaseAll();
  });
  await new Promise<void>((r) => barrier.listen(0, '127.0.0.1', r));
  barrierUrl = `http://127.0.0.1:${(barrier.address() as AddressInfo).port}/`;
  stores = createMemoryStores();
  baseDir = mkdtempSync(join(tmpdir(), 'ringfaas-burst-'));
  for (const id of ['burst-w1', 'burst-w2']) await addWorker(id);
  const config = loadRouterConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'unused-stores-given', RINGFAAS_PORT: '0' }, [], { routerId: 'burst-router' });
  // A long membership TTL: a loaded machine may delay heartbeats, and this test is about warm reuse.
  router = await startRouter({ config, stores, log: quiet, ring: { pollIntervalMs: 100, ttlMs: 60_000 } });
  await ringOf(2);
});

/**
 * A worker on its own loopback address (127.0.0.1, .2, .3): each stands for a machine, so the
 * routers' bound (taken over hosts, docs/ring.md "One machine, one share") spreads between them.
 */
async function addWorker(id: string): Promise<void> {
  workers.push(
    await startWorker({ id, host: `127.0.0.${workers.length + 1}`, capacityMb: 64 * 128, coldPoolSize: 0, runtime: new ProcessRuntime({ baseDir: join(baseDir, id) }), stores, logger: quiet, heartbeatMs: 200, membershipTtlMs: 60_000 }),
  );
}

async function ringOf(size: number): Promise<void> {
  for (let i = 0; ; i++) {
    const listing = (await (await fetch(`${router.url}/workers`)).json()) as { ringSize: number };
    if (listing.ringSize >= size) return;
    if (i > 200) throw new Error(`the ring never reached ${size} workers`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function deploy(name: string): Promise<string> {
  const created = await fetch(`${router.url}/functions`, {
    method: 'POST',
    body: JSON.stringify({
      name,
      memorySize: 128,
      env: { BARRIER: barrierUrl },
      code: 'module.exports = async () => { await (await fetch(process.env.BARRIER)).text(); return { ok: true }; };',
    }),
  });
  assert.equal(created.status, 201);
  return ((await created.json()) as { id: string }).id;
}

after(async () => {
  await router?.close();
  for (const w of workers) await w.close();
  await stores?.close();
  releaseAll();
  barrier?.closeAllConnections();
  barrier?.close();
  rmSync(baseDir, { recursive: true, force: true });
});

interface Served {
  worker: string;
  start: string;
}

async function burst(functionId: string, callers: number): Promise<Served[]> {
  need = callers;
  const timer = setTimeout(releaseAll, 30_000);
  try {
    return await burstCalls(functionId, callers);
  } finally {
    clearTimeout(timer);
  }
}

async function burstCalls(functionId: string, callers: number): Promise<Served[]> {
  return Promise.all(
    Array.from({ length: callers }, async () => {
      const res = await fetch(`${router.url}/functions/${functionId}/invoke`, { method: 'POST', body: '{}', headers: { 'x-ringfaas-details': '1' } });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.equal(res.headers.get('x-ringfaas-idle'), null, 'the workers\' idle report is for routers only');
      return { worker: res.headers.get('x-ringfaas-worker') ?? '', start: res.headers.get('x-ringfaas-start') ?? '' };
    }),
  );
}

const started = (served: Served[]): number => served.filter((s) => s.start !== 'warm').length;

// 15 callers in npm test (30 containers of the process runtime are too slow for it on a shared machine).
test('a repeated burst of 15 calls starts no container the second time', async () => {
  const id = await deploy('burst-15');
  const first = await burst(id, 15);
  // The bound spreads the first burst's new containers over both workers.
  assert.equal(new Set(first.map((s) => s.worker)).size, 2, `first burst served by ${JSON.stringify([...new Set(first.map((s) => s.worker))])}`);
  const second = await burst(id, 15);
  assert.equal(started(second), 0, `containers started in the second burst (first started ${started(first)}): ${JSON.stringify(second)}`);
});

test('a spill goes to a worker holding an idle warm container, not to the next one in order, which would start one', async () => {
  // A function whose order in the ring of three will be [w1 or w2, w3, the other]: w3 joins
  // later, cold. With the bound alone, the spills of 6 concurrent calls go to w3 (the next in
  // order), each a new container, beside the idle ones the third worker holds.
  const three = new Ring(['burst-w1', 'burst-w2', 'burst-w3'].map((id) => ({ id, address: '', capacityMb: 0, state: 'active' as const, heartbeatAt: 0 })));
  let id = await deploy('burst-spill');
  for (let i = 0; three.preferenceList(id, 3)[1] !== 'burst-w3'; i++) {
    if (i > 30) throw new Error('no function with burst-w3 second in 30 tries');
    id = await deploy(`burst-spill-${i}`);
  }
  const first = await burst(id, 6);
  assert.equal(started(first), 6);
  await addWorker('burst-w3');
  await ringOf(3);
  const second = await burst(id, 6);
  assert.ok(started(second) <= 1, `containers started after the join: ${JSON.stringify(second)}`);
  // More calls than warm containers: the rest start where the bound says, the new worker included.
  const third = await burst(id, 9);
  assert.ok(started(third) <= 3, `a burst of 9 on 7 warm containers: ${JSON.stringify(third)}`);
  assert.ok(third.some((s) => s.worker === 'burst-w3'), `the new worker took none of the calls: ${JSON.stringify(third)}`);
});
