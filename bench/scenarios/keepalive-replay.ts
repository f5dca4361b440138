/**
 * Keep-alive policies on the real platform: one time-compressed slice of a trace (or of the
 * calibrated generator) replayed against a fresh ringfaas platform per policy — Azurite, the
 * workers and a router, each its own process as `npm start` runs them — with the workers
 * started with RINGFAAS_KEEPALIVE_POLICY=<policy> and RINGFAAS_KEEPALIVE_TIME_SCALE=<k>, and
 * every function deployed with idleTimeoutMs = 15 min / k (the fixed window, the hybrid
 * policy's fallback, the hazard policy's price of memory). Extra runs of the fixed policy at
 * other windows (`fixedWindowsMinutes`) give fixed keep-alive's trade-off curve on the same
 * slice, against which every other policy is read at equal idle memory-time and at equal cold
 * starts (bench/simulate/fixed-curve.ts), as the simulator reads them. Per run: invocations,
 * cold starts (the answer's logs.start: anything but `warm`), errors, and the idle memory-time
 * of the function containers (GET /status of each worker, bench/replay/idle-memory.ts), scaled
 * back to trace time.
 *
 * The slice and its compression: bench/replay/slice.ts; the open-loop sender:
 * bench/replay/replayer.ts. Arrivals in the first `warmupMinutes` of the slice are sent but
 * not counted (every function's first call is cold whatever the policy, and the hybrid
 * policy needs idle times to learn from); idle memory is integrated from the same moment.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock, systemScheduler } from '../../clock/index.ts';
import type { keepalive } from '../../worker/index.ts';
import { createLoadClient, type LoadClient } from '../load/client.ts';
import type { Sample } from '../load/stats.ts';
import { deployFunction } from '../platform/deploy-function.ts';
import { TargetLauncher, type PlatformSettings } from '../platform/targets.ts';
import type { Progress } from '../report/progress.ts';
import type { ReportChart, ReportTable, ScenarioOutput } from '../report/result.ts';
import { startIdleSampler } from '../replay/idle-memory.ts';
import { replayArrivals, type ReplayRecord } from '../replay/replayer.ts';
import { compressArrivals, type TraceSlice } from '../replay/slice.ts';
import { fixedAtIdle, fixedIdleAtColdStarts } from '../simulate/fixed-curve.ts';
import { DEFAULT_IDLE_TIMEOUT_MS, scaledIdleTimeoutMs } from './backoff.ts';

export interface KeepAliveReplayOptions {
  /** The slice to replay (takeSlice) and what it was taken from. */
  slice: TraceSlice;
  source: string;
  policies: readonly keepalive.KeepAlivePolicyName[];
  /** Extra runs of the fixed policy at these windows (trace minutes), for its trade-off curve. */
  fixedWindowsMinutes?: readonly number[];
  /** Trace ms per real ms. */
  timeScale: number;
  /** Slice minutes sent but not counted. */
  warmupMinutes: number;
  /** Function memory is the workload's, clamped to [128, this] MB. */
  maxFunctionMemoryMb: number;
  maxInFlight: number;
  requestTimeoutMs: number;
  /** Interval of the idle-memory samples, real ms. */
  sampleIntervalMs: number;
  /** The platform of every policy (workerEnv gets the policy; logs go to a folder per policy). */
  platform: PlatformSettings;
  progress: Progress;
}

/** How an answer started: its start kind (logs.start), or an error. */
export type StartClass = 'cold' | 'warm' | 'error';

/** Classifies one answer (see the file header); an answer without the header is an error. */
export function classifyStart(sample: Sample): StartClass {
  if (sample.status !== 200 || sample.start === undefined) return 'error';
  return sample.start === 'warm' ? 'warm' : 'cold';
}

/** One replay: a policy at a keep-alive setting (the functions' idleTimeoutMs, in trace minutes). */
export interface ReplayRunSpec {
  policy: keepalive.KeepAlivePolicyName;
  settingMinutes: number;
}

/** The runs asked for: each policy at the default setting, then fixed at each extra window. */
export function replayRuns(policies: readonly keepalive.KeepAlivePolicyName[], fixedWindowsMinutes: readonly number[] = []): ReplayRunSpec[] {
  const defaultMinutes = DEFAULT_IDLE_TIMEOUT_MS / 60_000;
  return [
    ...policies.map((policy) => ({ policy, settingMinutes: defaultMinutes })),
    ...fixedWindowsMinutes.filter((m) => !(m === defaultMinutes && policies.includes('fixed'))).map((m) => ({ policy: 'fixed' as const, settingMinutes: m })),
  ];
}

/** A run's name: the policy, and its setting when not the default 15 min ("fixed 60 min"). */
export function runLabel(spec: ReplayRunSpec): string {
  return spec.settingMinutes === DEFAULT_IDLE_TIMEOUT_MS / 60_000 ? spec.policy : `${spec.policy} ${spec.settingMinutes} min`;
}

/** What one run measured. */
export interface PolicyRun {
  policy: keepalive.KeepAlivePolicyName;
  /** The keep-alive setting (idleTimeoutMs of every function), trace minutes. */
  settingMinutes: number;
  /** runLabel of the run. */
  label: string;
  /** Counted invocations (after the warm-up). */
  invocations: number;
  coldStarts: number;
  errors: number;
  /** Cold starts / counted invocations that answered. */
  coldRatio: number;
  /** Every invocation, warm-up included. */
  allInvocations: number;
  allColdStarts: number;
  /** Idle memory-time after the warm-up, GB × s of trace time. */
  idleGbS: number;
  peakIdleMb: number;
  /** Idle memory samples taken, and failed reads. */
  samples: number;
  failedReads: number;
  /** Worker counters at the end (all workers): expiries, evictions. */
  expiries: number;
  evictions: number;
  /** Counted cold starts per slice function. */
  coldByFunction: number[];
  /** Send lag (held by the in-flight bound or a late timer), ms: p99 and max. */
  lagP99Ms: number;
  lagMaxMs: number;
  latencyP50ColdMs: number;
  latencyP50WarmMs: number;
  errorCodes: Record<string, number>;
  startSeconds: number;
  replaySeconds: number;
  /** The machine's 1-minute load average when the replay started and ended (a shared machine). */
  loadAverage: [atStart: number, atEnd: number];
}

/** Runs the replay once per policy (and fixed window), each on a fresh platform, and reports the comparison. */
export async function runKeepAliveReplay(options: KeepAliveReplayOptions): Promise<ScenarioOutput> {
  const runs: PolicyRun[] = [];
  const replayS = (options.slice.minutes * 60) / options.timeScale;
  const specs = replayRuns(options.policies, options.fixedWindowsMinutes);
  for (const [i, spec] of specs.entries()) {
    const label = runLabel(spec);
    options.progress.note(`${label} (${i + 1}/${specs.length}): starting a fresh platform`);
    runs.push(await runPolicy(options, spec, (answered) => options.progress.update(i * replayS + (answered / Math.max(1, options.slice.arrivals.length)) * replayS, `${label}: replaying`)));
  }
  return report(options, runs);
}

/** The memory a slice function is deployed with. */
export function deployedMemoryMb(workloadMb: number, maxMb: number): number {
  return Math.min(maxMb, Math.max(128, Math.round(workloadMb)));
}

async function runPolicy(options: KeepAliveReplayOptions, spec: ReplayRunSpec, onAnswer: (answered: number) => void): Promise<PolicyRun> {
  const { slice, timeScale } = options;
  const { policy } = spec;
  const platform: PlatformSettings = {
    ...options.platform,
    layout: 'processes',
    logDir: join(options.platform.logDir, runLabel(spec).replaceAll(' ', '-')),
    workerEnv: { ...options.platform.workerEnv, RINGFAAS_KEEPALIVE_POLICY: policy, RINGFAAS_KEEPALIVE_TIME_SCALE: String(timeScale) },
  };
  const launcher = new TargetLauncher(platform);
  const clients: LoadClient[] = [];
  try {
    const started = performance.now();
    const target = await launcher.start({ kind: 'ringfaas' });
    try {
      const baseUrl = target.baseUrl as string;
      const idleTimeoutMs = scaledIdleTimeoutMs(timeScale, spec.settingMinutes * 60_000);
      const memoryById = new Map<string, number>();
      const ids: string[] = [];
      for (const fn of slice.functions) {
        const memoryMb = deployedMemoryMb(fn.memoryMb, options.maxFunctionMemoryMb);
        const id = await deployFunction(baseUrl, { functionMemoryMb: memoryMb, idleTimeoutMs });
        ids.push(id);
        memoryById.set(id, memoryMb);
        clients.push(createLoadClient(`${baseUrl}/functions/${encodeURIComponent(id)}/invoke`, { connections: options.maxInFlight, timeoutMs: options.requestTimeoutMs }));
      }
      const workers = await workerAddresses(baseUrl);
      const startSeconds = (performance.now() - started) / 1000;
      const warmupTraceMs = options.warmupMinutes * 60_000;
      const sampler = startIdleSampler({
        workers,
        memoryOf: (id) => memoryById.get(id) ?? platform.functionMemoryMb,
        intervalMs: options.sampleIntervalMs,
        readTimeoutMs: 2000,
        fromMs: warmupTraceMs / timeScale,
      });
      const loadAtStart = loadavg()[0] ?? 0;
      const t0 = performance.now();
      let records: ReplayRecord[];
      try {
        records = await replayArrivals({
          arrivals: compressArrivals(slice.arrivals, timeScale),
          invoke: (fn) => (clients[fn] as LoadClient).invoke(t0),
          maxInFlight: options.maxInFlight,
          clock: systemClock,
          scheduler: systemScheduler,
          onAnswer,
        });
        // the idle memory is integrated to the end of the slice, not only to the last answer
        const left = (slice.minutes * 60_000) / timeScale - (performance.now() - t0);
        if (left > 0) await new Promise((r) => setTimeout(r, left));
      } catch (err) {
        await sampler.stop();
        throw err;
      }
      const idle = await sampler.stop();
      const replaySeconds = (performance.now() - t0) / 1000;
      const counters = await workerCounters(workers);
      return summarise(spec, slice, records, warmupTraceMs, timeScale, { ...idle, ...counters, startSeconds, replaySeconds, loadAverage: [loadAtStart, loadavg()[0] ?? 0] });
    } finally {
      await target.stop();
    }
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await launcher.close();
  }
}

interface RunExtras {
  integral: { mbMs: number; peakMb: number };
  samples: number;
  failedReads: number;
  expiries: number;
  evictions: number;
  startSeconds: number;
  replaySeconds: number;
  loadAverage: [number, number];
}

/** Per-policy figures from the records. */
function summarise(spec: ReplayRunSpec, slice: TraceSlice, records: readonly ReplayRecord[], warmupTraceMs: number, timeScale: number, extras: RunExtras): PolicyRun {
  const counted = records.filter((r) => (slice.arrivals[r.index]?.at ?? 0) >= warmupTraceMs);
  const classes = counted.map((r) => classifyStart(r.sample));
  const coldByFunction = slice.functions.map(() => 0);
  const errorCodes: Record<string, number> = {};
  counted.forEach((r, i) => {
    if (classes[i] === 'cold') coldByFunction[r.fn] = (coldByFunction[r.fn] ?? 0) + 1;
    if (classes[i] === 'error') {
      const code = r.sample.error ?? (r.sample.start === undefined ? 'NO_START_HEADER' : `HTTP_${r.sample.status}`);
      errorCodes[code] = (errorCodes[code] ?? 0) + 1;
    }
  });
  const coldStarts = classes.filter((c) => c === 'cold').length;
  const errors = classes.filter((c) => c === 'error').length;
  const lags = records.map((r) => r.sentMs - r.scheduledMs).sort((a, b) => a - b);
  const latency = (cls: StartClass): number => median(counted.filter((_, i) => classes[i] === cls).map((r) => r.sample.latencyMs));
  return {
    policy: spec.policy,
    settingMinutes: spec.settingMinutes,
    label: runLabel(spec),
    invocations: counted.length,
    coldStarts,
    errors,
    coldRatio: counted.length - errors === 0 ? 0 : coldStarts / (counted.length - errors),
    allInvocations: records.length,
    allColdStarts: records.filter((r) => classifyStart(r.sample) === 'cold').length,
    idleGbS: (extras.integral.mbMs * timeScale) / 1024 / 1000,
    peakIdleMb: extras.integral.peakMb,
    samples: extras.samples,
    failedReads: extras.failedReads,
    expiries: extras.expiries,
    evictions: extras.evictions,
    coldByFunction,
    lagP99Ms: round(lags[Math.max(0, Math.ceil(0.99 * lags.length) - 1)] ?? 0),
    lagMaxMs: round(lags[lags.length - 1] ?? 0),
    latencyP50ColdMs: round(latency('cold')),
    latencyP50WarmMs: round(latency('warm')),
    errorCodes,
    startSeconds: round(extras.startSeconds),
    replaySeconds: round(extras.replaySeconds),
    loadAverage: [round(extras.loadAverage[0]), round(extras.loadAverage[1])],
  };
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** The workers' addresses as the router lists them (GET /workers). */
async function workerAddresses(baseUrl: string): Promise<string[]> {
  const res = await fetch(`${baseUrl}/workers`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { workers?: Array<{ address?: unknown }> };
  return (body.workers ?? []).map((w) => w.address).filter((a): a is string => typeof a === 'string');
}

/** Sums ringfaas_worker_expiries_total and ringfaas_worker_evictions_total over the workers. */
async function workerCounters(workers: readonly string[]): Promise<{ expiries: number; evictions: number }> {
  let expiries = 0;
  let evictions = 0;
  for (const base of workers) {
    const text = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })
      .then((r) => r.text())
      .catch(() => '');
    expiries += counterValue(text, 'ringfaas_worker_expiries_total');
    evictions += counterValue(text, 'ringfaas_worker_evictions_total');
  }
  return { expiries, evictions };
}

/** The value of an unlabelled counter in Prometheus text (0 when absent). */
export function counterValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  const v = Number(line?.slice(name.length + 1));
  return Number.isFinite(v) ? v : 0;
}

/** The fixed runs (two or more windows make a curve). */
function fixedCurve(runs: readonly PolicyRun[]): PolicyRun[] {
  return runs.filter((r) => r.policy === 'fixed').sort((a, b) => a.idleGbS - b.idleGbS);
}

/**
 * Each other policy read against the fixed curve, as the simulator reads it: the cold starts
 * fixed would have at the policy's idle memory-time, and the idle memory-time fixed would need
 * for the policy's cold starts (issue 15's targets: ≥ 2× fewer, or ≥ 30 % less). Empty with
 * fewer than two fixed windows.
 */
export function curveReadings(runs: readonly PolicyRun[]): string[] {
  const curve = fixedCurve(runs);
  if (curve.length < 2) return [];
  const windows = `fixed at ${[...curve].sort((a, b) => a.settingMinutes - b.settingMinutes).map((r) => r.settingMinutes).join(', ')} min`;
  return runs
    .filter((r) => r.policy !== 'fixed')
    .map((r) => {
      const atIdle = fixedAtIdle(curve, r.idleGbS);
      const idleAtCold = fixedIdleAtColdStarts(curve, r.coldStarts);
      const equalIdle = atIdle === undefined ? 'at its idle memory-time: outside the curve' : `at its idle memory-time fixed would have ${round(atIdle)} cold starts: ${round(atIdle / Math.max(1, r.coldStarts))}× the policy's ${r.coldStarts}`;
      const equalCold = idleAtCold === undefined ? 'at its cold starts: outside the curve' : `for its cold starts fixed would need ${round(idleAtCold)} GB·s: the policy uses ${round((1 - r.idleGbS / idleAtCold) * 100)} % less`;
      return `${r.label} against the fixed curve (${windows}): ${equalIdle}; ${equalCold} (target: ≥ 2× fewer at equal idle memory-time, or ≥ 30 % less at equal cold starts)`;
    });
}

/** Cold starts against idle memory-time: the fixed curve and each other run as a point (none without a curve). */
function tradeOffChart(runs: readonly PolicyRun[]): ReportChart[] {
  const curve = fixedCurve(runs);
  if (curve.length < 2) return [];
  const point = (r: PolicyRun): [number, number] => [round(r.idleGbS), r.coldStarts];
  return [
    {
      title: 'Cold starts against idle memory-time (trace time)',
      kind: 'line',
      xLabel: 'idle memory-time, GB·s',
      yLabel: 'cold starts',
      series: [{ name: 'fixed', points: curve.map(point) }, ...runs.filter((r) => r.policy !== 'fixed').map((r) => ({ name: r.label, points: [point(r)] }))],
    },
  ];
}

function report(options: KeepAliveReplayOptions, runs: PolicyRun[]): ScenarioOutput {
  const { slice, timeScale } = options;
  const windowS = scaledIdleTimeoutMs(timeScale) / 1000;
  const fixed = runs.find((r) => r.label === 'fixed');
  const summary = [
    `${options.source}: trace minutes ${slice.fromMinute}–${slice.fromMinute + slice.minutes} (${slice.minutes} min), ${slice.functions.length} functions, ${slice.arrivals.length} invocations, replayed at ${timeScale}× (${round((slice.minutes * 60) / timeScale)} s); the first ${options.warmupMinutes} trace minutes not counted; fixed window ${DEFAULT_IDLE_TIMEOUT_MS / 60_000} min = ${windowS} s real`,
    ...runs.map(
      (r) =>
        `${r.label}: ${r.coldStarts} cold starts of ${r.invocations} invocations (${round(r.coldRatio * 100)} %), ${r.errors} errors, idle memory-time ${round(r.idleGbS)} GB·s of trace time (peak ${Math.round(r.peakIdleMb)} MB idle), ${r.expiries} expiries, ${r.evictions} evictions`,
    ),
    ...(fixed === undefined
      ? []
      : runs
          .filter((r) => r.policy !== 'fixed')
          .map(
            (r) =>
              `${r.label} vs fixed: cold starts ${r.coldStarts} vs ${fixed.coldStarts}${fixed.coldStarts > 0 ? ` (${round(r.coldStarts / fixed.coldStarts)}×)` : ''}, idle memory-time ${round(r.idleGbS)} vs ${round(fixed.idleGbS)} GB·s${fixed.idleGbS > 0 ? ` (${round(r.idleGbS / fixed.idleGbS)}×)` : ''}`,
          )),
    ...curveReadings(runs),
  ];
  const late = runs.filter((r) => r.lagP99Ms * timeScale > 60_000);
  if (late.length > 0) {
    summary.push(
      `schedule not kept (send lag p99 over one trace minute: the in-flight bound of ${options.maxInFlight} was reached while answers were slow): ${late.map((r) => `${r.label} ${Math.round(r.lagP99Ms)} ms = ${round((r.lagP99Ms * timeScale) / 60_000)} trace min`).join(', ')}; its figures are distorted`,
    );
  }
  const policyTable: ReportTable = {
    title: 'Keep-alive policies on the real platform (one slice, a fresh platform each)',
    columns: ['policy', 'invocations', 'cold starts', 'cold-start %', 'errors', 'idle GB·s (trace time)', 'peak idle MB', 'expiries', 'evictions', 'cold p50 ms', 'warm p50 ms', 'send lag p99 ms', 'platform start s', 'replay s', 'load avg 1 min (start–end)', 'all invocations', 'all cold starts'],
    rows: runs.map((r) => [r.label, r.invocations, r.coldStarts, round(r.coldRatio * 100), r.errors, round(r.idleGbS), Math.round(r.peakIdleMb), r.expiries, r.evictions, r.latencyP50ColdMs, r.latencyP50WarmMs, r.lagP99Ms, r.startSeconds, r.replaySeconds, `${r.loadAverage[0]}–${r.loadAverage[1]}`, r.allInvocations, r.allColdStarts]),
    note: `Counted after the first ${options.warmupMinutes} trace minutes; "all" columns include them. Idle memory-time: idle warm containers × their function's memory, sampled every ${options.sampleIntervalMs} ms and multiplied by ${timeScale}.`,
  };
  const functionTable: ReportTable = {
    title: 'Slice functions: counted cold starts per policy',
    columns: ['function', 'memory MB', 'invocations in the slice', ...runs.map((r) => r.label)],
    rows: slice.functions.map((f, i) => [f.id, deployedMemoryMb(f.memoryMb, options.maxFunctionMemoryMb), f.invocations, ...runs.map((r) => r.coldByFunction[i] ?? 0)]),
  };
  return {
    title: 'Keep-alive replay: a time-compressed trace slice on the real platform',
    settings: {
      source: options.source,
      fromMinute: slice.fromMinute,
      minutes: slice.minutes,
      functions: slice.functions.length,
      invocations: slice.arrivals.length,
      leftOut: slice.leftOut,
      policies: options.policies,
      fixedWindowsMinutes: options.fixedWindowsMinutes ?? [],
      timeScale,
      warmupMinutes: options.warmupMinutes,
      maxFunctionMemoryMb: options.maxFunctionMemoryMb,
      maxInFlight: options.maxInFlight,
      requestTimeoutMs: options.requestTimeoutMs,
      sampleIntervalMs: options.sampleIntervalMs,
    },
    summary,
    tables: [policyTable, functionTable],
    charts: [
      { title: 'Cold starts per policy', kind: 'bar', xLabel: 'policy', yLabel: 'cold starts', xLabels: runs.map((r) => r.label), series: [{ name: 'cold starts', points: runs.map((r, i) => [i, r.coldStarts] as [number, number]) }] },
      { title: 'Idle memory-time per policy', kind: 'bar', xLabel: 'policy', yLabel: 'GB·s (trace time)', xLabels: runs.map((r) => r.label), series: [{ name: 'idle GB·s', points: runs.map((r, i) => [i, round(r.idleGbS)] as [number, number]) }] },
      ...tradeOffChart(runs),
    ],
    raw: { runs },
  };
}
