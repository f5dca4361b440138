/**
 * The worker's membership row: upserted at start and every `intervalMs`, set to draining on
 * drain, removed on exit. Routers build their ring from these rows (heartbeat within a TTL).
 *
 * A failed heartbeat is never fatal and changes nothing the worker serves: the function
 * cache's own revalidation (function-cache.ts) is what bounds staleness, and it keeps serving
 * what it holds while storage is unreachable. Failures are recorded in `health` (one log line
 * when a degraded period starts and one when it ends, not a stack per beat); a lapse past the
 * membership TTL (routers have dropped this worker's row) is logged once, and its end once.
 */
import type { Logger } from 'pino';
import type { MembershipStore, WorkerRow, WorkerState, StorageHealth } from '../storage/index.ts';
import { DEFAULT_MEMBER_TTL_MS } from '../ring/index.ts';
import { systemClock, systemScheduler, type Clock, type Scheduler, type TimerHandle } from '../clock/index.ts';

export interface HeartbeatOptions {
  membership: MembershipStore;
  /** The row's fixed fields. */
  row: Pick<WorkerRow, 'id' | 'address' | 'capacityMb'>;
  /** Default 1000 ms. */
  intervalMs?: number;
  /** Routers' membership TTL (default DEFAULT_MEMBER_TTL_MS of ring/): a lapse past it is logged once. */
  ttlMs?: number;
  logger: Logger;
  clock?: Clock;
  scheduler?: Scheduler;
  /** Storage reachability: every beat's outcome is recorded there. */
  health?: StorageHealth;
}

/** See the file header. */
export class Heartbeat {
  readonly #o: HeartbeatOptions;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  readonly #startedAt: number;
  #state: WorkerState = 'active';
  #timer: TimerHandle | undefined;
  #running = false;
  #stopped = false;
  #lastOkAt: number;
  #stale = false;
  #beat: Promise<void> = Promise.resolve();

  constructor(options: HeartbeatOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#startedAt = this.#clock.now();
    this.#lastOkAt = this.#startedAt;
  }

  /** When the last heartbeat succeeded (clock ms). */
  get lastOkAt(): number {
    return this.#lastOkAt;
  }

  /** Registers the row now (resolves even if that fails), then heartbeats on the interval. */
  async start(): Promise<void> {
    this.#running = true;
    await this.beat();
    this.#schedule();
  }

  /** One heartbeat: upserts the row with the current time and state. Never throws. */
  beat(): Promise<void> {
    this.#beat = this.#beat.then(() => this.#upsert());
    return this.#beat;
  }

  /** Marks the row draining (routers take it off their ring). */
  async setDraining(): Promise<void> {
    this.#state = 'draining';
    await this.beat();
  }

  /** Stops heartbeating and removes the row. Never throws. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#beat;
    try {
      await this.#o.membership.remove(this.#o.row.id);
    } catch (err) {
      this.#o.logger.warn({ err, workerId: this.#o.row.id }, 'membership row removal failed');
    }
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = this.#scheduler.setTimer(this.#o.intervalMs ?? 1000, () => {
      void this.beat().then(() => this.#schedule());
    });
  }

  async #upsert(): Promise<void> {
    if (this.#stopped) return;
    const now = this.#clock.now();
    try {
      await this.#o.membership.upsert({ ...this.#o.row, state: this.#state, heartbeatAt: now, startedAt: this.#startedAt });
      this.#o.health?.succeeded('workers.upsert');
      this.#lastOkAt = now;
      if (this.#stale) {
        this.#stale = false;
        this.#o.logger.info({ workerId: this.#o.row.id }, 'heartbeat recovered');
      }
    } catch (err) {
      if (this.#o.health !== undefined) this.#o.health.failed('workers.upsert', err);
      if (this.#o.health === undefined || this.#o.logger.isLevelEnabled('debug')) {
        this.#o.logger[this.#o.health === undefined ? 'warn' : 'debug']({ err, workerId: this.#o.row.id }, 'heartbeat failed');
      }
      if (!this.#stale && this.#clock.now() - this.#lastOkAt > (this.#o.ttlMs ?? DEFAULT_MEMBER_TTL_MS)) {
        this.#stale = true;
        this.#o.logger.warn({ workerId: this.#o.row.id, sinceMs: this.#clock.now() - this.#lastOkAt }, 'heartbeat lapsed past the membership ttl');
      }
    }
  }
}
