/**
 * micro (tinybench): the per-request discovery cost of each design.
 * - ringfaas: the worker pool's warm path (acquire = pop off the LIFO warm stack, release =
 *   push back), on the real ContainerPool with an in-memory runtime whose containers do nothing;
 *   the ring lookup and spill decision (bench/ring-micro.ts).
 * - Redis design: the acquire round trips against a real Redis (LPOP + LPUSH, and the
 *   web service's pop script + the worker's LPUSH).
 */
import { pino } from 'pino';
import { Bench } from 'tinybench';
import { Redis } from 'ioredis';
import { ContainerPool, type ContainerHandle, type ContainerRuntime, type PoolFunction } from '../../worker/index.ts';
import { runRingMicro } from '../ring-micro.ts';
import { POP_LOCATION_LUA, redisKeys } from '../redis-design/keys.ts';
import type { ScenarioOutput } from '../report/result.ts';

export interface MicroResultRow {
  group: string;
  task: string;
  meanNs: number;
  p50Ns: number;
  p99Ns: number;
  opsPerSec: number;
}

/** A runtime whose containers exist only in memory: the pool's bookkeeping, nothing else. */
function memoryRuntime(): ContainerRuntime {
  const handle = (instanceId: string): ContainerHandle => ({
    instanceId,
    codeDir: '/nonexistent',
    exited: new Promise(() => undefined),
    load: async () => undefined,
    invoke: async () => ({ state: 'ok', output: null, logs: { lines: [], truncated: false }, functionMs: 0 }),
    setMemoryLimit: async () => undefined,
    remove: async () => undefined,
  });
  return {
    kind: 'process',
    prepare: async () => undefined,
    start: async (spec) => handle(spec.instanceId),
    removeLeftovers: async () => 0,
    close: async () => undefined,
  };
}

async function collect(bench: Bench, group: string, rows: MicroResultRow[]): Promise<void> {
  await bench.run();
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state !== 'completed') continue;
    rows.push({ group, task: task.name, meanNs: r.latency.mean * 1e6, p50Ns: r.latency.p50 * 1e6, p99Ns: r.latency.p99 * 1e6, opsPerSec: r.throughput.mean });
  }
}

export interface MicroOptions {
  /** Redis for the Redis tasks; undefined skips them. */
  redisUrl?: string;
  timeMs: number;
  /** Ring sizes for the ring tasks. */
  ringSizes: number[];
}

export async function runMicro(options: MicroOptions): Promise<ScenarioOutput> {
  const rows: MicroResultRow[] = [];

  // The pool's warm path: 15 idle containers of one function, pop one and push it back.
  const pool = new ContainerPool({ workerId: 'micro', runtime: memoryRuntime(), capacityMb: 4096, coldPoolSize: 0, logger: pino({ level: 'silent' }) });
  const fn: PoolFunction = { id: 'fn', version: 1, memoryMb: 128, timeoutMs: 1000, idleTimeoutMs: 3_600_000, env: {}, files: [] };
  const leases = await Promise.all(Array.from({ length: 15 }, () => pool.acquire(fn)));
  for (const lease of leases) pool.release(lease);
  const warm = new Bench({ time: options.timeMs, warmupTime: 50 });
  warm.add('pool acquire + release (warm stack pop/push)', async () => {
    pool.release(await pool.acquire(fn));
  });
  await collect(warm, 'ringfaas worker', rows);
  await pool.close();

  for (const r of await runRingMicro({ sizes: options.ringSizes, timeMs: options.timeMs })) {
    if (r.state === 'completed') rows.push({ group: `ring, ${r.workers} workers`, task: r.task, meanNs: r.meanNs, p50Ns: r.p50Ns, p99Ns: r.p99Ns, opsPerSec: r.opsPerSec });
  }

  if (options.redisUrl !== undefined) {
    const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
    const keys = redisKeys(`rfmicro:${process.pid}:`);
    try {
      await redis.lpush(keys.warm('fn'), ...Array.from({ length: 15 }, (_, i) => `i${i} http://127.0.0.1:1`));
      const sha = (await redis.script('LOAD', POP_LOCATION_LUA)) as string;
      const bench = new Bench({ time: options.timeMs, warmupTime: 50 });
      bench
        .add('LPOP + LPUSH (2 round trips)', async () => {
          const e = (await redis.lpop(keys.warm('fn'))) as string;
          await redis.lpush(keys.warm('fn'), e);
        })
        .add('pop script + LPUSH (the Redis design per request)', async () => {
          const r = (await redis.evalsha(sha, 2, keys.warm('fn'), keys.cold)) as [string, string];
          await redis.lpush(keys.warm('fn'), r[1]);
        });
      await collect(bench, 'redis design', rows);
    } finally {
      await redis.del(keys.warm('fn'), keys.cold);
      redis.disconnect();
    }
  }

  const us = (ns: number): number => Math.round(ns) / 1000;
  return {
    title: 'Micro-benchmarks (tinybench)',
    settings: { timeMs: options.timeMs, ringSizes: options.ringSizes, redis: options.redisUrl !== undefined },
    summary: rows
      .filter((r) => r.group !== 'ring, 10 workers' && r.group !== 'ring, 1000 workers')
      .filter((r) => !r.group.startsWith('ring,') || r.task.startsWith('route'))
      .map((r) => `${r.group}: ${r.task}: mean ${us(r.meanNs)} µs`),
    tables: [
      {
        title: 'Per-call cost',
        columns: ['group', 'task', 'mean µs', 'p50 µs', 'p99 µs', 'ops/s'],
        rows: rows.map((r) => [r.group, r.task, us(r.meanNs), us(r.p50Ns), us(r.p99Ns), Math.round(r.opsPerSec)]),
      },
    ],
    charts: [
      {
        title: 'Mean cost per call',
        kind: 'bar',
        xLabel: 'task',
        yLabel: 'µs',
        xLabels: rows.map((r) => `${r.group.replace(' workers', 'w')}: ${r.task.slice(0, 14)}`),
        series: [{ name: 'mean µs', points: rows.map((r, i) => [i, us(r.meanNs)] as [number, number]) }],
      },
    ],
    raw: { rows },
  };
}
