/**
 * compare: ringfaas vs the Redis design vs the limit (bare forwarding chain), on identical
 * worker sets, the same function and the same containers, runs alternated round after round.
 *
 * Each round runs every target through the same stages (default 15, 15, 15 callers): the
 * first stage warms the function up (its cold starts are expected); the later stages are
 * measured. Per target: the median over rounds of the median over measured stages of
 * throughput and p50, and the cold starts seen after the first stage. Reported as ratios
 * measured in the same run. `warmupRounds` whole rounds run first and are not counted: every
 * process is still speeding up (JIT, source loaded through tsx) for tens of seconds, and
 * medians that include it move the ratio with whichever target warms faster.
 */
import { median, type StageStats } from '../load/stats.ts';
import type { ReportChart, ScenarioOutput } from '../report/result.ts';
import type { Progress } from '../report/progress.ts';
import type { RunningTarget, TargetLauncher, TargetSpec } from '../platform/targets.ts';
import { loadTarget, stageTable } from './concurrency.ts';

/** The issue's targets (issue 12; 2-core machine, one compare run, medians over rounds). */
export const COMPARE_TARGETS = {
  /** ringfaas throughput ≥ 1.5 × the Redis design. */
  throughputVsRedis: 1.5,
  /** ringfaas p50 ≤ 0.8 × the Redis design. */
  p50VsRedis: 0.8,
  /** ringfaas throughput ≥ 0.8 × the bare forwarding chain. */
  throughputVsLimit: 0.8,
  /** ringfaas p50 ≤ 1.25 × the bare forwarding chain. */
  p50VsLimit: 1.25,
  /** Router CPU per request ≤ 1.3 × the chain's hop 1. */
  routerCpuVsHop1: 1.3,
  /** Worker tier CPU per request (all workers) ≤ 1.3 × the chain's hop 2. */
  workerCpuVsHop2: 1.3,
} as const;

/** One checked ratio: its value in this run (null when a target was not run) and its bound. */
export interface CompareCheck {
  name: string;
  value: number | null;
  bound: number;
  /** `min`: value ≥ bound; `max`: value ≤ bound. */
  kind: 'min' | 'max';
  met: boolean | null;
}

function check(name: string, value: number | null, bound: number, kind: 'min' | 'max'): CompareCheck {
  return { name, value, bound, kind, met: value === null ? null : kind === 'min' ? value >= bound : value <= bound };
}

/** CPU µs per request of the processes whose name starts with `prefix`, summed (undefined if none). */
function cpuOf(summary: TargetSummary | undefined, prefix: string): number | undefined {
  if (summary === undefined) return undefined;
  const parts = Object.entries(summary.cpuUsPerRequest).filter(([name]) => name.startsWith(prefix));
  return parts.length === 0 ? undefined : parts.reduce((n, [, us]) => n + us, 0);
}

export interface CompareOptions {
  targets: TargetSpec[];
  rounds: number;
  /** Rounds run before the measured ones and not counted (default 0). */
  warmupRounds?: number;
  stages: readonly number[];
  stageMs: number;
  launcher: TargetLauncher;
  progress: Progress;
}

export interface TargetSummary {
  target: string;
  throughputRps: number;
  p50Ms: number;
  p99Ms: number;
  coldStartsAfterFirstStage: number;
  errors: number;
  /**
   * CPU time per successful request, µs, by process (router, workers, hops, the load
   * generator) and in total: the median over rounds of the median over measured stages.
   * Containers are not counted. Empty when the processes could not be measured.
   */
  cpuUsPerRequest: Record<string, number>;
  rounds: Array<{ round: number; stages: StageStats[] }>;
}

const CPU_TOTAL = 'total';

/** A stage's CPU µs per successful request by process, plus the total. */
function stageCpuPerRequest(stage: StageStats): Record<string, number> | undefined {
  const ok = stage.requests - stage.errors;
  if (stage.cpuMs === undefined || ok <= 0) return undefined;
  const out: Record<string, number> = {};
  let total = 0;
  for (const [name, ms] of Object.entries(stage.cpuMs)) {
    out[name] = (ms * 1000) / ok;
    total += out[name];
  }
  out[CPU_TOTAL] = total;
  return out;
}

function medianCpu(measured: StageStats[][]): Record<string, number> {
  const perRound: Array<Array<Record<string, number>>> = measured.map((stages) =>
    stages.flatMap((st) => {
      const cpu = stageCpuPerRequest(st);
      return cpu === undefined ? [] : [cpu];
    }),
  );
  const names = new Set(perRound.flat().flatMap((r) => Object.keys(r)));
  const out: Record<string, number> = {};
  for (const name of names) {
    const roundMedians = perRound.filter((r) => r.length > 0).map((r) => median(r.map((x) => x[name] ?? 0)));
    out[name] = Math.round(median(roundMedians));
  }
  return out;
}

function summarize(target: string, rounds: Array<{ round: number; stages: StageStats[] }>): TargetSummary {
  const measured = rounds.map((r) => r.stages.slice(r.stages.length > 1 ? 1 : 0));
  return {
    target,
    throughputRps: median(measured.map((m) => median(m.map((s) => s.throughputRps)))),
    p50Ms: median(measured.map((m) => median(m.map((s) => s.p50Ms)))),
    p99Ms: median(measured.map((m) => median(m.map((s) => s.p99Ms)))),
    coldStartsAfterFirstStage: rounds.reduce((n, r) => n + r.stages.slice(1).reduce((k, s) => k + s.coldStarts, 0), 0),
    errors: rounds.reduce((n, r) => n + r.stages.reduce((k, s) => k + s.errors, 0), 0),
    cpuUsPerRequest: medianCpu(measured),
    rounds,
  };
}

const ratio = (a: number | undefined, b: number | undefined): number | null =>
  a === undefined || b === undefined || !(b > 0) ? null : Math.round((a / b) * 1000) / 1000;

export async function runCompare(options: CompareOptions): Promise<ScenarioOutput> {
  const running: RunningTarget[] = [];
  const perRun: Map<string, Array<{ round: number; stages: StageStats[] }>> = new Map();
  try {
    for (const spec of options.targets) {
      options.progress.note(`starting ${spec.kind}`);
      running.push(await options.launcher.start(spec));
    }
    const perTargetS = (options.stages.length * options.stageMs) / 1000;
    let done = 0;
    const warmup = options.warmupRounds ?? 0;
    for (let round = 1 - warmup; round <= options.rounds; round++) {
      // Alternate the order so that no target always runs right after the same other one.
      const order = (round + warmup) % 2 === 1 ? running : [...running].reverse();
      for (const target of order) {
        const label = round < 1 ? `warm-up round ${round + warmup}/${warmup} ${target.name}` : `round ${round}/${options.rounds} ${target.name}`;
        const runs = await loadTarget(target, options.stages, options.stageMs, options.progress, done, label);
        done += perTargetS;
        if (round < 1) continue; // not counted
        const list = perRun.get(target.name) ?? [];
        list.push({ round, stages: runs.map((r) => r.stats) });
        perRun.set(target.name, list);
      }
    }
  } finally {
    await Promise.allSettled(running.map((t) => t.stop()));
  }
  const summaries = [...perRun.entries()].map(([name, rounds]) => summarize(name, rounds));
  const by = (name: string): TargetSummary | undefined => summaries.find((s) => s.target === name);
  const rf = by('ringfaas');
  const rd = by('redis-design');
  const limit = by('limit');
  const T = COMPARE_TARGETS;
  const checks: CompareCheck[] = [
    check('ringfaas / redis-design throughput', ratio(rf?.throughputRps, rd?.throughputRps), T.throughputVsRedis, 'min'),
    check('ringfaas / redis-design p50', ratio(rf?.p50Ms, rd?.p50Ms), T.p50VsRedis, 'max'),
    check('ringfaas / limit throughput', ratio(rf?.throughputRps, limit?.throughputRps), T.throughputVsLimit, 'min'),
    check('ringfaas / limit p50', ratio(rf?.p50Ms, limit?.p50Ms), T.p50VsLimit, 'max'),
    check('ringfaas router / limit hop 1 CPU per request', ratio(cpuOf(rf, 'ringfaas-router'), cpuOf(limit, 'limit-hop1')), T.routerCpuVsHop1, 'max'),
    check('ringfaas workers / limit hop 2 CPU per request', ratio(cpuOf(rf, 'ringfaas-worker'), cpuOf(limit, 'limit-hop2')), T.workerCpuVsHop2, 'max'),
    check('ringfaas cold starts after stage 1', rf === undefined ? null : rf.coldStartsAfterFirstStage, 0, 'max'),
  ];
  const verdict = (ok: boolean | null): string => (ok === null ? 'n/a' : ok ? 'met' : 'NOT met');
  const callers = options.stages[options.stages.length - 1] ?? 0;
  const summary = [
    ...checks.map((c) => `${c.name}${c.name.includes('throughput') ? ` at ${callers} callers` : ''}: ${c.value ?? 'n/a'} (target ${c.kind === 'min' ? '≥' : '≤'} ${c.bound}: ${verdict(c.met)})`),
    ...summaries
      .filter((s) => s.cpuUsPerRequest[CPU_TOTAL] !== undefined)
      .map((s) => `${s.target} CPU per request (containers not counted): ${describeCpu(s.cpuUsPerRequest)}`),
  ];
  const charts: ReportChart[] = [
    {
      title: `Throughput at ${callers} callers per round`,
      kind: 'bar',
      xLabel: 'round',
      yLabel: 'requests / s (median of measured stages)',
      series: summaries.map((s) => ({
        name: s.target,
        points: s.rounds.map((r) => [r.round, median(r.stages.slice(1).map((x) => x.throughputRps))] as [number, number]),
      })),
    },
    {
      title: `Median latency at ${callers} callers per round`,
      kind: 'bar',
      xLabel: 'round',
      yLabel: 'p50 ms',
      series: summaries.map((s) => ({
        name: s.target,
        points: s.rounds.map((r) => [r.round, median(r.stages.slice(1).map((x) => x.p50Ms))] as [number, number]),
      })),
    },
  ];
  return {
    title: 'Compare: ringfaas vs the Redis design vs the bare forwarding chain',
    settings: { targets: options.targets.map((t) => t.kind), rounds: options.rounds, warmupRounds: options.warmupRounds ?? 0, stages: options.stages, stageMs: options.stageMs },
    summary,
    tables: [
      {
        title: 'Medians over rounds (stages after the first)',
        columns: ['target', 'req/s', 'p50 ms', 'p99 ms', 'cold starts after stage 1', 'errors'],
        rows: summaries.map((s) => [s.target, s.throughputRps, s.p50Ms, s.p99Ms, s.coldStartsAfterFirstStage, s.errors]),
      },
      {
        title: 'CPU per successful request, µs, by process (medians; containers not counted)',
        columns: ['target', 'process', 'µs / request'],
        rows: summaries.flatMap((s) => Object.entries(s.cpuUsPerRequest).map(([name, us]) => [s.target, name, us])),
      },
      {
        title: 'Ratios',
        columns: ['ratio', 'value', 'target', 'verdict'],
        rows: checks.map((c) => [c.name, c.value, `${c.kind === 'min' ? '≥' : '≤'} ${c.bound}`, verdict(c.met)]),
      },
      ...summaries.flatMap((s) => s.rounds.map((r) => stageTable(`${s.target}, round ${r.round}`, r.stages))),
    ],
    charts,
    raw: { summaries, checks, missed: checks.filter((c) => c.met === false).map((c) => c.name) },
  };
}

function describeCpu(cpu: Record<string, number>): string {
  const parts = Object.entries(cpu)
    .filter(([name]) => name !== CPU_TOTAL)
    .map(([name, us]) => `${name} ${us}`);
  return `${cpu[CPU_TOTAL]} µs (${parts.join(', ')})`;
}
