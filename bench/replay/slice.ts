/**
 * A bounded slice of a workload (an Azure Functions 2019 trace or the calibrated generator,
 * bench/simulate/) for replay against a real platform, and its time compression.
 *
 * Algorithm
 * ---------
 * The workload streams arrivals minute by minute from minute 0 (a trace's cursor only moves
 * forward), so minutes before `fromMinute` are read and dropped. Within
 * [fromMinute, fromMinute + minutes) each function's arrivals are counted; a function is
 * *eligible* when it has at least `minInvocations` (a function called once says nothing about
 * keep-alive) and at most `maxInvocationsPerFunction` (a function called every few seconds is
 * warm under every policy and would only load the machine). The first `maxFunctions` eligible
 * functions in workload order are kept: deterministic for a trace and for a generator seed.
 * Arrival times become ms since the slice start, sorted.
 *
 * Compression by k: an arrival at trace time t is sent at real time t / k. The worker divides
 * its keep-alive windows by the same k (RINGFAAS_KEEPALIVE_TIME_SCALE, and the functions'
 * idleTimeoutMs), so the policy sees the gaps it would see in real time.
 *
 * Worked example: slice minutes 60..150 of a trace, k = 60. A function called at trace
 * minutes 61.5 and 70.0 has arrivals at 90 000 and 600 000 ms of slice time, sent 1.5 s and
 * 10 s after the replay starts; its fixed 15 min window is 15 s of real time, so its second
 * call finds the container warm, as it would in the trace.
 *
 * Caveats: everything else keeps its real duration (container starts, executions, the
 * network), so at k = 60 a 500 ms cold start covers 30 s of trace time; the replay's
 * executions are instant (the trace's durations are not replayed).
 */
import type { Arrival, Workload } from '../simulate/workload.ts';

export interface SliceOptions {
  /** First trace minute of the slice (0-based). */
  fromMinute: number;
  /** Trace minutes in the slice. */
  minutes: number;
  /** Functions kept at most. */
  maxFunctions: number;
  /** Fewest invocations in the slice for a function to be kept. Default 2. */
  minInvocations?: number;
  /** Most invocations in the slice for a function to be kept. */
  maxInvocationsPerFunction: number;
}

/** A function of the slice. */
export interface SliceFunction {
  /** Its index in the workload. */
  readonly workloadIndex: number;
  /** Its id in the workload (the trace's HashFunction, or a generated id). */
  readonly id: string;
  readonly memoryMb: number;
  /** Its invocations in the slice. */
  readonly invocations: number;
}

/** A slice: its functions and their arrivals (fn = index in `functions`). */
export interface TraceSlice {
  readonly fromMinute: number;
  readonly minutes: number;
  readonly functions: readonly SliceFunction[];
  /** Arrivals in trace ms since the slice start, sorted by time. */
  readonly arrivals: readonly Arrival[];
  /** Functions with arrivals in the slice that were left out: too few, too many, over the count. */
  readonly leftOut: { tooFew: number; tooMany: number; overCount: number };
}

/** Takes a slice of `workload` (see the file header). */
export function takeSlice(workload: Workload, options: SliceOptions): TraceSlice {
  const { fromMinute, minutes } = options;
  if (!Number.isInteger(fromMinute) || fromMinute < 0 || !Number.isInteger(minutes) || minutes < 1) throw new RangeError('fromMinute must be an integer >= 0 and minutes >= 1');
  if (fromMinute + minutes > workload.minutes) throw new RangeError(`the workload has ${workload.minutes} minutes; the slice ends at minute ${fromMinute + minutes}`);
  const minInvocations = options.minInvocations ?? 2;
  const byFunction = new Map<number, number[]>();
  const buffer: Arrival[] = [];
  const startMs = fromMinute * 60_000;
  for (let minute = 0; minute < fromMinute + minutes; minute++) {
    buffer.length = 0;
    workload.arrivals(minute, buffer);
    if (minute < fromMinute) continue;
    for (const a of buffer) {
      let times = byFunction.get(a.fn);
      if (times === undefined) byFunction.set(a.fn, (times = []));
      times.push(a.at - startMs);
    }
  }
  const leftOut = { tooFew: 0, tooMany: 0, overCount: 0 };
  const functions: SliceFunction[] = [];
  const arrivals: Arrival[] = [];
  for (const [index, times] of [...byFunction.entries()].sort((a, b) => a[0] - b[0])) {
    if (times.length < minInvocations) leftOut.tooFew++;
    else if (times.length > options.maxInvocationsPerFunction) leftOut.tooMany++;
    else if (functions.length >= options.maxFunctions) leftOut.overCount++;
    else {
      const fn = workload.functions[index];
      if (fn === undefined) throw new RangeError(`the workload produced an arrival of function ${index}, which it does not have`);
      for (const at of times) arrivals.push({ at, fn: functions.length });
      functions.push({ workloadIndex: index, id: fn.id, memoryMb: fn.memoryMb, invocations: times.length });
    }
  }
  arrivals.sort((a, b) => a.at - b.at || a.fn - b.fn);
  return { fromMinute, minutes, functions, arrivals, leftOut };
}

/** The slice's arrivals in real ms since the replay starts, at `timeScale` trace ms per real ms. */
export function compressArrivals(arrivals: readonly Arrival[], timeScale: number): Arrival[] {
  if (!(timeScale > 0)) throw new RangeError(`timeScale must be > 0, got ${timeScale}`);
  return arrivals.map((a) => ({ at: a.at / timeScale, fn: a.fn }));
}
