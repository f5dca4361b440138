/**
 * The hybrid histogram keep-alive policy of Shahrad et al., "Serverless in the Wild"
 * (USENIX ATC 2020, section 4), per function.
 *
 * Algorithm
 * ---------
 * Each function keeps a histogram of its idle times (IT: from the end of its last execution to
 * the start of the next), in bins of `binMs` (1 min) over `rangeMs` (4 h); an IT beyond the
 * range is counted as out of bounds (OOB), sampled as worker/keepalive/idle-times.ts says (at
 * most one IT a bin width; 0 while the function is still busy). When the function goes idle:
 *
 * - the histogram is *representative* when it has at least `minSamples` ITs, at most
 *   `maxOobShare` of them OOB, and the coefficient of variation (CoV) of its bin counts is at
 *   least `minCov` (a spread-out histogram, CoV near 0, predicts nothing);
 * - representative: pre-warm window = the `headPercentile` (5th) IT, cut by `marginShare`
 *   (10 %); keep-alive window = the `tailPercentile` (99th) IT, raised by the margin, minus the
 *   pre-warm window. A pre-warm window of 0 means: stay loaded from the end of the execution;
 * - otherwise the *fallback*: no pre-warm, keep-alive = `fallbackKeepAliveMs`.
 * - the windows are about the *function* going idle: they apply to its last loaded container;
 *   a surplus container (others still loaded, concurrency the paper's one-instance-per-app
 *   model does not have) keeps the fallback window. The paper
 *   falls back to the histogram range (4 h) and, for functions with mostly OOB ITs, to an ARIMA
 *   forecast; this module takes the fallback as an option and has no ARIMA (see caveats).
 *
 * Worked example
 * --------------
 * A timer function runs every 10 minutes: after a handful of runs its ITs are all ~9.9 min,
 * one bin (9–10 min). CoV of 240 bins with one non-empty = sqrt(239) ≈ 15.5 ≥ 2: representative.
 * Head (5th) = 9 min (the bin's low edge), tail (99th) = 10 min (its high edge):
 * pre-warm = 9 × 0.9 = 8.1 min, keep-alive = 10 × 1.1 − 8.1 = 2.9 min. The container is
 * unloaded when idle, loaded again 8.1 min later, and kept 2.9 min: every call is warm, and
 * memory is held ~2.9 of every 10 min instead of 10 (fixed 15 min keeps it always).
 *
 * Known caveats
 * -------------
 * - No ARIMA branch: functions with mostly OOB ITs (invoked less than every 4 h) get the
 *   fallback, which is what a fixed policy does for them.
 * - The CoV threshold (2) is the one two independent re-implementations of the paper use
 *   (docs/simulation.md, "Policies"); the minimum sample count (2) is ours: the paper gives
 *   none.
 * - Idle times are sampled at most once a bin width (see above); the paper records one per
 *   invocation from its per-minute trace.
 * - The histogram is per function (the paper's is per application: the trace's HashApp);
 *   a worker does not know applications.
 */
import { BoundedMap } from './bounded-map.ts';
import { IdleTimes } from './idle-times.ts';
import type { InvocationInfo, KeepAlivePolicy, KeepAliveWindows } from './policy.ts';

export interface HybridPolicyOptions {
  /** Width of one histogram bin, ms. Default 60 000 (1 minute). */
  binMs?: number;
  /** Range of the histogram, ms. Default 4 h. */
  rangeMs?: number;
  /** Percentile of ITs for the pre-warm window. Default 5. */
  headPercentile?: number;
  /** Percentile of ITs for the end of the keep-alive window. Default 99. */
  tailPercentile?: number;
  /** Margin taken off the pre-warm window and added to the keep-alive end. Default 0.1. */
  marginShare?: number;
  /** Smallest CoV of bin counts for the histogram to be used. Default 2. */
  minCov?: number;
  /** Fewest ITs for the histogram to be used. Default 2. */
  minSamples?: number;
  /** Largest share of OOB ITs for the histogram to be used. Default 0.5. */
  maxOobShare?: number;
  /** Keep-alive when the histogram is not used, ms. Default the range (the paper's choice). */
  fallbackKeepAliveMs?: number;
  /** Functions tracked at once (least recently used dropped). Default 10 000. */
  maxFunctions?: number;
}

/** The hybrid histogram policy: see the file header. */
export class HybridHistogramKeepAlive implements KeepAlivePolicy {
  readonly name: string;
  readonly binMs: number;
  readonly binCount: number;
  readonly #o: Required<Omit<HybridPolicyOptions, 'binMs' | 'rangeMs' | 'maxFunctions'>>;
  readonly #fns: BoundedMap<IdleTimes>;

  constructor(options: HybridPolicyOptions = {}) {
    this.binMs = options.binMs ?? 60_000;
    const rangeMs = options.rangeMs ?? 4 * 3_600_000;
    if (!(this.binMs > 0) || !(rangeMs >= this.binMs)) throw new RangeError('binMs must be > 0 and rangeMs >= binMs');
    this.binCount = Math.ceil(rangeMs / this.binMs);
    this.#o = {
      headPercentile: options.headPercentile ?? 5,
      tailPercentile: options.tailPercentile ?? 99,
      marginShare: options.marginShare ?? 0.1,
      minCov: options.minCov ?? 2,
      minSamples: options.minSamples ?? 2,
      maxOobShare: options.maxOobShare ?? 0.5,
      fallbackKeepAliveMs: options.fallbackKeepAliveMs ?? this.binCount * this.binMs,
    };
    this.#fns = new BoundedMap(options.maxFunctions ?? 10_000);
    this.name = `hybrid(fallback ${Math.round(this.#o.fallbackKeepAliveMs / 60_000)}m)`;
  }

  onInvocationStart(functionId: string, nowMs: number, _info: InvocationInfo): void {
    this.#fns.upsert(functionId, () => new IdleTimes(this.binMs, this.binCount)).started(nowMs);
  }

  onIdle(functionId: string, nowMs: number, defaultKeepAliveMs?: number, othersLoaded = 0): KeepAliveWindows {
    const h = this.#fns.get(functionId);
    const fallback = { prewarmMs: 0, keepAliveMs: defaultKeepAliveMs ?? this.#o.fallbackKeepAliveMs };
    if (h === undefined) return fallback;
    h.ended(nowMs);
    // a surplus container (others of the function still loaded): the function is not idle, so
    // its idle-time windows say nothing about it; it keeps the fallback window (the paper's
    // policy is per application, one instance)
    if (othersLoaded > 0) return fallback;
    const w = this.windowsOf(h);
    return w.representative ? { prewarmMs: w.prewarmMs, keepAliveMs: w.keepAliveMs } : fallback;
  }

  /** The windows the histogram of `functionId` gives now (for /status and tests). */
  windows(functionId: string): KeepAliveWindows & { representative: boolean } {
    const h = this.#fns.peek(functionId);
    if (h === undefined) return { prewarmMs: 0, keepAliveMs: this.#o.fallbackKeepAliveMs, representative: false };
    return this.windowsOf(h);
  }

  evictionPriority(_functionId: string, idleSinceMs: number, _nowMs: number): number {
    return idleSinceMs;
  }

  onEvict(_functionId: string, _priority: number): void {}

  forget(functionId: string): void {
    this.#fns.delete(functionId);
  }

  private windowsOf(h: IdleTimes): KeepAliveWindows & { representative: boolean } {
    const total = h.total;
    const fallback = { prewarmMs: 0, keepAliveMs: this.#o.fallbackKeepAliveMs, representative: false };
    if (total < this.#o.minSamples || h.oob > this.#o.maxOobShare * total || h.inBounds === 0) return fallback;
    if (h.binCov() < this.#o.minCov) return fallback;
    const head = h.percentileBin(this.#o.headPercentile) * this.binMs; // low edge of the bin
    const tail = (h.percentileBin(this.#o.tailPercentile) + 1) * this.binMs; // high edge
    const prewarmMs = Math.floor(head * (1 - this.#o.marginShare));
    const keepAliveMs = Math.ceil(tail * (1 + this.#o.marginShare)) - prewarmMs;
    return { prewarmMs, keepAliveMs, representative: true };
  }
}
