/**
 * The seed's concurrency test: closed-loop stages of 1..15 concurrent callers against each
 * target in turn; per stage throughput, p50/p90/p99, instances used, cold starts.
 */
import { createLoadClient } from '../load/client.ts';
import { runStages, type StageRun } from '../load/generator.ts';
import { histogram, type StageStats } from '../load/stats.ts';
import type { ReportChart, ReportTable, ScenarioOutput } from '../report/result.ts';
import type { Progress } from '../report/progress.ts';
import type { RunningTarget, TargetLauncher } from '../platform/targets.ts';
import { targetName, type TargetSpec } from '../platform/target-spec.ts';

export interface TargetRun {
  target: string;
  stages: StageStats[];
  /** Latency histogram of the last stage (20 buckets). */
  lastStageHistogram: Array<{ fromMs: number; toMs: number; count: number }>;
}

/** Runs the stages against one running target. */
export async function loadTarget(
  target: RunningTarget,
  stages: readonly number[],
  stageMs: number,
  progress: Progress,
  doneBeforeS: number,
  label = target.name,
): Promise<StageRun[]> {
  const client = createLoadClient(target.invokeUrl, { connections: Math.max(...stages) });
  try {
    return await runStages({
      client,
      stages,
      stageMs,
      ...(target.processes === undefined ? {} : { processes: target.processes }),
      onProgress: ({ stageIndex, elapsedMs }) =>
        progress.update(doneBeforeS + (stageIndex * stageMs + elapsedMs) / 1000, `${label}: ${stages[stageIndex]} callers`),
    });
  } finally {
    await client.close();
  }
}

export function toTargetRun(target: string, runs: readonly StageRun[]): TargetRun {
  const last = runs[runs.length - 1];
  const latencies = last === undefined ? [] : last.samples.filter((s) => s.status === 200).map((s) => s.latencyMs);
  return { target, stages: runs.map((r) => r.stats), lastStageHistogram: histogram(latencies, 20) };
}

export function stageTable(title: string, stages: readonly StageStats[]): ReportTable {
  return {
    title,
    columns: ['callers', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'fn p50 ms', 'instances', 'new instances', 'cold starts', 'errors'],
    rows: stages.map((s) => [s.concurrency, s.throughputRps, s.p50Ms, s.p90Ms, s.p99Ms, s.functionP50Ms, s.instances, s.newInstances, s.coldStarts, s.errors]),
  };
}

export function curveCharts(runs: readonly TargetRun[]): ReportChart[] {
  return [
    {
      title: 'Throughput vs concurrency',
      kind: 'line',
      xLabel: 'concurrent callers',
      yLabel: 'requests / s',
      series: runs.map((r) => ({ name: r.target, points: r.stages.map((s) => [s.concurrency, s.throughputRps] as [number, number]) })),
    },
    {
      title: 'Median latency vs concurrency',
      kind: 'line',
      xLabel: 'concurrent callers',
      yLabel: 'p50 ms',
      series: runs.map((r) => ({ name: r.target, points: r.stages.map((s) => [s.concurrency, s.p50Ms] as [number, number]) })),
    },
    {
      title: 'Latency distribution (last stage)',
      kind: 'line',
      xLabel: 'latency ms (bucket start)',
      yLabel: 'requests',
      series: runs.map((r) => ({ name: r.target, points: r.lastStageHistogram.map((b) => [Number(b.fromMs.toFixed(3)), b.count] as [number, number]) })),
    },
  ];
}

export interface ConcurrencyOptions {
  targets: TargetSpec[];
  stages: readonly number[];
  stageMs: number;
  launcher: TargetLauncher;
  progress: Progress;
}

/** Throughput at the most callers against the best stage's: more callers should not mean less work done (issue 12). */
const AT_MOST_CALLERS_TARGET = 0.9;

/** The concurrency scenario over every target, one after the other. */
export async function runConcurrency(options: ConcurrencyOptions): Promise<ScenarioOutput> {
  const runs: TargetRun[] = [];
  const perTargetS = (options.stages.length * options.stageMs) / 1000;
  for (const [i, spec] of options.targets.entries()) {
    options.progress.note(`starting ${targetName(spec)}`);
    const target = await options.launcher.start(spec);
    try {
      runs.push(toTargetRun(target.name, await loadTarget(target, options.stages, options.stageMs, options.progress, i * perTargetS)));
    } finally {
      await target.stop();
    }
  }
  const summary = runs.map((r) => {
    const peak = r.stages.reduce((a, b) => (b.throughputRps > a.throughputRps ? b : a), r.stages[0] as StageStats);
    const most = r.stages.reduce((a, b) => (b.concurrency > a.concurrency ? b : a), r.stages[0] as StageStats);
    const instances = r.stages.reduce((n, s) => n + s.newInstances, 0);
    const atMost = peak.throughputRps > 0 ? most.throughputRps / peak.throughputRps : 0;
    return (
      `${r.target}: peak ${peak.throughputRps.toFixed(0)} req/s at ${peak.concurrency} callers (p50 ${peak.p50Ms.toFixed(2)} ms); ` +
      `at ${most.concurrency} callers ${most.throughputRps.toFixed(0)} req/s, ${atMost.toFixed(3)} of the peak (target ≥ ${AT_MOST_CALLERS_TARGET}: ${atMost >= AT_MOST_CALLERS_TARGET ? 'met' : 'NOT met'}); ` +
      `${instances} instances used in all`
    );
  });
  return {
    title: 'Concurrency test',
    settings: { targets: options.targets.map(targetName), stages: options.stages, stageMs: options.stageMs },
    summary,
    tables: runs.map((r) => stageTable(`Concurrency: ${r.target}`, r.stages)),
    charts: curveCharts(runs),
    raw: { targets: runs },
  };
}
