/**
 * What one router learns of workers by talking to them: its in-flight count per worker, the
 * load each worker last reported (x-ringfaas-load), and which workers refused a connection
 * (suspects). A worker's load estimate is max(own in-flight, last reported load); the running
 * total of the estimates is what the bounded-load spill compares against.
 *
 * Suspects: a worker that refused a connection is routed around at once. The mark is cleared
 * when the membership shows a heartbeat newer than the one known when the worker was marked
 * AND the mark is at least `suspectMinMs` old; a worker that was killed right after a last
 * heartbeat is therefore retried at most once more per router before its row expires, and a
 * worker that restarted comes back within a poll or two.
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock/index.ts';
import type { WorkerRow } from '../storage/index.ts';
import type { RingMetrics } from './ring-metrics.ts';

/** What this router knows of one worker beyond its row. */
export interface WorkerTrafficEntry {
  /** Requests this router has in flight at the worker. */
  inFlight: number;
  /** The last x-ringfaas-load the worker answered (its in-flight from every router). */
  reportedLoad: number;
  /** When it was answered (0: no report, or forgotten). */
  reportedAt: number;
  /** Set while the worker is suspect: when it was marked, and the heartbeat known then. */
  suspectSince: number | undefined;
  suspectHeartbeatAt: number;
  /** The load counted for it in the running total. */
  counted: number;
}

export interface WorkerTrafficOptions {
  log: Logger;
  clock: Clock;
  metrics?: RingMetrics;
  /** A suspect mark lasts at least this long, ms. */
  suspectMinMs: number;
  /** A reported load older than this is forgotten, ms. */
  reportedLoadTtlMs: number;
  /** Called when a worker's load estimate changes (the sustained-load averages follow it). */
  onLoad?: (workerId: string, load: number) => void;
}

/** Per-worker traffic state of one router: loads and suspects. */
export class WorkerTraffic {
  readonly #o: WorkerTrafficOptions;
  readonly #entries = new Map<string, WorkerTrafficEntry>();
  #totalLoad = 0;
  #suspects = 0;

  constructor(options: WorkerTrafficOptions) {
    this.#o = options;
  }

  /** Sum of the load estimates of every worker known. */
  get totalLoad(): number {
    return this.#totalLoad;
  }

  /** How many workers are suspect now. */
  get suspectCount(): number {
    return this.#suspects;
  }

  /** What is known of a worker (read-only use), if anything. */
  entry(workerId: string): Readonly<WorkerTrafficEntry> | undefined {
    return this.#entries.get(workerId);
  }

  /** The load estimate of a worker: max(own in-flight, last reported load). */
  loadOf(workerId: string): number {
    return this.#entries.get(workerId)?.counted ?? 0;
  }

  isSuspect(workerId: string): boolean {
    return this.#entries.get(workerId)?.suspectSince !== undefined;
  }

  /** Marks a worker suspect; `heartbeatAt` is its heartbeat as known now. */
  markSuspect(workerId: string, heartbeatAt: number, reason: string): void {
    const t = this.#entry(workerId);
    if (t.suspectSince !== undefined) return;
    t.suspectSince = this.#o.clock.now();
    t.suspectHeartbeatAt = heartbeatAt;
    this.#suspects++;
    this.#o.log.warn({ workerId, reason }, 'worker marked suspect');
    this.#updateSuspectGauge();
  }

  /** Counts a request sent to a worker. */
  requestStarted(workerId: string): void {
    const t = this.#entry(workerId);
    t.inFlight++;
    this.#recount(workerId, t);
  }

  /** Counts a request finished; `reportedLoad` is the worker's x-ringfaas-load, when answered. */
  requestEnded(workerId: string, reportedLoad: number | undefined): void {
    const t = this.#entry(workerId);
    t.inFlight = Math.max(0, t.inFlight - 1);
    if (reportedLoad !== undefined && Number.isFinite(reportedLoad) && reportedLoad >= 0) {
      t.reportedLoad = reportedLoad;
      t.reportedAt = this.#o.clock.now();
    }
    this.#recount(workerId, t);
  }

  /**
   * After a membership read: clears suspects that heartbeat again (`isLive` says whether a row
   * counts as live), forgets old load reports and departed workers.
   */
  sweep(rowsById: ReadonlyMap<string, WorkerRow>, now: number, isLive: (row: WorkerRow) => boolean): void {
    for (const [id, t] of this.#entries) {
      const row = rowsById.get(id);
      if (t.suspectSince !== undefined && row !== undefined && isLive(row)) {
        if (row.heartbeatAt > t.suspectHeartbeatAt && now - t.suspectSince >= this.#o.suspectMinMs) {
          t.suspectSince = undefined;
          this.#suspects--;
          this.#o.log.info({ workerId: id }, 'suspect worker heartbeats again');
        }
      }
      if (t.reportedAt !== 0 && now - t.reportedAt > this.#o.reportedLoadTtlMs) {
        t.reportedLoad = 0;
        t.reportedAt = 0;
      }
      if (row === undefined && t.inFlight === 0) {
        if (t.suspectSince !== undefined) this.#suspects--;
        this.#totalLoad -= t.counted;
        this.#entries.delete(id);
      } else {
        this.#recount(id, t);
      }
    }
    this.#updateSuspectGauge();
  }

  #entry(workerId: string): WorkerTrafficEntry {
    let t = this.#entries.get(workerId);
    if (t === undefined) {
      t = { inFlight: 0, reportedLoad: 0, reportedAt: 0, suspectSince: undefined, suspectHeartbeatAt: 0, counted: 0 };
      this.#entries.set(workerId, t);
    }
    return t;
  }

  #recount(workerId: string, t: WorkerTrafficEntry): void {
    const load = t.inFlight > t.reportedLoad ? t.inFlight : t.reportedLoad;
    if (load === t.counted) return;
    this.#totalLoad += load - t.counted;
    t.counted = load;
    this.#o.onLoad?.(workerId, load);
  }

  #updateSuspectGauge(): void {
    this.#o.metrics?.suspectWorkers.set(this.#suspects);
  }
}
