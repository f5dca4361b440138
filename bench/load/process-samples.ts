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
  /** False when the series after warm-up is too short to judge. */
  judged: boolean;
  ok: boolean;
}

function median3(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/**
 * RSS growth after warm-up (median of the first 3 samples after `warmupS` vs the last 3) at
 * most `maxGrowth`, and open fds flat: at the end at most `maxFdGrowth` (or 10 %) above the
 * end of warm-up (fds move with the containers alive and the connections open, so a spread
 * is normal; a leak is a climb).
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
  const rssGrowth = rssEndMb / rssStartMb - 1;
  const ok = !judged || (rssGrowth <= maxGrowth && fdsEnd - fdsStart <= Math.max(maxFdGrowth, fdsStart * 0.1));
  return { name, samples: series.length, rssStartMb, rssEndMb, rssGrowth, fdsMin, fdsMax, fdsStart, fdsEnd, judged, ok };
}
