/**
 * Per-process resource samples for long runs (the soak): each ringfaas process exposes
 * prom-client's default metrics on /metrics (resident memory, heap used, open fds, event-loop
 * lag), so one scrape per process per interval is enough, whichever machine it runs on.
 */
import { request } from 'undici';

/** One process at one time. */
export interface ProcessSample {
  /** Seconds since the run started. */
  atS: number;
  rssMb: number;
  heapUsedMb: number;
  openFds: number;
  /** Event-loop delay p99 over prom-client's window, ms. */
  eventLoopP99Ms: number;
  /** V8 heap reserved (used or not), MB: RSS growth with flat heap use often lives here. */
  heapTotalMb: number;
  /** Memory of C++ objects bound to JS ones (buffers included), MB. */
  externalMb: number;
  /** Containers this process holds (workers; filled in by the caller), for judging its fds. */
  containers?: number;
}

/** The sample values of a Prometheus text exposition, by metric name (unlabelled series only). */
export function parsePrometheus(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (space <= 0) continue;
    const name = line.slice(0, space);
    if (name.includes('{')) continue;
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) values.set(name, value);
  }
  return values;
}

/**
 * Scrapes one process's /metrics (bounded: 5 s, 4 MB) into a sample; undefined when it does
 * not answer (e.g. a drained worker that exited).
 */
export async function scrapeProcess(metricsUrl: string, atS: number, headers: Record<string, string> = {}): Promise<ProcessSample | undefined> {
  try {
    const res = await request(metricsUrl, { headers, headersTimeout: 5000, bodyTimeout: 5000 });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return undefined;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > 4 * 1024 * 1024) {
        res.body.destroy();
        return undefined;
      }
      chunks.push(chunk as Buffer);
    }
    const m = parsePrometheus(Buffer.concat(chunks).toString('utf8'));
    const mb = (name: string): number => (m.get(name) ?? NaN) / (1024 * 1024);
    return {
      atS,
      rssMb: mb('process_resident_memory_bytes'),
      heapUsedMb: mb('nodejs_heap_size_used_bytes'),
      openFds: m.get('process_open_fds') ?? NaN,
      eventLoopP99Ms: (m.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
      heapTotalMb: mb('nodejs_heap_size_total_bytes'),
      externalMb: mb('nodejs_external_memory_bytes'),
    };
  } catch {
    return undefined;
  }
}

/** What the soak concludes of one process's series. */
export interface ProcessVerdict {
  name: string;
  samples: number;
  /** RSS at the end of warm-up and at the end, MB (medians of up to 3 samples). */
  rssStartMb: number;
  rssEndMb: number;
  rssGrowth: number;
  fdsMin: number;
  fdsMax: number;
  /** Open fds at the end of warm-up and at the end (medians of up to 3 samples). */
  fdsStart: number;
  fdsEnd: number;
  /**
   * Open fds per container held, fitted over the series (least squares; 0 without container
   * counts), and the fds not explained by containers at the end of warm-up and at the end.
   */
  fdsPerContainer: number;
  baseFdsStart: number;
  baseFdsEnd: number;
  /** False when the series after warm-up is too short to judge. */
  judged: boolean;
  ok: boolean;
}

function median3(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Slope of y on x by least squares (0 when x does not vary). */
function slope(points: ReadonlyArray<readonly [number, number]>): number {
  if (points.length < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / points.length;
  const my = points.reduce((a, [, y]) => a + y, 0) / points.length;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

/**
 * RSS growth after warm-up (median of the first 3 samples after `warmupS` vs the last 3) at
 * most `maxGrowth`, and open fds flat: at the end at most `maxFdGrowth` (or 10 %) above the
 * end of warm-up. A worker's fds move with the containers it holds (a container is a socket to
 * its shim, and under the process runtime a child's pipes too), so when samples carry
 * `containers` the fds those explain (a per-container slope fitted over the whole series) are
 * taken out before comparing: a leak is a climb of what is left, not a busier moment.
 */
export function judgeProcess(name: string, series: readonly ProcessSample[], warmupS: number, maxGrowth = 0.1, maxFdGrowth = 8): ProcessVerdict {
  const after = series.filter((s) => s.atS >= warmupS && Number.isFinite(s.rssMb));
  const judged = after.length >= 4;
  const rssStartMb = median3(after.slice(0, 3).map((s) => s.rssMb));
  const rssEndMb = median3(after.slice(-3).map((s) => s.rssMb));
  const fds = after.map((s) => s.openFds).filter(Number.isFinite);
  const fdsMin = fds.length === 0 ? NaN : Math.min(...fds);
  const fdsMax = fds.length === 0 ? NaN : Math.max(...fds);
  const fdsStart = median3(after.slice(0, 3).map((s) => s.openFds));
  const fdsEnd = median3(after.slice(-3).map((s) => s.openFds));
  const counted = series.filter((s) => s.containers !== undefined && Number.isFinite(s.openFds));
  const fdsPerContainer = Math.max(0, slope(counted.map((s) => [s.containers as number, s.openFds] as const)));
  const base = (s: ProcessSample): number => s.openFds - fdsPerContainer * (s.containers ?? 0);
  const baseFdsStart = median3(after.slice(0, 3).map(base));
  const baseFdsEnd = median3(after.slice(-3).map(base));
  const rssGrowth = rssEndMb / rssStartMb - 1;
  const ok = !judged || (rssGrowth <= maxGrowth && baseFdsEnd - baseFdsStart <= Math.max(maxFdGrowth, baseFdsStart * 0.1));
  return { name, samples: series.length, rssStartMb, rssEndMb, rssGrowth, fdsMin, fdsMax, fdsStart, fdsEnd, fdsPerContainer, baseFdsStart, baseFdsEnd, judged, ok };
}
