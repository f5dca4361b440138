/**
 * A function's idle times (IT: from the end of its last execution to the start of the next),
 * counted in a histogram of `binMs` bins over a range; an IT beyond the range is out of bounds
 * (OOB). The histogram keep-alive policies learn from it (hybrid-histogram.ts, hazard.ts).
 *
 * ITs are sampled at the histogram's granularity by default, as Shahrad et al.'s per-minute trace
 * does: at most one sample per bin width (the first invocation after it), and 0 when an execution
 * started after the last end (the function was still busy), so a function running many
 * overlapping calls adds one "IT 0" a minute, not one per call (counted per call, the short gaps
 * inside a burst would drown the gaps between bursts). The hazard policy, which learns each
 * concurrency rank apart (a burst's overlap is its higher ranks), samples every IT.
 */
export class IdleTimes {
  readonly bins: Uint32Array;
  readonly binMs: number;
  inBounds = 0;
  oob = 0;
  /** When a container of the function last went idle (undefined: never). */
  lastEndMs: number | undefined = undefined;
  /** When an execution last started. */
  #lastStartMs = Number.NEGATIVE_INFINITY;
  /** When the last IT sample was taken. */
  #lastSampleMs = Number.NEGATIVE_INFINITY;

  /** Least time between two samples, ms (default one bin width; 0: every IT, hazard.ts). */
  readonly #sampleEveryMs: number;

  constructor(binMs: number, binCount: number, sampleEveryMs = binMs) {
    this.binMs = binMs;
    this.bins = new Uint32Array(binCount);
    this.#sampleEveryMs = sampleEveryMs;
  }

  /** ITs counted, in bounds and out. */
  get total(): number {
    return this.inBounds + this.oob;
  }

  /** An execution starts: its IT is sampled (see the file header). */
  started(nowMs: number): void {
    const lastStart = this.#lastStartMs;
    this.#lastStartMs = nowMs;
    if (this.lastEndMs === undefined || nowMs - this.#lastSampleMs < this.#sampleEveryMs) return;
    this.#lastSampleMs = nowMs;
    const it = this.lastEndMs < lastStart ? 0 : Math.max(0, nowMs - this.lastEndMs);
    const bin = Math.floor(it / this.binMs);
    if (bin >= this.bins.length) this.oob++;
    else {
      this.bins[bin] = (this.bins[bin] as number) + 1;
      this.inBounds++;
    }
  }

  /** A container of the function went idle. */
  ended(nowMs: number): void {
    this.lastEndMs = nowMs;
  }

  /** The bin holding the p-th percentile of the in-bound ITs (nearest rank). */
  percentileBin(p: number): number {
    const rank = Math.max(1, Math.ceil((p / 100) * this.inBounds));
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i] as number;
      if (seen >= rank) return i;
    }
    return this.bins.length - 1;
  }

  /** Coefficient of variation of the bin counts (standard deviation / mean). */
  binCov(): number {
    const mean = this.inBounds / this.bins.length;
    if (mean === 0) return 0;
    let sq = 0;
    for (const count of this.bins) sq += (count - mean) ** 2;
    return Math.sqrt(sq / this.bins.length) / mean;
  }
}
