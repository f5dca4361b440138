/**
 * `ringfaas bench simulate`: the placement × keep-alive comparison, written as a bench result
 * (JSON, Markdown, HTML with charts; a docs/benchmarks.md section).
 *
 * Runs
 * ----
 * 1. Placement, at every scale (default 10, 100, 1000 workers): each placement policy, and
 *    ringfaas with warm hand-off, with the seed's fixed 15 min keep-alive, on a run with three
 *    membership events (a worker joins at 1/3 of the run, one drains at 1/2, one dies at 4/5)
 *    and on a control run without them (same seed: same arrivals and execution times), for
 *    `seed` and every `extraSeeds`. "Cold starts caused" by an event: on the functions it
 *    affected, cold starts in the `windowMin` after it minus the control run's
 *    (membership-impact.ts), mean ± s.d. over seeds.
 * 1b. Load levels (`loadLevels`): max/avg load at several functions per worker, largest scale,
 *    no event (load-levels.ts).
 * 2. Every placement × keep-alive combination at the smallest scale (events and controls).
 * 3. Keep-alive at `keepAliveWorkers` workers (keepalive-comparison.ts).
 * `skipPlacement`, `skipMatrix` and `skipKeepAlive` leave sections out.
 */
import type { Cell, ReportChart, ReportTable, ScenarioOutput } from '../report/result.ts';
import type { Progress } from '../report/progress.ts';
import { simulate, keepAliveLabel, type KeepAliveSpec, type SimulationOptions, type SimulationResult } from './engine.ts';
import type { TraceFiles } from './azure-trace.ts';
import type { EventWindow } from './metrics.ts';
import { sizedWorkload } from './sized-workload.ts';
import { runKeepAliveComparison } from './keepalive-comparison.ts';
import { PLACEMENT_NAMES, ROUTERS_WARM_FIRST, type PlacementName, type SustainedSpec } from './placement.ts';
import { affectedColdStarts, beatsEvery, formatMeanSd, totalAffectedCaused, totalAffectedRun, totalControlWindowColdStarts, totalFirstCaused, totalWindowColdStarts, type Pair } from './membership-impact.ts';
import { runLoadLevels } from './load-levels.ts';
import type { BoundRule } from '../../ring/index.ts';

export interface SimulateBenchOptions {
  seed: number;
  scales: number[];
  functionsPerWorker: number;
  /** Simulated minutes of the placement runs. */
  minutes: number;
  /** Simulated minutes of the keep-alive runs. */
  keepAliveMinutes: number;
  keepAliveWorkers: number;
  /** Minutes of each keep-alive run left out of its figures: the policies' history (default a quarter of the run). */
  keepAliveWarmupMin?: number;
  /** Minutes after an event in which its cold starts count. */
  windowMin: number;
  /** Worker memory; default sized so running executions hold ~40 % of it on average. */
  workerMemoryMb?: number;
  trace?: TraceFiles;
  /** Cap on functions read from a trace. */
  maxFunctions?: number;
  progress: Progress;
  /** Skip the placement × keep-alive matrix. */
  skipMatrix?: boolean;
  /** Skip the placement runs (section 1: tables, membership impact, targets). */
  skipPlacement?: boolean;
  /** Skip the keep-alive runs (section 3). */
  skipKeepAlive?: boolean;
  /** More seeds for the placement runs (membership impact: mean ± s.d. over `seed` and these). */
  extraSeeds?: number[];
  /** Functions per worker of the load-level runs at the largest scale (none: not run). */
  loadLevels?: number[];
  /** Simulated minutes of each load-level run. */
  loadLevelMinutes?: number;
  /** Minutes of each load-level run left out of its figures (default max(1, round(minutes / 6))). */
  loadLevelWarmupMin?: number;
  /** Generated functions per worker of the keep-alive runs (default functionsPerWorker). */
  keepAliveFunctionsPerWorker?: number;
  /** The generator's IAT CoV distribution (default the generator's IAT_COV). */
  iatCov?: { median: number; sigma: number };
  /** ringfaas's bound roundings (ring/'s BoundRule): the load levels run each; the placement runs use the first. Default ['ceil']. */
  boundRules?: BoundRule[];
  /**
   * Sustained-load bounds (ring/sustained-load.ts): the load levels run ringfaas (first bound
   * rule) without and with each; the placement runs use the first, none when empty. Default:
   * the routers' (ROUTERS_SUSTAINED).
   */
  sustained?: SustainedSpec[];
  /** ringfaas's warm first when spilling, in every run. Default: the routers' (ROUTERS_WARM_FIRST). */
  warmFirst?: boolean;
}

export const KEEPALIVE_SPECS: readonly KeepAliveSpec[] = [
  { name: 'fixed', keepAliveMin: 15 },
  { name: 'fixed', keepAliveMin: 10 },
  { name: 'hybrid', fallbackMin: 15 },
  { name: 'hazard', keepAliveMin: 15 },
  { name: 'greedy-dual' },
];
const SEED_KEEPALIVE: KeepAliveSpec = { name: 'fixed', keepAliveMin: 15 };

export type { Pair } from './membership-impact.ts';
export { fixedAtIdle } from './fixed-curve.ts';

function eventsFor(minutes: number): NonNullable<SimulationOptions['events']> {
  return [
    { atMin: Math.round(minutes / 3), kind: 'join' },
    { atMin: Math.round(minutes / 2), kind: 'drain' },
    { atMin: Math.round((minutes * 4) / 5), kind: 'die' },
  ];
}

/** The run with events and its control (same options, no events, the same windows observed). */
export function runPair(base: SimulationOptions): Pair {
  const run = simulate(base);
  const control = simulate({ ...base, events: [], observe: run.events.map((e) => e.window) });
  return { run, control };
}

/**
 * Cold starts an event caused: among the functions invoked in the minute before it that had a
 * container somewhere, those whose first invocation after it was cold, minus the same count in
 * the control run (the cold starts that happen there without the event).
 */
export function coldStartsCaused(p: Pair, i: number): number | null {
  const e = p.run.events[i];
  if (e === undefined) return null;
  const c = p.control.observed.find((w) => w.label === e.window.label);
  return e.window.firstCallsCold - (c?.firstCallsCold ?? 0);
}

const signed = (x: number): string => (x > 0 ? `+${x}` : String(x));
const pct = (x: number): number => Math.round(x * 10000) / 100;
const r2 = (x: number): number => Math.round(x * 100) / 100;

function label(r: SimulationResult): string {
  return r.handoff ? `${r.placement} + hand-off` : r.placement;
}

function pairRow(p: Pair): Cell[] {
  const r = p.run;
  const ev = (i: number): Cell[] => {
    const e = r.events[i];
    return e === undefined ? [null, null] : [e.homesMoved === null ? null : pct(e.homesMoved), `${e.window.firstCallsCold} (${signed(coldStartsCaused(p, i) ?? 0)})`];
  };
  return [
    label(r),
    r.keepAlive,
    r.workers,
    p.control.invocations,
    pct(p.control.coldStartRatio),
    Math.round(p.control.idleGbS),
    r2(p.control.loadMaxOverAvg),
    r2(p.control.peakOverMean),
    r2(p.control.boundOverMean),
    pct(p.control.overBoundShare),
    r2(p.control.queueP50Ms),
    r2(p.control.queueP99Ms),
    ...ev(0),
    ...ev(1),
    ...ev(2),
    r.failed,
    p.control.rejected,
    Math.round(p.control.speed),
  ];
}

const PAIR_COLUMNS = [
  'placement',
  'keep-alive',
  'workers',
  'invocations',
  'cold-start %',
  'idle GB·s',
  'max/avg load',
  'peak/mean (instant)',
  'bound/mean',
  'over-bound placements %',
  'queue p50 ms',
  'queue p99 ms',
  'join: homes moved %',
  'join: cold first calls (vs control)',
  'drain: homes moved %',
  'drain: cold first calls (vs control)',
  'die: homes moved %',
  'die: cold first calls (vs control)',
  'failed (die)',
  'rejected',
  'sim s per s',
];

/** Cold first calls of recently active functions in the windows of the three events (absolute). */
function totalFirstCold(p: Pair): number {
  return p.run.events.reduce((n, e) => n + e.window.firstCallsCold, 0);
}

function totalCaused(p: Pair): number {
  return [0, 1, 2].reduce((n, i) => n + (coldStartsCaused(p, i) ?? 0), 0);
}

/** Runs the whole comparison (see the file header). */
export async function runSimulateBench(o: SimulateBenchOptions): Promise<ScenarioOutput> {
  const tables: ReportTable[] = [];
  const charts: ReportChart[] = [];
  const summary: string[] = [];
  const notes: string[] = [];
  const byScale = new Map<number, Pair[]>();

  if (o.skipPlacement !== true) {
    // 1. placement at every scale, for every seed (the first seed's runs fill the tables; all
    // seeds give the membership impact's mean ± s.d.)
    const seeds = [o.seed, ...(o.extraSeeds ?? []).filter((x) => x !== o.seed)];
    const variants: Array<[PlacementName, boolean]> = [['ringfaas', true], ...PLACEMENT_NAMES.map((p): [PlacementName, boolean] => [p, false])];
    /** Per scale, per variant label: one pair per seed, in `seeds` order. */
    const bySeeds = new Map<number, Map<string, Pair[]>>();
    for (const workers of o.scales) {
      const perVariant = new Map<string, Pair[]>();
      for (const seed of seeds) {
        const s = await sizedWorkload(o, workers, o.minutes, seed);
        if (seed === o.seed) notes.push(`${workers} workers: ${s.note}; ${s.workerMemoryMb} MB per worker`);
        for (const [placement, handoff] of variants) {
          o.progress.note(`simulate: ${workers} workers, seed ${seed}, ${placement}${handoff ? ' + hand-off' : ''}`);
          const pair = runPair({ workload: s.workload, workers, workerMemoryMb: s.workerMemoryMb, placement, keepAlive: SEED_KEEPALIVE, seed, durationMin: o.minutes, warmupMin: Math.round(o.minutes / 6), events: eventsFor(o.minutes), windowMin: o.windowMin, handoff, boundRule: o.boundRules?.[0] ?? 'ceil', ...(o.sustained === undefined ? {} : { sustained: o.sustained[0] ?? 'off' }), warmFirst: o.warmFirst });
          const name = label(pair.run);
          perVariant.set(name, [...(perVariant.get(name) ?? []), pair]);
        }
      }
      bySeeds.set(workers, perVariant);
      byScale.set(workers, [...perVariant.values()].map((pairs) => pairs[0] as Pair));
    }
    tables.push(membershipTable(bySeeds, seeds, o.windowMin));
    tables.push(plainCountTable(bySeeds, seeds, o.windowMin));
    const placementRows = [...byScale.values()].flat().map(pairRow);
    tables.push({
      title: 'Placement policies (fixed 15 min keep-alive), per scale',
      columns: PAIR_COLUMNS,
      rows: placementRows,
      note: `Steady figures from the control run (no membership event). "Cold first calls" after an event: of the functions invoked in the minute before it that had a container somewhere, those whose first invocation within ${o.windowMin} min after it was cold; in brackets the difference with the control run at the same moment (what the event caused). Max/avg load: max over workers of their time-averaged load (busy + queued) / the mean. Peak/mean: the busiest worker's load at each moment / the mean load, integrated over time. Bound/mean: ring/'s bounded-load bound ceil(1.25 × L / n) / the mean load, integrated over time (the most the rule allows). Over-bound placements: requests placed on a worker at or over the bound at that moment.`,
    });
    const scaleLabels = o.scales.map(String);
    charts.push({
      title: 'Cold first calls of recently active functions after join + drain + die',
      kind: 'bar',
      xLabel: 'workers',
      yLabel: 'cold starts',
      xLabels: scaleLabels,
      series: [...PLACEMENT_NAMES.map((p) => [p, false] as const), ['ringfaas', true] as const].map(([p, h]) => ({
        name: h ? `${p} + hand-off` : p,
        points: o.scales.map((w, i): [number, number] => [i, Math.max(0, totalFirstCold((byScale.get(w) ?? []).find((x) => x.run.placement === p && x.run.handoff === h) as Pair))]),
      })),
    });
    charts.push({
      title: 'Max / avg worker load',
      kind: 'bar',
      xLabel: 'workers',
      yLabel: 'max / avg',
      xLabels: scaleLabels,
      marker: { value: 1.25, label: 'target 1.25', axis: 'y' },
      series: PLACEMENT_NAMES.map((p) => ({ name: p, points: o.scales.map((w, i): [number, number] => [i, (byScale.get(w) ?? []).find((x) => x.run.placement === p && !x.run.handoff)?.control.loadMaxOverAvg ?? 0]) })),
    });

    // targets on the largest scale
    const largest = Math.max(...o.scales);
    const atLargest = byScale.get(largest) ?? [];
    const ring = atLargest.find((x) => x.run.placement === 'ringfaas' && !x.run.handoff);
    const ow = atLargest.find((x) => x.run.placement === 'openwhisk');
    const ringHandoff = atLargest.find((x) => x.run.placement === 'ringfaas' && x.run.handoff);
    if (ring !== undefined) {
      const c = ring.control;
      summary.push(
        `${largest} workers, ringfaas max/avg load ${c.loadMaxOverAvg.toFixed(2)} (time-averaged per worker; target ≤ 1.25: ${c.loadMaxOverAvg <= 1.25 ? 'met' : 'MISSED'}); the bounded-load rule it is about held: ${pct(c.overBoundShare)} % of placements started a container on a worker at or over ceil(1.25 × (L + 1) / n) (allowed only when every worker under it is out of memory; ${pct(c.warmOverBoundShare)} % reused an idle container there, warm first), an integer bound that averaged ${c.boundOverMean.toFixed(2)} × the mean load of ${c.meanLoad.toFixed(2)} requests per worker (busiest worker at each moment: ${c.peakOverMean.toFixed(2)} × the mean)`,
      );
      const join = ring.run.events[0];
      if (join?.homesMoved !== null && join !== undefined) {
        const limit = 1 / (largest + 1) + 0.02;
        summary.push(
          `one join moved ${pct(join.homesMoved)} % of homes with ringfaas (target ≤ 1/N + 2 % = ${pct(limit)} %: ${join.homesMoved <= limit ? 'met' : 'MISSED'}); OpenWhisk's modulo homes: ${ow?.run.events[0]?.homesMoved === null || ow === undefined ? '–' : `${pct(ow.run.events[0]!.homesMoved!)} %`}`,
        );
      }
      const largestSeeds = bySeeds.get(largest) ?? new Map<string, Pair[]>();
      const othersSeeds = [...largestSeeds].filter(([name]) => !name.startsWith('ringfaas')).map(([name, pairs]) => ({ name, pairs }));
      for (const name of ['ringfaas + hand-off', 'ringfaas']) {
        const v = beatsEvery(largestSeeds.get(name) ?? [], othersSeeds);
        const f = beatsEvery(largestSeeds.get(name) ?? [], othersSeeds, totalFirstCaused);
        summary.push(
          `${largest} workers, ${name}: cold starts that join + drain + die caused on the functions whose placement they changed, within ${o.windowMin} min, paired with the control run, over seeds ${seeds.join(', ')} (mean ± s.d.): ${v.detail} (target: fewer than every other placement: ${v.met ? 'met' : 'MISSED'}); cold first calls of those functions, the same way: ${f.detail} (${f.met ? 'met' : 'MISSED'})`,
        );
        const plainAll = beatsEvery(largestSeeds.get(name) ?? [], othersSeeds, totalWindowColdStarts);
        const plainAffected = beatsEvery(largestSeeds.get(name) ?? [], othersSeeds, totalAffectedRun);
        summary.push(
          `${largest} workers, ${name}, the plain count (cold starts after the changes, the control's not subtracted; the same windows and seeds): every function's cold starts in the ${o.windowMin} min after join + drain + die: ${plainAll.detail} (fewer than every other placement: ${plainAll.met ? 'met' : 'MISSED'}); the affected functions' only: ${plainAffected.detail} (${plainAffected.met ? 'met' : 'MISSED'})`,
        );
      }
      const others = atLargest.filter((x) => x.run.placement !== 'ringfaas');
      const mine = [ring, ...(ringHandoff === undefined ? [] : [ringHandoff])];
      const verdict = (f: (p: Pair) => number): string =>
        mine
          .map((m) => {
            const beaten = others.filter((x) => f(x) <= f(m)).map((x) => `${label(x.run)} (${f(x)})`);
            return `${label(m.run)} ${beaten.length === 0 ? 'met' : `MISSED against ${beaten.join(', ')}`}`;
          })
          .join('; ');
      const list = (f: (p: Pair) => number): string => [...mine, ...others].map((x) => `${label(x.run)} ${f(x)}`).join(', ');
      summary.push(
        `seed ${o.seed} alone, the earlier measure: cold first calls of recently active functions that join + drain + die caused at ${largest} workers (all of them, run minus control; noisy): ${list(totalCaused)} (fewer than every other placement: ${verdict(totalCaused)})`,
      );
      summary.push(`the same, all cold first calls in the event windows (the control's included): ${list(totalFirstCold)} (fewer than every other placement: ${verdict(totalFirstCold)})`);
    }
  }

  // 1b. the load level: max/avg at several per-worker loads, largest scale, ringfaas
  if (o.trace === undefined && o.loadLevels !== undefined && o.loadLevels.length > 0) {
    const levels = await runLoadLevels(o, Math.max(...o.scales), o.loadLevels, o.loadLevelMinutes ?? 6);
    tables.push(levels.table);
    summary.push(...levels.summary);
    notes.push(...levels.notes);
  }

  // 2. the full matrix at the smallest scale
  if (o.skipMatrix !== true) {
    const workers = Math.min(...o.scales);
    const s = await sizedWorkload(o, workers, o.minutes);
    const rows: Cell[][] = [];
    for (const placement of PLACEMENT_NAMES) {
      for (const keepAlive of KEEPALIVE_SPECS) {
        o.progress.note(`simulate: matrix ${workers} workers, ${placement}, ${keepAliveLabel(keepAlive)}`);
        rows.push(pairRow(runPair({ workload: s.workload, workers, workerMemoryMb: s.workerMemoryMb, placement, keepAlive, seed: o.seed, durationMin: o.minutes, warmupMin: Math.round(o.minutes / 6), events: eventsFor(o.minutes), windowMin: o.windowMin, warmFirst: o.warmFirst })));
      }
    }
    tables.push({ title: `Every placement × keep-alive, ${workers} workers`, columns: PAIR_COLUMNS, rows });
  }

  // 3. keep-alive over a longer run (keepalive-comparison.ts)
  let keepAliveRaw: unknown[] = [];
  if (o.skipKeepAlive !== true) {
    const k = await runKeepAliveComparison(o);
    tables.push(...k.tables);
    charts.push(...k.charts);
    summary.push(...k.summary);
    notes.push(...k.notes);
    keepAliveRaw = k.runs.map(strip);
  }
  return {
    title: 'Simulation: placement and keep-alive policies on the real ring and keep-alive code',
    settings: { seed: o.seed, scales: o.scales, functionsPerWorker: o.functionsPerWorker, minutes: o.minutes, keepAliveMinutes: o.keepAliveMinutes, keepAliveWorkers: o.keepAliveWorkers, windowMin: o.windowMin, warmFirst: o.warmFirst ?? ROUTERS_WARM_FIRST, workerMemoryMb: o.workerMemoryMb ?? 'sized', trace: o.trace ?? 'generated', notes },
    summary,
    tables,
    charts,
    raw: {
      placement: [...byScale.values()].flat().map((p) => ({ run: strip(p.run), control: strip(p.control) })),
      keepAlive: keepAliveRaw,
    },
  };
}

/** A result without its per-function arrays (the JSON stays small). */
function strip(r: SimulationResult): unknown {
  const compact = (w: EventWindow): unknown => ({ ...w, moved: undefined, recentWarm: undefined, coldByFn: undefined, firstByFn: undefined, affected: undefined, handedOff: undefined });
  return { ...r, events: r.events.map((e) => ({ ...e, window: compact(e.window) })), observed: r.observed.map(compact) };
}

/** Per scale and variant: the plain count of cold starts in the event windows (the control's not subtracted), mean ± s.d. over seeds. */
function plainCountTable(bySeeds: Map<number, Map<string, Pair[]>>, seeds: readonly number[], windowMin: number): ReportTable {
  const rows: Cell[][] = [];
  for (const [workers, perVariant] of bySeeds) {
    for (const [name, pairs] of perVariant) {
      const event = (i: number): Cell => formatMeanSd(pairs.map((p) => p.run.events[i]?.window.coldStarts ?? 0));
      rows.push([workers, name, event(0), event(1), event(2), formatMeanSd(pairs.map(totalWindowColdStarts)), formatMeanSd(pairs.map(totalControlWindowColdStarts)), formatMeanSd(pairs.map(totalAffectedRun)), formatMeanSd(pairs.map(totalAffectedCaused))]);
    }
  }
  return {
    title: `Cold starts after membership events, plain count (${windowMin} min windows, seeds ${seeds.join(', ')}: mean ± s.d.)`,
    columns: ['workers', 'placement', 'join: all cold starts', 'drain: all cold starts', 'die: all cold starts', 'all three: every function', 'same windows, control run (no event)', 'all three: affected functions', 'caused on affected (− control), for comparison'],
    rows,
    note: `The other reading of "cold starts after a membership change": every cold start in the ${windowMin} min after each event, of all functions and of the affected ones (as in the caused table), the control's not subtracted. A placement that is cold most of the time (least-loaded, random) has a large plain count and little for an event to add; the caused figure (last column) is the excess over the same windows of the control run.`,
  };
}

/** Per scale and variant: the affected functions and the cold starts each event caused on them, mean ± s.d. over seeds. */
function membershipTable(bySeeds: Map<number, Map<string, Pair[]>>, seeds: readonly number[], windowMin: number): ReportTable {
  const rows: Cell[][] = [];
  for (const [workers, perVariant] of bySeeds) {
    for (const [name, pairs] of perVariant) {
      const per = (i: number, f: (a: NonNullable<ReturnType<typeof affectedColdStarts>>) => number): number[] => pairs.map((p) => { const a = affectedColdStarts(p, i); return a === null ? 0 : f(a); });
      const event = (i: number): Cell[] => [formatMeanSd(per(i, (a) => a.affected)), formatMeanSd(per(i, (a) => a.run)), formatMeanSd(per(i, (a) => a.caused))];
      rows.push([workers, name, ...event(0), ...event(1), ...event(2), formatMeanSd(pairs.map(totalAffectedCaused)), formatMeanSd(pairs.map(totalFirstCaused))]);
    }
  }
  const cols = (e: string): string[] => [`${e}: affected functions`, `${e}: their cold starts`, `${e}: caused (− control)`];
  return {
    title: `Cold starts caused by membership events on the functions they affected (${windowMin} min window, seeds ${seeds.join(', ')}: mean ± s.d.)`,
    columns: ['workers', 'placement', ...cols('join'), ...cols('drain'), ...cols('die'), 'caused, all three', 'cold first calls caused, all three'],
    rows,
    note: `Affected: the functions whose home the event moved, that had a container on the leaving worker (drain, die), or (join) with a call started on the joined worker within the window. Their cold starts within ${windowMin} min after the event, and the same functions' cold starts in the same window of the control run (same seed, no event) subtracted; the last column counts each affected function once, when its first call in the window was cold (run − control): bench/simulate/membership-impact.ts.`,
  };
}
