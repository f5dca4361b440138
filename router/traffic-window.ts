/**
 * Live traffic of one router for the dashboard: invocations, errors, cold starts, spills and a
 * latency histogram in fixed time buckets over a sliding window, plus the recent spill edges
 * (home worker → worker that served).
 *
 * Algorithm: time is cut into buckets of `bucketMs` (2 s by default) aligned on the epoch;
 * `record()` adds to the bucket of the injected clock's now, creating it (and dropping buckets
 * older than the window) on the first event of a new bucket. Latencies go into a fixed
 * log-spaced histogram (LATENCY_BOUNDS_MS), so a bucket is a few dozen numbers whatever the
 * traffic, buckets of several routers merge by adding counts, and p50/p99 are read from the
 * merged counts (the upper bound of the bucket holding the quantile).
 *
 * Example: 2 s buckets, 5 minute window → at most 150 buckets of ≤ 30 numbers; 1000
 * invocations of 40 ms in a bucket → rate 500/s, p50 = p99 = 50 (the bound above 40).
 *
 * Caveats: quantiles are as coarse as the bounds (about ±25 %); the bucket being filled is
 * incomplete, so `series()` leaves it out unless asked.
 */

/** Upper bounds (ms) of the latency histogram; a last open bucket holds anything slower. */
export const LATENCY_BOUNDS_MS: readonly number[] = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000, 30_000, 60_000];

/** One bucket's counts (the wire form shared between routers through storage). */
export interface TrafficBucket {
  /** Bucket start, ms since the epoch. */
  t: number;
  /** Invocations answered (any status). */
  n: number;
  /** Of which failed (status >= 400 or a ring error). */
  err: number;
  /** Of which served by a cold start (cold-pool or cold-create). */
  cold: number;
  /** Workers passed over (sum of x-ringfaas-spills). */
  spills: number;
  /** Latency histogram counts, LATENCY_BOUNDS_MS.length + 1 entries. */
  lat: number[];
}

/** One point of a series for charts. */
export interface TrafficPoint {
  t: number;
  /** Invocations per second. */
  rate: number;
  errors: number;
  cold: number;
  spills: number;
  /** null when the bucket had no invocation. */
  p50Ms: number | null;
  p99Ms: number | null;
}

/** A spill edge: invocations whose home was `from` served by `to` recently. */
export interface SpillEdge {
  from: string;
  to: string;
  count: number;
}

export interface TrafficWindowOptions {
  /** ms since the epoch. */
  clock: () => number;
  bucketMs?: number;
  windowMs?: number;
  /** Spill edges older than this are forgotten. Default 60 000 ms. */
  edgeWindowMs?: number;
  /** At most this many distinct spill edges are kept (the oldest go first). Default 256. */
  maxEdges?: number;
}

/** What one invocation contributes. */
export interface TrafficEvent {
  status: number;
  latencyMs: number;
  cold: boolean;
  spills: number;
  /** Home worker and serving worker, when it spilled. */
  spilledFrom?: string;
  servedBy?: string;
}

function emptyBucket(t: number): TrafficBucket {
  return { t, n: 0, err: 0, cold: 0, spills: 0, lat: new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0) };
}

/** The latency (ms) under which a fraction q of the counts fall; null with no counts. */
export function quantileMs(counts: readonly number[], q: number): number | null {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i] ?? 0;
    if (seen >= rank) return LATENCY_BOUNDS_MS[i] ?? (LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1] as number) * 2;
  }
  return null;
}

/** Adds buckets of several routers by start time. */
export function mergeBuckets(sets: ReadonlyArray<readonly TrafficBucket[]>): TrafficBucket[] {
  const byT = new Map<number, TrafficBucket>();
  for (const set of sets) {
    for (const b of set) {
      let into = byT.get(b.t);
      if (into === undefined) byT.set(b.t, (into = emptyBucket(b.t)));
      into.n += b.n;
      into.err += b.err;
      into.cold += b.cold;
      into.spills += b.spills;
      for (let i = 0; i < into.lat.length; i++) into.lat[i] = (into.lat[i] ?? 0) + (b.lat[i] ?? 0);
    }
  }
  return [...byT.values()].sort((a, b) => a.t - b.t);
}

/** Turns buckets into chart points, one per bucket from `from` to `to` (missing ones are zero). */
export function toSeries(buckets: readonly TrafficBucket[], from: number, to: number, bucketMs: number): TrafficPoint[] {
  const byT = new Map(buckets.map((b) => [b.t, b]));
  const points: TrafficPoint[] = [];
  for (let t = from; t < to; t += bucketMs) {
    const b = byT.get(t);
    points.push({
      t,
      rate: b === undefined ? 0 : Math.round((b.n * 1000 * 100) / bucketMs) / 100,
      errors: b?.err ?? 0,
      cold: b?.cold ?? 0,
      spills: b?.spills ?? 0,
      p50Ms: b === undefined ? null : quantileMs(b.lat, 0.5),
      p99Ms: b === undefined ? null : quantileMs(b.lat, 0.99),
    });
  }
  return points;
}

/** The sliding window of one router's traffic. */
export class TrafficWindow {
  readonly bucketMs: number;
  readonly windowMs: number;
  readonly #clock: () => number;
  readonly #edgeWindowMs: number;
  readonly #maxEdges: number;
  readonly #buckets: TrafficBucket[] = [];
  /** "from\u0000to" → count and last time seen. */
  readonly #edges = new Map<string, { from: string; to: string; count: number; lastAt: number }>();

  constructor(options: TrafficWindowOptions) {
    this.#clock = options.clock;
    this.bucketMs = options.bucketMs ?? 2000;
    this.windowMs = options.windowMs ?? 5 * 60_000;
    this.#edgeWindowMs = options.edgeWindowMs ?? 60_000;
    this.#maxEdges = options.maxEdges ?? 256;
  }

  /** Counts one answered invocation. */
  record(event: TrafficEvent): void {
    const now = this.#clock();
    const b = this.#current(now);
    b.n++;
    if (event.status >= 400) b.err++;
    if (event.cold) b.cold++;
    b.spills += event.spills;
    let i = 0;
    while (i < LATENCY_BOUNDS_MS.length && event.latencyMs > (LATENCY_BOUNDS_MS[i] as number)) i++;
    b.lat[i] = (b.lat[i] ?? 0) + 1;
    if (event.spilledFrom !== undefined && event.servedBy !== undefined && event.spilledFrom !== event.servedBy) {
      const key = `${event.spilledFrom}\u0000${event.servedBy}`;
      const edge = this.#edges.get(key);
      if (edge !== undefined) {
        this.#edges.delete(key); // re-inserted last: the map stays ordered by last use
        edge.count++;
        edge.lastAt = now;
        this.#edges.set(key, edge);
      } else {
        if (this.#edges.size >= this.#maxEdges) this.#edges.delete(this.#edges.keys().next().value as string);
        this.#edges.set(key, { from: event.spilledFrom, to: event.servedBy, count: 1, lastAt: now });
      }
    }
  }

  /** The start of the bucket holding `now`. */
  bucketStart(now: number = this.#clock()): number {
    return Math.floor(now / this.bucketMs) * this.bucketMs;
  }

  /** The complete buckets of the window (copies), oldest first; with `includeCurrent` the open one too. */
  buckets(includeCurrent = false): TrafficBucket[] {
    const now = this.#clock();
    const current = this.bucketStart(now);
    const oldest = current - this.windowMs;
    return this.#buckets.filter((b) => b.t >= oldest && (includeCurrent || b.t < current)).map((b) => ({ ...b, lat: [...b.lat] }));
  }

  /** Spill edges seen within the edge window, most frequent first. */
  spillEdges(): SpillEdge[] {
    const since = this.#clock() - this.#edgeWindowMs;
    for (const [key, edge] of this.#edges) if (edge.lastAt < since) this.#edges.delete(key);
    return [...this.#edges.values()].map(({ from, to, count }) => ({ from, to, count })).sort((a, b) => b.count - a.count);
  }

  #current(now: number): TrafficBucket {
    const t = this.bucketStart(now);
    const last = this.#buckets[this.#buckets.length - 1];
    if (last !== undefined && last.t >= t) return last; // a clock step back counts in the last bucket
    const b = emptyBucket(t);
    this.#buckets.push(b);
    const oldest = t - this.windowMs;
    while (this.#buckets.length > 0 && (this.#buckets[0] as TrafficBucket).t < oldest) this.#buckets.shift();
    return b;
  }
}
