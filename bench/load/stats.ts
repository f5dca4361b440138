/**
 * Statistics over load-generator samples: percentiles (nearest rank, as most load tools
 * report them), medians, and the per-stage summary every report is built from.
 */

/** One request as the load generator saw it. */
export interface Sample {
  /** When the request was sent, ms since the stage started. */
  atMs: number;
  /** Client-side duration, ms (send to last byte of the answer). */
  latencyMs: number;
  /** HTTP status; 0 when the request failed at the transport level. */
  status: number;
  /** Time spent in the function, ms, when the target reported it. */
  functionMs?: number;
  /** Container instance that ran it (the function's own stable id). */
  instanceId?: string;
  /** Worker that ran it (x-ringfaas-worker). */
  worker?: string;
  /** How it started (the body's logs.start, else x-ringfaas-start): warm, cold-pool, cold-create; absent for foreign targets. */
  start?: string;
  /** Error code (RF_…) or transport error code for failed requests. */
  error?: string;
}

/** What a stage of closed-loop load produced. */
export interface StageStats {
  concurrency: number;
  /** Measured wall time of the stage, ms. */
  durationMs: number;
  requests: number;
  errors: number;
  /** Successful requests per second. */
  throughputRps: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
  /** Median time inside the function, when reported. */
  functionP50Ms: number | null;
  /** Distinct container instances that answered in this stage. */
  instances: number;
  /** Instances first seen in this stage (cumulative over the run before it). */
  newInstances: number;
  /** Cold starts: by the start kind (logs.start) when present, else new instances. */
  coldStarts: number;
  /** Requests per worker id. */
  workers: Record<string, number>;
  /** Error count per code. */
  errorCodes: Record<string, number>;
  /** CPU time used during the stage, ms, by process (when measured; bench/load/process-cpu.ts). */
  cpuMs?: Record<string, number>;
}

/**
 * The p-th percentile (0 < p <= 100) of ascending `sorted` values, nearest-rank method:
 * the smallest value such that at least p % of the values are <= it. NaN for no values.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  const index = Math.min(sorted.length - 1, Math.max(0, rank - 1));
  return sorted[index] as number;
}

/** The median of any values (mean of the two middle ones for an even count). NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[mid] as number;
  return ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

function isCold(sample: Sample, seenBefore: ReadonlySet<string>): boolean {
  if (sample.start !== undefined) return sample.start !== 'warm';
  return sample.instanceId !== undefined && !seenBefore.has(sample.instanceId);
}

/**
 * Summarises one stage. `seen` holds the instance ids of earlier stages of the same run; it
 * is updated with this stage's instances (so that "new instances" are counted once per run).
 */
export function summarizeStage(
  samples: readonly Sample[],
  concurrency: number,
  durationMs: number,
  seen: Set<string> = new Set(),
): StageStats {
  const ok = samples.filter((s) => s.status === 200);
  const latencies = ok.map((s) => s.latencyMs).sort((a, b) => a - b);
  const functionMs = ok.flatMap((s) => (s.functionMs === undefined ? [] : [s.functionMs]));
  const instances = new Set<string>();
  const workers: Record<string, number> = {};
  const errorCodes: Record<string, number> = {};
  let coldStarts = 0;
  let newInstances = 0;
  for (const s of samples) {
    if (s.status !== 200) {
      const code = s.error ?? `HTTP_${s.status}`;
      errorCodes[code] = (errorCodes[code] ?? 0) + 1;
      continue;
    }
    if (isCold(s, seen)) coldStarts += 1;
    if (s.instanceId !== undefined) {
      instances.add(s.instanceId);
      if (!seen.has(s.instanceId)) {
        newInstances += 1;
        seen.add(s.instanceId);
      }
    }
    if (s.worker !== undefined) workers[s.worker] = (workers[s.worker] ?? 0) + 1;
  }
  const round = (v: number): number => (Number.isFinite(v) ? Math.round(v * 1000) / 1000 : 0);
  return {
    concurrency,
    durationMs: round(durationMs),
    requests: samples.length,
    errors: samples.length - ok.length,
    throughputRps: durationMs > 0 ? round((ok.length * 1000) / durationMs) : 0,
    meanMs: round(mean(latencies)),
    p50Ms: round(percentile(latencies, 50)),
    p90Ms: round(percentile(latencies, 90)),
    p99Ms: round(percentile(latencies, 99)),
    minMs: round(latencies[0] ?? Number.NaN),
    maxMs: round(latencies[latencies.length - 1] ?? Number.NaN),
    functionP50Ms: functionMs.length === 0 ? null : round(median(functionMs)),
    instances: instances.size,
    newInstances,
    coldStarts,
    workers,
    errorCodes,
  };
}

/** Counts of `values` in `bucketCount` equal-width buckets from min to max (a histogram). */
export function histogram(values: readonly number[], bucketCount: number): Array<{ fromMs: number; toMs: number; count: number }> {
  if (values.length === 0 || bucketCount < 1) return [];
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const width = max > min ? (max - min) / bucketCount : 1;
  const buckets = Array.from({ length: bucketCount }, (_, i) => ({ fromMs: min + i * width, toMs: min + (i + 1) * width, count: 0 }));
  for (const v of values) {
    const i = Math.min(bucketCount - 1, Math.floor((v - min) / width));
    (buckets[i] as { count: number }).count += 1;
  }
  return buckets;
}
