/**
 * The warm hand-off's guard with a real worker (startWorker, ProcessRuntime containers,
 * in-memory stores): a worker with little spare memory, asked by a peer to warm many
 * functions, still answers real invocations (no RF_WORKER_AT_CAPACITY, even the one that needs
 * a warm-up's memory), runs at most two warm-up starts at once, and warms only into the
 * memory above its headroom. Before the guard
 * the warm-up took every free megabyte with containers still starting, and these invocations
 * were refused (the soak's RF_RING_AT_CAPACITY, docs/worker.md "Warm hand-off").
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { createMemoryStores } from '../../storage/index.ts';
import { startWorker } from '../start-worker.ts';
import { Code, deploy, fnId, quietLogger, testProcessRuntime, until } from './worker-fixtures.ts';

const KEY = `h15-guard-key-${process.pid}-0123456789abcdef`;
const headers = { 'content-type': 'application/json', 'x-ringfaas-cluster-key': KEY };

/** Loads for about 1.5 s (its module's top level blocks, using no CPU), then echoes. */
const SLOW_LOAD = `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500); module.exports = async () => ({ ok: true });`;

async function invoke(base: string, id: string, input: unknown): Promise<{ status: number; code: string | undefined }> {
  const res = await request(`${base}/invoke/${encodeURIComponent(id)}`, { method: 'POST', body: JSON.stringify(input), headers });
  const body = (await res.body.json()) as { error?: { code?: string } };
  return { status: res.statusCode, code: body.error?.code };
}

describe('warm hand-off guard on a real worker', () => {
  const runtime = testProcessRuntime();
  const stores = createMemoryStores();
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
    await runtime.close();
  });

  test('little spare memory: real invocations are answered while a peer-asked warm-up runs, at most 2 starts at once, above the headroom only', async () => {
    // 1024 MB, headroom 25 % = 256 MB kept for traffic
    const w = await startWorker({ id: `h15-guard-${process.pid}`, capacityMb: 1024, coldPoolSize: 0, runtime, stores, logger: quietLogger(), heartbeatMs: 200, clusterKey: KEY, warmHandoff: true, drainTimeoutMs: 5000 });
    closers.push(() => w.close());
    const pool = w.pool;

    // traffic holds 512 MB: four 128 MB executions of 3 s
    const slow = fnId('gs');
    await deploy(stores, slow, Code.slow());
    const running = Array.from({ length: 4 }, () => invoke(w.address, slow, { ms: 3000 }));
    await until(() => pool.busy === 4, 'four executions running');

    const toWarm = Array.from({ length: 6 }, () => fnId('gw'));
    for (const id of toWarm) await deploy(stores, id, SLOW_LOAD);
    // two fit in the headroom; the third needs a warm-up's memory (given up or evicted for it)
    const fresh = Array.from({ length: 3 }, () => fnId('gf'));
    for (const id of fresh) await deploy(stores, id, Code.echo('gf'));

    // a draining peer asks for 6 functions × 2 containers (1536 MB)
    const warm = request(`${w.address}/cluster/handoff/warm`, { method: 'POST', headers, body: JSON.stringify({ functions: toWarm.map((functionId) => ({ functionId, count: 2 })) }) });
    let mostStarting = 0;
    let mostReservedMb = 0;
    const sampling = setInterval(() => {
      mostStarting = Math.max(mostStarting, pool.containerCount - pool.busy - pool.warmIdle - pool.coldPoolIdle);
      mostReservedMb = Math.max(mostReservedMb, pool.reservedMb);
    }, 5);
    try {
      await until(() => pool.reservedMb > 512, 'the warm-up started');
      // real traffic of three new functions while the warm-up's containers still load
      const answers = await Promise.all(fresh.map((id) => invoke(w.address, id, { n: 1 })));
      assert.deepEqual(answers, fresh.map(() => ({ status: 200, code: undefined })), 'real invocations answered, none refused');
      const warmAnswer = await warm;
      const { warmed } = (await warmAnswer.body.json()) as { warmed: number };
      assert.equal(warmAnswer.statusCode, 200);
      // 512 free: two 128 MB warm-ups keep the 256 MB headroom; the rest found no spare
      // memory, and the third request took one of the two
      assert.ok(warmed >= 1 && warmed <= 2, `warmed ${warmed}`);
    } finally {
      clearInterval(sampling);
    }
    assert.ok(mostStarting <= 2 + fresh.length, `containers starting at once: ${mostStarting}`);
    assert.ok(mostReservedMb <= 1024, `reserved at most ${mostReservedMb} MB`);
    assert.deepEqual((await Promise.all(running)).map((r) => r.status), [200, 200, 200, 200]);
    assert.equal(pool.warmUps.running + pool.warmUps.queued, 0);
  });
});
