/**
 * Max/avg worker load at several per-worker load levels: the level is a parameter of the
 * scenario (generated functions per worker), not a by-product of one workload.
 *
 * Algorithm
 * ---------
 * For each level (functions per worker; each function drawn from the same calibrated
 * distributions, so the per-function workload is unchanged and the cluster carries more of
 * them), one run at `workers` workers without membership events, fixed 15 min keep-alive,
 * worker memory sized as in every placement run (executions hold ~40 % of it), for ringfaas
 * and, as the reference of a placement that looks at loads only, least-loaded. Reported per
 * run: the mean load (requests running + waiting per worker), max/avg (max over workers of
 * their time-averaged load / the mean: the issue's figure), peak/mean (the busiest worker's
 * load at each moment / the mean, integrated over time), the floor under peak/mean (ceil(L/n)
 * / the mean: what any placement gives at best, loads being integers) and the rule's bound
 * (ceil(1.25 × L / n) / the mean). ringfaas runs once per bound rule in `boundRules` (ring/'s
 * BoundRule: 'ceil', the platform's, and/or 'floor', an option measured here), each with the
 * share of placements that started off the ring home (spills), the cold-start share, idle
 * memory-time and queueing p50/p99 beside the load figures; and once more, with the first bound
 * rule, per sustained-load bound in `sustained` (ring/sustained-load.ts; by default the
 * routers' own, RINGFAAS_SUSTAINED_LOAD's default: the platform's rule is the first bound rule
 * plus that bound; the rows without it show what the bound adds).
 *
 * Worked example
 * --------------
 * At a mean of 1.65 requests per worker the busiest worker holds at least 2 at any moment
 * (floor 2 / 1.65 = 1.21) and the rule lets it hold 3 (1.82); at 30 per worker, 30 and 38
 * (1.00 and 1.27): only there can a worker held at the bound read under ~1.3.
 *
 * Known caveats
 * -------------
 * - The floor bounds the instantaneous figure; a time average per worker (max/avg) has no
 *   integer floor (a rule rotating the busy worker could average out), so max/avg can in
 *   principle be under it; in these runs it is not.
 */
import type { Cell, ReportTable } from '../report/result.ts';
import { simulate, type SimulationResult } from './engine.ts';
import { ROUTERS_SUSTAINED, type PlacementName, type SustainedSpec } from './placement.ts';
import { DEFAULT_SUSTAINED_WINDOW_MS, type BoundRule } from '../../ring/index.ts';
import type { SimulateBenchOptions } from './scenario.ts';
import { sizedWorkload } from './sized-workload.ts';

const r2 = (x: number): number => Math.round(x * 100) / 100;

/** A sustained-load spec as a report label: `sustained 1.25 / 10 s` (`, plain` without the request's share). */
export function sustainedLabel(s: SustainedSpec): string {
  return `sustained ${s.c} / ${(s.windowMs ?? DEFAULT_SUSTAINED_WINDOW_MS) / 1000} s${s.plain === true ? ', plain' : ''}`;
}

/** The rule column of a ringfaas run: the bound rule, and the sustained bound if any. */
function ruleLabel(r: SimulationResult): string {
  return r.sustained === undefined ? r.boundRule : `${r.boundRule} + ${sustainedLabel(r.sustained)}`;
}
const pct = (x: number): number => Math.round(x * 10000) / 100;

/** Runs the load levels at `workers` (see the file header). */
export async function runLoadLevels(o: SimulateBenchOptions, workers: number, levels: readonly number[], minutes: number): Promise<{ table: ReportTable; summary: string[]; notes: string[] }> {
  const rows: Cell[][] = [];
  const summary: string[] = [];
  const notes: string[] = [];
  for (const perWorker of levels) {
    const s = await sizedWorkload(o, workers, minutes, o.seed, perWorker);
    notes.push(`load level ${perWorker} functions per worker, ${workers} workers: ${s.note}; ${s.workerMemoryMb} MB per worker`);
    const firstRule = o.boundRules?.[0] ?? 'ceil';
    const runs: Array<[PlacementName, BoundRule, SustainedSpec | 'off']> = [
      ...(o.boundRules ?? ['ceil']).map((rule): [PlacementName, BoundRule, 'off'] => ['ringfaas', rule, 'off']),
      ...(o.sustained ?? (ROUTERS_SUSTAINED === undefined ? [] : [ROUTERS_SUSTAINED])).map((s): [PlacementName, BoundRule, SustainedSpec] => ['ringfaas', firstRule, s]),
      ['least-loaded', 'ceil', 'off'],
    ];
    let leastLoaded: SimulationResult | undefined;
    const rings: SimulationResult[] = [];
    for (const [placement, boundRule, sustained] of runs) {
      o.progress.note(`simulate: load level ${perWorker} functions per worker, ${placement}${placement === 'ringfaas' ? ` (${boundRule}${sustained === 'off' ? '' : ` + ${sustainedLabel(sustained)}`})` : ''}`);
      const r = simulate({ workload: s.workload, workers, workerMemoryMb: s.workerMemoryMb, placement, keepAlive: { name: 'fixed', keepAliveMin: 15 }, seed: o.seed, durationMin: minutes, warmupMin: o.loadLevelWarmupMin ?? Math.max(1, Math.round(minutes / 6)), boundRule, sustained, warmFirst: o.warmFirst });
      if (placement === 'ringfaas') rings.push(r);
      else leastLoaded = r;
      rows.push([perWorker, placement, placement === 'ringfaas' ? ruleLabel(r) : '–', r.invocations, r2(r.meanLoad), r2(r.loadMaxOverAvg), r2(r.peakOverMean), r2(r.floorOverMean), r2(r.boundOverMean), pct(r.overBoundShare), pct(r.offHomeShare), pct(r.coldStartRatio), Math.round(r.idleGbS), r2(r.queueP50Ms), r2(r.queueP99Ms), Math.round(r.speed)]);
    }
    for (const ring of rings) {
      summary.push(
        `load level ${perWorker} functions per worker (${workers} workers, mean ${ring.meanLoad.toFixed(2)} requests in flight per worker): ringfaas (bound rule ${ruleLabel(ring)}) max/avg ${ring.loadMaxOverAvg.toFixed(2)} (target ≤ 1.25: ${ring.loadMaxOverAvg <= 1.25 ? 'met' : 'MISSED'}), peak/mean ${ring.peakOverMean.toFixed(2)} against the floor ceil(L/n)/mean ${ring.floorOverMean.toFixed(2)} and the rule's bound ${ring.boundOverMean.toFixed(2)}; spilled off home ${pct(ring.offHomeShare)} %, cold starts ${pct(ring.coldStartRatio)} %; least-loaded max/avg ${leastLoaded?.loadMaxOverAvg.toFixed(2) ?? '–'}`,
      );
    }
  }
  return {
    table: {
      title: `Max/avg worker load by load level, ${workers} workers, no membership event (${minutes} simulated minutes each, the first ${o.loadLevelWarmupMin ?? Math.max(1, Math.round(minutes / 6))} left out)`,
      columns: ['functions per worker', 'placement', 'bound rule', 'invocations', 'mean load (requests per worker)', 'max/avg load (time-averaged per worker)', 'peak/mean (instant)', 'floor ceil(L/n)/mean', 'bound/mean', 'over-bound placements %', 'off-home placements (spills) %', 'cold-start %', 'idle GB·s', 'queue p50 ms', 'queue p99 ms', 'sim s per s'],
      rows,
      note: 'Max/avg: max over workers of their time-averaged load (running + waiting) / the mean of those averages. Peak/mean: the busiest worker\'s load at each moment over the mean load, both integrated over time. Floor: ceil(L / n) integrated over time, over the mean: no placement gives the busiest worker less at a moment. Bound: ring/\'s ceil(1.25 × L / n) (rule ceil, the default) or max(ceil(L / n), floor(1.25 × L / n)) (rule floor), the most the rule allows; a sustained-load bound (\"+ sustained c / window\") holds workers whose load averaged over the window is over c × the averaged mean, under that bound. Off-home: placements that started on a worker other than the ring home (ringfaas; least-loaded has no home: 0).',
    },
    summary,
    notes,
  };
}
