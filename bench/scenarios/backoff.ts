/**
 * The seed's backoff test: single requests separated by growing idle gaps (1..30 minutes),
 * to measure latency after idleness and show where containers expire. A time scale k divides
 * the gaps and the function's idle timeout (15 minutes / k, deployed with the function), so a
 * local run takes minutes while keeping the same ratio of gap to timeout. A request after a
 * gap >= the idle timeout should find its container expired (a cold start).
 */
import { performance } from 'node:perf_hooks';
import { createLoadClient } from '../load/client.ts';
import type { Sample } from '../load/stats.ts';
import type { ReportChart, ScenarioOutput } from '../report/result.ts';
import type { Progress } from '../report/progress.ts';
import type { TargetLauncher, TargetSpec } from '../platform/targets.ts';

/** The platform default idle timeout (15 minutes) the scale divides. */
export const DEFAULT_IDLE_TIMEOUT_MS = 15 * 60_000;
/** The smallest idle timeout the API accepts. */
export const MIN_IDLE_TIMEOUT_MS = 1000;

export interface BackoffOptions {
  target: TargetSpec;
  gapsMinutes: readonly number[];
  timeScale: number;
  launcher: TargetLauncher;
  progress: Progress;
  /** Sleep, injectable for tests of the schedule. */
  sleep?: (ms: number) => Promise<void>;
}

export interface GapResult {
  gapMinutes: number;
  gapMs: number;
  latencyMs: number;
  status: number;
  instanceId: string | null;
  start: string | null;
  /** A cold start (header, or an instance not seen before). */
  cold: boolean;
  /** gap >= idle timeout: the container should have expired. */
  expectedExpired: boolean;
}

/** The idle timeout deployed for a scale (never below the API's minimum); `traceMs` defaults to 15 min. */
export function scaledIdleTimeoutMs(timeScale: number, traceMs = DEFAULT_IDLE_TIMEOUT_MS): number {
  return Math.max(MIN_IDLE_TIMEOUT_MS, Math.round(traceMs / timeScale));
}

export async function runBackoff(options: BackoffOptions): Promise<ScenarioOutput> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const idleTimeoutMs = scaledIdleTimeoutMs(options.timeScale);
  const gaps = options.gapsMinutes.map((m) => ({ gapMinutes: m, gapMs: Math.round((m * 60_000) / options.timeScale) }));
  const totalS = gaps.reduce((n, g) => n + g.gapMs, 0) / 1000;
  const target = await options.launcher.start(options.target);
  const results: GapResult[] = [];
  try {
    const client = createLoadClient(target.invokeUrl, { connections: 1 });
    const seen = new Set<string>();
    const once = async (): Promise<Sample> => {
      const s = await client.invoke(performance.now());
      return s;
    };
    try {
      const first = await once(); // the container every later gap may find warm
      if (first.instanceId !== undefined) seen.add(first.instanceId);
      let done = 0;
      for (const gap of gaps) {
        options.progress.update(done / 1000, `idle gap of ${gap.gapMinutes} min (${gap.gapMs} ms)`);
        await sleep(gap.gapMs);
        done += gap.gapMs;
        const s = await once();
        const cold = s.start !== undefined ? s.start !== 'warm' : s.instanceId !== undefined && !seen.has(s.instanceId);
        if (s.instanceId !== undefined) seen.add(s.instanceId);
        results.push({
          ...gap,
          latencyMs: Math.round(s.latencyMs * 1000) / 1000,
          status: s.status,
          instanceId: s.instanceId ?? null,
          start: s.start ?? null,
          cold,
          expectedExpired: gap.gapMs >= idleTimeoutMs,
        });
      }
    } finally {
      await client.close();
    }
  } finally {
    await target.stop();
  }
  const firstCold = results.find((r) => r.cold);
  const mismatches = results.filter((r) => r.cold !== r.expectedExpired);
  const chart: ReportChart = {
    title: 'Latency vs idle gap',
    kind: 'line',
    xLabel: `idle gap (seed minutes; real time ÷ ${options.timeScale})`,
    yLabel: 'latency ms',
    series: [
      { name: 'warm', points: results.filter((r) => !r.cold).map((r) => [r.gapMinutes, r.latencyMs] as [number, number]) },
      { name: 'cold (expired)', points: results.filter((r) => r.cold).map((r) => [r.gapMinutes, r.latencyMs] as [number, number]) },
    ],
    marker: { axis: 'x', value: (idleTimeoutMs * options.timeScale) / 60_000, label: 'idle timeout' },
  };
  return {
    title: 'Backoff test',
    settings: { target: target.name, gapsMinutes: options.gapsMinutes, timeScale: options.timeScale, idleTimeoutMs },
    summary: [
      `idle timeout ${idleTimeoutMs} ms (15 min ÷ ${options.timeScale}); first cold start after a gap of ${firstCold === undefined ? 'none' : `${firstCold.gapMinutes} min (${firstCold.gapMs} ms)`}`,
      mismatches.length === 0
        ? 'containers expired exactly where the idle timeout says'
        : `${mismatches.length} gap(s) disagree with the idle timeout: ${mismatches.map((m) => `${m.gapMinutes} min ${m.cold ? 'cold' : 'warm'}`).join(', ')}`,
    ],
    tables: [
      {
        title: 'Latency per idle gap',
        columns: ['gap (seed min)', 'gap ms', 'latency ms', 'start', 'cold', 'gap ≥ idle timeout', 'status'],
        rows: results.map((r) => [r.gapMinutes, r.gapMs, r.latencyMs, r.start, r.cold ? 'yes' : 'no', r.expectedExpired ? 'yes' : 'no', r.status]),
      },
    ],
    charts: [chart],
    raw: { idleTimeoutMs, gaps: results, totalSeconds: totalS },
  };
}
