/**
 * The workload of a simulation run and the worker memory it is sized for: a trace read from
 * files, or the generator at a given seed and number of functions per worker, with worker
 * memory sized so that running executions hold `utilisation` (40 %) of it on average, and at
 * least twice the largest function.
 */
import { GeneratedWorkload } from './generator.ts';
import { TraceWorkload } from './azure-trace.ts';
import type { SimulateBenchOptions } from './scenario.ts';
import type { Workload } from './workload.ts';

export interface Sized {
  workload: Workload;
  workerMemoryMb: number;
  note: string;
}

/** The workload of a run and the worker memory it is sized for (generator: executions hold `utilisation` of it). */
export async function sizedWorkload(o: SimulateBenchOptions, workers: number, minutes: number, seed = o.seed, functionsPerWorker = o.functionsPerWorker, utilisation = 0.4): Promise<Sized> {
  if (o.trace !== undefined) {
    const workload = await TraceWorkload.read({ files: o.trace, seed, ...(o.maxFunctions === undefined ? {} : { maxFunctions: o.maxFunctions }) });
    return { workload, workerMemoryMb: o.workerMemoryMb ?? 8192, note: workload.name };
  }
  const g = new GeneratedWorkload({ seed, functions: workers * functionsPerWorker, minutes, ...(o.iatCov === undefined ? {} : { iatCov: o.iatCov }) });
  // at least twice the largest function, so every function fits on every worker
  const largestMb = g.functions.reduce((m, f) => Math.max(m, f.memoryMb), 0); // (a spread overflows the stack at ~10^5 functions)
  const sized = Math.max(1024, Math.ceil((2 * largestMb) / 256) * 256, Math.ceil(g.expectedBusyMb / workers / utilisation / 256) * 256);
  return {
    workload: g,
    workerMemoryMb: o.workerMemoryMb ?? sized,
    note: `${g.name}; ${g.truncated} rates cut to 10^5.5/day, ${g.capped} execution times cut to a mean concurrency of 8`,
  };
}

