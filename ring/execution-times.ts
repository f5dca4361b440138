/**
 * Expected execution time per function, learned from the ones observed: an exponentially
 * weighted mean per key (weight `alpha` on the newest), at most `maxKeys` keys (the least
 * recently observed one is forgotten first). For the sustained-load bound (sustained-load.ts):
 * a request expected to run for a whole window adds a whole request to a worker's average.
 *
 * Worked example: alpha 0.25; observed 1000 ms then 3000 ms: 1000, then 1000 + 0.25 × 2000 =
 * 1500 ms. A key never observed has no estimate (undefined).
 */
export const DEFAULT_EXECUTION_ALPHA = 0.25;

export class ExecutionTimes {
  readonly #alpha: number;
  readonly #maxKeys: number;
  readonly #mean = new Map<string, number>();

  constructor(options: { alpha?: number; maxKeys?: number } = {}) {
    this.#alpha = options.alpha ?? DEFAULT_EXECUTION_ALPHA;
    this.#maxKeys = options.maxKeys ?? 100_000;
    if (!(this.#alpha > 0 && this.#alpha <= 1)) throw new RangeError(`alpha must be in (0, 1], got ${this.#alpha}`);
  }

  /** One execution of `key` took `ms`. */
  observe(key: string, ms: number): void {
    const prev = this.#mean.get(key);
    this.#mean.delete(key); // re-inserted last: the map's order is the observation order
    this.#mean.set(key, prev === undefined ? ms : prev + this.#alpha * (ms - prev));
    if (this.#mean.size > this.#maxKeys) this.#mean.delete(this.#mean.keys().next().value as string);
  }

  /** The expected execution time of `key`, ms, or undefined before its first observation. */
  expectedMs(key: string): number | undefined {
    return this.#mean.get(key);
  }

  get size(): number {
    return this.#mean.size;
  }
}
