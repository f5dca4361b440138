/**
 * Per-function cold-start shares of a run, and their percentile over functions: the figure
 * of merit of Shahrad et al.'s keep-alive evaluation (their Pareto plots put the 3rd quartile
 * of applications' cold-start percentage against wasted memory-time), beside our total count.
 * A total is dominated by frequently invoked functions; the percentile weighs every function
 * alike, so a rare function that is cold on every call counts as much as a busy one.
 *
 * Worked example: functions a (4 calls, 1 cold: 25 %), b (2 calls, 2 cold: 100 %), c (10
 * calls, 0 cold: 0 %), d (no call: left out). Sorted 0, 25, 100 %; 75th percentile (nearest
 * rank, ceil(0.75 × 3) = 3rd) = 100 %. Grouped by application (`groupOf`), a and b in one
 * application: 3 of 6 calls cold, 50 %; with c alone: 0 %; 75th percentile of (0, 50 %) = 50 %.
 */

/**
 * Counts starts and cold starts per function, or per group of functions (an application: the
 * unit of Shahrad et al.'s figures) when `groupOf[fn]` gives each function's group index
 * (pass `record` as a simulation's onStart).
 */
export class FunctionColdShare {
  readonly #calls: Uint32Array;
  readonly #cold: Uint32Array;
  readonly #groupOf: ArrayLike<number> | undefined;

  constructor(functions: number, groupOf?: ArrayLike<number>) {
    let groups = functions;
    if (groupOf !== undefined) {
      groups = 0;
      for (let i = 0; i < groupOf.length; i++) groups = Math.max(groups, (groupOf[i] as number) + 1);
    }
    this.#calls = new Uint32Array(groups);
    this.#cold = new Uint32Array(groups);
    this.#groupOf = groupOf;
  }

  readonly record = (fn: number, cold: boolean): void => {
    const g = this.#groupOf === undefined ? fn : (this.#groupOf[fn] as number);
    this.#calls[g] = (this.#calls[g] as number) + 1;
    if (cold) this.#cold[g] = (this.#cold[g] as number) + 1;
  };

  /** The p-th percentile (nearest rank) of the cold-start share of functions (groups) with at least one call, 0..1. */
  percentile(p: number): number {
    const shares: number[] = [];
    this.#calls.forEach((n, fn) => {
      if (n > 0) shares.push((this.#cold[fn] as number) / n);
    });
    if (shares.length === 0) return 0;
    shares.sort((a, b) => a - b);
    return shares[Math.max(0, Math.ceil((p / 100) * shares.length) - 1)] as number;
  }
}
