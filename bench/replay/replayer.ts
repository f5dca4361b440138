/**
 * Sends a schedule of invocations at their times (open loop), with a bound on requests in
 * flight.
 *
 * Algorithm
 * ---------
 * One timer, set at the next arrival's time on the injected scheduler. When it fires, every
 * arrival due by then joins a FIFO of due arrivals, and arrivals leave the FIFO while fewer
 * than `maxInFlight` requests run; each finished request lets the next due one go. An
 * arrival's *lag* is its send time minus its scheduled time: 0 unless the bound (or a late
 * timer) held it. The promise resolves when every arrival has been sent and answered.
 *
 * Example: arrivals at 0, 0, 0 and 50 ms, maxInFlight 2, each answer 100 ms after its send:
 * two go at 0, the third waits and goes at 100 (lag 100), the fourth, due at 50, goes at 100
 * too (lag 50).
 *
 * Caveat: the invoke function must not throw (the load client turns failures into samples);
 * one that does fails the whole replay.
 */
import type { Clock, Scheduler } from '../../clock/index.ts';
import type { Sample } from '../load/stats.ts';
import type { Arrival } from '../simulate/workload.ts';

export interface ReplayOptions {
  /** Real ms since the replay's start, sorted by time (compressArrivals). */
  arrivals: readonly Arrival[];
  /** Sends one invocation of function `fn`; never throws. */
  invoke(fn: number): Promise<Sample>;
  maxInFlight: number;
  clock: Clock;
  scheduler: Scheduler;
  /** Called after each answer with the count answered so far. */
  onAnswer?: (answered: number) => void;
}

/** One replayed arrival and its answer. */
export interface ReplayRecord {
  /** Index in `arrivals`. */
  index: number;
  fn: number;
  /** Scheduled and actual send time, ms since the replay's start. */
  scheduledMs: number;
  sentMs: number;
  sample: Sample;
}

/** Replays `arrivals` (see the file header); answers one record per arrival, in arrival order. */
export function replayArrivals(options: ReplayOptions): Promise<ReplayRecord[]> {
  const { arrivals, clock, scheduler } = options;
  if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${options.maxInFlight}`);
  const t0 = clock.now();
  const records: Array<ReplayRecord | undefined> = new Array(arrivals.length);
  const due: number[] = [];
  let dueHead = 0;
  let next = 0;
  let inFlight = 0;
  let answered = 0;
  return new Promise((resolve, reject) => {
    const finishIfDone = (): void => {
      if (answered === arrivals.length) resolve(records as ReplayRecord[]);
    };
    const send = (index: number): void => {
      const a = arrivals[index] as Arrival;
      const sentMs = clock.now() - t0;
      inFlight++;
      options.invoke(a.fn).then(
        (sample) => {
          records[index] = { index, fn: a.fn, scheduledMs: a.at, sentMs, sample };
          inFlight--;
          answered++;
          options.onAnswer?.(answered);
          pump();
          finishIfDone();
        },
        (err: unknown) => reject(err),
      );
    };
    const pump = (): void => {
      while (dueHead < due.length && inFlight < options.maxInFlight) send(due[dueHead++] as number);
    };
    const arm = (): void => {
      const a = arrivals[next];
      if (a === undefined) return;
      scheduler.setTimer(t0 + a.at - clock.now(), () => {
        const elapsed = clock.now() - t0;
        while (next < arrivals.length && (arrivals[next] as Arrival).at <= elapsed) due.push(next++);
        pump();
        arm();
      });
    };
    arm();
    finishIfDone();
  });
}
