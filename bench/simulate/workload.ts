/**
 * What the simulator replays: a set of functions and, minute by minute, their invocations.
 * Both sources (an Azure Functions 2019 trace on disk, bench/simulate/azure-trace.ts, and the
 * calibrated generator, bench/simulate/generator.ts) stream arrivals one minute at a time, so
 * a run's memory does not grow with its length.
 */
import type { Prng } from './prng.ts';

/** One function of the workload. */
export interface SimFunction {
  /** Its id: what the ring hashes (the trace's HashFunction, or a generated id). */
  readonly id: string;
  /** Its application (the trace's HashApp); functions of one app share memory figures. */
  readonly app: string;
  readonly memoryMb: number;
  /** What one cold start costs before the execution runs, ms. */
  readonly coldStartMs: number;
  /** Draws one execution time, ms. */
  duration(rng: Prng): number;
}

/** A workload: functions and a minute-by-minute arrival stream. */
export interface Workload {
  readonly name: string;
  readonly functions: readonly SimFunction[];
  /** Minutes of arrivals available. */
  readonly minutes: number;
  /**
   * Appends the arrivals of minute `minute` (0-based) to `out` as [time ms, function index]
   * pairs (times within [minute × 60 000, (minute + 1) × 60 000)), unsorted.
   */
  arrivals(minute: number, out: Arrival[]): void;
  /** The same workload rewound to minute 0 (a run consumes its arrival state). */
  fresh(): Workload;
}

/** One invocation arrival: time (ms since the start of the run) and function index. */
export interface Arrival {
  at: number;
  fn: number;
}
