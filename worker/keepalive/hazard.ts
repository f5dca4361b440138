/**
 * The hazard keep-alive policy: an idle container stays loaded while a call that needs it is
 * likely enough to be worth the memory it holds, learned from the function's own idle times,
 * apart for each of its containers by concurrency rank.
 *
 * Algorithm
 * ---------
 * Ranks. The k-th container of a function (k = its executions running once this one started)
 * is needed again when the concurrency next reaches k; with LIFO warm stacks the container that
 * goes idle as the concurrency falls to k − 1 is the one given out then. So each rank k ≤ 8 has
 * its own idle-time histogram (idle-times.ts: 1 min bins over 4 h): the times from the
 * concurrency falling below k to its reaching k again, every one of them (not one a minute as
 * the hybrid policy samples: a burst's overlap is in the higher ranks, not in rank 1's ITs).
 * Rank 1 is the function's idle time.
 *
 * Windows. From the histogram of n ITs: p_j = the share of ITs in bin j, S_j = the share not
 * before bin j (OOB included: still idle when bin j begins). Holding the container through bin
 * j costs its memory for binMs × S_j on average and turns the next start of its rank warm with
 * probability p_j. With a price of memory λ (cold starts per MB·ms), bin j is worth
 *
 *     v_j = p_j − λ × memoryMb × binMs × S_j
 *
 * and the window held is the run of bins [a, e) with the largest sum of v_j among the runs that
 * hold at least `minRunSamples` (3) ITs, or all of them while there are fewer (one pass over the
 * bins: a maximum subarray with prefix sums; without the count, on a sparse histogram each lone
 * IT's bin would be worth holding by itself). a = 0: loaded for e bins from the idle moment;
 * a > 0: unloaded, one pre-warmed a bins later and kept e − a bins; a run that starts in the first
 * two bins is held from the idle moment (a pre-warm so soon is not worth its container start),
 * and only the function's last loaded container is pre-warmed (others' runs start at 0, as
 * worker/pool/idle-expiry.ts does). The edges are the bins' own: the run is already the best
 * window the histogram shows, and widening both by the hybrid policy's 10 % margin held more
 * idle memory than the cold starts it saved were worth on the fixed curve (simulation, 2026-12-05:
 * 1.58× → 1.68× fewer cold starts than fixed keep-alive at equal idle memory-time, median of
 * seeds 1–3; `marginShare` sets one). No run with a positive sum: unloaded at once.
 *
 * Price. Set by the function's keep-alive setting (its idleTimeoutMs, 15 min by default):
 * λ = 1 / (keepAliveMs × referenceMb). For calls of rate r (Poisson),
 * v_j = (r − λ × memoryMb) × binMs × S_j: a container of the reference memory (256 MB; at the
 * setting this holds about the idle memory fixed keep-alive does) is held for good when its
 * rank is needed more than once per keep-alive window, not at all otherwise.
 * The fixed policy holds every container for the same window; this one spends memory where a
 * held GB·s saves the most cold starts: frequent and small functions, the minutes after a call
 * of a bursty one (a hazard that falls with the time idle), the minutes before a timer's next
 * call (pre-warm), a function's first containers more than its burst's last; not rare calls.
 *
 * With no IT yet (`minSamples` 1), for ranks above 8, and for a setting under one bin (a
 * function whose idleTimeoutMs is under a minute: the bins cannot resolve it), the window is
 * the keep-alive setting (the fixed policy). Under memory pressure the container idle longest
 * goes first. State: at most 2 × maxFunctions histograms, ~1 KB each, held per function (one
 * lookup per call); past the bound the least recently started function goes, with all its ranks.
 * A rank's windows are computed again at each new IT while it has fewer than 64, then each time
 * its count has grown by 1/32 (one pass over the bins each time).
 *
 * Worked example
 * --------------
 * 128 MB, keep-alive 15 min: λ × 128 MB × 1 min = 128 / (15 × 256) ≈ 0.033 per bin of survival.
 * - A timer every 10 min, 20 ITs all in bin 9: v_j = −0.033 for j < 9, v_9 = 1 − 0.033,
 *   0 after: the run is [9, 10): pre-warm at 9 min, keep until 10 min (1 min), where the fixed
 *   policy holds the container all the time.
 * - Calls about every 2 h (Poisson): S_j ≈ 1 and p_j ≈ 1/120 ≈ 0.008 over the first hours: no
 *   run of 3 ITs has a positive sum: unloaded at once (fixed 15 min holds it 15 min for a 12 %
 *   chance).
 * - 10 ITs, 6 under a minute and 4 spread over hours (bursty): v_0 = 0.6 − 0.033; any run that
 *   reaches a later IT crosses over an hour of bins at −0.033 × S ≈ −0.013: held 1 min.
 */
import { BoundedMap } from './bounded-map.ts';
import { IdleTimes } from './idle-times.ts';
import type { InvocationInfo, KeepAlivePolicy, KeepAliveWindows } from './policy.ts';

export interface HazardPolicyOptions {
  /** Width of one histogram bin, ms. Default 60 000 (1 minute). */
  binMs?: number;
  /** Range of the histogram, ms. Default 4 h. */
  rangeMs?: number;
  /** The keep-alive setting that prices memory (and the window before enough ITs), ms. Default 15 min. */
  keepAliveMs?: number;
  /**
   * Memory of a container worth holding for one call per keep-alive window, MB. Default 256: at
   * a function's keep-alive setting the policy then holds somewhat less idle memory than the
   * fixed policy does at that setting, for about its cold starts (simulation, run R: 0.77–0.82×
   * the idle memory-time, 1.00–1.09× the cold starts; run M, with the margin: 0.86–0.91×), so
   * the setting keeps its meaning.
   */
  referenceMb?: number;
  /** Fewest ITs for the histogram to be used. Default 1. */
  minSamples?: number;
  /**
   * Fewest ITs inside the window held (default 3, or every IT while there are fewer): on a
   * sparse histogram every lone IT's bin is worth holding on its own (1/n against the cost of
   * one bin), which predicts nothing.
   */
  minRunSamples?: number;
  /** Share of the window taken off the pre-warm and added to its end. Default 0 (the file header says why). */
  marginShare?: number;
  /** Functions tracked at once: twice as many histograms are kept (least recently used dropped). Default 10 000. */
  maxFunctions?: number;
}

/**
 * Whether windows computed from `then` ITs need computing again at `now`: at every new IT while
 * there are few, then once the count has grown by 1/32 (every IT is sampled, and on a busy
 * function one more among hundreds moves no window; a computation is a pass over the bins).
 */
function stale(then: number, now: number): boolean {
  return now !== then && (then < 64 || now - then >= then / 32);
}

/** The earliest pre-warm, in bins: a window that starts sooner is held from the idle moment. */
const MIN_PREWARM_BINS = 2;

/** The idle times of one rank of a function's containers, and the function's memory. */
interface RankState {
  its: IdleTimes;
  memoryMb: number;
  /** The last windows answered and what they were computed from (recomputed as ITs add up: #stale). */
  cached?: { total: number; memoryMb: number; keepAliveMs: number; mayPrewarm: boolean; windows: KeepAliveWindows };
}

/** Containers of one function learned apart (the concurrency ranks); beyond, the keep-alive setting. */
export const MAX_RANKS = 8;

/** A function's ranks: index k − 1 holds rank k (1 = its first container). */
type FunctionRanks = Array<RankState | undefined>;

/** The hazard policy: see the file header. */
export class HazardKeepAlive implements KeepAlivePolicy {
  readonly name: string;
  readonly binMs: number;
  readonly binCount: number;
  readonly #keepAliveMs: number;
  readonly #referenceMb: number;
  readonly #minSamples: number;
  readonly #minRunSamples: number;
  readonly #margin: number;
  /**
   * Per function, its ranks (one lookup per call: no key per rank). Bounded by histograms, not
   * functions (most functions have one rank): the least recently started functions go first.
   */
  readonly #fns: BoundedMap<FunctionRanks>;
  readonly #maxHistograms: number;
  #histograms = 0;

  constructor(options: HazardPolicyOptions = {}) {
    this.binMs = options.binMs ?? 60_000;
    const rangeMs = options.rangeMs ?? 4 * 3_600_000;
    if (!(this.binMs > 0) || !(rangeMs >= this.binMs)) throw new RangeError('binMs must be > 0 and rangeMs >= binMs');
    this.binCount = Math.ceil(rangeMs / this.binMs);
    this.#keepAliveMs = options.keepAliveMs ?? 15 * 60_000;
    this.#referenceMb = options.referenceMb ?? 256;
    this.#minSamples = options.minSamples ?? 1;
    this.#minRunSamples = options.minRunSamples ?? 3;
    this.#margin = options.marginShare ?? 0;
    this.#maxHistograms = 2 * (options.maxFunctions ?? 10_000);
    this.#fns = new BoundedMap(this.#maxHistograms, (ranks) => this.#dropped(ranks));
    this.name = `hazard(${Math.round(this.#keepAliveMs / 60_000)}m)`;
  }

  onInvocationStart(functionId: string, nowMs: number, info: InvocationInfo): void {
    const rank = Math.max(1, info.running ?? 1);
    if (rank > MAX_RANKS) return;
    const ranks = this.#fns.upsert(functionId, () => []);
    let r = ranks[rank - 1];
    if (r === undefined) {
      // every IT is sampled: a rank's ITs are its own container's, a burst's overlap is in the higher ranks
      r = { its: new IdleTimes(this.binMs, this.binCount, 0), memoryMb: info.memoryMb };
      ranks[rank - 1] = r;
      this.#histograms++;
      while (this.#histograms > this.#maxHistograms) this.#fns.dropOldest();
    }
    r.memoryMb = info.memoryMb;
    r.its.started(nowMs);
  }

  /** A function's ranks left the map: their histograms no longer count. */
  #dropped(ranks: FunctionRanks): void {
    for (const r of ranks) if (r !== undefined) this.#histograms--;
  }

  onIdle(functionId: string, nowMs: number, defaultKeepAliveMs?: number, othersLoaded = 0, busy = 0): KeepAliveWindows {
    const keepAliveMs = defaultKeepAliveMs ?? this.#keepAliveMs;
    const r = this.#fns.peek(functionId)?.[busy];
    if (r === undefined) return { prewarmMs: 0, keepAliveMs };
    r.its.ended(nowMs);
    // only the function's last container is unloaded for a pre-warm (worker/pool/idle-expiry.ts)
    return this.#windowsFor(r, keepAliveMs, othersLoaded === 0);
  }

  /**
   * The windows the histogram of `functionId`'s `rank`-th container gives now with the given
   * keep-alive setting; `mayPrewarm` false: held from the idle moment or not at all.
   */
  windows(functionId: string, keepAliveMs = this.#keepAliveMs, rank = 1, mayPrewarm = true): KeepAliveWindows {
    return this.#windowsFor(this.#fns.peek(functionId)?.[rank - 1], keepAliveMs, mayPrewarm);
  }

  #windowsFor(r: RankState | undefined, keepAliveMs: number, mayPrewarm: boolean): KeepAliveWindows {
    // a setting under one bin is kept as it is: the histogram cannot see inside a bin, and
    // would price holding even a 2 s gap as holding the whole bin
    if (r === undefined || r.its.total < this.#minSamples || keepAliveMs < this.binMs) return { prewarmMs: 0, keepAliveMs };
    const c = r.cached;
    if (c !== undefined && !stale(c.total, r.its.total) && c.memoryMb === r.memoryMb && c.keepAliveMs === keepAliveMs && c.mayPrewarm === mayPrewarm) return c.windows;
    const windows = Object.freeze(this.#windowsOf(r.its, r.memoryMb, keepAliveMs, mayPrewarm));
    r.cached = { total: r.its.total, memoryMb: r.memoryMb, keepAliveMs, mayPrewarm, windows };
    return windows;
  }

  evictionPriority(_functionId: string, idleSinceMs: number, _nowMs: number): number {
    return idleSinceMs;
  }

  onEvict(_functionId: string, _priority: number): void {}

  forget(functionId: string): void {
    const ranks = this.#fns.peek(functionId);
    if (ranks === undefined) return;
    this.#fns.delete(functionId);
    this.#dropped(ranks);
  }

  #windowsOf(its: IdleTimes, memoryMb: number, keepAliveMs: number, mayPrewarm: boolean): KeepAliveWindows {
    const n = its.total;
    const bins = its.bins;
    // OOB ITs lie in no run: "all of them while fewer" counts the ones in bounds
    const k = Math.min(this.#minRunSamples, its.inBounds);
    // the cost of holding one bin while the function is surely still idle, in calls
    const binCost = keepAliveMs > 0 ? (memoryMb * this.binMs) / (keepAliveMs * this.#referenceMb) : Number.POSITIVE_INFINITY;
    // value[0..j) and ITs[0..j) as prefix sums; the best run [a, e) holds at least k ITs: for
    // each end e, the smallest value prefix among the starts a with ITs[a..e) >= k (those
    // starts only grow with e, so one running minimum serves); without a pre-warm, a = 0
    let value = 0;
    let count = 0;
    let survivors = n;
    const prefixValue = new Float64Array(bins.length + 1);
    const prefixCount = new Uint32Array(bins.length + 1);
    let best = 0;
    let bestStart = 0;
    let bestEnd = 0;
    let minValue = Number.POSITIVE_INFINITY;
    let minAt = 0;
    let nextStart = 0;
    const lastStart = mayPrewarm ? bins.length : 0;
    for (let j = 0; j < bins.length; j++) {
      const c = bins[j] as number;
      value += c / n - binCost * (survivors / n);
      count += c;
      survivors -= c;
      prefixValue[j + 1] = value;
      prefixCount[j + 1] = count;
      while (nextStart <= Math.min(j, lastStart) && count - (prefixCount[nextStart] as number) >= k) {
        if ((prefixValue[nextStart] as number) < minValue) {
          minValue = prefixValue[nextStart] as number;
          minAt = nextStart;
        }
        nextStart++;
      }
      if (value - minValue > best) {
        best = value - minValue;
        bestStart = minAt;
        bestEnd = j + 1;
      }
    }
    if (best <= 0) return { prewarmMs: 0, keepAliveMs: 0 };
    // a pre-warm a bin or so after the idle moment is not worth its container start: held from
    // then, when holding those first bins too still pays
    const fromIdle = bestStart === 0 || (bestStart < MIN_PREWARM_BINS && (prefixValue[bestEnd] as number) > 0);
    const prewarmMs = fromIdle ? 0 : Math.floor(bestStart * this.binMs * (1 - this.#margin));
    return { prewarmMs, keepAliveMs: Math.ceil(bestEnd * this.binMs * (1 + this.#margin)) - prewarmMs };
  }
}
