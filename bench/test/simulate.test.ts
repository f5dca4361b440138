/**
 * The simulator: deterministic by seed, built on the real ring/ code (homes equal), the
 * trace parser on the shipped sample, and a small end-to-end run of the bench (seconds).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Ring } from '../../ring/index.ts';
import { GeneratedWorkload } from '../simulate/generator.ts';
import { TraceWorkload } from '../simulate/azure-trace.ts';
import { simulate, type SimulationOptions } from '../simulate/engine.ts';
import { RingfaasPlacement, OpenWhiskPlacement, pairwiseCoprimeNumbersUntil, javaHash } from '../simulate/placement.ts';
import { Prng } from '../simulate/prng.ts';
import { LogHistogram } from '../simulate/histogram.ts';
import { LoadTracker } from '../simulate/load-tracker.ts';
import { runSimulateBench, fixedAtIdle } from '../simulate/scenario.ts';
import { recordRun } from '../run.ts';
import { silentProgress } from '../report/progress.ts';
import type { Arrival, SimFunction, Workload } from '../simulate/workload.ts';
import { isRfError } from '../../errors/index.ts';

const sample = (name: string): string => join(import.meta.dirname, '..', 'simulate', 'sample', name);
const SAMPLE = {
  invocations: sample('invocations_per_function_md.anon.d01.csv'),
  durations: sample('function_durations_percentiles.anon.d01.csv'),
  memory: sample('app_memory_percentiles.anon.d01.csv'),
};

function small(extra: Partial<SimulationOptions> = {}): SimulationOptions {
  return {
    workload: new GeneratedWorkload({ seed: 3, functions: 100, minutes: 40 }),
    workers: 10,
    workerMemoryMb: 2048,
    placement: 'ringfaas',
    keepAlive: { name: 'fixed', keepAliveMin: 15 },
    seed: 3,
    durationMin: 20,
    warmupMin: 3,
    events: [
      { atMin: 6, kind: 'join' },
      { atMin: 10, kind: 'drain' },
      { atMin: 15, kind: 'die' },
    ],
    ...extra,
  };
}

function strip(r: ReturnType<typeof simulate>): unknown {
  return { ...r, wallMs: 0, speed: 0, events: r.events.map((e) => ({ ...e, window: { ...e.window, moved: [...(e.window.moved ?? [])], recentWarm: undefined } })) };
}

test('prng: the same seed gives the same stream, forks are independent of draws', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  assert.deepEqual(Array.from({ length: 5 }, () => a.nextUint32()), Array.from({ length: 5 }, () => b.nextUint32()));
  assert.equal(new Prng(42).fork('x').next(), new Prng(42).fork('x').next());
  assert.notEqual(new Prng(42).fork('x').next(), new Prng(42).fork('y').next());
});

test('log histogram: percentiles within a bucket', () => {
  const h = new LogHistogram();
  for (let i = 1; i <= 1000; i++) h.add(i);
  assert.ok(Math.abs(h.percentile(50) - 500) / 500 < 0.03);
  assert.ok(Math.abs(h.percentile(99) - 990) / 990 < 0.03);
  assert.equal(h.count, 1000);
});

test('simulator: same seed, same result (every placement and keep-alive)', () => {
  const combos = [
    ['ringfaas', { name: 'hybrid', fallbackMin: 15 }],
    ['ringfaas', { name: 'greedy-dual' }],
    ['openwhisk', { name: 'fixed', keepAliveMin: 15 }],
    ['random', { name: 'hybrid', fallbackMin: 15 }],
    ['least-loaded', { name: 'fixed', keepAliveMin: 10 }],
    ['ch-rlu', { name: 'greedy-dual' }],
  ] as const;
  for (const [placement, keepAlive] of combos) {
    const a = simulate(small({ placement, keepAlive, handoff: placement === 'ringfaas' }));
    const b = simulate(small({ placement, keepAlive, handoff: placement === 'ringfaas' }));
    assert.deepEqual(strip(a), strip(b), `${placement} ${keepAlive.name}`);
    assert.ok(a.invocations > 1000);
  }
  assert.notDeepEqual(strip(simulate(small())), strip(simulate(small({ seed: 4 }))));
});

test('simulator: ringfaas homes are the ring/ code homes, and a join moves only homes to the new worker', () => {
  const wl = new GeneratedWorkload({ seed: 1, functions: 500, minutes: 1 });
  const ids = Array.from({ length: 20 }, (_, i) => `w${i}`);
  const row = (id: string) => ({ id, address: '', capacityMb: 0, state: 'active', heartbeatAt: 0 });
  const ring = new Ring(ids.map(row));
  const p = new RingfaasPlacement(wl.functions, () => 0);
  const fakeWorkers = ids.map((id) => ({ id, load: 0 }) as never);
  p.membership(fakeWorkers);
  wl.functions.forEach((f, i) => assert.equal(p.home(i), ring.home(f.id)));
  const r = simulate({ ...small(), workload: wl, workers: 20, events: [{ atMin: 0.5, kind: 'join' }], durationMin: 1 });
  const join = r.events[0]!;
  const after = new Ring([...ids, join.worker].map(row));
  const moved = wl.functions.filter((f) => ring.home(f.id) !== after.home(f.id));
  assert.ok(moved.every((f) => after.home(f.id) === join.worker), 'every moved home moved to the new worker');
  assert.equal(join.homesMoved, moved.length / wl.functions.length, 'the simulator counts what the ring computes');
  assert.ok(join.homesMoved! > 0.02 && join.homesMoved! < 0.1, `moved ${join.homesMoved}`);
});

/**
 * Two functions with the same home on a 2-worker ring: `blocker` runs twice just before each
 * call of `timer` (every 10 min), so the home is at the load bound and the timer spills to the
 * other worker every time.
 */
function spilledTimerWorkload(minutes: number): Workload {
  const ring = new Ring(['w0', 'w1'].map((id) => ({ id, address: '', capacityMb: 0, state: 'active' as const, heartbeatAt: 0 })));
  const ids: string[] = [];
  for (let i = 0; ids.length < 2; i++) if (ring.home(`f${i}`) === 'w0') ids.push(`f${i}`);
  const fn = (id: string, ms: number): SimFunction => ({ id, app: id, memoryMb: 128, coldStartMs: 500, duration: () => ms });
  const functions = [fn(ids[0] as string, 30_000), fn(ids[1] as string, 100)];
  const make = (): Workload => ({
    name: 'spilled timer',
    functions,
    minutes,
    fresh: make,
    arrivals(minute, out) {
      if (minute % 10 !== 0) return;
      const t = minute * 60_000 + 5_000;
      out.push({ at: t - 1000, fn: 0 }, { at: t - 999, fn: 0 }, { at: t, fn: 1 });
    },
  });
  return make();
}

test('simulator: a pre-warm happens on the worker whose policy unloaded the container (the pool timer), not at the home', () => {
  const cold: number[] = [];
  const r = simulate({ workload: spilledTimerWorkload(200), workers: 2, workerMemoryMb: 4096, placement: 'ringfaas', keepAlive: { name: 'hybrid', fallbackMin: 5 }, seed: 1, durationMin: 200, warmupMin: 60, onStart: (f, c) => f === 1 && cold.push(c ? 1 : 0) });
  assert.ok(r.prewarms >= 10, `prewarms ${r.prewarms}`);
  assert.equal(cold.length, 14);
  assert.deepEqual(cold, new Array(14).fill(0), 'every timer call after the warm-up starts on its pre-warmed container');
});

test('openwhisk model: Java hash, coprime steps, and a join moves most homes', () => {
  assert.equal(javaHash('hello'), 99162322);
  assert.deepEqual(pairwiseCoprimeNumbersUntil(10), [1, 3, 7]);
  const r = simulate(small({ placement: 'openwhisk', events: [{ atMin: 10, kind: 'join' }], durationMin: 12 }));
  assert.ok(r.events[0]!.homesMoved! > 0.7, `moved ${r.events[0]!.homesMoved}`);
  void OpenWhiskPlacement;
});

test('trace parser: the shipped sample in the Azure 2019 format', async () => {
  const wl = await TraceWorkload.read({ files: SAMPLE, seed: 1 });
  assert.equal(wl.functions.length, 8);
  assert.equal(wl.functions[0]!.memoryMb, 150);
  assert.equal(wl.functions[7]!.memoryMb, 140, 'an app without a memory row gets the median (of the Burr fit of average allocated memory, 139.7 MB)');
  const out: Arrival[] = [];
  wl.arrivals(0, out);
  const timer = out.filter((a) => a.fn === 1);
  assert.equal(timer.length, 1, 'the 10-minute timer runs in minute 0');
  assert.ok(out.every((a) => a.at >= 0 && a.at < 60_000));
  const d = wl.functions[3]!.duration(new Prng(1));
  assert.ok(d >= 150 && d <= 1200, `duration ${d}`);
  const r = simulate({ ...small(), workload: wl, durationMin: 120, events: [] });
  assert.ok(r.invocations > 1000);
  const twice = simulate({ ...small(), workload: wl, durationMin: 120, events: [] });
  assert.equal(twice.coldStarts, r.coldStarts, 'a run rewinds the trace');
});

test('trace parser: a missing column is RF_BENCH_TRACE_INVALID', async () => {
  await assert.rejects(TraceWorkload.read({ files: { invocations: SAMPLE.durations }, seed: 1 }), (err: unknown) => isRfError(err) && err.code === 'RF_BENCH_TRACE_INVALID');
});

test('fixedAtIdle interpolates the fixed curve', () => {
  assert.equal(fixedAtIdle([{ idleGbS: 10, coldStarts: 100 }, { idleGbS: 20, coldStarts: 50 }], 15), 75);
  assert.equal(fixedAtIdle([{ idleGbS: 10, coldStarts: 100 }], 15), undefined);
});

test('bench simulate: a small run writes a result with tables and charts (seconds)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ringfaas-h15-sim-'));
  try {
    const { result } = await recordRun({ scenario: 'simulate', reproduce: 'test', resultsDir: dir }, () =>
      runSimulateBench({ seed: 1, scales: [10], functionsPerWorker: 10, minutes: 12, keepAliveMinutes: 16, keepAliveWarmupMin: 6, keepAliveWorkers: 5, windowMin: 2, progress: silentProgress, skipMatrix: true }),
    );
    assert.equal(result.tables.length, 5);
    assert.equal(result.tables[0]!.rows.length, 6);
    const bounds = result.tables.find((t) => t.title.startsWith('Keep-alive bounds'));
    assert.equal(bounds?.rows.length, 8 + 2 + 4 + 3, 'keep-alive bounds: the fixed windows, then each adaptive run');
    assert.ok(result.tables.some((t) => t.title.startsWith('Keep-alive policies') && t.note === 'The first 6 minutes are left out (warm-up).'), 'the keep-alive warm-up as asked');
    assert.ok(result.summary.some((s) => s.startsWith('hazard (settings 10, 15, 30, 60 min) against fixed 15 min: at its idle memory-time')), 'the target read against fixed 15 min itself');
    assert.equal(result.tables[1]!.rows.length, 6, 'membership impact: one row per placement variant');
    const plain = result.tables.find((t) => t.title.includes('plain count'));
    assert.equal(plain?.rows.length, 6, 'plain count: one row per placement variant');
    assert.ok(result.summary.some((s) => s.includes('the plain count')));
    assert.ok(result.charts.length >= 3);
    assert.ok(result.summary.some((s) => s.includes('hybrid')));
    assert.ok(result.summary.some((s) => s.includes('best static per-rank windows')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bench simulate: a keep-alive warm-up as long as the run is RF_BENCH_OPTION_INVALID, before anything runs', () => {
  const cli = join(import.meta.dirname, '..', '..', 'bin', 'ringfaas.js');
  const r = spawnSync(process.execPath, [cli, 'bench', 'simulate', '--keepalive-minutes', '16', '--keepalive-warmup-minutes', '16', '--no-docs', '--results-dir', tmpdir()], { encoding: 'utf8', timeout: 60_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /RF_BENCH_OPTION_INVALID/);
  assert.match(r.stderr, /--keepalive-warmup-minutes must be under --keepalive-minutes, got 16 of 16/);
});

test('load tracker: the header example (peak and bound over the mean, integrated over time)', () => {
  const t = new LoadTracker({ c: 1.25, fromMs: 0 });
  const a = { load: 1 };
  const b = { load: 0 };
  t.membership([a, b], 1, 0);
  a.load = 2;
  t.changed(a, 1, 2, 2, 1000);
  b.load = 1;
  t.changed(b, 0, 1, 3, 1000);
  assert.deepEqual(t.figures(2000), { peakOverMean: 1.5, boundOverMean: 1.5, floorOverMean: 1.5 });
});

test('simulator: with memory to spare, ringfaas never starts a container on a worker at or over the bound', () => {
  // over-bound starts happen only when every worker under the bound is out of memory (429);
  // warm first may reuse an idle container there (counted apart)
  const r = simulate(small({ events: [], workerMemoryMb: 65_536 }));
  assert.equal(r.overBoundShare, 0);
  assert.ok(r.boundOverMean >= 1, `bound/mean ${r.boundOverMean}`);
  assert.ok(r.peakOverMean >= 1, `peak/mean ${r.peakOverMean}`);
});

test('simulator: warm first, as the router, sends a spill to a held worker holding an idle container, under the bound', () => {
  // The worked example of ring/sustained-load.ts: the function's first two workers at 2 requests
  // each for a whole window are held, the third (0) is not; all three are under the bound 3.
  const fn = (id: string): SimFunction => ({ id, app: id, memoryMb: 128, coldStartMs: 500, duration: () => 100 });
  const ring = new Ring(['w1', 'w2', 'w3'].map((id) => ({ id, address: '', capacityMb: 0, state: 'active' as const, heartbeatAt: 0 })));
  const functions = [fn('f')];
  const [home, second, third] = ring.preferenceList('f', 3) as [string, string, string];
  const chosen = (warmFirst: boolean): string => {
    const idle: Record<string, number> = { [home]: 1, [second]: 0, [third]: 0 };
    const workers = [home, second, third].map((id) => ({ id, load: 0, idleOf: () => idle[id] as number }));
    const p = new RingfaasPlacement(functions, () => 4, 1.25, warmFirst, 'ceil', { c: 1.25, windowMs: 10_000 });
    p.membership(workers as never[], workers as never[], 0);
    for (const w of workers.slice(0, 2)) {
      w.load = 2;
      p.loadChanged(w as never, 0, 0);
    }
    return ([...p.choose(0, 10_000).candidates][0] as { id: string }).id;
  };
  assert.equal(chosen(false), third, 'the bound alone passes over the held home and its neighbour');
  assert.equal(chosen(true), home, 'warm first: the held home holds an idle container and is under the bound');
});

test('simulator: warm first, as the router, keeps a call at a home one over the bound that holds an idle container, not two over', () => {
  const fn = (id: string): SimFunction => ({ id, app: id, memoryMb: 128, coldStartMs: 500, duration: () => 100 });
  const ring = new Ring(['w1', 'w2', 'w3'].map((id) => ({ id, address: '', capacityMb: 0, state: 'active' as const, heartbeatAt: 0 })));
  const [home, second, third] = ring.preferenceList('f', 3) as [string, string, string];
  const chosen = (homeLoad: number): string => {
    // total load 2: bound ceil(1.25 × 3 / 3) = 2
    const workers = [home, second, third].map((id) => ({ id, load: id === home ? homeLoad : 0, idleOf: () => (id === home ? 1 : 0) }));
    const p = new RingfaasPlacement([fn('f')], () => 2, 1.25, true, 'ceil');
    p.membership(workers as never[], workers as never[], 0);
    return ([...p.choose(0, 0).candidates][0] as { id: string }).id;
  };
  assert.equal(chosen(2), home, 'at the bound: the warm home');
  assert.equal(chosen(3), second, 'one over it: the next worker');
});
