/**
 * The keep-alive replay: the slice and its compression, the open-loop sender on a manual
 * clock, the idle-memory integral, and one tiny replay end to end against a real platform
 * (Azurite, a worker and a router as child processes) that must count cold and warm starts
 * as the fixed window says, and as greedy-dual says on a second fresh platform (so the policy
 * reaches the workers).
 *
 * The end-to-end run uses the process runtime: on this 2-core machine a Docker cold start
 * under load takes seconds, which would need a gentler compression and a test minutes long;
 * the worker's pool, keep-alive windows and start headers are the same code on both runtimes
 * (the Docker run is the bench itself: docs/benchmarks.md, "Keep-alive replay").
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../clock/index.ts';
import { TraceWorkload } from '../simulate/azure-trace.ts';
import { GeneratedWorkload } from '../simulate/generator.ts';
import { compressArrivals, takeSlice } from '../replay/slice.ts';
import { replayArrivals } from '../replay/replayer.ts';
import { IdleMemoryIntegral, idleMbOf } from '../replay/idle-memory.ts';
import { classifyStart, counterValue, curveReadings, replayRuns, runKeepAliveReplay, type PolicyRun } from '../scenarios/keepalive-replay.ts';
import { silentProgress } from '../report/progress.ts';
import type { Sample } from '../load/stats.ts';

let dir: string;

/** A trace file in the Azure 2019 format: per function, its count in each of 60 minutes. */
async function writeTrace(rows: Array<{ fn: string; counts: Record<number, number> }>): Promise<string> {
  const minutes = Array.from({ length: 60 }, (_, m) => m);
  const lines = [`HashOwner,HashApp,HashFunction,Trigger,${minutes.map((m) => m + 1).join(',')}`];
  for (const r of rows) lines.push(`o,app-${r.fn},${r.fn},http,${minutes.map((m) => r.counts[m] ?? 0).join(',')}`);
  const path = join(dir, `trace-${rows.map((r) => r.fn).join('-')}.csv`);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rf-replay-test-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('takeSlice keeps the functions with 2..max calls in the slice, in trace order, times from the slice start', async () => {
  const path = await writeTrace([
    { fn: 'once', counts: { 12: 1 } },
    { fn: 'busy', counts: { 10: 50, 11: 50 } },
    { fn: 'a', counts: { 0: 3, 10: 1, 14: 2 } },
    { fn: 'b', counts: { 11: 1, 19: 1, 25: 1 } },
    { fn: 'c', counts: { 12: 1, 13: 1 } },
  ]);
  const workload = await TraceWorkload.read({ files: { invocations: path }, seed: 1 });
  const slice = takeSlice(workload, { fromMinute: 10, minutes: 10, maxFunctions: 2, maxInvocationsPerFunction: 20 });
  assert.deepEqual(slice.functions.map((f) => [f.id, f.invocations]), [['a', 3], ['b', 2]]);
  assert.deepEqual(slice.leftOut, { tooFew: 1, tooMany: 1, overCount: 1 });
  // a's minute-0 calls and b's minute-25 call are outside; arrivals sorted, in slice time
  assert.equal(slice.arrivals.length, 5);
  const times = slice.arrivals.map((a) => a.at);
  assert.deepEqual(times, [...times].sort((x, y) => x - y));
  const minutesOf = (fn: number): number[] => slice.arrivals.filter((a) => a.fn === fn).map((a) => Math.floor(a.at / 60_000));
  assert.deepEqual(minutesOf(0), [0, 4, 4]);
  assert.deepEqual(minutesOf(1), [1, 9]);
  assert.deepEqual(compressArrivals([{ at: 90_000, fn: 1 }], 60), [{ at: 1500, fn: 1 }]);
  assert.throws(() => takeSlice(workload, { fromMinute: 1430, minutes: 20, maxFunctions: 2, maxInvocationsPerFunction: 20 }), RangeError);
});

test('takeSlice of the generator is the same for the same seed', () => {
  const slice = (): unknown => takeSlice(new GeneratedWorkload({ seed: 7, functions: 200, minutes: 90 }), { fromMinute: 30, minutes: 60, maxFunctions: 10, maxInvocationsPerFunction: 120 });
  const one = slice() as { functions: unknown[]; arrivals: Array<{ at: number }> };
  assert.equal(one.functions.length, 10);
  assert.ok(one.arrivals.every((a) => a.at >= 0 && a.at < 60 * 60_000));
  assert.deepEqual(slice(), one);
});

/** Lets promise callbacks run between steps of the manual clock. */
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

test('replayArrivals sends each arrival at its time and holds the ones over the in-flight bound (manual clock)', async () => {
  const clock = new ManualClock(0);
  const sample = (): Sample => ({ atMs: 0, latencyMs: 100, status: 200, start: 'warm' });
  const done = replayArrivals({
    arrivals: [
      { at: 0, fn: 0 },
      { at: 0, fn: 1 },
      { at: 0, fn: 2 },
      { at: 50, fn: 3 },
      { at: 400, fn: 4 },
    ],
    maxInFlight: 2,
    clock,
    scheduler: clock,
    // each answer comes 100 ms after its send, on the same clock
    invoke: () => new Promise((resolve) => clock.setTimer(100, () => resolve(sample()))),
  });
  let records: Awaited<typeof done> | undefined;
  void done.then((r) => (records = r));
  for (let t = 0; t <= 600 && records === undefined; t += 10) {
    clock.advance(t === 0 ? 0 : 10);
    await flush();
  }
  assert.ok(records !== undefined, 'the replay finished');
  assert.deepEqual(
    records.map((r) => [r.fn, r.scheduledMs, r.sentMs]),
    [
      [0, 0, 0],
      [1, 0, 0],
      [2, 0, 100],
      [3, 50, 100],
      [4, 400, 400],
    ],
  );
});

test('the idle-memory integral holds each reading until the next', () => {
  const integral = new IdleMemoryIntegral();
  integral.add(0, 100);
  integral.add(1000, 200);
  integral.add(1500, 0);
  integral.add(4000, 0);
  assert.equal(integral.mbMs, 100 * 1000 + 200 * 500);
  assert.equal(integral.peakMb, 200);
  assert.throws(() => integral.add(3000, 1), RangeError);
  const memory: Record<string, number> = { f: 256, g: 128 };
  assert.equal(idleMbOf({ functions: [{ functionId: 'f', version: 1, idle: 2, busy: 1 }, { functionId: 'g', version: 3, idle: 1, busy: 0 }] }, (id) => memory[id] ?? 0), 640);
});

test('answers are classified by the start header; counters are read from Prometheus text', () => {
  assert.equal(classifyStart({ atMs: 0, latencyMs: 1, status: 200, start: 'warm' }), 'warm');
  assert.equal(classifyStart({ atMs: 0, latencyMs: 1, status: 200, start: 'cold-pool' }), 'cold');
  assert.equal(classifyStart({ atMs: 0, latencyMs: 1, status: 200, start: 'cold-create' }), 'cold');
  assert.equal(classifyStart({ atMs: 0, latencyMs: 1, status: 200 }), 'error');
  assert.equal(classifyStart({ atMs: 0, latencyMs: 1, status: 504, start: 'warm', error: 'RF_WORKER_INVOKE_TIMEOUT' }), 'error');
  const text = '# HELP ringfaas_worker_expiries_total x\n# TYPE ringfaas_worker_expiries_total counter\nringfaas_worker_expiries_total 3\nringfaas_worker_evictions_total 0\n';
  assert.equal(counterValue(text, 'ringfaas_worker_expiries_total'), 3);
  assert.equal(counterValue(text, 'ringfaas_worker_missing_total'), 0);
});

test('the fixed windows add fixed runs, and the other policies are read against their curve as the simulator reads them', () => {
  assert.deepEqual(replayRuns(['fixed', 'hazard'], [5, 15, 60]).map((r) => `${r.policy}@${r.settingMinutes}`), ['fixed@15', 'hazard@15', 'fixed@5', 'fixed@60']);
  assert.deepEqual(replayRuns(['hazard'], [15]).map((r) => `${r.policy}@${r.settingMinutes}`), ['hazard@15', 'fixed@15']);
  const run = (policy: 'fixed' | 'hazard', settingMinutes: number, idleGbS: number, coldStarts: number): PolicyRun =>
    ({ policy, settingMinutes, label: settingMinutes === 15 ? policy : `${policy} ${settingMinutes} min`, idleGbS, coldStarts }) as PolicyRun;
  const fixedOnly = [run('fixed', 15, 100, 20), run('hazard', 15, 60, 10)];
  assert.deepEqual(curveReadings(fixedOnly), [], 'one fixed window is no curve');
  // fixed: 5 min (40 GB·s, 40 cold), 15 min (100, 20), 60 min (300, 5)
  const runs = [run('fixed', 15, 100, 20), run('hazard', 15, 70, 10), run('fixed', 5, 40, 40), run('fixed', 60, 300, 5)];
  const [reading] = curveReadings(runs);
  // at 70 GB·s fixed has 30 cold starts (3× the policy's 10); 10 cold starts fixed reaches at 233.33 GB·s (70 is 70 % less)
  assert.match(reading ?? '', /^hazard against the fixed curve \(fixed at 5, 15, 60 min\): at its idle memory-time fixed would have 30 cold starts: 3× the policy's 10; for its cold starts fixed would need 233.33 GB·s: the policy uses 70 % less/);
  assert.match(curveReadings([...runs.slice(0, 1), run('hazard', 15, 10, 50), ...runs.slice(2)])[0] ?? '', /at its idle memory-time: outside the curve; at its cold starts: outside the curve/);
});

test('a tiny replay on a real platform counts cold starts as the scaled fixed windows say, and the workers run the policy asked for', { timeout: 240_000 }, async () => {
  // At 200×, the fixed 15 min window is 4.5 s. 'a' is called in trace minutes 0, 5 (~1.5 s
  // later: warm) and 40 (~10 s after that: expired, cold again); 'b' in minutes 0 and 2 (warm).
  const path = await writeTrace([
    { fn: 'a', counts: { 0: 1, 5: 1, 40: 1 } },
    { fn: 'b', counts: { 0: 1, 2: 1 } },
  ]);
  const workload = await TraceWorkload.read({ files: { invocations: path }, seed: 3 });
  const slice = takeSlice(workload, { fromMinute: 0, minutes: 41, maxFunctions: 5, maxInvocationsPerFunction: 10 });
  const output = await runKeepAliveReplay({
    slice,
    source: workload.name,
    policies: ['fixed', 'greedy-dual'],
    fixedWindowsMinutes: [60],
    timeScale: 200,
    warmupMinutes: 0,
    maxFunctionMemoryMb: 128,
    maxInFlight: 4,
    requestTimeoutMs: 20_000,
    sampleIntervalMs: 100,
    platform: {
      workers: 1,
      workerMemoryMb: 1024,
      coldPoolSize: 1,
      runtime: 'process',
      functionMemoryMb: 128,
      limitContainers: 1,
      logDir: join(dir, 'logs'),
      logLevel: 'warn',
      readyTimeoutMs: 90_000,
    },
    progress: silentProgress,
  });
  const [run, greedy, fixed60] = (output.raw as { runs: PolicyRun[] }).runs;
  assert.ok(run !== undefined && greedy !== undefined && fixed60 !== undefined);
  assert.equal(run.errors, 0, JSON.stringify(run.errorCodes));
  assert.equal(run.invocations, 5);
  assert.deepEqual(slice.functions.map((f) => f.id), ['a', 'b']);
  assert.deepEqual(run.coldByFunction, [2, 1], 'a: cold, warm, cold after the window; b: cold, warm');
  assert.equal(run.coldStarts, 3);
  // both containers outlived their window (b's after ~0.6 s, a's after ~1.8 s of real time)
  assert.ok(run.expiries >= 2, `expiries ${run.expiries}`);
  // 128 MB containers idle ~10.5 s of real time in all (a: ~1.2 s between its first calls and
  // 4.5 s after its second; b: ~0.3 s and 4.5 s), × 200: ~260 GB·s of trace time
  assert.ok(run.idleGbS > 120 && run.idleGbS < 450, `idle ${run.idleGbS} GB·s`);
  // greedy-dual (RINGFAAS_KEEPALIVE_POLICY reached the workers): nothing expires without memory
  // pressure, so a's third call finds its container warm
  assert.equal(greedy.errors, 0, JSON.stringify(greedy.errorCodes));
  assert.deepEqual(greedy.coldByFunction, [1, 1]);
  assert.equal(greedy.expiries, 0);
  // fixed at 60 min (18 s real: the window reached the deployed functions): a's third call,
  // 35 trace minutes after its second, is warm
  assert.equal(fixed60.label, 'fixed 60 min');
  assert.equal(fixed60.errors, 0, JSON.stringify(fixed60.errorCodes));
  assert.deepEqual(fixed60.coldByFunction, [1, 1]);
  assert.ok(output.summary.some((line) => line.startsWith('greedy-dual against the fixed curve (fixed at 15, 60 min)')), output.summary.join('\n'));
});
