/**
 * The worker's membership row: upserted at start and every `intervalMs`, set to draining on
 * drain, removed on exit. Routers build their ring from these rows (heartbeat within a TTL).
 *
 * A failed heartbeat is logged, never fatal. When no heartbeat succeeded for longer than the
 * membership TTL, routers have dropped this worker and may have updated functions without
 * telling it, so `onStale` fires once (the worker clears its function cache) until a
 * heartbeat succeeds again, and once more on that success (whatever was cached while off the
 * rings may have missed an invalidation too).
 */
import type { Logger } from 'pino';
import type { MembershipStore, WorkerRow, WorkerState } from '../storage/types.ts';
import { systemClock, systemScheduler, type Clock, type Scheduler, type TimerHandle } from './clock.ts';

export interface HeartbeatOptions {
  membership: MembershipStore;
  /** The row's fixed fields. */
  row: Pick<WorkerRow, 'id' | 'address' | 'capacityMb'>;
  /** Default 1000 ms. */
  intervalMs?: number;
  /** Routers' membership TTL (default 5000 ms): past it without a heartbeat, onStale fires. */
  ttlMs?: number;
  logger: Logger;
  clock?: Clock;
  scheduler?: Scheduler;
  onStale?: () => void;
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
      this.#lastOkAt = now;
      if (this.#stale) {
        // Back on the rings: anything cached while off them may have missed an invalidation.
        this.#stale = false;
        this.#o.logger.info({ workerId: this.#o.row.id }, 'heartbeat recovered');
        this.#o.onStale?.();
      }
    } catch (err) {
      this.#o.logger.warn({ err, workerId: this.#o.row.id }, 'heartbeat failed');
      if (!this.#stale && this.#clock.now() - this.#lastOkAt > (this.#o.ttlMs ?? 5000)) {
        this.#stale = true;
        this.#o.logger.warn({ workerId: this.#o.row.id, sinceMs: this.#clock.now() - this.#lastOkAt }, 'heartbeat lapsed past the membership ttl');
        this.#o.onStale?.();
      }
    }
  }
}
