/**
 * A log-bucketed histogram of non-negative values (ms): fixed memory (buckets ~2 % wide from
 * 0.01 ms to ~10^7 ms), percentiles within one bucket's width. The simulator keeps these
 * instead of per-invocation samples, so its memory does not grow with the run.
 */
const BUCKETS_PER_DECADE = 100;
const MIN_VALUE = 0.01;
const DECADES = 10;

export class LogHistogram {
  readonly #counts = new Float64Array(BUCKETS_PER_DECADE * DECADES + 2);
  #count = 0;
  #sum = 0;
  #max = 0;

  add(value: number, weight = 1): void {
    this.#count += weight;
    this.#sum += value * weight;
    if (value > this.#max) this.#max = value;
    const b = bucketOf(value);
    this.#counts[b] = (this.#counts[b] ?? 0) + weight;
  }

  get count(): number {
    return this.#count;
  }
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }
  get max(): number {
    return this.#max;
  }

  /** The p-th percentile (0..100), the upper edge of its bucket (0 when empty). */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const rank = (p / 100) * this.#count;
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i] as number;
      if (seen >= rank && seen > 0) return Math.min(this.#max, upperEdge(i));
    }
    return this.#max;
  }
}

function bucketOf(value: number): number {
  if (value < MIN_VALUE) return 0;
  const b = 1 + Math.floor(Math.log10(value / MIN_VALUE) * BUCKETS_PER_DECADE);
  return Math.min(b, BUCKETS_PER_DECADE * DECADES + 1);
}

function upperEdge(bucket: number): number {
  if (bucket === 0) return MIN_VALUE;
  return MIN_VALUE * 10 ** (bucket / BUCKETS_PER_DECADE);
}
