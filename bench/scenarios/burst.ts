/**
 * burst: warm reuse under repeated bursts (issue 12). A burst is N concurrent calls of a
 * function that runs `functionMs`; once every call of it has answered, the same burst is sent
 * again at once. The second burst finds N warm containers that have just answered, so it
 * should start none; a burst larger than a worker holds must still spread over workers.
 *
 * Per burst size and repeat (each repeat on a freshly deployed function, so the first burst
 * starts cold): containers started (answers whose start kind is not `warm`) in each
 * burst, workers that served it, errors.
 */
import type { ReportTable, ScenarioOutput } from '../report/result.ts';
import type { Progress } from '../report/progress.ts';
import type { Sample } from '../load/stats.ts';
import { createLoadClient } from '../load/client.ts';
import { median } from '../load/stats.ts';
import { deployFunction, type TargetLauncher } from '../platform/targets.ts';
import { undeployFunction } from '../platform/deploy-function.ts';

export interface BurstOptions {
  launcher: TargetLauncher;
  /** Burst sizes (concurrent calls). */
  callers: readonly number[];
  /** Repeats per burst size, each on a new function. */
  repeats: number;
  /** Bursts per repeat, each sent once the one before has answered. */
  bursts: number;
  /** How long each call runs in the function, ms. */
  functionMs: number;
  functionMemoryMb: number;
  progress: Progress;
}

interface BurstStats {
  /** Answers that started a container (start kind not `warm`). */
  started: number;
  /** Distinct containers that served the burst (the function answers its container's id). */
  containers: number;
  workers: number;
  errors: number;
  /** Per worker: calls served and containers started there. */
  byWorker: Record<string, { served: number; started: number }>;
}

export interface BurstRun {
  callers: number;
  repeat: number;
  bursts: BurstStats[];
}

/**
 * The starts of every burst that followed a burst served by `callers` distinct containers: those
 * containers had just answered and were idle, so each such start is a warm reuse missed. (A
 * first burst on a loaded machine may overlap less than fully, leaving fewer warm containers
 * than the next, fully overlapping, burst needs: those starts are not counted.)
 */
export function startsAfterFullBurst(run: BurstRun): number[] {
  const out: number[] = [];
  for (let i = 1; i < run.bursts.length; i++) {
    if ((run.bursts[i - 1] as BurstStats).containers >= run.callers) out.push((run.bursts[i] as BurstStats).started);
  }
  return out;
}

/** The function: sleeps `ms`, answers its container's id (as the seed's benchmark function). */
export function burstFunctionSource(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new Error(`functionMs must be a whole number of ms, not ${ms}`);
  return [
    "'use strict';",
    "const instanceId = require('node:crypto').randomUUID();",
    `module.exports = async () => { await new Promise((r) => setTimeout(r, ${ms})); return { instanceId }; };`,
  ].join('\n');
}

function statsOf(samples: readonly Sample[]): BurstStats {
  const byWorker: BurstStats['byWorker'] = {};
  for (const s of samples) {
    if (s.worker === undefined) continue;
    const w = (byWorker[s.worker] ??= { served: 0, started: 0 });
    w.served++;
    if (s.start !== 'warm') w.started++;
  }
  return {
    byWorker,
    started: samples.filter((s) => s.status === 200 && s.start !== 'warm').length,
    containers: new Set(samples.flatMap((s) => (s.instanceId === undefined ? [] : [s.instanceId]))).size,
    workers: new Set(samples.flatMap((s) => (s.worker === undefined ? [] : [s.worker]))).size,
    errors: samples.filter((s) => s.status !== 200).length,
  };
}

/** Runs the bursts on a ringfaas platform started by the launcher. */
export async function runBurst(options: BurstOptions): Promise<ScenarioOutput> {
  options.progress.note('starting ringfaas');
  const target = await options.launcher.start({ kind: 'ringfaas' });
  const runs: BurstRun[] = [];
  try {
    const base = target.baseUrl as string;
    const source = burstFunctionSource(options.functionMs);
    for (const callers of options.callers) {
      for (let repeat = 1; repeat <= options.repeats; repeat++) {
        options.progress.note(`${callers} callers, repeat ${repeat}`);
        const functionId = await deployFunction(base, { functionMemoryMb: options.functionMemoryMb, source });
        const client = createLoadClient(`${base}/functions/${encodeURIComponent(functionId)}/invoke`, { connections: callers, body: '{}', timeoutMs: 120_000 });
        try {
          const burst = (): Promise<Sample[]> => {
            const t0 = performance.now();
            return Promise.all(Array.from({ length: callers }, () => client.invoke(t0)));
          };
          const bursts: BurstStats[] = [];
          for (let b = 0; b < options.bursts; b++) bursts.push(statsOf(await burst()));
          runs.push({ callers, repeat, bursts });
        } finally {
          await client.close();
          await undeployFunction(base, functionId);
        }
      }
    }
  } finally {
    await target.stop();
  }
  return burstOutput(options, runs);
}

function burstOutput(options: BurstOptions, runs: readonly BurstRun[]): ScenarioOutput {
  const table: ReportTable = {
    title: 'Repeated bursts: per burst, containers started / distinct containers that served / workers',
    columns: ['callers', 'repeat', ...Array.from({ length: options.bursts }, (_, b) => `burst ${b + 1}`), 'errors'],
    rows: runs.map((r) => [r.callers, r.repeat, ...r.bursts.map((b) => `${b.started} / ${b.containers} / ${b.workers}`), r.bursts.reduce((n, b) => n + b.errors, 0)]),
  };
  const summary = options.callers.map((callers) => {
    const mine = runs.filter((r) => r.callers === callers);
    const after = mine.flatMap(startsAfterFullBurst);
    const errors = mine.reduce((n, r) => n + r.bursts.reduce((m, b) => m + b.errors, 0), 0);
    const workers = mine.flatMap((r) => r.bursts.map((b) => b.workers));
    return `${callers} callers: a burst after one served by ${callers} containers started ${after.length === 0 ? 'n/a (no burst was fully served)' : after.join(', ')} containers (target 0; ${after.length} such bursts); workers per burst ${Math.min(...workers)}–${Math.max(...workers)}; errors ${errors}`;
  });
  return {
    title: 'Repeated bursts: warm reuse',
    settings: { callers: options.callers, repeats: options.repeats, bursts: options.bursts, functionMs: options.functionMs, functionMemoryMb: options.functionMemoryMb },
    summary,
    tables: [table],
    charts: [
      {
        title: 'Containers started per burst (repeats summed)',
        kind: 'bar',
        xLabel: 'burst',
        yLabel: 'containers started',
        series: options.callers.map((callers) => ({
          name: `${callers} callers`,
          points: Array.from({ length: options.bursts }, (_, b) => [b + 1, runs.filter((r) => r.callers === callers).reduce((n, r) => n + (r.bursts[b]?.started ?? 0), 0)] as [number, number]),
        })),
      },
    ],
    raw: { runs },
  };
}
