/**
 * A generated workload described in the terms of Shahrad et al.'s characterisation (USENIX ATC
 * 2020, section 3), measured from its functions and its arrivals: the check that the generator
 * matches the figures it cites (docs/simulation.md, "Workloads"), and how its IAT CoV median
 * was set (the share of applications with an IAT CoV above 1).
 *
 * Rates are the functions' expected rates summed per application (not counted, so rare
 * applications are not lost to a short window); the IAT CoV of an application is measured on
 * the merged arrivals of its functions over `minutes`, for the applications with at least
 * `minIats` inter-arrival times there (the paper computes it over its two-week trace).
 *
 * Worked example: an application of one timer function every 10 minutes has IAT CoV 0 and a
 * rate of 144 a day (at most once a minute, more than once an hour); one of two timers, every
 * 10 and every 15 minutes, has a merged IAT CoV above 0 (gaps of 0, 5 and 10 minutes).
 */
import type { GeneratedWorkload } from './generator.ts';
import type { Arrival } from './workload.ts';

const DAY_MS = 86_400_000;

export interface WorkloadCharacterisation {
  apps: number;
  functions: number;
  /** Shares of applications invoked at most once an hour / once a minute on average (paper: 0.45 / 0.81). */
  appsAtMostHourly: number;
  appsAtMostMinutely: number;
  /** Shares of applications with at least one timer function / only timer functions (paper: 0.29 / 0.13). */
  appsWithTimer: number;
  appsOnlyTimers: number;
  /** Share of functions that are timers, and of invocations they make (paper: 0.156 / 0.02). */
  timerFunctions: number;
  timerInvocations: number;
  /** Applications whose IAT CoV was measured (at least `minIats` IATs in the window). */
  appsMeasured: number;
  /** Of those: shares with IAT CoV above 1 (paper: 0.40), and under 0.1 (near periodic). */
  appsCovOver1: number;
  appsCovNear0: number;
}

interface AppStats {
  ratePerDay: number;
  timers: number;
  functions: number;
  last: number;
  n: number;
  mean: number;
  m2: number;
}

/** Characterises `workload` (a fresh copy is consumed for the arrivals): see the file header. */
export function characterise(workload: GeneratedWorkload, minutes: number, minIats = 2): WorkloadCharacterisation {
  const apps = new Map<string, AppStats>();
  const appOf: AppStats[] = [];
  let timerRate = 0;
  let totalRate = 0;
  for (const f of workload.functions) {
    let a = apps.get(f.app);
    if (a === undefined) apps.set(f.app, (a = { ratePerDay: 0, timers: 0, functions: 0, last: Number.NaN, n: 0, mean: 0, m2: 0 }));
    const perDay = f.ratePerMs * DAY_MS;
    a.ratePerDay += perDay;
    a.functions++;
    totalRate += perDay;
    if (f.kind === 'timer') {
      a.timers++;
      timerRate += perDay;
    }
    appOf.push(a);
  }
  const w = workload.fresh();
  const out: Arrival[] = [];
  for (let m = 0; m < minutes; m++) {
    out.length = 0;
    w.arrivals(m, out);
    out.sort((x, y) => x.at - y.at);
    for (const { at, fn } of out) {
      const a = appOf[fn] as AppStats;
      if (!Number.isNaN(a.last)) {
        // Welford's running mean and sum of squares of the IATs
        const iat = at - a.last;
        a.n++;
        const d = iat - a.mean;
        a.mean += d / a.n;
        a.m2 += d * (iat - a.mean);
      }
      a.last = at;
    }
  }
  const all = [...apps.values()];
  const share = (xs: readonly AppStats[], p: (a: AppStats) => boolean): number => (xs.length === 0 ? 0 : xs.filter(p).length / xs.length);
  const measured = all.filter((a) => a.n >= minIats && a.mean > 0);
  const cov = (a: AppStats): number => Math.sqrt(a.m2 / a.n) / a.mean;
  return {
    apps: all.length,
    functions: workload.functions.length,
    appsAtMostHourly: share(all, (a) => a.ratePerDay <= 24),
    appsAtMostMinutely: share(all, (a) => a.ratePerDay <= 1440),
    appsWithTimer: share(all, (a) => a.timers > 0),
    appsOnlyTimers: share(all, (a) => a.timers === a.functions),
    timerFunctions: workload.functions.filter((f) => f.kind === 'timer').length / Math.max(1, workload.functions.length),
    timerInvocations: totalRate === 0 ? 0 : timerRate / totalRate,
    appsMeasured: measured.length,
    appsCovOver1: share(measured, (a) => cov(a) > 1),
    appsCovNear0: share(measured, (a) => cov(a) < 0.1),
  };
}
