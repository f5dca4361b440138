/**
 * The built-in workload: functions drawn to match the published characterisation of the
 * Azure Functions 2019 trace (Shahrad et al., "Serverless in the Wild", USENIX ATC 2020,
 * section 3). Every figure used is listed, with its source and whether we could verify it, in
 * docs/simulation.md ("Workloads"); the constants below carry the same names.
 *
 * Model
 * -----
 * - Applications of 1..20 functions (FUNCTIONS_PER_APP, section 3 / Figure 1); one memory
 *   size per application, the paper's Burr fit of applications' average allocated memory
 *   (APP_MEMORY, Figure 8), at most 1.5 GB.
 * - A function is timer-triggered with probability 15.6 % (TIMER_SHARE, Figure 2): it runs
 *   every period, IAT CoV 0; 5 % of timers fire more often than once a minute (section 3:
 *   "95 % of the timer-triggered functions ... at most once per minute"), the periods
 *   themselves are our assumption (TIMER_PERIODS).
 * - An application's average daily invocations are log-normal in log10 (APP_DAILY_RATE:
 *   45 % of applications at most 24 a day, 81 % at most 1 440 a day, section 3 /
 *   Figure 5(a), spanning ~8 orders of magnitude), shared by its non-timer functions with
 *   uniform random weights (a flat Dirichlet: our assumption), each function truncated at
 *   `maxPerDay` (a cost bound of the simulator, reported).
 * - Non-timer arrivals are a renewal process: inter-arrival times (IATs) gamma-distributed
 *   with the function's mean and a coefficient of variation (CoV) drawn per function,
 *   log-normal with median `IAT_COV.median` and log-sigma `IAT_COV.sigma`, clamped to
 *   [IAT_COV.min, IAT_COV.max]. The median is set so that the generated applications' IAT CoV
 *   is above 1 for 40 % of them (the paper's figure, section 3 "Main takeaways", measured by
 *   workload-characterisation.ts); the sigma is our assumption. CoV 1 is Poisson (gamma shape
 *   1 is the exponential): `iatCov: { median: 1, sigma: 0 }` gives the memoryless workload.
 * - Execution time: per function a log-normal mean (the paper's fit: log mean -0.38 s,
 *   sigma 2.36, Figure 7), per invocation log-normal around it (sigma 0.3: ours), capped at
 *   10 minutes.
 * - Cold start: 250 ms + a log-normal initialisation (median 250 ms, sigma 1): our assumption
 *   (the trace has no cold-start times).
 *
 * Arrivals are generated exactly (not from per-minute counts), minute by minute, from each
 * function's next arrival time, so memory is O(functions).
 */
import { Prng } from './prng.ts';
import type { Arrival, SimFunction, Workload } from './workload.ts';

/** Shares of applications by function count (Shahrad et al. 2020, Figure 1; the bands via Shilkov's summary). */
export const FUNCTIONS_PER_APP: ReadonlyArray<[share: number, min: number, max: number]> = [
  [0.54, 1, 1],
  [0.16, 2, 2],
  [0.1, 3, 3],
  [0.08, 4, 5],
  [0.07, 6, 10],
  [0.05, 11, 20],
];
/** Share of timer-triggered functions (Shahrad et al. 2020, Figure 2: 15.6 %). */
export const TIMER_SHARE = 0.156;
/**
 * Timer periods, minutes: 5 % of timers fire more often than once a minute (section 3), the
 * rest uniformly one of the listed periods (the periods and their shares: our assumption).
 */
export const TIMER_PERIODS = { subMinuteShare: 0.05, subMinute: [1 / 6, 0.5], minutes: [1, 2, 5, 10, 15, 30, 60, 120, 240, 1440] };
/**
 * log10(an application's average daily invocations from its non-timer functions) ~
 * Normal(mu, sigma), fitted so that the generated applications, timers included, match the
 * paper's 45 % invoked at most once an hour and 81 % at most once a minute (section 3,
 * Figure 5(a), applications): measured 0.449 / 0.808 over seeds 1-3 of 8 000 functions
 * (workload-characterisation.ts). Alone, without timers, (1.603, 1.772) would fit them.
 */
export const APP_DAILY_RATE = { mu: 1.05, sigma: 2.15 };
/**
 * Application memory, MB: the paper's Burr XII fit of applications' average allocated memory
 * (Figure 8: c 11.652, k 0.221, lambda 107.083; median ~140 MB, 90th percentile ~262 MB), at
 * most 1.5 GB (an Azure Functions Consumption-plan instance's limit).
 */
const MEMORY_BURR = { c: 11.652, k: 0.221, lambda: 107.083 };
export const APP_MEMORY = { burr: MEMORY_BURR, medianMb: burrQuantile(0.5), maxMb: 1536 };
/** Mean execution time per function: log-normal, ln-mean -0.38 (0.68 s), sigma 2.36 (Figure 7). */
export const DURATION = { medianMs: Math.exp(-0.38) * 1000, sigma: 2.36, perInvocationSigma: 0.3, maxMs: 600_000 };
/**
 * Per-function IAT CoV of non-timer functions: ln(CoV) ~ Normal(ln median, sigma), clamped.
 * The median (1.15) puts 40 % of the generated applications' IAT CoV above 1, the paper's
 * figure (section 3; measured by workload-characterisation.ts over a 2-day window, seeds
 * 1-3 of 1 200 functions: 0.383 at median 1.1, 0.405 at 1.15, 0.416 at 1.2); the sigma (1) and the clamp
 * are our assumption.
 */
export const IAT_COV = { median: 1.15, sigma: 1, min: 0.1, max: 5 };
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
    // the first arrival's phase from its own stream: a gamma draw takes a variable count of
    // numbers, which would shift every later function's shape with the IAT CoV options
    const phase = root.fork('workload-phase');
    this.#rng = root.fork('workload-arrivals');
    const maxPerDay = options.maxPerDay ?? 10 ** 5.5;
    let truncated = 0;
    let capped = 0;
    let busyMb = 0;
    const maxConcurrency = options.maxConcurrency ?? 8;
    const covMedian = options.iatCov?.median ?? IAT_COV.median;
    const covSigma = options.iatCov?.sigma ?? IAT_COV.sigma;
    let app = 0;
    while (this.functions.length < options.functions) {
      const appId = `app${app++}`;
      const memoryMb = Math.max(1, Math.round(Math.min(APP_MEMORY.maxMb, burrQuantile(shape.next()))));
      const size = Math.min(drawAppSize(shape), options.functions - this.functions.length);
      const appPerDay = 10 ** (APP_DAILY_RATE.mu + APP_DAILY_RATE.sigma * shape.normal());
      const kinds: Kind[] = Array.from({ length: size }, () => (shape.next() < TIMER_SHARE ? 'timer' : 'renewal'));
      // the application's rate shared by its non-timer functions: flat Dirichlet weights
      const weights = kinds.map((k) => (k === 'timer' ? 0 : -Math.log(1 - shape.next())));
      const weightSum = weights.reduce((x, y) => x + y, 0);
      for (let i = 0; i < size; i++) {
        const kind = kinds[i] as Kind;
        const iatCov = kind === 'timer' ? 0 : Math.min(IAT_COV.max, Math.max(IAT_COV.min, covMedian * Math.exp(covSigma * shape.normal())));
        let perDay: number;
        let periodMs = 0;
        if (kind === 'timer') {
          periodMs = drawTimerPeriodMin(shape) * 60_000;
          perDay = DAY_MS / periodMs;
        } else {
          perDay = (appPerDay * (weights[i] as number)) / weightSum;
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
        if (kind === 'timer') fn.next = phase.next() * periodMs;
        // a random phase into a first gap (not the renewal process's stationary start; the
        // warm-up minutes of a run absorb the difference)
        else fn.next = phase.next() * renewalIat(phase, 1 / ratePerMs, iatCov);
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

function drawTimerPeriodMin(rng: Prng): number {
  const list = rng.next() < TIMER_PERIODS.subMinuteShare ? TIMER_PERIODS.subMinute : TIMER_PERIODS.minutes;
  return list[rng.int(list.length)] as number;
}

/** The q-quantile of APP_MEMORY's Burr XII distribution, MB: lambda × ((1 − q)^(−1/k) − 1)^(1/c). */
export function burrQuantile(q: number): number {
  const { c, k, lambda } = MEMORY_BURR;
  return lambda * ((1 - q) ** (-1 / k) - 1) ** (1 / c);
}

function drawAppSize(rng: Prng): number {
  let u = rng.next();
  for (const [share, min, max] of FUNCTIONS_PER_APP) {
    if (u < share) return min + rng.int(max - min + 1);
    u -= share;
  }
  return 1;
}
