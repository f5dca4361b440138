/**
 * The sustained-load bound: the instantaneous bounded-load rule (bounded-load.ts) on loads,
 * plus a bound on each worker's *smoothed* load, so that a worker homing a popular function
 * does not sit at the integer bound all the time.
 *
 * Algorithm
 * ---------
 * The instantaneous bound ceil(c × (L + 1) / n) is an integer: at a mean of ~2 requests per
 * worker it is 3 (1.5 × the mean), and a worker homing a hot function holds 3 most of the
 * time, so its time-averaged load reads 1.5 × the mean although no request ever broke the
 * rule. This module keeps, per worker, an exponentially weighted moving average of its load
 * over time (time constant `windowMs`, exact for a load that is constant between changes):
 *
 *     s(t) = load + (s(t0) − load) × exp(−(t − t0) / windowMs)
 *
 * and the same average of the cluster's total load over the workers it tracks, S(t) (the
 * average is linear, so S is the sum of the workers' s). For one request r, a worker is *held*
 * when
 *
 *     x(worker) + share(r) > max(c × S / n, floorLoad)
 *
 * and s(worker) > floorLoad (a worker averaging the floor or less is never held, whatever
 * its load now or the request: at the start of a burst every average is low, and the
 * instantaneous bound alone decides), where x = s, or with `withCurrent` x = max(s, load
 * now), and share(r) = min(1, E[exec(r)] /
 * windowMs) (`requestShare`; the caller's estimate, execution-times.ts; an unknown one counts 1),
 * what r would add to the average: about 0 for a short request, 1 for one that runs a whole
 * window. `planSpill` (bounded-load.ts) puts the held workers that are under the
 * instantaneous bound behind the accepting ones and before the over-bound ones, in preference
 * order: a held home takes no new placement while some candidate accepts, its average falls
 * back under c × the averaged mean, and it accepts again. It still takes short bursts up to the
 * integer bound, and sheds what would hold its *average* over c × the mean; `withCurrent` and
 * the share keep a long request (one that pins the load for minutes) off a worker already at
 * the threshold, which the average alone, lagging by the window, does not see. `floorLoad`
 * (default 1) keeps the rule from holding a worker that averages one request or less.
 *
 * Guarantees kept (docs/ring.md): a held worker is under the instantaneous bound, so with
 * every worker as a candidate the first worker tried is still under that bound (all of them may
 * be held: then the order is the instantaneous rule's); over-bound workers stay in the plan,
 * last. With share 0 and without `withCurrent` not every worker can be held (the mean of the s
 * is S / n ≤ c × S / n for c ≥ 1).
 *
 * Worked example
 * --------------
 * windowMs = 10 s, c = 1.25, floorLoad 1, three workers at 0. At t = 0 w1 and w2 go to 2
 * requests each, w3 stays at 0 (L = 4). At t = 10 s: s(w1) = s(w2) = 2 × (1 − e^−1) = 1.26,
 * s(w3) = 0, S = 2.53; threshold max(1.25 × 2.53 / 3, 1) = max(1.05, 1) = 1.05: w1 and w2 are
 * held, w3 is not. The instantaneous bound is ceil(1.25 × 5 / 3) = 3, so all three are under
 * it; a function with the preference list [w1, w2, w3] gets the plan [w3, w1, w2]: w3 first,
 * then the held ones in preference order. Had w1 and w2 reached 2 only at t = 9 s, their
 * averages at 10 s would be 2 × (1 − e^−0.1) = 0.19, under the floor of 1: a burst is not held.
 *
 * Known caveats
 * -------------
 * - Every spill of a function to a worker without its container is a cold start; the window
 *   trades how closely the average is held (short) against how often a hot home hands calls
 *   off (docs/simulation.md has the figures).
 * - A worker added later starts with s = its current load: it is not held at first.
 * - Pure: the caller passes the time of each change (an injected clock), no timer runs; the
 *   times must not go back (a change dated before the last one counts as at the last one).
 */

/** The time constant of the average, ms: the rule's default (the best measured trade, docs/simulation.md). */
export const DEFAULT_SUSTAINED_WINDOW_MS = 30_000;
/** A worker averaging this many requests or fewer is never held. */
export const DEFAULT_SUSTAINED_FLOOR_LOAD = 1;

/** The exponentially weighted average `prev` moved by `dtMs` during which the value was `value`. */
export function smoothLoad(prev: number, value: number, dtMs: number, windowMs: number): number {
  if (dtMs <= 0) return prev;
  return value + (prev - value) * Math.exp(-dtMs / windowMs);
}

/** The bound's settings as routers are configured with them (RINGFAAS_SUSTAINED_LOAD). */
export interface SustainedBound {
  /** Balance factor on the smoothed mean, ≥ 1. */
  c: number;
  /** Time constant of the average, ms. */
  windowMs: number;
}

export interface SustainedLoadOptions {
  /** Balance factor on the smoothed mean, ≥ 1. */
  c: number;
  /** Time constant of the average, ms. Default DEFAULT_SUSTAINED_WINDOW_MS. */
  windowMs?: number;
  /** A worker whose average is at most this is never held. Default DEFAULT_SUSTAINED_FLOOR_LOAD. */
  floorLoad?: number;
  /**
   * Count the worker's current load too: held when max(s, load) + addedLoad > threshold, so a
   * request expected to run a whole window does not go where the load already is at the
   * threshold. Default false (the average only).
   */
  withCurrent?: boolean;
}

interface Smoothed {
  /** The average at `at`. */
  s: number;
  /** The load since `at`. */
  load: number;
  at: number;
}

/** Smoothed per-worker loads and the held test (see the file header). */
export class SustainedLoad {
  readonly c: number;
  readonly windowMs: number;
  readonly floorLoad: number;
  readonly withCurrent: boolean;
  readonly #workers = new Map<string, Smoothed>();
  /** The same average of the tracked workers' total load. */
  readonly #total: Smoothed = { s: 0, load: 0, at: 0 };

  constructor(options: SustainedLoadOptions) {
    if (!(options.c >= 1)) throw new RangeError(`sustained-load c must be >= 1, got ${options.c}`);
    this.c = options.c;
    this.windowMs = options.windowMs ?? DEFAULT_SUSTAINED_WINDOW_MS;
    if (!(this.windowMs > 0)) throw new RangeError(`sustained-load windowMs must be > 0, got ${this.windowMs}`);
    this.floorLoad = options.floorLoad ?? DEFAULT_SUSTAINED_FLOOR_LOAD;
    this.withCurrent = options.withCurrent ?? false;
  }

  /**
   * The tracked workers are now `workers` (their current loads) at `now`: new ones start with
   * an average equal to their load, departed ones are dropped with their share of the total.
   */
  membership(workers: ReadonlyArray<{ id: string; load: number }>, now: number): void {
    this.#advanceTotal(now);
    const keep = new Set(workers.map((w) => w.id));
    for (const [id, w] of this.#workers) {
      if (keep.has(id)) continue;
      this.#total.s -= smoothLoad(w.s, w.load, now - w.at, this.windowMs);
      this.#total.load -= w.load;
      this.#workers.delete(id);
    }
    for (const { id, load } of workers) {
      if (this.#workers.has(id)) continue;
      this.#workers.set(id, { s: load, load, at: now });
      this.#total.s += load;
      this.#total.load += load;
    }
  }

  /** Worker `id`'s load is `load` from `now` on (untracked workers are ignored). */
  changed(id: string, load: number, now: number): void {
    const w = this.#workers.get(id);
    if (w === undefined) return;
    this.#advanceTotal(now);
    this.#total.load += load - w.load;
    w.s = smoothLoad(w.s, w.load, now - w.at, this.windowMs);
    w.at = Math.max(w.at, now);
    w.load = load;
  }

  /** Worker `id`'s average at `now` (0 when untracked). */
  smoothedOf(id: string, now: number): number {
    const w = this.#workers.get(id);
    return w === undefined ? 0 : smoothLoad(w.s, w.load, now - w.at, this.windowMs);
  }

  /** The average load per tracked worker at `now`. */
  smoothedMean(now: number): number {
    const n = this.#workers.size;
    return n === 0 ? 0 : smoothLoad(this.#total.s, this.#total.load, now - this.#total.at, this.windowMs) / n;
  }

  /** The average over which a worker is held at `now`: max(c × smoothed mean, floorLoad). */
  threshold(now: number): number {
    return Math.max(this.c * this.smoothedMean(now), this.floorLoad);
  }

  /**
   * A held-test for one placement at `now` (the threshold computed once), for planSpill's
   * `held`: s(worker) > floorLoad and s(worker) (with `withCurrent`: max(s, load now)) +
   * `addedLoad` > threshold. `addedLoad` is what the request being placed
   * would add to the worker's average (requestShare: about 0 for a short request, 1 for one
   * that runs a whole window or more). `withCurrent` false: on the averages alone, whatever the
   * load now (warm first's home slack, bounded-load.ts HOME_WARM_SLACK).
   */
  heldAt(now: number, addedLoad = 0, withCurrent = this.withCurrent): (id: string) => boolean {
    const threshold = this.threshold(now);
    const floor = this.floorLoad;
    return (id) => {
      const s = this.smoothedOf(id, now);
      if (s <= floor) return false; // a worker averaging the floor or less is never held
      const x = withCurrent ? Math.max(s, this.#workers.get(id)?.load ?? 0) : s;
      return x + addedLoad > threshold;
    };
  }

  /**
   * What one request expected to run `expectedMs` adds to a worker's average: min(1,
   * expectedMs / windowMs); undefined (not known yet) counts as a whole request, the safe side.
   */
  requestShare(expectedMs: number | undefined): number {
    return expectedMs === undefined ? 1 : Math.min(1, Math.max(0, expectedMs) / this.windowMs);
  }

  #advanceTotal(now: number): void {
    const t = this.#total;
    t.s = smoothLoad(t.s, t.load, now - t.at, this.windowMs);
    t.at = Math.max(t.at, now);
  }
}
