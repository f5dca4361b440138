/**
 * The built-in workload: functions drawn to match the published characterisation of the
 * Azure Functions 2019 trace (Shahrad et al., "Serverless in the Wild", USENIX ATC 2020).
 * Every figure used is listed, with its source and whether we could verify it, in
 * docs/simulation.md ("Workloads"); the constants below carry the same names.
 *
 * Model
 * -----
 * - Applications of 1..20 functions (FUNCTIONS_PER_APP); one memory size per application,
 *   log-normal with median 170 MB and 90th percentile 400 MB (APP_MEMORY).
 * - A function is timer-triggered with probability 16 % (TIMER_SHARE): it runs every period
 *   (1 min .. 1 day), IAT CoV 0. Otherwise its daily invocation count is log-normal in log10
 *   (DAILY_RATE: 45 % at most 24 a day, 81 % at most 1440 a day, spanning ~8 orders of
 *   magnitude), truncated at `maxPerDay` (a cost bound of the simulator, reported), and its
 *   arrivals are a renewal process: inter-arrival times (IATs) are gamma-distributed with the
 *   mean that gives the daily count and a coefficient of variation (CoV) drawn per function,
 *   log-normal with median `IAT_COV.median` and log-sigma `IAT_COV.sigma`, clamped to
 *   [IAT_COV.min, IAT_COV.max] (the paper's IAT-CoV figure spreads functions below 1, regular,
 *   and above 1, bursty; the shares are our assumption). CoV 1 is Poisson (gamma shape 1 is
 *   the exponential): `iatCov: { median: 1, sigma: 0 }` gives the memoryless workload.
 * - Execution time: per function a log-normal mean (median 0.68 s, sigma 2.36: half the
 *   functions run under a second on average), per invocation log-normal around it (sigma 0.3),
 *   capped at 10 minutes.
 * - Cold start: 250 ms + a log-normal initialisation (median 250 ms, sigma 1): our assumption
 *   (the trace has no cold-start times).
 *
 * Arrivals are generated exactly (not from per-minute counts), minute by minute, from each
 * function's next arrival time, so memory is O(functions).
 */
import { Prng } from './prng.ts';
import type { Arrival, SimFunction, Workload } from './workload.ts';

/** Shares of applications by function count (Shahrad et al. 2020, via Shilkov's summary). */
export const FUNCTIONS_PER_APP: ReadonlyArray<[share: number, min: number, max: number]> = [
  [0.54, 1, 1],
  [0.16, 2, 2],
  [0.1, 3, 3],
  [0.08, 4, 5],
  [0.07, 6, 10],
  [0.05, 11, 20],
];
/** Share of timer-triggered functions (Shahrad et al. 2020, Table/Figure of triggers). */
export const TIMER_SHARE = 0.16;
/** log10(daily invocations) ~ Normal(mu, sigma): P(<= 24/day) = 0.45, P(<= 1440/day) = 0.81. */
export const DAILY_RATE = { mu: 1.603, sigma: 1.772 };
/** Application memory: median 170 MB, 90th percentile 400 MB. */
/** Application memory: median 170 MB, 90th percentile 400 MB; at most 1.5 GB (an Azure Functions Consumption-plan instance's limit). */
export const APP_MEMORY = { medianMb: 170, p90Mb: 400, maxMb: 1536 };
/** Mean execution time per function: log-normal, ln-mean -0.38 (0.68 s), sigma 2.36. */
export const DURATION = { medianMs: Math.exp(-0.38) * 1000, sigma: 2.36, perInvocationSigma: 0.3, maxMs: 600_000 };
/**
 * Per-function IAT CoV of non-timer functions: ln(CoV) ~ Normal(ln median, sigma), clamped.
 * Median 1 and sigma 1: 24 % of functions under 0.5 (regular), 24 % over 2 (bursty), half
 * within 0.5..2. Our assumption, see docs/simulation.md ("Workloads").
 */
export const IAT_COV = { median: 1, sigma: 1, min: 0.1, max: 5 };
const TIMER_PERIODS_MIN = [1, 2, 5, 10, 15, 30, 60, 120, 240, 1440];
const DAY_MS = 86_400_000;

export interface GeneratorOptions {
  seed: number;
  functions: number;
  /** Minutes of arrivals. */
  minutes: number;
  /** Cap on a function's daily invocations (simulation cost). Default 10^5.5 (~3.7/s). */
  maxPerDay?: number;
  /**
   * Cap on a function's mean concurrency (rate × mean execution time): its mean execution
   * time is cut to fit. Default 8. The published distributions are independent, so a few
   * drawn functions would need hundreds of containers at once — more than a simulated
   * cluster of 10 workers holds; the count of capped functions is reported.
   */
  maxConcurrency?: number;
  /** Arrivals of every function multiplied by this from `burst.fromMin` to `burst.toMin`. */
  burst?: { fromMin: number; toMin: number; factor: number };
  /** The distribution of non-timer functions' IAT CoV (default IAT_COV); sigma 0: every function at the median. */
  iatCov?: { median: number; sigma: number };
}

type Kind = 'timer' | 'renewal';

/** Draws one inter-arrival time with the given mean and CoV: gamma with shape 1 / CoV². */
export function renewalIat(rng: Prng, meanMs: number, cov: number): number {
  const shape = 1 / (cov * cov);
  return rng.gamma(shape, meanMs / shape);
}

interface GenFunction extends SimFunction {
  readonly kind: Kind;
  /** Mean arrivals per ms (timers: 1 / period). */
  readonly ratePerMs: number;
  readonly periodMs: number;
  /** Coefficient of variation of its inter-arrival times (timers: 0). */
  readonly iatCov: number;
  next: number;
}

/** The calibrated synthetic workload: see the file header. */
export class GeneratedWorkload implements Workload {
  readonly name: string;
  readonly functions: GenFunction[] = [];
  readonly minutes: number;
  /** Functions whose daily rate was cut to maxPerDay. */
  readonly truncated: number;
  /** Functions whose mean execution time was cut to keep their concurrency under maxConcurrency. */
  readonly capped: number;
  /** Expected memory held by running executions (cold starts included), MB: rate × time × memory summed. */
  readonly expectedBusyMb: number;
  readonly #rng: Prng;
  readonly #burst: GeneratorOptions['burst'];
  readonly #options: GeneratorOptions;

  constructor(options: GeneratorOptions) {
    this.#options = options;
    this.minutes = options.minutes;
    this.#burst = options.burst;
    const root = new Prng(options.seed);
    const shape = root.fork('workload-shape');
    this.#rng = root.fork('workload-arrivals');
    const maxPerDay = options.maxPerDay ?? 10 ** 5.5;
    const memSigma = Math.log(APP_MEMORY.p90Mb / APP_MEMORY.medianMb) / 1.2816;
    let truncated = 0;
    let capped = 0;
    let busyMb = 0;
    const maxConcurrency = options.maxConcurrency ?? 8;
    const covMedian = options.iatCov?.median ?? IAT_COV.median;
    const covSigma = options.iatCov?.sigma ?? IAT_COV.sigma;
    let app = 0;
    while (this.functions.length < options.functions) {
      const appId = `app${app++}`;
      const memoryMb = Math.round(Math.min(APP_MEMORY.maxMb, Math.max(64, shape.logNormal(APP_MEMORY.medianMb, memSigma))));
      const size = Math.min(drawAppSize(shape), options.functions - this.functions.length);
      for (let i = 0; i < size; i++) {
        const kind: Kind = shape.next() < TIMER_SHARE ? 'timer' : 'renewal';
        const iatCov = kind === 'timer' ? 0 : Math.min(IAT_COV.max, Math.max(IAT_COV.min, covMedian * Math.exp(covSigma * shape.normal())));
        let perDay: number;
        let periodMs = 0;
        if (kind === 'timer') {
          periodMs = (TIMER_PERIODS_MIN[shape.int(TIMER_PERIODS_MIN.length)] as number) * 60_000;
          perDay = DAY_MS / periodMs;
        } else {
          perDay = 10 ** (DAILY_RATE.mu + DAILY_RATE.sigma * shape.normal());
          if (perDay > maxPerDay) {
            perDay = maxPerDay;
            truncated++;
          }
        }
        let meanMs = Math.min(DURATION.maxMs, shape.logNormal(DURATION.medianMs, DURATION.sigma));
        const coldStartMs = 250 + shape.logNormal(250, 1);
        const ratePerMs = perDay / DAY_MS;
        if (ratePerMs * meanMs > maxConcurrency) {
          meanMs = maxConcurrency / ratePerMs;
          capped++;
        }
        busyMb += ratePerMs * (meanMs * Math.exp(DURATION.perInvocationSigma ** 2 / 2) + coldStartMs * 0.05) * memoryMb;
        const fn: GenFunction = {
          id: `fn-${this.functions.length.toString(36)}-${shape.nextUint32().toString(36)}`,
          app: appId,
          memoryMb,
          coldStartMs,
          kind,
          ratePerMs,
          periodMs,
          iatCov,
          next: 0,
          duration: (rng) => Math.min(DURATION.maxMs, Math.max(1, rng.logNormal(meanMs, DURATION.perInvocationSigma))),
        };
        if (kind === 'timer') fn.next = shape.next() * periodMs;
        // a random phase into a first gap (not the renewal process's stationary start; the
        // warm-up minutes of a run absorb the difference)
        else fn.next = shape.next() * renewalIat(shape, 1 / ratePerMs, iatCov);
        this.functions.push(fn);
      }
    }
    this.truncated = truncated;
    this.capped = capped;
    this.expectedBusyMb = busyMb;
    this.name = `generated(seed ${options.seed}, ${options.functions} functions, IAT CoV median ${covMedian}, log-sigma ${covSigma})`;
  }

  fresh(): GeneratedWorkload {
    return new GeneratedWorkload(this.#options);
  }

  arrivals(minute: number, out: Arrival[]): void {
    const end = (minute + 1) * 60_000;
    const factor = this.#burst !== undefined && minute >= this.#burst.fromMin && minute < this.#burst.toMin ? this.#burst.factor : 1;
    const rng = this.#rng;
    for (let i = 0; i < this.functions.length; i++) {
      const fn = this.functions[i] as GenFunction;
      if (fn.kind === 'timer') {
        while (fn.next < end) {
          out.push({ at: fn.next, fn: i });
          fn.next += fn.periodMs;
        }
      } else {
        while (fn.next < end) {
          out.push({ at: fn.next, fn: i });
          fn.next += renewalIat(rng, 1 / (fn.ratePerMs * factor), fn.iatCov);
        }
      }
    }
  }
}

function drawAppSize(rng: Prng): number {
  let u = rng.next();
  for (const [share, min, max] of FUNCTIONS_PER_APP) {
    if (u < share) return min + rng.int(max - min + 1);
    u -= share;
  }
  return 1;
}
