/**
 * Traffic "per router and in total" for the dashboard. Routers do not know each other, so each
 * one writes its own window of traffic buckets (router/traffic-window.ts) to its row of the
 * storage table `routers` every `publishMs`, and reads every row back as often; the total is
 * the sum of the rows' buckets, with this router's own row replaced by its live window.
 *
 * A row is counted while it was written within the traffic window (a router that stopped
 * still counts for the minutes it served); rows older than `forgetMs` are deleted by whoever
 * reads them. Storage failures keep the last rows read: the total is then as old as they are.
 *
 * Cost: one upsert and one partition read per router per `publishMs` (5 s), whatever the
 * number of pages open; a row is a few KB.
 */
import type { Logger } from 'pino';
import type { RouterStatsStore } from '../storage/index.ts';
import { mergeBuckets, quantileMs, toSeries, type TrafficBucket, type TrafficPoint, type TrafficWindow } from './traffic-window.ts';

/** Largest stats text written (a Table string property holds 32 K characters). */
const MAX_STATS_CHARS = 30_000;

/** One router's figures over the last minute. */
export interface RouterTrafficSummary {
  id: string;
  self: boolean;
  updatedAt: number;
  /** Invocations per second over the last minute. */
  rate: number;
  p50Ms: number | null;
  p99Ms: number | null;
  cold: number;
  spills: number;
  errors: number;
}

/** What the `traffic` event carries. */
export interface TrafficSnapshot {
  at: number;
  bucketMs: number;
  router: string;
  local: TrafficPoint[];
  total: TrafficPoint[];
  routers: RouterTrafficSummary[];
}

export interface RouterTrafficOptions {
  window: TrafficWindow;
  routerId: string;
  store?: RouterStatsStore;
  log: Logger;
  clock: () => number;
  /** Default 5000 ms. */
  publishMs?: number;
  /** Rows older than this are deleted. Default one hour. */
  forgetMs?: number;
}

interface OtherRouter {
  id: string;
  updatedAt: number;
  buckets: TrafficBucket[];
}

interface StoredStats {
  bucketMs: number;
  /** [t, n, err, cold, spills, ...lat (trailing zeros cut)] per non-empty bucket. */
  b: number[][];
}

function encode(bucketMs: number, buckets: readonly TrafficBucket[]): string {
  const rows = buckets.filter((b) => b.n > 0).map((b) => {
    const lat = [...b.lat];
    while (lat.length > 0 && lat[lat.length - 1] === 0) lat.pop();
    return [b.t, b.n, b.err, b.cold, b.spills, ...lat];
  });
  let text = JSON.stringify({ bucketMs, b: rows } satisfies StoredStats);
  while (text.length > MAX_STATS_CHARS && rows.length > 0) {
    rows.splice(0, Math.ceil(rows.length / 4)); // the oldest go first
    text = JSON.stringify({ bucketMs, b: rows } satisfies StoredStats);
  }
  return text;
}

/** Reads another router's row; undefined when it is not what this version writes. */
function decode(text: string, bucketMs: number): TrafficBucket[] | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<StoredStats>;
    if (parsed.bucketMs !== bucketMs || !Array.isArray(parsed.b)) return undefined;
    const out: TrafficBucket[] = [];
    for (const row of parsed.b.slice(0, 10_000)) {
      if (!Array.isArray(row) || row.length < 5 || !row.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) continue;
      const [t, n, err, cold, spills, ...lat] = row as number[];
      out.push({ t: t as number, n: n as number, err: err as number, cold: cold as number, spills: spills as number, lat: lat.slice(0, 64) });
    }
    return out;
  } catch {
    return undefined;
  }
}

function summarise(id: string, self: boolean, updatedAt: number, buckets: readonly TrafficBucket[], since: number, to: number): RouterTrafficSummary {
  const recent = buckets.filter((b) => b.t >= since && b.t < to);
  const [merged] = mergeBuckets([recent.map((b) => ({ ...b, t: 0 }))]);
  const seconds = (to - since) / 1000;
  return {
    id,
    self,
    updatedAt,
    rate: merged === undefined ? 0 : Math.round((merged.n / seconds) * 100) / 100,
    p50Ms: merged === undefined ? null : quantileMs(merged.lat, 0.5),
    p99Ms: merged === undefined ? null : quantileMs(merged.lat, 0.99),
    cold: merged?.cold ?? 0,
    spills: merged?.spills ?? 0,
    errors: merged?.err ?? 0,
  };
}

/** This router's traffic, published for the others, and everybody's read back. */
export class RouterTraffic {
  readonly #o: RouterTrafficOptions;
  #others: OtherRouter[] = [];
  #timer: NodeJS.Timeout | undefined;
  #failing = false;

  constructor(options: RouterTrafficOptions) {
    this.#o = options;
  }

  /** Publishes and reads every `publishMs` until stop(). */
  start(): void {
    if (this.#o.store === undefined || this.#timer !== undefined) return;
    void this.sync();
    this.#timer = setInterval(() => void this.sync(), this.#o.publishMs ?? 5000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One publish and read (the timer's work; tests call it directly). */
  async sync(): Promise<void> {
    const { store, window, routerId, clock } = this.#o;
    if (store === undefined) return;
    const now = clock();
    try {
      await store.upsert({ id: routerId, updatedAt: now, stats: encode(window.bucketMs, window.buckets(true)) });
      const rows = await store.list();
      const others: OtherRouter[] = [];
      for (const row of rows) {
        if (row.id === routerId) continue;
        if (now - row.updatedAt > (this.#o.forgetMs ?? 3_600_000)) {
          void store.remove(row.id).catch(() => undefined); // best effort: the next reader tries again
          continue;
        }
        if (now - row.updatedAt > window.windowMs) continue;
        const buckets = decode(row.stats, window.bucketMs);
        if (buckets !== undefined) others.push({ id: row.id, updatedAt: row.updatedAt, buckets });
      }
      this.#others = others.sort((a, b) => a.id.localeCompare(b.id));
      if (this.#failing) this.#o.log.info('router stats readable again');
      this.#failing = false;
    } catch (err) {
      if (!this.#failing) this.#o.log.warn({ err }, 'router stats could not be written or read; totals keep the last rows');
      this.#failing = true;
    }
  }

  /** The traffic snapshot: this router's series, the total, and each router's last minute. */
  snapshot(): TrafficSnapshot {
    const { window, routerId, clock } = this.#o;
    const now = clock();
    const bucketMs = window.bucketMs;
    const to = window.bucketStart(now);
    const from = to - window.windowMs;
    const own = window.buckets();
    const since = to - 60_000;
    const inWindow = (buckets: readonly TrafficBucket[]): TrafficBucket[] => buckets.filter((b) => b.t >= from && b.t < to);
    const others = this.#others.map((o) => ({ ...o, buckets: inWindow(o.buckets) }));
    return {
      at: now,
      bucketMs,
      router: routerId,
      local: toSeries(own, from, to, bucketMs),
      total: toSeries(mergeBuckets([own, ...others.map((o) => o.buckets)]), from, to, bucketMs),
      routers: [summarise(routerId, true, now, own, since, to), ...others.map((o) => summarise(o.id, false, o.updatedAt, o.buckets, since, to))],
    };
  }
}
