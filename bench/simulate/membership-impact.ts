/**
 * The cold starts a membership event causes, measured on the functions it affects, paired
 * with the control run, over several seeds.
 *
 * Algorithm
 * ---------
 * A run with events and its control run (same seed: same arrivals and execution times, no
 * event) both count, per function, the cold starts inside each event's window (the
 * `windowMin` after it). The run also marks the functions whose placement the event changed
 * (EventWindow.affected): their home moved (placements with homes), they had a container on
 * the leaving worker (drain, die), or (a join) one of their calls started on the joined
 * worker inside the window (so a placement without homes, least-loaded or random, is charged
 * for what it sends to the new worker). Caused = the affected functions' cold starts in the
 * window in the run − the same functions' cold starts in the same window of the control.
 * Summing over the affected set only leaves out the functions an event did not touch, whose
 * placements still drift from the control's once loads differ: that drift was the noise of
 * the earlier figure (all recently active functions, run − control). A second figure counts,
 * of the same functions, those whose *first* call in the window was cold (run − control): at
 * most one per function, so a bursty function's many cold starts in both runs do not swing it.
 *
 * Worked example
 * --------------
 * A join moves the homes of f1 and f2 and f3's call starts on the new worker: affected
 * {f1, f2, f3}. In the window the run has cold starts f1: 1, f2: 1, f3: 1, f4: 2; the control
 * f1: 0, f2: 1, f3: 0, f4: 0. Caused = (1 + 1 + 1) − (0 + 1 + 0) = 2; f4 is not counted.
 *
 * Known caveats
 * -------------
 * - The set is taken from the run; an affected function's cold start in the control is one
 *   the event did not cause, and is subtracted.
 * - "Caused" is the excess over the control. The plain count (totalWindowColdStarts,
 *   totalAffectedRun: the cold starts in the windows, the control's not subtracted) is the
 *   other reading of "cold starts after a membership change"; both are reported, and they rank
 *   the placements differently: a placement cold most of the time has a large plain count and
 *   nothing for an event to add.
 * - Over seeds, mean ± sample standard deviation; a placement is said to beat another only
 *   when its mean is lower, and the count of seeds in which it is lower is given beside.
 */
import type { SimulationResult } from './engine.ts';

/** A run with membership events and its control run. */
export interface Pair {
  run: SimulationResult;
  control: SimulationResult;
}

export interface AffectedColdStarts {
  /** Functions whose placement the event changed. */
  affected: number;
  /** Their cold starts in the window with the event. */
  run: number;
  /** Their cold starts in the same window of the control run. */
  control: number;
  /** run − control. */
  caused: number;
  /** Affected functions whose first call in the window was cold, with the event. */
  firstColdRun: number;
  /** The same functions whose first call in the same window of the control run was cold. */
  firstColdControl: number;
  /** firstColdRun − firstColdControl: at most one per function, so a bursty function's many cold starts do not swing it. */
  firstCaused: number;
}

/** Event `i` of a pair, measured on the functions it affected (see the file header). */
export function affectedColdStarts(p: Pair, i: number): AffectedColdStarts | null {
  const e = p.run.events[i];
  if (e === undefined) return null;
  const w = e.window;
  const c = p.control.observed.find((o) => o.label === w.label);
  if (w.affected === undefined || c === undefined) return null;
  let affected = 0;
  let run = 0;
  let control = 0;
  let firstColdRun = 0;
  let firstColdControl = 0;
  for (let fn = 0; fn < w.affected.length; fn++) {
    if (w.affected[fn] !== 1) continue;
    affected++;
    run += w.coldByFn[fn] as number;
    control += c.coldByFn[fn] as number;
    if (w.firstByFn[fn] === 2) firstColdRun++;
    if (c.firstByFn[fn] === 2) firstColdControl++;
  }
  return { affected, run, control, caused: run - control, firstColdRun, firstColdControl, firstCaused: firstColdRun - firstColdControl };
}

/** Cold starts caused by all the events of a pair, on their affected functions. */
export function totalAffectedCaused(p: Pair): number {
  return p.run.events.reduce((n, _e, i) => n + (affectedColdStarts(p, i)?.caused ?? 0), 0);
}

/** Cold first calls caused by all the events of a pair, on their affected functions. */
export function totalFirstCaused(p: Pair): number {
  return p.run.events.reduce((n, _e, i) => n + (affectedColdStarts(p, i)?.firstCaused ?? 0), 0);
}

/**
 * The plain count, the other reading of "cold starts after a membership change": all
 * cold starts (every function) inside the windows of all the events of the run, the control's
 * not subtracted.
 */
export function totalWindowColdStarts(p: Pair): number {
  return p.run.events.reduce((n, e) => n + e.window.coldStarts, 0);
}

/** The same windows in the control run (no event): what the plain count is without the events. */
export function totalControlWindowColdStarts(p: Pair): number {
  return p.run.events.reduce((n, e) => n + (p.control.observed.find((o) => o.label === e.window.label)?.coldStarts ?? 0), 0);
}

/** Plain count on the affected functions only: their cold starts in the windows of all the events, the control's not subtracted. */
export function totalAffectedRun(p: Pair): number {
  return p.run.events.reduce((n, _e, i) => n + (affectedColdStarts(p, i)?.run ?? 0), 0);
}

/** Mean and sample standard deviation (0 for one value). */
export function meanSd(xs: readonly number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const sd = xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  return { mean, sd };
}

/** "m ± s" with one decimal. */
export function formatMeanSd(xs: readonly number[]): string {
  const { mean, sd } = meanSd(xs);
  return `${mean.toFixed(1)} ± ${sd.toFixed(1)}`;
}

/**
 * The verdict of `mine` (one pair per seed) against each other variant (one pair per seed,
 * the same seeds in the same order): its mean caused cold starts lower than theirs, and in
 * how many seeds it was lower.
 */
export function beatsEvery(mine: readonly Pair[], others: ReadonlyArray<{ name: string; pairs: readonly Pair[] }>, measure: (p: Pair) => number = totalAffectedCaused): { met: boolean; detail: string } {
  const m = mine.map(measure);
  const mMean = meanSd(m).mean;
  let met = true;
  const parts = others.map(({ name, pairs }) => {
    const o = pairs.map(measure);
    const lowerIn = m.filter((x, k) => x < (o[k] as number)).length;
    const lower = mMean < meanSd(o).mean;
    if (!lower) met = false;
    return `${name} ${formatMeanSd(o)} (${lower ? 'beaten' : 'NOT beaten'}; lower in ${lowerIn}/${m.length} seeds)`;
  });
  return { met, detail: `${formatMeanSd(m)} against ${parts.join(', ')}` };
}
