/**
 * The simulator's measures and calibration: the generator's inter-arrival-time CoV, the cold
 * starts a membership event causes on the functions it affected, and the load levels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GeneratedWorkload, IAT_COV, burrQuantile, renewalIat } from '../simulate/generator.ts';
import { characterise } from '../simulate/workload-characterisation.ts';
import { simulate, type SimulationOptions, type SimulationResult } from '../simulate/engine.ts';
import { affectedColdStarts, beatsEvery, meanSd, totalAffectedRun, totalControlWindowColdStarts, totalFirstCaused, totalWindowColdStarts, type Pair } from '../simulate/membership-impact.ts';
import { handoffMisses } from '../simulate/handoff-misses.ts';
import { runLoadLevels } from '../simulate/load-levels.ts';
import { Prng } from '../simulate/prng.ts';
import { FunctionColdShare } from '../simulate/function-cold-share.ts';
import { fixedIdleAtColdStarts } from '../simulate/fixed-curve.ts';
import { KeepAliveBounds, boundAt } from '../simulate/keepalive-bounds.ts';
import { silentProgress } from '../report/progress.ts';
import type { Arrival } from '../simulate/workload.ts';
import type { EventWindow } from '../simulate/metrics.ts';

function cov(xs: readonly number[]): { mean: number; cov: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, cov: sd / mean };
}

test('renewal IATs: gamma draws hit the target mean and CoV (regular, Poisson, bursty)', () => {
  const rng = new Prng(7);
  for (const target of [0.2, 1, 3]) {
    const c = cov(Array.from({ length: 100_000 }, () => renewalIat(rng, 60_000, target)));
    assert.ok(Math.abs(c.mean - 60_000) / 60_000 < 0.03, `CoV ${target}: mean ${c.mean}`);
    assert.ok(Math.abs(c.cov - target) / target < 0.06, `CoV ${target}: got ${c.cov}`);
  }
});

test('generator: per-function IAT CoV follows IAT_COV, and each function\'s arrivals have its CoV and daily rate', () => {
  const g = new GeneratedWorkload({ seed: 2, functions: 1000, minutes: 300 });
  const covs = g.functions.filter((f) => f.kind !== 'timer').map((f) => f.iatCov).sort((a, b) => a - b);
  const median = covs[covs.length >> 1] as number;
  assert.ok(Math.abs(Math.log(median / IAT_COV.median)) < 0.1, `median CoV ${median}`);
  // ln CoV ~ N(ln 1.15, 1): P(CoV < 0.5) = Φ(ln(0.5 / 1.15)) = 0.20
  const under = covs.filter((c) => c < 0.5).length / covs.length;
  assert.ok(Math.abs(under - 0.2) < 0.04, `share under 0.5: ${under}`);
  assert.ok(covs.every((c) => c >= IAT_COV.min && c <= IAT_COV.max));
  // arrivals of the busiest non-timer functions: observed IAT CoV and count against their targets
  const times = new Map<number, number[]>();
  const out: Arrival[] = [];
  for (let m = 0; m < 300; m++) {
    out.length = 0;
    g.arrivals(m, out);
    for (const a of out) (times.get(a.fn) ?? times.set(a.fn, []).get(a.fn)!).push(a.at);
  }
  let checked = 0;
  g.functions.forEach((f, i) => {
    const t = (times.get(i) ?? []).sort((a, b) => a - b);
    if (f.kind === 'timer' || t.length < 1500 || f.iatCov > 2) return;
    checked++;
    const iats = t.slice(1).map((x, k) => x - (t[k] as number));
    const c = cov(iats);
    assert.ok(Math.abs(c.cov - f.iatCov) / f.iatCov < 0.15, `function ${i}: CoV ${c.cov} against ${f.iatCov}`);
    const expected = f.ratePerMs * 300 * 60_000;
    assert.ok(Math.abs(t.length - expected) / expected < 0.15, `function ${i}: ${t.length} arrivals against ${expected}`);
  });
  assert.ok(checked >= 20, `checked ${checked} functions`);
  const poisson = new GeneratedWorkload({ seed: 2, functions: 300, minutes: 10, iatCov: { median: 1, sigma: 0 } });
  assert.ok(poisson.functions.every((f) => f.iatCov === (f.kind === 'timer' ? 0 : 1)), 'sigma 0 at median 1: the memoryless workload');
});

test('generator: the cited figures of Shahrad et al. (section 3) hold on the generated applications', () => {
  // rates and triggers: expected values over many applications (no arrivals needed)
  const many = characterise(new GeneratedWorkload({ seed: 4, functions: 6000, minutes: 0 }), 0);
  assert.ok(Math.abs(many.appsAtMostHourly - 0.45) < 0.04, `at most hourly ${many.appsAtMostHourly}`);
  assert.ok(Math.abs(many.appsAtMostMinutely - 0.81) < 0.04, `at most once a minute ${many.appsAtMostMinutely}`);
  assert.ok(Math.abs(many.timerFunctions - 0.156) < 0.02, `timer functions ${many.timerFunctions}`);
  assert.ok(many.timerInvocations < 0.06, `timer invocations ${many.timerInvocations} (paper 0.02)`);
  assert.ok(Math.abs(many.appsWithTimer - 0.29) < 0.06, `apps with a timer ${many.appsWithTimer}`);
  // Figure 8's Burr fit: median ~140 MB, 90th percentile ~262 MB
  assert.ok(Math.abs(burrQuantile(0.5) - 139.7) < 1 && Math.abs(burrQuantile(0.9) - 261.8) < 1, `${burrQuantile(0.5)} ${burrQuantile(0.9)}`);
  // IAT CoV measured on merged arrivals: 40 % of applications above 1 (the median's calibration)
  const c = characterise(new GeneratedWorkload({ seed: 1, functions: 600, minutes: 2880 }), 2880);
  assert.ok(c.appsMeasured > 100, `measured ${c.appsMeasured}`);
  assert.ok(Math.abs(c.appsCovOver1 - 0.4) < 0.1, `CoV over 1: ${c.appsCovOver1}`);
  assert.ok(c.appsCovNear0 > 0.05, `CoV near 0 (timers): ${c.appsCovNear0}`);
});

function run(extra: Partial<SimulationOptions>): SimulationResult {
  return simulate({
    workload: new GeneratedWorkload({ seed: 5, functions: 200, minutes: 20 }),
    workers: 10,
    workerMemoryMb: 4096,
    placement: 'ringfaas',
    keepAlive: { name: 'fixed', keepAliveMin: 15 },
    seed: 5,
    durationMin: 20,
    warmupMin: 3,
    windowMin: 3,
    ...extra,
  });
}

function pairOf(extra: Partial<SimulationOptions>): Pair {
  const r = run(extra);
  return { run: r, control: run({ ...extra, events: [], observe: r.events.map((e) => e.window) }) };
}

test('membership impact: affected = moved homes, containers on the leaving worker, calls on the joined one; caused = run − control on them', () => {
  const events = [
    { atMin: 6, kind: 'join' as const },
    { atMin: 10, kind: 'drain' as const },
  ];
  const p = pairOf({ events });
  const [join, drain] = p.run.events;
  for (const e of [join!, drain!]) {
    const w = e.window;
    w.moved!.forEach((m, fn) => m === 1 && assert.equal(w.affected![fn], 1, `moved function ${fn} is affected`));
  }
  const a = affectedColdStarts(p, 0)!;
  // recompute by hand from the per-function counts
  const c = p.control.observed.find((o) => o.label === join!.window.label)!;
  let run = 0;
  let control = 0;
  let n = 0;
  join!.window.affected!.forEach((x, fn) => {
    if (x !== 1) return;
    n++;
    run += join!.window.coldByFn[fn] as number;
    control += c.coldByFn[fn] as number;
  });
  assert.deepEqual({ ...a, firstColdRun: 0, firstColdControl: 0, firstCaused: 0 }, { affected: n, run, control, caused: run - control, firstColdRun: 0, firstColdControl: 0, firstCaused: 0 });
  assert.ok(a.firstColdRun <= Math.min(n, a.run) && a.firstCaused === a.firstColdRun - a.firstColdControl);
  assert.ok(n > 0 && n < 200, `affected ${n}`);
  const totalRun = join!.window.coldByFn.reduce((x, y) => x + y, 0);
  assert.equal(totalRun, join!.window.coldStarts, 'per-function counts add up to the window');
  // a placement without homes is charged for the calls it sends to the new worker
  const ll = pairOf({ events: [{ atMin: 6, kind: 'join' }], placement: 'least-loaded' });
  assert.equal(ll.run.events[0]!.homesMoved, null);
  assert.ok(affectedColdStarts(ll, 0)!.affected > 0, 'least-loaded sends calls to the joined worker');
});

test('membership impact: the header example, and the verdict over seeds', () => {
  const window = (cold: number[], affected?: number[]): EventWindow => ({ label: 'join@6m', fromMs: 0, toMs: 1, moved: undefined, invocations: 0, movedInvocations: 0, movedColdStarts: 0, recentWarm: undefined, firstCalls: 0, firstCallsCold: 0, coldByFn: Uint16Array.from(cold), coldStarts: cold.reduce((a, b) => a + b, 0), firstByFn: Uint8Array.from(cold.map((c) => (c > 0 ? 2 : 1))), affected: affected === undefined ? undefined : Uint8Array.from(affected), joinedWorker: undefined });
  const fake = (runCold: number[], controlCold: number[]): Pair => ({
    run: { events: [{ window: window(runCold, [1, 1, 1, 0]) }] } as unknown as SimulationResult,
    control: { observed: [window(controlCold)] } as unknown as SimulationResult,
  });
  assert.deepEqual(affectedColdStarts(fake([1, 1, 1, 2], [0, 1, 0, 0]), 0), { affected: 3, run: 3, control: 1, caused: 2, firstColdRun: 3, firstColdControl: 1, firstCaused: 2 });
  // the plain count: every function's cold starts in the window (f4 included), the control's not subtracted
  const example = fake([1, 1, 1, 2], [0, 1, 0, 0]);
  assert.deepEqual([totalWindowColdStarts(example), totalControlWindowColdStarts(example), totalAffectedRun(example)], [5, 1, 3]);
  const mine = [fake([0, 0, 0, 0], [0, 0, 0, 0]), fake([1, 0, 0, 0], [0, 0, 0, 0])];
  const other = [fake([1, 1, 0, 0], [0, 0, 0, 0]), fake([1, 0, 0, 0], [0, 0, 0, 0])];
  assert.equal(beatsEvery(mine, [{ name: 'x', pairs: other }]).met, true);
  assert.equal(beatsEvery(other, [{ name: 'x', pairs: mine }]).met, false);
  assert.deepEqual(meanSd([1, 3]), { mean: 2, sd: Math.SQRT2 });
});

test('load levels: more functions per worker, more load per worker; the busiest worker never under the floor', async () => {
  const o = { seed: 1, scales: [20], functionsPerWorker: 10, minutes: 6, keepAliveMinutes: 8, keepAliveWorkers: 2, windowMin: 1, progress: silentProgress };
  const { table } = await runLoadLevels(o, 20, [5, 40], 3);
  // per level: ringfaas with the bound rule alone, then with the routers' sustained-load bound
  const ringRows = (level: number) => table.rows.filter((r) => r[0] === level && r[1] === 'ringfaas');
  assert.deepEqual(ringRows(5).map((r) => r[2]), ['ceil', 'ceil + sustained 1.25 / 30 s']);
  const ring = [5, 40].map((level) => ringRows(level)[0]!);
  const col = (name: string): number => table.columns.findIndex((c) => c.startsWith(name));
  const [low, high] = ring.map((r) => ({ mean: r[col('mean load')] as number, peak: r[col('peak/mean')] as number, floor: r[col('floor')] as number }));
  assert.ok(high!.mean > 4 * low!.mean, `mean load ${low!.mean} → ${high!.mean}`);
  // (the bound holds when a request is placed; loads elsewhere can fall after, so no peak ≤ bound here)
  for (const x of [low!, high!]) assert.ok(x.floor >= 1 && x.floor <= x.peak, JSON.stringify(x));
});

test('function cold share: the header example (75th percentile of per-function cold-start shares)', () => {
  const s = new FunctionColdShare(4);
  for (const c of [true, false, false, false]) s.record(0, c);
  s.record(1, true);
  s.record(1, true);
  for (let i = 0; i < 10; i++) s.record(2, false);
  assert.equal(s.percentile(75), 1);
  assert.equal(s.percentile(50), 0.25);
  // grouped by application: a and b in application 0, c in application 1, d in 2 (no call)
  const apps = new FunctionColdShare(4, [0, 0, 1, 2]);
  for (const c of [true, false, false, false]) apps.record(0, c);
  apps.record(1, true);
  apps.record(1, true);
  for (let i = 0; i < 10; i++) apps.record(2, false);
  assert.equal(apps.percentile(75), 0.5);
  assert.equal(apps.percentile(50), 0);
});

test('fixedIdleAtColdStarts: the idle memory-time the fixed curve needs for a count of cold starts', () => {
  const curve = [{ idleGbS: 10, coldStarts: 100 }, { idleGbS: 20, coldStarts: 50 }];
  assert.equal(fixedIdleAtColdStarts(curve, 75), 15);
  assert.equal(fixedIdleAtColdStarts(curve, 40), undefined);
});

// What the rule guarantees, not its spill share: at this small scale whether 'floor' spills more
// than 'ceil' depends on the workload drawn (it did on one generator, not on the recalibrated one).
test("load levels: the bound rule 'floor' bounds tighter than 'ceil', and no start goes over it (runs each rule given)", async () => {
  const o = { seed: 1, scales: [20], functionsPerWorker: 10, minutes: 6, keepAliveMinutes: 8, keepAliveWorkers: 2, windowMin: 1, progress: silentProgress, boundRules: ['ceil' as const, 'floor' as const] };
  const { table } = await runLoadLevels(o, 20, [10], 3);
  const col = (name: string): number => table.columns.findIndex((c) => c.startsWith(name));
  const byRule = (rule: string): Array<string | number | null> => table.rows.find((r) => r[1] === 'ringfaas' && r[col('bound rule')] === rule)!;
  const [ceil, floor] = [byRule('ceil'), byRule('floor')];
  assert.ok((floor[col('bound/mean')] as number) < (ceil[col('bound/mean')] as number), `bound/mean ${floor[col('bound/mean')]} against ${ceil[col('bound/mean')]}`);
  for (const row of [ceil, floor]) assert.equal(typeof row[col('off-home')], 'number', 'the spill share is reported');
  assert.equal(floor[col('over-bound')], 0);
});

test('load levels: a sustained-load bound runs beside the bound rules, changes the placements, never starts over the instantaneous bound, and is deterministic', async () => {
  const o = { seed: 1, scales: [20], functionsPerWorker: 20, minutes: 6, keepAliveMinutes: 8, keepAliveWorkers: 2, windowMin: 1, progress: silentProgress, sustained: [{ c: 1.1, windowMs: 5_000 }] };
  const { table } = await runLoadLevels(o, 20, [20], 4);
  const col = (name: string): number => table.columns.findIndex((c) => c.startsWith(name));
  const byRule = (rule: string): Array<string | number | null> => table.rows.find((r) => r[1] === 'ringfaas' && r[col('bound rule')] === rule)!;
  const [ceil, sustained] = [byRule('ceil'), byRule('ceil + sustained 1.1 / 5 s')];
  assert.ok(sustained !== undefined, 'the sustained run is reported');
  assert.equal(sustained[col('over-bound')], 0);
  assert.notDeepEqual(sustained.slice(3), ceil.slice(3), 'the held workers changed where requests went');
  assert.equal(typeof sustained[col('idle GB')], 'number');
  const again = await runLoadLevels(o, 20, [20], 4);
  assert.deepEqual(again.table.rows.map((r) => r.slice(0, -1)), table.rows.map((r) => r.slice(0, -1)), 'same seed, same figures (speed aside)');
});

test('hand-off misses: the causes add up to the cold first calls caused (run − control) of the same pair', () => {
  const events = [
    { atMin: 6, kind: 'join' as const },
    { atMin: 10, kind: 'drain' as const },
    { atMin: 14, kind: 'die' as const },
  ];
  const base = { workload: new GeneratedWorkload({ seed: 5, functions: 200, minutes: 20 }), workers: 10, workerMemoryMb: 4096, placement: 'ringfaas' as const, keepAlive: { name: 'fixed' as const, keepAliveMin: 15 }, seed: 5, durationMin: 20, warmupMin: 3, windowMin: 3, events };
  const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
  for (const handoffTarget of ['home', 'successor'] as const) {
    const tally = handoffMisses({ ...base, handoffTarget });
    const p = pairOf({ events, handoff: true, handoffTarget });
    assert.equal(sum(tally.caused) - sum(tally.saved), totalFirstCaused(p), handoffTarget);
    assert.ok(sum(tally.caused) + sum(tally.saved) > 0, `${handoffTarget}: some first calls differ between run and control`);
  }
  // the successor target warms more on a join (functions the new worker now precedes) than the home target
  const prewarms = (handoffTarget: 'home' | 'successor'): number => run({ events: [events[0]!], handoff: true, handoffTarget }).prewarms;
  assert.ok(prewarms('successor') > prewarms('home'), `pre-warms successor ${prewarms('successor')} against home ${prewarms('home')}`);
  // the default is the worker's rule since it does the same (worker/handoff/targets.ts)
  assert.equal(run({ events: [events[0]!], handoff: true }).prewarms, prewarms('successor'), 'the default target is successor');
  // the 'warm' scope also hands over the functions called before the last minute that hold
  // containers on the leaving worker; the default since the worker does the same
  const drainPrewarms = (handoffScope: 'recent' | 'warm'): number => run({ events: [events[1]!], handoff: true, handoffScope }).prewarms;
  assert.ok(drainPrewarms('warm') > drainPrewarms('recent'), `pre-warms warm ${drainPrewarms('warm')} against recent ${drainPrewarms('recent')}`);
  assert.equal(run({ events: [events[1]!], handoff: true }).prewarms, drainPrewarms('warm'), 'the default scope is warm');
  const tally = handoffMisses({ ...base, handoffScope: 'recent' });
  assert.equal(sum(tally.caused) - sum(tally.saved), totalFirstCaused(pairOf({ events, handoff: true, handoffScope: 'recent' })), 'recent');
});

test('keep-alive bounds: the clairvoyant holds the cheapest periods first, static windows pick one window per rank, fixed is one window for all', () => {
  const b = new KeepAliveBounds(1_000);
  b.record('w1', 0, 1, 0, 500, 100, true); // ended in the warm-up: left out
  b.record('w1', 0, 1, 900, 1_100, 200, true); // straddles it: only the 100 ms after costs (20 000 MB·ms)
  b.record('w1', 0, 2, 2_000, 3_000, 128, true); // rank 2: 128 000 MB·ms
  b.record('w1', 1, 1, 2_000, 2_001, 1, true); // another function: 1 MB·ms
  b.record('w1', 1, 1, 3_000, 9_000, 1, false); // still idle at the end: costs, never saves
  assert.equal(b.periods, 3);
  const gbS = (mbMs: number): number => mbMs / 1024 / 1000;
  assert.deepEqual(b.clairvoyant(5), [
    { idleGbS: 0, coldStarts: 8 },
    { idleGbS: gbS(1), coldStarts: 7 },
    { idleGbS: gbS(1 + 20_000), coldStarts: 6 },
    { idleGbS: gbS(1 + 20_000 + 128_000), coldStarts: 5 },
  ]);
  // fixed 500 ms: saves the 1 ms and the 200 ms period (100 ms of it counted), not the 1 000 ms one
  assert.deepEqual(b.fixed(500, 5), { idleGbS: gbS(200 * 100 + 128 * 500 + 1 + 500), coldStarts: 6 });
  // static windows: a high price holds only what pays at it. Function 1's 1 ms period is worth
  // holding (its open period then costs 1 ms too) up to λ = 1 / 2 MB·ms
  const cheap = b.hindsightWindows(5);
  assert.equal(cheap[0]!.coldStarts, 5, 'the lowest price holds every reused period');
  const dear = cheap[cheap.length - 1]!; // λ = 10^-4 per MB·ms: function 1 only (1 saved for 2 MB·ms)
  assert.deepEqual(dear, { idleGbS: gbS(2), coldStarts: 7 });
});

test("keep-alive bounds: a pre-warm lets static windows hold a timer's first container for the last minutes only", () => {
  const b = new KeepAliveBounds(0);
  // a function called every 10 min after 10 min idle, 1 MB: held from the idle moment each
  // period costs 600 000 MB·ms; pre-warmed at 9.9 min (the grid's last delay before 10), 6 000
  for (let i = 0; i < 5; i++) b.record('w1', 0, 1, i * 1_200_000, i * 1_200_000 + 600_000, 1, true);
  const cheapestAllSaved = (curve: ReadonlyArray<{ idleGbS: number; coldStarts: number }>): number => Math.min(...curve.filter((p) => p.coldStarts === 0).map((p) => p.idleGbS * 1024 * 1000));
  assert.equal(Math.round(cheapestAllSaved(b.hindsightWindows(0))), 5 * 600_000);
  assert.equal(Math.round(cheapestAllSaved(b.hindsightWindows(0, true))), 5 * 6_000);
  // the same periods on rank 2: no pre-warm (only a function's first container is pre-warmed)
  const r2 = new KeepAliveBounds(0);
  for (let i = 0; i < 5; i++) r2.record('w1', 0, 2, i * 1_200_000, i * 1_200_000 + 600_000, 1, true);
  assert.equal(Math.round(cheapestAllSaved(r2.hindsightWindows(0, true))), 5 * 600_000);
  // periods that cost nothing (reused right at the warm-up's end) make a curve, not a hang
  const free = new KeepAliveBounds(1_000);
  free.record('w1', 0, 1, 500, 1_000, 128, true);
  assert.deepEqual(free.clairvoyant(0), [{ idleGbS: 0, coldStarts: 1 }, { idleGbS: 0, coldStarts: 0 }]);
});

test('keep-alive bounds out of sample: a window is charged on the periods it was not chosen on; a rank with no history elsewhere gets the setting', () => {
  const MIN = 60_000;
  const b = new KeepAliveBounds(0);
  // rank 1 of one function, 1 MB: reused after 10 min, then after 40 min (folds: {10}, {40})
  b.record('w1', 0, 1, 0, 10 * MIN, 1, true);
  b.record('w1', 0, 1, 20 * MIN, 60 * MIN, 1, true);
  const gbS = (mbMs: number): number => mbMs / 1024 / 1000;
  const cheapestAllSaved = (curve: ReadonlyArray<{ idleGbS: number; coldStarts: number }>): number | undefined => {
    const all = curve.filter((p) => p.coldStarts === 0);
    return all.length === 0 ? undefined : Math.min(...all.map((p) => p.idleGbS));
  };
  // in hindsight one 40 min window saves both (50 min of memory)
  assert.equal(cheapestAllSaved(b.hindsightWindows(0)), gbS(50 * MIN));
  // out of sample: the 10 min window (chosen on the first) misses the second, and the 40 min
  // one (chosen on the second) saves the first: never both, at any price
  const outOfSample = b.crossValidatedWindows(0);
  assert.equal(cheapestAllSaved(outOfSample), undefined);
  assert.deepEqual(outOfSample[0], { idleGbS: gbS(10 * MIN + 10 * MIN), coldStarts: 1 }, 'the lowest price: both windows, one call saved');
  // a rank with one period: its other fold is empty, so the period is held for the setting (15 min)
  const lone = new KeepAliveBounds(0);
  lone.record('w1', 0, 1, 0, 5 * MIN, 1, true);
  lone.record('w1', 1, 1, 0, 20 * MIN, 1, true);
  assert.deepEqual(lone.crossValidatedWindows(0)[0], { idleGbS: gbS(5 * MIN + 15 * MIN), coldStarts: 1 });
});

test('keep-alive bounds: on a simulated workload fixed recomputed on the periods matches its runs, and static windows and the clairvoyant lie below fixed, windows learned out of sample above those in hindsight', () => {
  const workload = new GeneratedWorkload({ seed: 3, functions: 150, minutes: 240 });
  // The periods' model takes one run's idle periods as every policy's: placement must not depend
  // on what is warm. Warm first does (since 2026-12-05 the home keeps a call one over the bound
  // for a warm container: with it, fixed 2 min modelled 1 213 cold starts against 1 085 run),
  // so the check runs the bound alone (docs/simulation.md, "The home's warm container").
  const run = (keepAliveMin: number, onIdlePeriod?: SimulationOptions['onIdlePeriod']): SimulationResult =>
    simulate({ workload, workers: 3, workerMemoryMb: 1_048_576, placement: 'ringfaas', warmFirst: false, keepAlive: keepAliveMin === 0 ? { name: 'greedy-dual' } : { name: 'fixed', keepAliveMin }, seed: 3, durationMin: 240, warmupMin: 60, ...(onIdlePeriod === undefined ? {} : { onIdlePeriod }) });
  const bounds = new KeepAliveBounds(60 * 60_000);
  const forever = run(0, (...p) => bounds.record(...p));
  assert.ok(bounds.periods > 100, `${bounds.periods} periods`);
  const hindsight = bounds.hindsightWindows(forever.coldStarts);
  const clairvoyant = bounds.clairvoyant(forever.coldStarts);
  const outOfSample = bounds.crossValidatedWindows(forever.coldStarts);
  for (const m of [2, 10, 30]) {
    const fixed = run(m);
    const model = bounds.fixed(m * 60_000, forever.coldStarts);
    // the periods' model of fixed keep-alive against the simulated run (a cold start's delay shifts a few periods)
    assert.ok(Math.abs(model.coldStarts - fixed.coldStarts) <= 0.05 * fixed.coldStarts + 3, `fixed ${m} min: ${model.coldStarts} modelled, ${fixed.coldStarts} run`);
    assert.ok(Math.abs(model.idleGbS - fixed.idleGbS) <= 0.05 * fixed.idleGbS, `fixed ${m} min: ${model.idleGbS} GB·s modelled, ${fixed.idleGbS} run`);
    const h = boundAt(hindsight, model.idleGbS);
    const c = boundAt(clairvoyant, model.idleGbS);
    assert.ok(h <= model.coldStarts && c <= h, `fixed ${m} min: fixed ${model.coldStarts}, static windows ${h}, clairvoyant ${c}`);
    const o = boundAt(outOfSample, model.idleGbS);
    assert.ok(o >= h, `fixed ${m} min: learned out of sample ${o}, in hindsight ${h}`);
  }
});
