/**
 * Warm reuse under repeated bursts (issue 12): a burst of N concurrent calls of a slow
 * function, then at once the same burst again. The second burst must start no container:
 * N warm ones have just answered. Counted by containers started (x-ringfaas-start), not time:
 * every execution waits at a barrier (a loopback HTTP server of the test) until all N of its
 * burst run, so that a burst is a burst even on a loaded machine.
 * Real router (startRouter) and two real workers (process runtime) over shared memory stores.
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
import { startRouter, type RunningRouter } from '../main.ts';

let stores: ReturnType<typeof createMemoryStores>;
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
  baseDir = mkdtempSync(join(tmpdir(), 'ringfaas-h12-burst-'));
  const quiet = pino({ level: 'silent' });
  for (const id of ['burst-w1', 'burst-w2']) {
    workers.push(
      await startWorker({ id, capacityMb: 64 * 128, coldPoolSize: 0, runtime: new ProcessRuntime({ baseDir: join(baseDir, id) }), stores, logger: quiet, heartbeatMs: 200, membershipTtlMs: 60_000 }),
    );
  }
  const config = loadRouterConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'unused-stores-given', RINGFAAS_PORT: '0' }, [], { routerId: 'burst-router' });
  // A long membership TTL: a loaded machine may delay heartbeats, and this test is about warm reuse.
  router = await startRouter({ config, stores, log: quiet, ring: { pollIntervalMs: 100, ttlMs: 60_000 } });
  for (let i = 0; ; i++) {
    const listing = (await (await fetch(`${router.url}/workers`)).json()) as { ringSize: number };
    if (listing.ringSize >= 2) break;
    if (i > 200) throw new Error('the workers never joined the ring');
    await new Promise((r) => setTimeout(r, 50));
  }
});

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
      const res = await fetch(`${router.url}/functions/${functionId}/invoke`, { method: 'POST', body: '{}' });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      return { worker: res.headers.get('x-ringfaas-worker') ?? '', start: res.headers.get('x-ringfaas-start') ?? '' };
    }),
  );
}

const started = (served: Served[]): number => served.filter((s) => s.start !== 'warm').length;

// 15 callers in npm test (30 containers of the process runtime are too slow for it on a shared machine).
for (const callers of [15]) {
  test(`a repeated burst of ${callers} calls starts no container the second time`, async () => {
    const created = await fetch(`${router.url}/functions`, {
      method: 'POST',
      body: JSON.stringify({
        name: `burst-${callers}`,
        memorySize: 128,
        env: { BARRIER: barrierUrl },
        code: 'module.exports = async () => { await (await fetch(process.env.BARRIER)).text(); return { ok: true }; };',
      }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const first = await burst(id, callers);
    // The bound spreads the first burst's new containers over both workers.
    assert.ok(new Set(first.map((s) => s.worker)).size === 2, `first burst served by ${JSON.stringify([...new Set(first.map((s) => s.worker))])}`);
    const second = await burst(id, callers);
    assert.equal(started(second), 0, `containers started in the second burst (first started ${started(first)}): ${JSON.stringify(second)}`);
  });
}
