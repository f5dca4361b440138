/**
 * The bounded-load spill decision: which workers to try, in which order.
 *
 * Algorithm
 * ---------
 * Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing
 * with Bounded Loads", SODA 2018). With `n` workers on the ring, a total load of `L` requests
 * in flight, and a balance factor `c > 1`, the request being placed counts too, so the
 * average is `(L + 1) / n` and every worker may hold at most
 *
 *     bound = ceil(c × (L + 1) / n)
 *
 * requests. A worker *accepts* when its load + 1 ≤ bound (i.e. load < bound). Candidates come in
 * the function's preference order (home first, ring/ring.ts); the plan keeps that order but
 * moves the workers over the bound behind the ones under it:
 *
 *     order = [accepting candidates in preference order] ++ [over-bound candidates in order]
 *
 * An option, `held` (sustained-load.ts, not the default), names workers that are under the
 * bound but whose load *averaged over time* is over c × the averaged mean: they do not accept
 * either, and come between the two groups, in preference order:
 *
 *     order = [accepting] ++ [held, under the bound] ++ [over-bound]
 *
 * so the first worker tried is still under the bound whenever a candidate is.
 *
 * An option, `rule: 'floor'` (not the default), bounds a worker at
 *
 *     bound = max(ceil((L + 1) / n), floor(c × (L + 1) / n))
 *
 * instead: never over c × the average where an integer bound can be, and at least the
 * average rounded up, so that some worker is still always under it (the loads sum to L, and
 * n × ceil((L + 1) / n) ≥ L + 1). At low load it spills more: it exists so that the simulator
 * can measure that trade (docs/simulation.md); the routers use the default.
 *
 * The over-bound ones stay in the plan because the bound is about balance, not capacity: when
 * every worker under the bound answers "at capacity" (HTTP 429) the busy ones may still have
 * a warm container free. At least one of all n workers is always under the bound (the loads
 * sum to L < n × (L + 1) / n ≤ n × bound), so with the full preference list as candidates
 * the first worker tried is never over the bound.
 *
 * A worker's load is the router's own in-flight count for it, refined by the load the worker
 * reports in every response (x-ringfaas-load: its in-flight work from every router). The
 * caller chooses the estimate; router/ring-view.ts takes the larger of the two while the
 * report is recent.
 *
 * Worked example
 * --------------
 * Four workers, c = 1.25, loads w1 = 5, w2 = 3, w3 = 0, w4 = 0, so L = 8.
 * Average (8 + 1) / 4 = 2.25; bound = ceil(1.25 × 2.25) = ceil(2.8125) = 3: a worker accepts
 * while it holds at most 2. Function f has the preference list [w1, w3, w2, w4]: w1 (5) is over,
 * w3 (0) accepts, w2 (3) is over, w4 (0) accepts; the plan is [w3, w4, w1, w2] with one
 * bounded-load skip (w1) before the first worker tried. With L = 0 the bound is
 * ceil(1.25 / 4) = 1: every idle worker accepts and f goes home to w1. With `rule: 'floor'`
 * and L = 8 the bound is max(ceil(2.25), floor(2.8125)) = 3 as well; with 100 workers and
 * L = 199 it is max(2, floor(2.5)) = 2 where the default gives ceil(2.5) = 3.
 *
 * Known caveats
 * -------------
 * - At low load the bound is small (1 or 2), so a second concurrent request of one function
 *   can be sent off its home although the home has a warm container free; it starts a
 *   container on a neighbour. Raise `c` to favour affinity (c = Infinity disables the check).
 * - Loads count requests, not memory: a worker full of 4 GB functions and one full of 128 MB
 *   ones look alike; the worker's own 429 is what guards memory.
 * - Every router sees its own in-flight exactly and other routers' only through the reported
 *   load, which is as old as the last response from that worker.
 */

export const DEFAULT_LOAD_FACTOR = 1.25;

/**
 * How far over the bound a function's home may take a call it holds an idle warm container for
 * (warm first when spilling, router/ring-invoker.ts), when the sustained-load bound does not hold
 * the home on its time-averaged load alone (sustained-load.ts, `heldAt` without the load now):
 * one request. With the bound alone, a home at its bound sends the call to a neighbour, which
 * starts a container while the home's stays idle: in the simulator (10 workers, the calibrated
 * workload, fixed 15 min keep-alive) 28 % of all cold starts were of that kind. The average's
 * condition keeps the time-averaged balance: max/avg at 1000 workers stays where it was (docs/simulation.md,
 * "The home's warm container, one over the bound").
 */
export const HOME_WARM_SLACK = 1;

/**
 * Whether warm first may send a call to a worker holding an idle warm container of the function:
 * under the bound, or with `homeSlack` (the function's home, not held on its average), at most
 * HOME_WARM_SLACK over it.
 */
export function warmAccepts(load: number, bound: number, homeSlack: boolean): boolean {
  return load < bound + (homeSlack ? HOME_WARM_SLACK : 0);
}

/**
 * How the bound is rounded: 'ceil' (the default, Mirrokni et al.'s ceil(c × (L + 1) / n)) or
 * 'floor' (max(ceil((L + 1) / n), floor(c × (L + 1) / n)): never over c × the average where
 * an integer can be; an option measured by the simulator, see the header).
 */
export type BoundRule = 'ceil' | 'floor';

/** The most requests one worker may hold: ceil(c × (totalLoad + 1) / n), or with rule 'floor' see BoundRule. */
export function loadBound(totalLoad: number, workerCount: number, c: number = DEFAULT_LOAD_FACTOR, rule: BoundRule = 'ceil'): number {
  if (workerCount <= 0) return 0;
  if (c === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  const allowed = (c * (totalLoad + 1)) / workerCount;
  if (rule === 'ceil') return Math.ceil(allowed);
  return Math.max(Math.ceil((totalLoad + 1) / workerCount), Math.floor(allowed));
}

/** The workers to try, in order, for one request. */
export interface SpillPlan {
  /** Candidates under the bound in preference order (the held ones after the others), then the ones over it. */
  readonly order: string[];
  /** How many over-bound or held candidates preceded the first worker of `order` in preference order. */
  readonly skipped: number;
  /** How many workers at the start of `order` accept (under the bound and not held). */
  readonly accepting: number;
  /** The bound used. */
  readonly bound: number;
}

export interface SpillInput {
  /** Candidate workers in preference order (home first). */
  candidates: readonly string[];
  /** A worker's current load estimate. */
  loadOf: (workerId: string) => number;
  /** Sum of the loads of every worker on the ring (not only the candidates). */
  totalLoad: number;
  /** Number of workers on the ring. */
  workerCount: number;
  /** Balance factor, > 1. Default 1.25. */
  c?: number;
  /** How the bound is rounded (BoundRule). Default 'ceil'. */
  rule?: BoundRule;
  /**
   * Workers held by a sustained-load bound (sustained-load.ts): under the bound but behind
   * the accepting ones. Default: none held.
   */
  held?: (workerId: string) => boolean;
}

/** Orders the candidates for one request by the bounded-load rule (see the header). */
export function planSpill(input: SpillInput): SpillPlan {
  const bound = loadBound(input.totalLoad, input.workerCount, input.c ?? DEFAULT_LOAD_FACTOR, input.rule ?? 'ceil');
  const accepting: string[] = [];
  let held: string[] | undefined;
  let over: string[] | undefined;
  let skipped = 0;
  for (const id of input.candidates) {
    if (input.loadOf(id) >= bound) (over ??= []).push(id);
    else if (input.held?.(id) === true) (held ??= []).push(id);
    else {
      accepting.push(id);
      continue;
    }
    if (accepting.length === 0) skipped++;
  }
  if (over === undefined && held === undefined) return { order: accepting, skipped: 0, accepting: accepting.length, bound };
  const order = accepting.concat(held ?? [], over ?? []);
  // nothing accepts: the first tried is the first held one, or (none held) the home anyway
  if (accepting.length === 0) skipped = held === undefined ? 0 : input.candidates.indexOf(held[0] as string);
  return { order, skipped, accepting: accepting.length, bound };
}
