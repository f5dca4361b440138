/**
 * What a simulation run measures, as aggregates only (bounded memory): counts, histograms,
 * idle memory-time, and per membership event the cold starts inside its window. Everything
 * before `warmupMs` is left out (every function's first invocation is cold whatever the
 * policy), except the window counters, which are absolute.
 */
import { LogHistogram } from './histogram.ts';

/** A window after a membership event: cold starts of all functions and of moved ones. */
export interface EventWindow {
  readonly label: string;
  readonly fromMs: number;
  readonly toMs: number;
  /** Functions whose home the event moved (1 = moved), by function index. */
  readonly moved: Uint8Array | undefined;
  invocations: number;
  coldStarts: number;
  movedInvocations: number;
  movedColdStarts: number;
  /**
   * Functions invoked in the minute before the window opened that had a container somewhere
   * then (1 = yet to be invoked again in the window); their first invocation in the window is
   * counted, and whether it was cold: the locality an event destroyed.
   */
  recentWarm: Uint8Array | undefined;
  firstCalls: number;
  firstCallsCold: number;
  /** Cold starts of each function inside the window, by function index (saturates at 65 535). */
  readonly coldByFn: Uint16Array;
  /** Each function's first start inside the window: 0 none, 1 warm, 2 cold. */
  readonly firstByFn: Uint8Array;
  /**
   * The functions whose placement the event changed (run with the event only; 1 = affected):
   * home moved, or a container on the leaving worker at the event, or (a join) a start on the
   * joined worker inside the window. Undefined in a control run: it is compared over the
   * run's set (affectedColdStarts in scenario.ts).
   */
  readonly affected: Uint8Array | undefined;
  /** The joined worker's id (a join): starts on it inside the window mark their function affected. */
  readonly joinedWorker: string | undefined;
  /**
   * The warm hand-off of the event (run with hand-off only), by function index: 0 not handed
   * off, else 1 + its idle containers on the new home right after the hand-off (saturates at 255). Analyses only
   * (hand-off-misses.ts).
   */
  handedOff?: Uint8Array;
}

/**
 * One idle period of a container: on `worker`, of function `fn`, its `rank`-th container (LIFO:
 * idle from the concurrency falling below `rank` to its reaching it again), from `from` to `to`
 * (ms), `mb` of memory; `reused` false: still idle when the run ended.
 */
export type IdlePeriodHook = (worker: string, fn: number, rank: number, from: number, to: number, mb: number, reused: boolean) => void;

export class SimMetrics {
  readonly warmupMs: number;
  invocations = 0;
  coldStarts = 0;
  failed = 0;
  /** Requests rejected after waiting MAX_WAIT_MS for capacity. */
  rejected = 0;
  prewarms = 0;
  expired = 0;
  evicted = 0;
  /** Idle memory-time, MB × ms. */
  idleMbMs = 0;
  readonly queueWait = new LogHistogram();
  readonly startDelay = new LogHistogram();
  readonly windows: EventWindow[] = [];
  /** Called on every counted start (after the warm-up): per-function breakdowns in analyses. */
  onStart: ((fn: number, cold: boolean) => void) | undefined;
  /** Called on every start, warm-up included, with its time and worker (analyses: hand-off-misses.ts). */
  onAnyStart: ((fn: number, now: number, cold: boolean, worker: string) => void) | undefined;
  /**
   * Called for each idle period of a container, warm-up included, when it is reused (`reused`)
   * or the run ends with it idle: the keep-alive bounds (keepalive-bounds.ts).
   */
  onIdlePeriod: IdlePeriodHook | undefined;

  constructor(warmupMs: number) {
    this.warmupMs = warmupMs;
  }

  /** A container of `mb` was idle from `from` to `to`. */
  idle(from: number, to: number, mb: number): void {
    const start = Math.max(from, this.warmupMs);
    if (to > start) this.idleMbMs += (to - start) * mb;
  }

  /** An idle container of `mb`, idle since `from`, was taken by a call at `to` (its function's `rank`-th running). */
  reused(worker: string, fn: number, rank: number, from: number, to: number, mb: number): void {
    this.idle(from, to, mb);
    this.onIdlePeriod?.(worker, fn, rank, from, to, mb, true);
  }

  /** The run ended at `to` with this container idle since `from` (as `rank`-th of its function). */
  endedIdle(worker: string, fn: number, rank: number, from: number, to: number, mb: number): void {
    this.idle(from, to, mb);
    this.onIdlePeriod?.(worker, fn, rank, from, to, mb, false);
  }

  /** An invocation started executing (or cold-starting) on `worker` at `now` after waiting `waitMs`. */
  started(fn: number, now: number, waitMs: number, cold: boolean, coldMs: number, worker: string): void {
    this.onAnyStart?.(fn, now, cold, worker);
    for (const w of this.windows) {
      if (now < w.fromMs || now >= w.toMs) continue;
      w.invocations++;
      if (w.firstByFn[fn] === 0) w.firstByFn[fn] = cold ? 2 : 1;
      if (cold) {
        w.coldStarts++;
        if (w.coldByFn[fn] !== 65_535) w.coldByFn[fn] = (w.coldByFn[fn] as number) + 1;
      }
      if (w.affected !== undefined && worker === w.joinedWorker) w.affected[fn] = 1;
      if (w.recentWarm?.[fn] === 1) {
        w.recentWarm[fn] = 0;
        w.firstCalls++;
        if (cold) w.firstCallsCold++;
      }
      if (w.moved?.[fn] === 1) {
        w.movedInvocations++;
        if (cold) w.movedColdStarts++;
      }
    }
    if (now < this.warmupMs) return;
    this.invocations++;
    if (cold) this.coldStarts++;
    this.onStart?.(fn, cold);
    this.queueWait.add(waitMs);
    this.startDelay.add(waitMs + coldMs);
  }

  /** Idle memory-time in GB·s. */
  get idleGbS(): number {
    return this.idleMbMs / 1024 / 1000;
  }
}
