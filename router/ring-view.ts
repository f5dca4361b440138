/**
 * A router's view of the ring: the Ring built from the membership table (polled, never read
 * per invocation), plus what this router learns by talking to workers. The parts, each its
 * own file: the polling loop (poller.ts), loads and suspects (worker-traffic.ts, whose header
 * explains when a suspect comes back), memoised preference lists (preference-memo.ts) and the
 * `GET /workers` listing (workers-listing.ts). This file reads the membership and builds the
 * ring; callers use only the view.
 *
 * With the sustained-load bound on (ring/sustained-load.ts, RINGFAAS_SUSTAINED_LOAD), the view
 * also keeps each worker's load estimate averaged over time (following every change of the
 * estimate, on the view's clock) and each function's answer time as this router saw it, and
 * gives the invoker the held-test for one request (`heldFor`).
 *
 * With `loadByHost` (RINGFAAS_LOAD_BY_HOST, on by default), workers whose addresses name one host
 * are one bin of the bounded-load rule (host-groups.ts, docs/ring.md "One machine, one share"):
 * `boundLoadOf` is their summed load, `boundSize` the number of hosts, and the sustained-load
 * averages and held-test are kept per host.
 *
 * Suspects are skipped in every preference list, which sends their functions exactly where
 * the ring will send them once their row lapses.
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
import { Ring, SustainedLoad, ExecutionTimes, isLiveRow, DEFAULT_MEMBER_TTL_MS, type RingHash, type SustainedBound } from '../ring/index.ts';
import type { MembershipStore, WorkerRow, StorageHealth } from '../storage/index.ts';
import type { RingMetrics } from './ring-metrics.ts';
import { systemClock, type Clock } from '../clock/index.ts';
import { Poller } from './poller.ts';
import { PreferenceMemo } from './preference-memo.ts';
import { WorkerTraffic } from './worker-traffic.ts';
import { listWorkers, type WorkerViewEntry } from './workers-listing.ts';
import { HostGroups } from './host-groups.ts';

export type { WorkerViewEntry } from './workers-listing.ts';

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
  /**
   * The sustained-load bound (ring/sustained-load.ts, docs/ring.md): balance factor on the
   * averaged mean and the average's time constant. Default: off.
   */
  sustained?: SustainedBound;
  /**
   * Workers on one host are one bin of the bounded-load rule (host-groups.ts; RINGFAAS_LOAD_BY_HOST).
   * Default false here; the routers' configuration turns it on.
   */
  loadByHost?: boolean;
}

/** Functions whose execution time a router remembers (the least recently answered is forgotten first). */
const MAX_EXECUTION_TIMES = 10_000;

/** Called after the ring changed. */
export type RingChangeListener = (next: Ring<WorkerRow>, previous: Ring<WorkerRow>) => void;

/** The polled ring plus per-worker traffic state. */
export class RingView {
  readonly ttlMs: number;
  readonly pollIntervalMs: number;
  readonly #opts: RingViewOptions;
  readonly #clock: Clock;
  readonly #traffic: WorkerTraffic;
  readonly #preferences = new PreferenceMemo();
  readonly #poller: Poller<boolean>;
  /** Workers known to be draining before their row says so: the startedAt of the row they were marked on. */
  readonly #localDraining = new Map<string, number | undefined>();
  readonly #listeners: RingChangeListener[] = [];
  /** Each worker's load averaged over time (this router's estimates), when the sustained bound is on. */
  readonly #sustained: SustainedLoad | undefined;
  /** Functions' execution times as this router saw them (the bound's request share), when it is on. */
  readonly #times: ExecutionTimes | undefined;
  /** The ring's workers by host, when `loadByHost` is on and some host runs more than one. */
  #groups: HostGroups | undefined;
  /** A worker's own load estimate, made once (boundLoadOf sums it per request on the invoke path). */
  readonly #workerLoad = (workerId: string): number => this.#traffic.loadOf(workerId);
  /** The last read row of each worker (fresher than the ring's, which dates from its build). */
  #rowsById = new Map<string, WorkerRow>();
  #ring: Ring<WorkerRow>;
  #membershipFailing = false;
  /** Until when rows of the last ring count as live whatever their heartbeat (see the header). */
  #graceUntil = 0;

  constructor(options: RingViewOptions) {
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
    this.ttlMs = options.ttlMs ?? DEFAULT_MEMBER_TTL_MS;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.#traffic = new WorkerTraffic({
      log: options.log,
      clock: this.#clock,
      metrics: options.metrics,
      suspectMinMs: options.suspectMinMs ?? 2000,
      reportedLoadTtlMs: options.reportedLoadTtlMs ?? 3000,
      ...(options.sustained === undefined ? {} : { onLoad: (id, load) => this.#loadChanged(id, load) }),
    });
    this.#sustained = options.sustained === undefined ? undefined : new SustainedLoad({ ...options.sustained, withCurrent: true });
    this.#times = options.sustained === undefined ? undefined : new ExecutionTimes({ maxKeys: MAX_EXECUTION_TIMES });
    this.#poller = new Poller({ read: () => this.#refresh(), intervalMs: this.pollIntervalMs });
    this.#ring = this.#build([]);
  }

  /** The current ring (immutable; replaced on change). */
  get ring(): Ring<WorkerRow> {
    return this.#ring;
  }

  /** Sum of the load estimates of every worker this router knows. */
  get totalLoad(): number {
    return this.#traffic.totalLoad;
  }

  /** Reads the membership once, then every `pollIntervalMs` until stop(). */
  start(): Promise<void> {
    return this.#poller.start();
  }

  stop(): void {
    this.#poller.stop();
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
    return this.#poller.run();
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
    const list = this.#preferences.get(this.#ring, key, k);
    if (this.#localDraining.size === 0 && this.#traffic.suspectCount === 0) return list;
    const usable = list.filter((id) => !this.#localDraining.has(id) && !this.#traffic.isSuspect(id));
    return usable.length > 0 ? usable : list;
  }

  /**
   * The workers of `key`'s preference list past its first `k` (the rest of the ring, in order),
   * without suspects and workers this router is draining: where a request goes on when none of
   * its candidates accepts (ring-invoker.ts). Not memoised: only such requests ask.
   */
  beyondCandidates(key: string, k: number): string[] {
    if (this.#ring.size <= k) return [];
    return this.#ring.preferenceList(key).slice(k).filter((id) => !this.#localDraining.has(id) && !this.#traffic.isSuspect(id));
  }

  /**
   * The sustained-load bound's held-test for one request of function `key` (its share: the
   * function's execution time as this router saw it), or undefined when the bound is off;
   * `byAverage`: on the averages alone, not the load now (warm first's home slack).
   */
  heldFor(key: string, byAverage = false): ((workerId: string) => boolean) | undefined {
    const s = this.#sustained;
    if (s === undefined) return undefined;
    const share = s.requestShare(this.#times?.expectedMs(key));
    const held = byAverage ? s.heldAt(this.#clock.now(), share, false) : s.heldAt(this.#clock.now(), share);
    const g = this.#groups;
    return g === undefined ? held : (workerId) => held(g.keyOf(workerId));
  }

  /** A request of function `key` was answered after `ms` (learned for the sustained bound; nothing when it is off). */
  executed(key: string, ms: number): void {
    this.#times?.observe(key, ms);
  }

  /** The function's home on the current ring (memoised with its preference list). */
  home(key: string): string | undefined {
    return this.#preferences.home(this.#ring, key);
  }

  /** The load estimate of a worker: max(own in-flight, last reported load). */
  loadOf(workerId: string): number {
    return this.#traffic.loadOf(workerId);
  }

  /** The load the bounded-load rule counts for a worker: its own, or with `loadByHost` its host's. */
  boundLoadOf(workerId: string): number {
    const g = this.#groups;
    return g === undefined ? this.#traffic.loadOf(workerId) : g.loadOf(workerId, this.#workerLoad);
  }

  /** The bins of the bounded-load rule: the workers on the ring, or with `loadByHost` their hosts. */
  get boundSize(): number {
    return this.#groups?.size ?? this.#ring.size;
  }

  /** A worker's load estimate changed: the sustained-load average of its bin follows. */
  #loadChanged(workerId: string, load: number): void {
    const g = this.#groups;
    if (g === undefined) this.#sustained?.changed(workerId, load, this.#clock.now());
    else this.#sustained?.changed(g.keyOf(workerId), this.boundLoadOf(workerId), this.#clock.now());
  }

  isSuspect(workerId: string): boolean {
    return this.#traffic.isSuspect(workerId);
  }

  /** Routes around a worker that refused a connection, at once. */
  markSuspect(workerId: string, reason: string): void {
    this.#traffic.markSuspect(workerId, this.row(workerId)?.heartbeatAt ?? 0, reason);
  }

  /**
   * Takes a worker off this router's ring for new work at once: a drain started here, or the
   * worker said it drains (a draining refusal, its invoke channel's GOAWAY). Until its row says
   * draining or goes; a row of a new start (another startedAt) ends it too.
   */
  markDraining(workerId: string): void {
    this.#localDraining.set(workerId, this.row(workerId)?.startedAt);
  }

  /** Counts a request sent to a worker. */
  requestStarted(workerId: string): void {
    this.#traffic.requestStarted(workerId);
  }

  /** Counts a request finished; `reportedLoad` is the worker's x-ringfaas-load, when answered. */
  requestEnded(workerId: string, reportedLoad: number | undefined): void {
    this.#traffic.requestEnded(workerId, reportedLoad);
  }

  /** Every worker this router knows, for GET /workers. */
  describe(): WorkerViewEntry[] {
    return listWorkers({
      ring: this.#ring,
      rowsById: this.#rowsById,
      traffic: this.#traffic,
      localDraining: this.#localDraining,
      now: this.#clock.now(),
      ttlMs: this.ttlMs,
    });
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
    for (const [id, startedAt] of this.#localDraining) {
      const row = byId.get(id);
      if (row === undefined || row.state === 'draining' || row.startedAt !== startedAt) this.#localDraining.delete(id);
    }
    this.#traffic.sweep(byId, now, (row) => isLiveRow(row, now, this.ttlMs));
    const previous = this.#ring;
    const next = this.#build(now < this.#graceUntil ? rows.map((row) => this.#graced(row, previous, now)) : rows);
    this.#opts.metrics?.ringSize.set(next.size);
    if (next.sameMembers(previous)) return false;
    this.#ring = next;
    this.#preferences.clear();
    const groups = this.#opts.loadByHost === true ? new HostGroups(next.ids.map((id) => ({ id, address: next.members.get(id)?.address ?? '' }))) : undefined;
    this.#groups = groups?.shared === true ? groups : undefined;
    this.#sustained?.membership(
      [...(this.#groups?.keys() ?? next.ids)].map((id) => ({ id, load: this.boundLoadOf(id) })),
      now,
    );
    this.#opts.metrics?.ringChanges.inc();
    const joined = next.ids.filter((id) => !previous.has(id) || previous.members.get(id)?.address !== next.members.get(id)?.address);
    const left = previous.ids.filter((id) => !next.has(id));
    this.#opts.log.info({ ringSize: next.size, joined, left }, 'ring changed');
    this.#notify(next, previous);
    return true;
  }

  #notify(next: Ring<WorkerRow>, previous: Ring<WorkerRow>): void {
    for (const listener of this.#listeners) {
      try {
        listener(next, previous);
      } catch (err) {
        this.#opts.log.error({ err }, 'ring change listener failed');
      }
    }
  }

  /** A row of the last ring as live during the grace after an outage (see the header). */
  #graced(row: WorkerRow, previous: Ring<WorkerRow>, now: number): WorkerRow {
    if (row.state !== 'active' || !previous.has(row.id) || now - row.heartbeatAt <= this.ttlMs) return row;
    return { ...row, heartbeatAt: now };
  }
}
