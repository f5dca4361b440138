/**
 * The keep-alive comparison's table and chart series of the bounds (keepalive-bounds.ts): the
 * fixed windows recomputed on the kept-everything run's periods beside their simulated runs (a
 * check of the model), and each adaptive policy at its idle memory-time beside what the best
 * static per-rank windows in hindsight (without and with the first container's pre-warm), the
 * same learned out of sample, and a clairvoyant keep-alive would have there, each as × fewer
 * cold starts than fixed keep-alive on the same periods.
 */
import type { ChartSeries, ReportTable, Cell } from '../report/result.ts';
import type { SimulationResult } from './engine.ts';
import { fixedAtIdle, type CurvePoint } from './fixed-curve.ts';
import { boundAt, type KeepAliveBounds } from './keepalive-bounds.ts';

const r2 = (x: number): number => Math.round(x * 100) / 100;
const minutesOf = (r: SimulationResult): number => Number(/^fixed (\d+) min/.exec(r.keepAlive)?.[1]);

/** × fewer cold starts than fixed keep-alive (on the periods) at a run's idle memory-time. */
export interface Ceiling {
  /** Perfect per-rank windows from the idle moment. */
  hindsight: number;
  /** The same, the first container also pre-warmed. */
  prewarm: number;
  /** Per-rank windows learned out of sample (five folds), with the first container's pre-warm. */
  outOfSample: number;
  clairvoyant: number;
}

export interface BoundsReport {
  table: ReportTable;
  series: ChartSeries[];
  /** Per adaptive run: × fewer cold starts than fixed (on the periods) at its idle memory-time. */
  ceilings: Map<SimulationResult, Ceiling>;
}

/** `keptEverything`: the run whose periods `bounds` holds (its cold starts are unavoidable); `fixedRuns`: the simulated fixed curve. */
export function keepAliveBoundsReport(bounds: KeepAliveBounds, keptEverything: SimulationResult, fixedRuns: readonly SimulationResult[], adaptive: readonly SimulationResult[]): BoundsReport {
  const unavoidable = keptEverything.coldStarts;
  const offlineFixed: CurvePoint[] = fixedRuns.map((r) => bounds.fixed(minutesOf(r) * 60_000, unavoidable));
  const hindsight = bounds.hindsightWindows(unavoidable);
  const prewarm = bounds.hindsightWindows(unavoidable, true);
  const outOfSample = bounds.crossValidatedWindows(unavoidable, true);
  const clairvoyant = bounds.clairvoyant(unavoidable);
  const curves = [hindsight, prewarm, outOfSample, clairvoyant];
  const ceilings = new Map<SimulationResult, Ceiling>();
  const rows: Cell[][] = fixedRuns.map((r, i) => {
    const p = offlineFixed[i] as CurvePoint;
    return [r.keepAlive, Math.round(r.idleGbS), r.coldStarts, Math.round(p.idleGbS), p.coldStarts, ...curves.map((b) => Math.round(boundAt(b, p.idleGbS))), '', '', '', ''];
  });
  for (const r of adaptive) {
    const fixedCold = fixedAtIdle(offlineFixed, r.idleGbS);
    const [h, w, o, c] = curves.map((b) => boundAt(b, r.idleGbS)) as [number, number, number, number];
    const times = (bound: number): number => (fixedCold as number) / Math.max(1, bound);
    if (fixedCold !== undefined) ceilings.set(r, { hindsight: times(h), prewarm: times(w), outOfSample: times(o), clairvoyant: times(c) });
    const ceiling = ceilings.get(r);
    const x = (v: number | undefined): Cell => (v === undefined ? '—' : r2(v));
    rows.push([r.keepAlive, Math.round(r.idleGbS), r.coldStarts, '', fixedCold === undefined ? 'outside the curve' : Math.round(fixedCold), Math.round(h), Math.round(w), Math.round(o), Math.round(c), x(ceiling?.hindsight), x(ceiling?.prewarm), x(ceiling?.outOfSample), x(ceiling?.clairvoyant)]);
  }
  const points = (curve: readonly CurvePoint[]): Array<[number, number]> => curve.filter((p) => p.idleGbS <= keptEverything.idleGbS).map((p) => [Math.round(p.idleGbS), Math.round(p.coldStarts)]);
  return {
    table: {
      title: 'Keep-alive bounds: what the best static per-rank windows (in hindsight) and a clairvoyant keep-alive would have at the same idle memory-time',
      columns: ['keep-alive', 'idle GB·s (simulated)', 'cold starts (simulated)', 'fixed on the periods: idle GB·s', 'fixed on the periods: cold starts (adaptive rows: at the policy\'s idle GB·s)', 'best static per-rank windows', 'the same, first container pre-warmed', 'the same, learned out of sample', 'clairvoyant', '× fewer than fixed: static windows', '× fewer: with pre-warm', '× fewer: out of sample', '× fewer: clairvoyant'],
      rows,
      note: `${keptEverything.evicted > 0 ? `The kept-everything run evicted ${keptEverything.evicted} containers (a memory bound): their periods are missing and the bounds are too low. ` : ''}keepalive-bounds.ts, on the ${bounds.periods} reused idle periods after the warm-up of the run that kept every container (Greedy-Dual, unbounded memory; ${unavoidable} cold starts no keep-alive avoids). The fixed rows check the model: fixed keep-alive recomputed on those periods against its simulated run. The model takes those periods as every policy's, which holds while placement does not depend on what is warm; with warm first, and since 2026-12-05 its home slack above all (a home keeps a call one over the bound for a warm container), a policy that keeps more keeps more calls at home, so the fixed rows' modelled cold starts can lie well above their runs' (docs/simulation.md, "The home's warm container, one over the bound") and every ratio here is of the model's own periods. Pre-warms: only the middle curve has them (the first container's, after a delay on a grid to 4 h); a pre-warm can beat the clairvoyant keep-alive. The hindsight curves choose each rank's one window knowing its periods of the whole run: an estimate of what static per-rank windows reach, not a strict bound (windows that change over time, or a higher rank held longer than a lower one, can do better). Out of sample: each rank's periods dealt into five folds; the window best on four of them, pre-warm allowed, is charged on the fifth, for each fold (a rank with one period: held 15 min), which takes out what choosing a window on the very periods it is charged on adds.`,
    },
    series: [
      { name: 'best static per-rank windows (hindsight)', points: points(hindsight) },
      { name: 'static windows, first container pre-warmed (hindsight)', points: points(prewarm) },
      { name: 'static windows with pre-warm, learned out of sample', points: points(outOfSample) },
      { name: 'clairvoyant keep-alive (bound)', points: points(clairvoyant) },
    ],
    ceilings,
  };
}
