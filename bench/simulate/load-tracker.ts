/**
 * The instantaneous load figures of a simulation, beside the per-worker time averages: what
 * the bounded-load rule (ring/'s `loadBound`, c = 1.25) actually bounds.
 *
 * Algorithm
 * ---------
 * The rule is about *instantaneous* loads: a request goes to a worker whose load (requests
 * running + waiting) is under `ceil(c × (L + 1) / n)`, L the cluster's load and n the active
 * workers, so right after a placement no worker is over `ceil(c × L / n)`. This tracker keeps
 * the active workers' count per load value (loads are small integers), so the busiest
 * worker's load is known in O(1) amortised at every change, and integrates over time, after
 * `fromMs`: the busiest worker's load, the mean load L / n, and the rule's integer bound
 * `ceil(c × L / n)`. Reported as ratios to the integrated mean: `peakOverMean` (how far the
 * busiest worker is over the mean at a moment, on average over time) and `boundOverMean`
 * (the most the rule allows: at a mean of 1.65 requests per worker the bound is 3, 1.82 × the
 * mean, whatever the hashing), and `floorOverMean`, ceil(L / n) over the mean: the least any
 * placement can give the busiest worker at a moment (2 / 1.65 = 1.21 at that mean).
 *
 * Worked example
 * --------------
 * Two workers, c = 1.25: loads (1, 0) for 1 s, then (2, 1) for 1 s. Mean 0.5 then 1.5
 * (integral 2); peak 1 then 2 (integral 3): peakOverMean 1.5; bound ceil(0.625) = 1 then
 * ceil(1.875) = 2 (integral 3): boundOverMean 1.5; floor ceil(0.5) = 1 then ceil(1.5) = 2
 * (integral 3): floorOverMean 1.5.
 *
 * Known caveats
 * -------------
 * - Workers that are not active (draining) still count in L, as the routers' total does.
 */
import { loadBound, type BoundRule } from '../../ring/index.ts';

export interface LoadFigures {
  /** Integral of the busiest active worker's load / integral of the mean load. */
  peakOverMean: number;
  /** Integral of the rule's bound ceil(c × L / n) / integral of the mean load. */
  boundOverMean: number;
  /**
   * Integral of ceil(L / n) / integral of the mean load: the least the busiest worker's load
   * can be at each moment (loads are integers, so some worker holds at least ceil(L / n)),
   * whatever the placement; the floor under peakOverMean.
   */
  floorOverMean: number;
}

/** Tracks instantaneous load figures: see the file header. */
export class LoadTracker {
  readonly #c: number;
  readonly #rule: BoundRule;
  readonly #fromMs: number;
  /** Active workers per load value. */
  #counts: number[] = [];
  #active = new Set<unknown>();
  #max = 0;
  #total = 0;
  #since = 0;
  #peakInt = 0;
  #meanInt = 0;
  #boundInt = 0;
  #floorInt = 0;

  constructor(options: { c: number; fromMs: number; rule?: BoundRule }) {
    this.#c = options.c;
    this.#rule = options.rule ?? 'ceil';
    this.#fromMs = options.fromMs;
  }

  /** The active workers changed at `now` (their current loads); `total` is the cluster's load. */
  membership(active: ReadonlyArray<{ load: number }>, total: number, now: number): void {
    this.#advance(now);
    this.#active = new Set(active);
    this.#counts = [];
    this.#max = 0;
    for (const w of active) this.#add(w.load, 1);
    this.#total = total;
  }

  /** Worker `w`'s load moved from `before` to `after` at `now`; `total` is the cluster's load after it. */
  changed(w: unknown, before: number, after: number, total: number, now: number): void {
    this.#advance(now);
    this.#total = total;
    if (!this.#active.has(w)) return;
    this.#add(before, -1);
    this.#add(after, 1);
  }

  /** The figures up to `now`. */
  figures(now: number): LoadFigures {
    this.#advance(now);
    const mean = this.#meanInt;
    return { peakOverMean: mean === 0 ? 0 : this.#peakInt / mean, boundOverMean: mean === 0 ? 0 : this.#boundInt / mean, floorOverMean: mean === 0 ? 0 : this.#floorInt / mean };
  }

  #add(load: number, delta: number): void {
    while (this.#counts.length <= load) this.#counts.push(0);
    this.#counts[load] = (this.#counts[load] as number) + delta;
    if (delta > 0 && load > this.#max) this.#max = load;
    while (this.#max > 0 && this.#counts[this.#max] === 0) this.#max--;
  }

  #advance(now: number): void {
    const from = Math.max(this.#since, this.#fromMs);
    if (now > from && this.#active.size > 0) {
      const dt = now - from;
      const n = this.#active.size;
      this.#peakInt += this.#max * dt;
      this.#meanInt += (this.#total / n) * dt;
      this.#boundInt += (this.#total === 0 ? 0 : loadBound(this.#total - 1, n, this.#c, this.#rule)) * dt;
      this.#floorInt += Math.ceil(this.#total / n) * dt;
    }
    this.#since = Math.max(this.#since, now);
  }
}
