/**
 * worker (issue 3's benchmarks), on the chosen runtime:
 * - cold start from the cold pool vs creating and starting a container: time from acquire to
 *   a loaded container, p50 ratio pool/create (target ≤ 0.15);
 * - warm invocation through the worker (HTTP to a ringfaas worker in a child process, on
 *   in-memory stores holding the function) vs calling
 *   a container's socket directly (ContainerHandle.invoke): added p50 (target ≤ 0.15 ms);
 * - a no-op function's throughput through one worker at 1, 4 and 15 callers.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerPool, unpackCode, writeCode, type ContainerRuntime, type PoolFunction } from '../../worker/index.ts';
import { functionSource, zipIndex } from '../functions/code.ts';
import { createLoadClient } from '../load/client.ts';
import { runStages } from '../load/generator.ts';
import { median, percentile } from '../load/stats.ts';
import type { ScenarioOutput } from '../report/result.ts';
import type { Progress } from '../report/progress.ts';
import { launchMain } from '../../bin/index.ts';
import { waitReady } from '../platform/children.ts';
import { stageTable } from './concurrency.ts';

export const WORKER_TARGETS = { coldPoolOverCreateP50: 0.15, warmAddedP50Ms: 0.15 } as const;

export interface WorkerBenchOptions {
  runtime: ContainerRuntime;
  coldStarts: number;
  warmCalls: number;
  throughputStages: readonly number[];
  stageMs: number;
  logDir: string;
  logLevel: string;
  progress: Progress;
}

const r3 = (v: number): number => Math.round(v * 1000) / 1000;

async function coldStartTimes(runtime: ContainerRuntime, files: PoolFunction['files'], coldPoolSize: number, count: number): Promise<number[]> {
  const pool = new ContainerPool({ workerId: `bench-cold-${randomBytes(2).toString('hex')}`, runtime, capacityMb: 4096, coldPoolSize, logger: pino({ level: 'silent' }) });
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      await pool.fill();
      const fn: PoolFunction = { id: `cold-${i}`, version: 1, memoryMb: 128, timeoutMs: 10_000, idleTimeoutMs: 60_000, env: {}, files };
      const t0 = performance.now();
      const lease = await pool.acquire(fn);
      times.push(performance.now() - t0);
      pool.release(lease);
      pool.removeFunction(fn.id);
    }
  } finally {
    await pool.close();
  }
  return times;
}

export async function runWorkerBench(options: WorkerBenchOptions): Promise<ScenarioOutput> {
  const { runtime, progress } = options;
  const zip = zipIndex(await functionSource('instance-id'));
  const files = await unpackCode(zip);

  progress.note('cold starts from the cold pool');
  const fromPool = await coldStartTimes(runtime, files, 2, options.coldStarts);
  progress.note('cold starts creating a container');
  const created = await coldStartTimes(runtime, files, 0, options.coldStarts);

  progress.note('warm calls straight to a container socket');
  const handle = await runtime.start({ instanceId: `direct${randomBytes(2).toString('hex')}`, workerId: 'bench-direct', memoryMb: 128, network: false });
  const direct: number[] = [];
  try {
    await writeCode(handle.codeDir, files);
    await handle.load({ functionId: 'direct', version: 1, memoryMb: 128, timeoutMs: 10_000, env: {} });
    const input = Buffer.from('{}');
    for (let i = 0; i < options.warmCalls + 500; i++) {
      const t0 = performance.now();
      await handle.invoke(input, Date.now() + 10_000);
      if (i >= 500) direct.push(performance.now() - t0);
    }
  } finally {
    await handle.remove();
  }

  const dir = await mkdtemp(join(tmpdir(), 'ringfaas-worker-bench-'));
  const zipFile = join(dir, 'function.zip');
  await writeFile(zipFile, zip);
  const child = launchMain({
    name: 'worker-bench-worker',
    main: 'bench/platform/child-main.ts',
    logDir: options.logDir,
    ipc: true,
    env: {
      ...process.env,
      RINGFAAS_BENCH_ROLE: 'lone-worker',
      RINGFAAS_LOG_LEVEL: options.logLevel,
      RINGFAAS_WORKER_ID: `bench-w-${randomBytes(2).toString('hex')}`,
      RINGFAAS_RUNTIME: runtime.kind,
      RINGFAAS_BENCH_ZIP_FILE: zipFile,
    },
  });
  const viaWorker: number[] = [];
  let throughput: Awaited<ReturnType<typeof runStages>> = [];
  try {
    const invokeUrl = await waitReady(child, 120_000);
    const client = createLoadClient(invokeUrl, { connections: Math.max(...options.throughputStages) });
    try {
      // Throughput first: it also warms the worker's JIT up before the latency is sampled.
      progress.note('throughput through one worker');
      throughput = await runStages({ client, stages: options.throughputStages, stageMs: options.stageMs });
      progress.note('warm calls through the worker');
      for (let i = 0; i < options.warmCalls + 500; i++) {
        const s = await client.invoke(performance.now());
        if (i >= 500 && s.status === 200) viaWorker.push(s.latencyMs);
      }
    } finally {
      await client.close();
    }
  } finally {
    await child.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const sorted = (v: number[]): number[] => [...v].sort((a, b) => a - b);
  const poolP50 = median(fromPool);
  const createP50 = median(created);
  const coldRatio = r3(poolP50 / createP50);
  const directP50 = median(direct);
  const workerP50 = median(viaWorker);
  const added = r3(workerP50 - directP50);
  return {
    title: 'Worker: cold start, warm overhead, throughput',
    settings: { runtime: runtime.kind, coldStarts: options.coldStarts, warmCalls: options.warmCalls, throughputStages: options.throughputStages, stageMs: options.stageMs },
    summary: [
      `cold start p50: from the pool ${r3(poolP50)} ms, creating ${r3(createP50)} ms, ratio ${coldRatio} (target ≤ ${WORKER_TARGETS.coldPoolOverCreateP50}: ${coldRatio <= WORKER_TARGETS.coldPoolOverCreateP50 ? 'met' : 'NOT met'})`,
      `warm p50: direct socket ${r3(directP50)} ms, through the worker ${r3(workerP50)} ms, added ${added} ms (target ≤ ${WORKER_TARGETS.warmAddedP50Ms} ms: ${added <= WORKER_TARGETS.warmAddedP50Ms ? 'met' : 'NOT met'})`,
      ...throughput.map((t) => `${t.stats.concurrency} callers through one worker: ${t.stats.throughputRps.toFixed(0)} req/s, p50 ${t.stats.p50Ms.toFixed(2)} ms`),
    ],
    tables: [
      {
        title: 'Cold start (acquire to a loaded container)',
        columns: ['kind', 'n', 'p50 ms', 'p90 ms', 'max ms'],
        rows: [
          ['cold pool', fromPool.length, r3(poolP50), r3(percentile(sorted(fromPool), 90)), r3(Math.max(...fromPool))],
          ['create + start', created.length, r3(createP50), r3(percentile(sorted(created), 90)), r3(Math.max(...created))],
        ],
      },
      {
        title: 'Warm invocation',
        columns: ['path', 'n', 'p50 ms', 'p90 ms', 'p99 ms'],
        rows: [
          ['container socket directly', direct.length, r3(directP50), r3(percentile(sorted(direct), 90)), r3(percentile(sorted(direct), 99))],
          ['HTTP through the worker', viaWorker.length, r3(workerP50), r3(percentile(sorted(viaWorker), 90)), r3(percentile(sorted(viaWorker), 99))],
        ],
      },
      stageTable('Throughput through one worker', throughput.map((t) => t.stats)),
    ],
    charts: [
      {
        title: 'Throughput through one worker',
        kind: 'line',
        xLabel: 'concurrent callers',
        yLabel: 'requests / s',
        series: [{ name: runtime.kind, points: throughput.map((t) => [t.stats.concurrency, t.stats.throughputRps] as [number, number]) }],
      },
    ],
    raw: { fromPoolMs: fromPool, createdMs: created, directMs: direct, viaWorkerMs: viaWorker, throughput: throughput.map((t) => t.stats) },
  };
}
