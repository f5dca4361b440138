/**
 * Closed-loop load, as in the seed's concurrency test: `concurrency` callers, each re-issuing
 * its request as soon as the previous answer arrived, for a fixed time per stage.
 *
 * A stage counts the requests that completed inside its window (requests still in flight at
 * the end are awaited, so the next stage starts clean, but not counted); throughput is
 * completed requests / window length.
 */
import { performance } from 'node:perf_hooks';
import type { LoadClient } from './client.ts';
import { summarizeStage, type Sample, type StageStats } from './stats.ts';
import { measureCpu, type TargetProcess } from './process-cpu.ts';

/** One stage's raw samples and summary. */
export interface StageRun {
  stats: StageStats;
  samples: Sample[];
}

export interface StagesOptions {
  client: LoadClient;
  /** Concurrency of each stage, in order (the seed: 1..15). */
  stages: readonly number[];
  /** Duration of each stage, ms. */
  stageMs: number;
  /** Called about every 250 ms and at each stage end, for progress bars. */
  onProgress?: (progress: { stageIndex: number; elapsedMs: number; completed: number }) => void;
  /** Stops the run early (the stage in progress is summarised as it is). */
  signal?: AbortSignal;
  /** Processes whose CPU time each stage records (StageStats.cpuMs). */
  processes?: readonly TargetProcess[];
}

/** Runs one closed-loop stage. */
export async function runStage(
  client: LoadClient,
  concurrency: number,
  stageMs: number,
  onTick?: (elapsedMs: number, completed: number) => void,
  signal?: AbortSignal,
): Promise<{ samples: Sample[]; durationMs: number }> {
  const samples: Sample[] = [];
  const t0 = performance.now();
  const deadline = t0 + stageMs;
  const caller = async (): Promise<void> => {
    while (performance.now() < deadline && signal?.aborted !== true) {
      const sample = await client.invoke(t0);
      if (sample.atMs + sample.latencyMs <= stageMs) samples.push(sample);
    }
  };
  const ticker = onTick === undefined ? undefined : setInterval(() => onTick(performance.now() - t0, samples.length), 250);
  try {
    await Promise.all(Array.from({ length: concurrency }, caller));
  } finally {
    if (ticker !== undefined) clearInterval(ticker);
  }
  const durationMs = Math.min(stageMs, performance.now() - t0);
  onTick?.(durationMs, samples.length);
  return { samples, durationMs };
}

/** Runs the stages in order; instance ids are tracked across stages to count new instances. */
export async function runStages(options: StagesOptions): Promise<StageRun[]> {
  const seen = new Set<string>();
  const runs: StageRun[] = [];
  for (const [stageIndex, concurrency] of options.stages.entries()) {
    if (options.signal?.aborted === true) break;
    const cpu = options.processes === undefined ? undefined : measureCpu(options.processes);
    const { samples, durationMs } = await runStage(
      options.client,
      concurrency,
      options.stageMs,
      (elapsedMs, completed) => options.onProgress?.({ stageIndex, elapsedMs, completed }),
      options.signal,
    );
    const stats = summarizeStage(samples, concurrency, durationMs, seen);
    if (cpu !== undefined) stats.cpuMs = cpu.stop();
    runs.push({ stats, samples });
  }
  return runs;
}
