/**
 * A router's view of the ring: the Ring built from the membership table (polled, never read
 * per invocation), plus what this router learns by talking to workers: its in-flight count per
 * worker, the load each worker last reported, and which workers refused a connection.
 *
 * Suspects: a worker that refused a connection is routed around at once (it is skipped in
 * every preference list, which sends its functions exactly where the ring will send them once
 * its row lapses). The mark is cleared when the membership shows a heartbeat newer than the one
 * known when the worker was marked AND the mark is at least `suspectMinMs` old; a worker that
 * was killed right after a last heartbeat is therefore retried at most once more per router
 * before its row expires, and a worker that restarted comes back within a poll or two.
 *
 * Draining: rows in state `draining` are not on the ring (no new work); a drain started by this
 * router (WorkersApi.remove) takes effect here at once, before the table says so.
 *
 * When the membership table cannot be read, the last ring is kept (workers heartbeat into the
 * same storage, so their rows would look stale to us for reasons that say nothing about them).
 * For the same reason, the first `ttlMs` after a failing period ends are a grace: a worker of
 * the last ring whose row is still there (active) stays on the ring even if its heartbeat is
 * older than the TTL (it could not write it while storage was down), so the ring does not
 * empty at the moment storage comes back; a worker that really died during the outage leaves
 * the ring once the grace is over. The failing period is reported once through `health`
 * (a log line at its start and end, the ringfaas_storage_degraded gauge, /healthz).
 */
import type { Logger } from 'pino';
import { Ring, isLiveRow, DEFAULT_MEMBER_TTL_MS, type RingHash } from '../ring/index.ts';
import type { MembershipStore, WorkerRow, StorageHealth } from '../storage/index.ts';
import type { RingMetrics } from './ring-metrics.ts';
import { systemClock, type Clock } from '../clock/index.ts';

/** Memoised preference lists kept at most (all are dropped past it, and on every ring change). */
const MAX_MEMOISED_PREFERENCES = 10_000;

/** What this router knows of one worker beyond its row. */
interface WorkerTraffic {
  /** Requests this router has in flight at the worker. */
  inFlight: number;
  /** The last x-ringfaas-load the worker answered (its in-flight from every router). */
  reportedLoad: number;
  reportedAt: number;
  /** Set while the worker is suspect: when it was marked, and the heartbeat known then. */
  suspectSince: number | undefined;
  suspectHeartbeatAt: number;
  /** The load counted for it in the running total. */
  counted: number;
}

export interface RingViewOptions {
  membership: MembershipStore;
  log: Logger;
  metrics?: RingMetrics;
  /** Storage reachability: every membership read is recorded there. */
  health?: StorageHealth;
  clock?: Clock;
  /** How often the membership table is read. Default 1000 ms. */
  pollIntervalMs?: number;
  /** Heartbeat TTL: a row older than this is off the ring. Default 5000 ms. */
  ttlMs?: number;
  /** A suspect mark lasts at least this long. Default 2000 ms. */
  suspectMinMs?: number;
  /** A reported load older than this is forgotten. Default 3000 ms. */
  reportedLoadTtlMs?: number;
  /** Ring options (the same on every router, or they disagree on homes). */
  vnodes?: number;
  hash?: RingHash;
}

/** Called after the ring changed. */
export type RingChangeListener = (next: Ring<WorkerRow>, previous: Ring<WorkerRow>) => void;

/** One worker as this router sees it (GET /workers). */
export interface WorkerViewEntry {
  id: string;
  address: string;
  /**
   * The row's state, or `gone` when the row says active but its heartbeat is older than the
   * TTL (the worker stopped heartbeating: dead, or cut off from the table).
   */
  state: WorkerRow['state'] | 'gone';
  capacityMb: number;
  heartbeatAgeMs: number;
  /** On this router's ring (active, fresh heartbeat). */
  inRing: boolean;
  suspect: boolean;
  /** Draining as far as this router knows (row state, or a drain it started). */
  draining: boolean;
  inFlight: number;
  reportedLoad: number | null;
  vnodes: number;
  /** Share of the hash circle owned (0..1). */
  share: number;
}

/** The polled ring plus per-worker traffic state. */
export class RingView {
  readonly ttlMs: number;
  readonly pollIntervalMs: number;
  readonly #opts: RingViewOptions;
  readonly #clock: Clock;
  readonly #suspectMinMs: number;
  readonly #reportedLoadTtlMs: number;
  readonly #traffic = new Map<string, WorkerTraffic>();
  readonly #localDraining = new Set<string>();
  readonly #listeners: RingChangeListener[] = [];
  /** The last read row of each worker (fresher than the ring's, which dates from its build). */
  #rowsById = new Map<string, WorkerRow>();
  #ring: Ring<WorkerRow>;
  #totalLoad = 0;
  #suspects = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  #membershipFailing = false;
  /** Until when rows of the last ring count as live whatever their heartbeat (see the header). */
  #graceUntil = 0;
  #refreshing: Promise<boolean> | undefined;
  /** Preference lists of the current ring by key, for `#preferenceK` candidates. */
  readonly #preferences = new Map<string, readonly string[]>();
  #preferenceK = 0;

  constructor(options: RingViewOptions) {
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
    this.ttlMs = options.ttlMs ?? DEFAULT_MEMBER_TTL_MS;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.#suspectMinMs = options.suspectMinMs ?? 2000;
    this.#reportedLoadTtlMs = options.reportedLoadTtlMs ?? 3000;
    this.#ring = this.#build([]);
  }

  /** The current ring (immutable; replaced on change). */
  get ring(): Ring<WorkerRow> {
    return this.#ring;
  }

  /** Sum of the load estimates of every worker this router knows. */
  get totalLoad(): number {
    return this.#totalLoad;
  }

  /** Reads the membership once, then every `pollIntervalMs` until stop(). */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.refresh();
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Subscribes to ring changes. */
  onChange(listener: RingChangeListener): void {
    this.#listeners.push(listener);
  }

  /**
   * Reads the membership table and rebuilds the ring if its live set changed. Answers whether
   * it changed. Concurrent calls share one read.
   */
  refresh(): Promise<boolean> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /** Live rows (active or draining, heartbeat within the TTL): who must hear of function changes. */
  liveRows(): WorkerRow[] {
    const now = this.#clock.now();
    return [...this.#rowsById.values()].filter((row) => now - row.heartbeatAt <= this.ttlMs);
  }

  /** The row last read for a worker. */
  row(workerId: string): WorkerRow | undefined {
    return this.#rowsById.get(workerId) ?? this.#ring.members.get(workerId);
  }

  /**
   * The workers to try for a key: its preference list (at most `k`), without suspects and
   * workers this router is draining. When that leaves nobody, the unfiltered list (a suspect
   * may have come back; trying costs one refused connection).
   */
  candidates(key: string, k: number): readonly string[] {
    const list = this.#preferenceList(key, k);
    if (this.#localDraining.size === 0 && this.#suspects === 0) return list;
    const usable = list.filter((id) => !this.#localDraining.has(id) && !this.isSuspect(id));
    return usable.length > 0 ? usable : list;
  }

  /** The ring's preference list, memoised per key until the ring changes (it hashes the key). */
  #preferenceList(key: string, k: number): readonly string[] {
    if (k !== this.#preferenceK || this.#preferences.size >= MAX_MEMOISED_PREFERENCES) {
      this.#preferences.clear();
      this.#preferenceK = k;
    }
    let list = this.#preferences.get(key);
    if (list === undefined) {
      list = Object.freeze(this.#ring.preferenceList(key, k));
      this.#preferences.set(key, list);
    }
    return list;
  }

  /** The load estimate of a worker: max(own in-flight, last reported load). */
  loadOf(workerId: string): number {
    const t = this.#traffic.get(workerId);
    return t === undefined ? 0 : t.counted;
  }

  isSuspect(workerId: string): boolean {
    return this.#traffic.get(workerId)?.suspectSince !== undefined;
  }

  /** Routes around a worker that refused a connection, at once. */
  markSuspect(workerId: string, reason: string): void {
    const t = this.#entry(workerId);
    if (t.suspectSince !== undefined) return;
    t.suspectSince = this.#clock.now();
    t.suspectHeartbeatAt = this.row(workerId)?.heartbeatAt ?? 0;
    this.#suspects++;
    this.#opts.log.warn({ workerId, reason }, 'worker marked suspect');
    this.#updateSuspectGauge();
  }

  /** Takes a worker off this router's ring for new work at once (a drain started here). */
  markDraining(workerId: string): void {
    this.#localDraining.add(workerId);
  }

  /** Counts a request sent to a worker. */
  requestStarted(workerId: string): void {
    const t = this.#entry(workerId);
    t.inFlight++;
    this.#recount(t);
  }

  /** Counts a request finished; `reportedLoad` is the worker's x-ringfaas-load, when answered. */
  requestEnded(workerId: string, reportedLoad: number | undefined): void {
    const t = this.#entry(workerId);
    t.inFlight = Math.max(0, t.inFlight - 1);
    if (reportedLoad !== undefined && Number.isFinite(reportedLoad) && reportedLoad >= 0) {
      t.reportedLoad = reportedLoad;
      t.reportedAt = this.#clock.now();
    }
    this.#recount(t);
  }

  /** Every worker this router knows, for GET /workers. */
  describe(): WorkerViewEntry[] {
    const now = this.#clock.now();
    const shares = this.#ring.shares();
    const ids = new Set([...this.#rowsById.keys(), ...this.#ring.ids]);
    return [...ids].sort().map((id) => {
      const row = this.row(id) as WorkerRow;
      const t = this.#traffic.get(id);
      const inRing = this.#ring.has(id);
      return {
        id,
        address: row.address,
        state: row.state === 'active' && !isLiveRow(row, now, this.ttlMs) ? 'gone' : row.state,
        capacityMb: row.capacityMb,
        heartbeatAgeMs: now - row.heartbeatAt,
        inRing,
        suspect: t?.suspectSince !== undefined,
        draining: row.state === 'draining' || this.#localDraining.has(id),
        inFlight: t?.inFlight ?? 0,
        reportedLoad: t === undefined || t.reportedAt === 0 ? null : t.reportedLoad,
        vnodes: inRing ? this.#ring.pointsPerWorker / 4 : 0,
        share: shares.get(id) ?? 0,
      };
    });
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.refresh().finally(() => this.#schedule());
    }, this.pollIntervalMs);
    this.#timer.unref();
  }

  #build(rows: WorkerRow[]): Ring<WorkerRow> {
    return Ring.fromMembership(rows, { now: this.#clock.now(), ttlMs: this.ttlMs, vnodes: this.#opts.vnodes, hash: this.#opts.hash });
  }

  async #refresh(): Promise<boolean> {
    let rows: WorkerRow[];
    try {
      rows = await this.#opts.membership.list();
    } catch (err) {
      this.#opts.metrics?.membershipErrors.inc();
      this.#opts.health?.failed('workers.list', err);
      if (!this.#membershipFailing && this.#opts.health === undefined) this.#opts.log.warn({ err }, 'membership read failed, keeping the last ring');
      this.#membershipFailing = true;
      return false;
    }
    this.#opts.health?.succeeded('workers.list');
    const now = this.#clock.now();
    if (this.#membershipFailing) {
      this.#opts.log.info({ workers: rows.length, graceMs: this.ttlMs }, 'membership read again');
      this.#graceUntil = now + this.ttlMs;
    }
    this.#membershipFailing = false;
    const byId = new Map(rows.map((row) => [row.id, row]));
    this.#rowsById = byId;
    for (const id of this.#localDraining) {
      const row = byId.get(id);
      if (row === undefined || row.state === 'draining') this.#localDraining.delete(id);
    }
    this.#sweepTraffic(byId, now);
    const previous = this.#ring;
    const next = this.#build(now < this.#graceUntil ? rows.map((row) => this.#graced(row, previous, now)) : rows);
    this.#opts.metrics?.ringSize.set(next.size);
    if (next.sameMembers(previous)) return false;
    this.#ring = next;
    this.#preferences.clear();
    this.#opts.metrics?.ringChanges.inc();
    const joined = next.ids.filter((id) => !previous.has(id) || previous.members.get(id)?.address !== next.members.get(id)?.address);
    const left = previous.ids.filter((id) => !next.has(id));
    this.#opts.log.info({ ringSize: next.size, joined, left }, 'ring changed');
    for (const listener of this.#listeners) {
      try {
        listener(next, previous);
      } catch (err) {
        this.#opts.log.error({ err }, 'ring change listener failed');
      }
    }
    return true;
  }

  /** A row of the last ring as live during the grace after an outage (see the header). */
  #graced(row: WorkerRow, previous: Ring<WorkerRow>, now: number): WorkerRow {
    if (row.state !== 'active' || !previous.has(row.id) || now - row.heartbeatAt <= this.ttlMs) return row;
    return { ...row, heartbeatAt: now };
  }

  /** Clears suspects that heartbeat again, forgets old load reports and departed workers. */
  #sweepTraffic(byId: Map<string, WorkerRow>, now: number): void {
    for (const [id, t] of this.#traffic) {
      const row = byId.get(id);
      if (t.suspectSince !== undefined && row !== undefined && isLiveRow(row, now, this.ttlMs)) {
        if (row.heartbeatAt > t.suspectHeartbeatAt && now - t.suspectSince >= this.#suspectMinMs) {
          t.suspectSince = undefined;
          this.#suspects--;
          this.#opts.log.info({ workerId: id }, 'suspect worker heartbeats again');
        }
      }
      if (t.reportedAt !== 0 && now - t.reportedAt > this.#reportedLoadTtlMs) {
        t.reportedLoad = 0;
        t.reportedAt = 0;
      }
      if (row === undefined && t.inFlight === 0) {
        if (t.suspectSince !== undefined) this.#suspects--;
        this.#totalLoad -= t.counted;
        this.#traffic.delete(id);
      } else {
        this.#recount(t);
      }
    }
    this.#updateSuspectGauge();
  }

  #entry(workerId: string): WorkerTraffic {
    let t = this.#traffic.get(workerId);
    if (t === undefined) {
      t = { inFlight: 0, reportedLoad: 0, reportedAt: 0, suspectSince: undefined, suspectHeartbeatAt: 0, counted: 0 };
      this.#traffic.set(workerId, t);
    }
    return t;
  }

  #recount(t: WorkerTraffic): void {
    const load = t.inFlight > t.reportedLoad ? t.inFlight : t.reportedLoad;
    this.#totalLoad += load - t.counted;
    t.counted = load;
  }

  #updateSuspectGauge(): void {
    this.#opts.metrics?.suspectWorkers.set(this.#suspects);
  }
}
