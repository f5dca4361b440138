/**
 * Bounds on keep-alive, read against fixed keep-alive at equal idle memory-time: how much
 * any policy that only decides how long an idle container stays loaded (no pre-warm) could gain
 * on one run's idle periods.
 *
 * - **Clairvoyant**: knows each idle period's length. Holding a period costs its memory × its
 *   length and saves one cold start; the fewest cold starts for a budget hold the cheapest
 *   periods first (unit values: sorting by cost is optimal) and drop every period never reused.
 * - **Hindsight windows**: one window per container rank of a function on a worker (the class
 *   of the hazard policy, worker/keepalive/hazard.ts, without its pre-warms), each the best for
 *   that rank's periods of the whole run, known in advance: for a price λ, the window w that
 *   maximises saved(w) − λ × cost(w), for every λ of a sweep. An estimate of what learning each
 *   rank's distribution perfectly would give, not a strict bound on the class: a policy whose
 *   windows change over time can do better, and so can one that holds a higher rank longer
 *   than a lower one (the simulator's stacks then serve a call from the deeper container, which
 *   this per-rank model does not count).
 * - **Out of sample**: the same windows, each rank's chosen on its other periods (five folds)
 *   and charged on the rest: what learning the class's windows from data gives, without the
 *   advantage of fitting them to the very periods they are charged on.
 *
 * Model. Run with every container kept (a policy that never unloads), each idle period is one
 * container's: with LIFO warm stacks the k-th container of a function idles from the
 * concurrency falling below k to its reaching k again, so a function's periods nest by rank, and
 * a policy that holds a period for a window w costs memory × min(length, w) and saves a cold
 * start when the period ends in a reuse within w. Periods that end in the warm-up are left out,
 * and of one that starts in it only the part after it costs (as the simulator counts idle
 * memory-time); one still idle at the end of the run costs, never saves. Fixed keep-alive is the window T for
 * every rank: `fixed(T)` on the same periods checks the model against the simulated fixed runs.
 *
 * Limits. The arrivals are the kept-everything run's: a cold start delays its execution by the
 * function's cold-start time, which shifts later periods a little in a policy's own run. A
 * pre-warm (a container loaded shortly before a call) can beat both bounds. Memory: the periods
 * after the warm-up are held twice, in their group and in its fold (16 bytes each, ~10 MB for the
 * 720-minute keep-alive runs).
 */
import { fixedAtIdle, type CurvePoint } from './fixed-curve.ts';

interface Group {
  rank: number;
  mb: number;
  /** Lengths of the periods that started after the warm-up and ended in a reuse, ms. */
  reused: number[];
  /** Lengths of those still idle at the end (never saved), ms. */
  open: number[];
  /** Periods that started in the warm-up and ended after it (at most one a container): only their part after it costs. */
  straddling: Array<{ len: number; pre: number; reused: boolean }>;
}

/** Memory-time of holding a straddling period for `windowMs`, MB·ms. */
const straddleCost = (mb: number, p: { len: number; pre: number }, windowMs: number): number => mb * Math.max(0, Math.min(p.len, windowMs) - p.pre);

/** Folds of the out-of-sample windows (crossValidatedWindows). */
const FOLDS = 5;

/** Prices λ (cold starts per MB·ms) swept for the hindsight windows: 10^-14 .. 10^-4, 20 a decade. */
const LAMBDAS = Array.from({ length: 201 }, (_, i) => 10 ** (-14 + i / 20));

export class KeepAliveBounds {
  readonly #warmupMs: number;
  readonly #groups = new Map<string, Group>();
  /** The same periods in FOLDS folds per group, in turn (crossValidatedWindows). */
  readonly #folds = new Map<string, Group[]>();
  #reusedCount = 0;

  /** `warmupMs`: periods that end before it are left out, and only their part after it costs. */
  constructor(warmupMs: number) {
    this.#warmupMs = warmupMs;
  }

  /** Reused idle periods counted (each a cold start when not held). */
  get periods(): number {
    return this.#reusedCount;
  }

  /** One idle period (metrics.ts IdlePeriodHook). */
  record(worker: string, fn: number, rank: number, from: number, to: number, mb: number, reused: boolean): void {
    if (to < this.#warmupMs) return;
    const key = `${worker}\u0000${fn}\u0000${rank}`;
    let g = this.#groups.get(key);
    if (g === undefined) this.#groups.set(key, (g = emptyGroup(rank, mb)));
    let folds = this.#folds.get(key);
    if (folds === undefined) this.#folds.set(key, (folds = Array.from({ length: FOLDS }, () => emptyGroup(rank, mb))));
    const fold = size(g) % FOLDS;
    for (const into of [g, folds[fold] as Group]) {
      if (from < this.#warmupMs) into.straddling.push({ len: to - from, pre: this.#warmupMs - from, reused });
      else (reused ? into.reused : into.open).push(to - from);
    }
    if (reused) this.#reusedCount++;
  }

  /** Fixed keep-alive `windowMs` on these periods: its idle memory-time and the cold starts it adds to `unavoidable`. */
  fixed(windowMs: number, unavoidable: number): CurvePoint {
    let mbMs = 0;
    let cold = unavoidable;
    for (const g of this.#groups.values()) {
      for (const len of g.reused) {
        mbMs += g.mb * Math.min(len, windowMs);
        if (len > windowMs) cold++;
      }
      for (const len of g.open) mbMs += g.mb * Math.min(len, windowMs);
      for (const p of g.straddling) {
        mbMs += straddleCost(g.mb, p, windowMs);
        if (p.reused && p.len > windowMs) cold++;
      }
    }
    return { idleGbS: mbMs / 1024 / 1000, coldStarts: cold };
  }

  /** The clairvoyant bound: from holding nothing to holding every reused period, cheapest first (≤ 1 000 points). */
  clairvoyant(unavoidable: number): CurvePoint[] {
    const costs = new Float64Array(this.#reusedCount);
    let i = 0;
    for (const g of this.#groups.values()) {
      for (const len of g.reused) costs[i++] = g.mb * len;
      for (const p of g.straddling) if (p.reused) costs[i++] = straddleCost(g.mb, p, p.len);
    }
    costs.sort();
    // a point every 1/500 of the periods and every 1/500 of their memory-time (the curve bends
    // hard where the long periods come, and is read linearly between points)
    let total = 0;
    for (const c of costs) total += c;
    const points: CurvePoint[] = [{ idleGbS: 0, coldStarts: unavoidable + costs.length }];
    const step = Math.max(1, Math.floor(costs.length / 500));
    let mbMs = 0;
    const markStep = total / 500;
    let nextMark = markStep;
    for (let k = 0; k < costs.length; k++) {
      mbMs += costs[k] as number;
      if ((k + 1) % step !== 0 && k !== costs.length - 1 && (markStep === 0 || mbMs < nextMark)) continue;
      points.push({ idleGbS: mbMs / 1024 / 1000, coldStarts: unavoidable + costs.length - (k + 1) });
      if (markStep > 0) while (nextMark <= mbMs) nextMark += markStep;
    }
    return points;
  }

  /**
   * The hindsight-windows bound: one point per price of the sweep (see the file header). With
   * `prewarm`, a function's first container (rank 1: every container of it idle) may also be
   * unloaded at once and loaded again a time later (its window [a, e) rather than [0, e)), a on
   * a grid to 4 h (PREWARM_DELAYS_MS): the hazard policy's pre-warm.
   */
  hindsightWindows(unavoidable: number, prewarm = false): CurvePoint[] {
    const hulls = [...this.#groups.values()].map((g) => concaveHull(candidates(g, prewarm && g.rank === 1)));
    const points: CurvePoint[] = [];
    for (const lambda of LAMBDAS) {
      let mbMs = 0;
      let saved = 0;
      for (const hull of hulls) {
        const at = hull[choose(hull, lambda)] as Candidate;
        mbMs += at.cost;
        saved += at.saved;
      }
      points.push({ idleGbS: mbMs / 1024 / 1000, coldStarts: unavoidable + this.#reusedCount - saved });
    }
    return points;
  }

  /**
   * The same windows learned out of sample (FOLDS-fold cross-validation): each group's periods
   * dealt into folds in the order they ended; at each price, the window best on the other folds'
   * periods is charged on each fold's. What a rank's distribution learned from most of its
   * periods gives, without choosing on the very periods it is charged on; a rank with no other
   * period holds its one for `fallbackMs` (the keep-alive setting a policy with no history uses).
   * The gap between this and hindsightWindows is what choosing in hindsight adds.
   */
  crossValidatedWindows(unavoidable: number, prewarm = false, fallbackMs = 15 * 60_000): CurvePoint[] {
    // per fold: the hull of the others' windows, each hull window charged on the fold
    const charged: Array<{ hull: Candidate[]; onOther: Candidate[] }> = [];
    for (const folds of this.#folds.values()) {
      const first = folds[0] as Group;
      for (const test of folds) {
        if (size(test) === 0) continue;
        const train = merged(first.rank, first.mb, folds.filter((f) => f !== test));
        const hull = size(train) === 0 ? [{ cost: 0, saved: 0, a: 0, e: fallbackMs }] : concaveHull(candidates(train, prewarm && first.rank === 1));
        charged.push({ hull, onOther: hull.map((w) => charge(test, w.a, w.e)) });
      }
    }
    const points: CurvePoint[] = [];
    for (const lambda of LAMBDAS) {
      let mbMs = 0;
      let saved = 0;
      for (const { hull, onOther } of charged) {
        const at = onOther[choose(hull, lambda)] as Candidate;
        mbMs += at.cost;
        saved += at.saved;
      }
      points.push({ idleGbS: mbMs / 1024 / 1000, coldStarts: unavoidable + this.#reusedCount - saved });
    }
    return points;
  }
}

/** The window a price picks from a hull (the first of the best): saved − λ × cost largest. */
function choose(hull: readonly Candidate[], lambda: number): number {
  let best = Number.NEGATIVE_INFINITY;
  let at = 0;
  for (let i = 0; i < hull.length; i++) {
    const c = hull[i] as Candidate;
    const v = c.saved - lambda * c.cost;
    if (v > best) {
      best = v;
      at = i;
    }
  }
  return at;
}

function emptyGroup(rank: number, mb: number): Group {
  return { rank, mb, reused: [], open: [], straddling: [] };
}

/** One group of the periods of several. */
function merged(rank: number, mb: number, groups: readonly Group[]): Group {
  const g = emptyGroup(rank, mb);
  // element by element: a busy rank has more periods than a call's arguments may be
  for (const f of groups) {
    for (const len of f.reused) g.reused.push(len);
    for (const len of f.open) g.open.push(len);
    for (const p of f.straddling) g.straddling.push(p);
  }
  return g;
}

function size(g: Group): number {
  return g.reused.length + g.open.length + g.straddling.length;
}

/** What the window [a, e) (unloaded at the idle moment when a > 0, loaded again at a) costs and saves on a group's periods. */
function charge(g: Group, a: number, e: number): Candidate {
  let held = 0;
  let saved = 0;
  for (const len of g.reused) {
    if (len < a) continue;
    held += Math.min(len, e) - a;
    if (len <= e) saved++;
  }
  for (const len of g.open) if (len >= a) held += Math.min(len, e) - a;
  for (const p of g.straddling) {
    if (p.len < a) continue;
    held += Math.max(0, Math.min(p.len, e) - Math.max(a, p.pre));
    if (p.reused && p.len <= e) saved++;
  }
  return { cost: g.mb * held, saved, a, e };
}

/**
 * The pre-warm delays tried (0: none): every 0.9 minute to 27 min, then every 4.5 min to 4 h
 * (the hazard policy pre-warms at 0.9 × a 1-minute bin's start, up to 4 h); a grid, not the
 * periods' own lengths, which would fit a lone period exactly.
 */
const PREWARM_DELAYS_MS = [0, ...Array.from({ length: 30 }, (_, i) => (i + 1) * 0.9), ...Array.from({ length: 47 }, (_, i) => 27 + (i + 1) * 4.5)].map((m) => Math.round(m * 60_000));

/** What one window [a, e) costs (MB·ms) and saves (cold starts) on one group's periods. */
interface Candidate {
  cost: number;
  saved: number;
  a: number;
  e: number;
}

/**
 * Every window [a, e) worth trying on a group: e at each period's length (the best window ends
 * where a period does), a = 0 or, with `prewarm`, each of PREWARM_DELAYS_MS.
 */
function candidates(g: Group, prewarm: boolean): Candidate[] {
  const all = [...g.reused.map((len) => [len, 1] as const), ...g.open.map((len) => [len, 0] as const)].sort((x, y) => x[0] - y[0]);
  const lens = all.map((p) => p[0]);
  const ends = [...new Set([...lens, ...g.straddling.map((p) => p.len)])].sort((x, y) => x - y);
  const out: Candidate[] = [];
  for (const a of prewarm ? PREWARM_DELAYS_MS : [0]) {
    // periods shorter than a end before the reload: cold, and cost nothing (unloaded at once)
    let k = lens.findIndex((len) => len >= a);
    if (k < 0) k = lens.length;
    const n = lens.length - k;
    let prefix = 0;
    let s = 0;
    let held = 0;
    for (const e of ends) {
      if (e < a) continue;
      while (k < lens.length && (lens[k] as number) <= e) {
        prefix += (lens[k] as number) - a;
        s += (all[k] as readonly [number, number])[1];
        k++;
        held++;
      }
      let cost = g.mb * (prefix + (e - a) * (n - held));
      let saved = s;
      for (const p of g.straddling) {
        if (p.len < a) continue;
        cost += g.mb * Math.max(0, Math.min(p.len, e) - Math.max(a, p.pre));
        if (p.reused && p.len <= e) saved++;
      }
      out.push({ cost, saved, a, e });
    }
  }
  return out;
}

/** The upper concave hull of candidates from (0, 0): the only ones a price can pick. */
function concaveHull(cs: Candidate[]): Candidate[] {
  const pts = [{ cost: 0, saved: 0, a: 0, e: 0 }, ...cs].sort((x, y) => x.cost - y.cost || y.saved - x.saved);
  const hull: Candidate[] = [];
  for (const p of pts) {
    if (hull.length > 0 && p.saved <= (hull[hull.length - 1] as Candidate).saved) continue;
    while (hull.length >= 2) {
      const a = hull[hull.length - 2] as Candidate;
      const b = hull[hull.length - 1] as Candidate;
      // b under the chord a → p: no price picks it
      if ((b.saved - a.saved) * (p.cost - a.cost) <= (p.saved - a.saved) * (b.cost - a.cost)) hull.pop();
      else break;
    }
    hull.push(p);
  }
  return hull;
}

/** A bound's cold starts at an idle memory-time: the fixed curve's reading (linear between points), its end points beyond them. */
export function boundAt(curve: readonly CurvePoint[], idleGbS: number): number {
  const first = curve.reduce((a, b) => (b.idleGbS < a.idleGbS ? b : a));
  const last = curve.reduce((a, b) => (b.idleGbS > a.idleGbS ? b : a));
  if (idleGbS <= first.idleGbS) return first.coldStarts;
  return idleGbS >= last.idleGbS ? last.coldStarts : (fixedAtIdle(curve, idleGbS) as number);
}
