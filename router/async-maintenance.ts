/**
 * The upkeep of the asynchronous-invocation records, beside the dispatcher's fetch loop
 * (router/async-dispatcher.ts has the full protocol): the sweeper removes expired records with
 * their payload blobs and Idempotency-Key claims; the reconciler re-sends the message of a
 * record long past due (a router died between writing a record and sending its message, or a
 * dispatcher vanished mid-attempt); the feeder un-parks parked records into the queue while
 * the bounded window (router/async-window.ts) has room. Every change is an ETag-conditional
 * write first and a message second, so two processes doing the same upkeep never both send.
 */
import type { Logger } from 'pino';
import { hasCode } from '../errors/index.ts';
import { StorageErrors, type AsyncStores, type StoredInvocation } from '../storage/index.ts';
import { messageOf, payloadNames } from './async-api.ts';
import type { AsyncMetrics } from './async-metrics.ts';
import type { QueueWindow } from './async-window.ts';

export interface AsyncMaintenanceOptions {
  stores: AsyncStores;
  log: Logger;
  metrics: AsyncMetrics;
  /** The dispatchers' message lease, ms: the reconciler waits well past it. */
  leaseMs: number;
  /** Records removed (and reconciled) per pass at most. Default 200. */
  sweepBatch?: number;
  /** How far past due a record must be for the reconciler to re-send its message. Default max(5 min, 10 × leaseMs). */
  reconcileAfterMs?: number;
  /**
   * The bounded queue window (router/async-window.ts) shared with this process's accept: when
   * given, the feeder un-parks parked records into the queue while it has room.
   */
  window?: QueueWindow;
  /** Parked records un-parked per feed at most (also bounded by the window's room). Default 64. */
  feedBatch?: number;
  /** ms since the epoch. */
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
}

/** Un-parks run this many at once (each a record write, then a send). */
const FEED_PARALLEL = 16;
/** The feeder's pause between looks when nothing was parked, doubling from 1 s up to this. */
const FEED_MAX_IDLE_MS = 8000;

export class AsyncMaintenance {
  readonly #o: AsyncMaintenanceOptions;

  constructor(options: AsyncMaintenanceOptions) {
    this.#o = options;
  }

  /** Removes up to sweepBatch expired records, their payload blobs and Idempotency-Key claims. */
  async sweep(): Promise<number> {
    const { invocations } = this.#o.stores;
    const expired = await invocations.expired(this.#o.clock(), this.#o.sweepBatch ?? 200);
    let removed = 0;
    for (const { record, etag } of expired) {
      const names = payloadNames(record.id);
      if (record.inputBlob !== undefined) await invocations.deletePayload(names.input);
      if (record.resultBlob !== undefined) await invocations.deletePayload(names.result);
      if (record.idempotencyRow !== undefined) await invocations.releaseIdempotency(record.idempotencyRow);
      try {
        if (await invocations.delete(record.id, etag)) removed++;
      } catch (err) {
        if (!hasCode(err, StorageErrors.CONFLICT)) throw err; // changed meanwhile (a retry): kept
      }
    }
    if (removed > 0) this.#o.log.info({ removed }, 'expired invocations removed');
    return removed;
  }

  /**
   * Re-sends the messages of up to sweepBatch records that are `queued` or `running` long past
   * due (see the module comment); answers how many were re-sent.
   */
  async reconcile(): Promise<number> {
    const { invocations, queue } = this.#o.stores;
    const after = this.#o.reconcileAfterMs ?? Math.max(300_000, 10 * this.#o.leaseMs);
    const now = this.#o.clock();
    const head = await queue.headInsertedAt();
    const overdue = await invocations.overdue(Math.min(now, head ?? now) - after, now - after, this.#o.sweepBatch ?? 200);
    let resent = 0;
    for (const { record, etag } of overdue) {
      const next = structuredClone(record);
      if (next.status === 'running') {
        const last = next.attemptLog.at(-1);
        if (last !== undefined && last.endedAt === undefined) Object.assign(last, { endedAt: new Date(now).toISOString(), outcome: 'abandoned' });
        next.status = 'queued';
      }
      next.dueAt = now;
      try {
        await invocations.update(next, etag);
      } catch (err) {
        if (hasCode(err, StorageErrors.CONFLICT) || hasCode(err, StorageErrors.NOT_FOUND)) continue; // it moved: not lost
        throw err;
      }
      await queue.send(JSON.stringify(messageOf(next)));
      resent++;
      this.#o.metrics.reconciled.inc({ status: record.status });
      this.#o.log.warn({ iid: record.id, status: record.status, dueAt: record.dueAt }, 'invocation past due with no message: message re-sent');
    }
    return resent;
  }

  /**
   * Un-parks up to feedBatch of the oldest parked records when the window's estimate is under
   * half its size: each by an ETag-conditional write (dueAt = now), then its message, so two
   * feeders never both send one (a lost write race skips it). A crash between the write and
   * the send leaves a `queued` record with no message: the reconciler's case. Answers
   * `{ parked, sent }`: parked records found (at most the batch) and messages sent.
   */
  async feed(): Promise<{ parked: number; sent: number }> {
    const window = this.#o.window;
    if (window === undefined) return { parked: 0, sent: 0 };
    const room = await window.room();
    if (room <= 0) return { parked: -1, sent: 0 };
    const { invocations, queue } = this.#o.stores;
    const found = await invocations.parked(Math.min(this.#o.feedBatch ?? 64, room));
    let sent = 0;
    const unpark = async ({ record, etag }: StoredInvocation): Promise<void> => {
      const next = structuredClone(record);
      next.dueAt = this.#o.clock();
      try {
        await invocations.update(next, etag);
      } catch (err) {
        if (hasCode(err, StorageErrors.CONFLICT) || hasCode(err, StorageErrors.NOT_FOUND)) return; // another feeder has it
        throw err;
      }
      await queue.send(JSON.stringify(messageOf(next)));
      window.sent(1);
      sent++;
      this.#o.metrics.unparked.inc();
    };
    for (let i = 0; i < found.length; i += FEED_PARALLEL) await Promise.all(found.slice(i, i + FEED_PARALLEL).map(unpark));
    return { parked: found.length, sent };
  }

  /** Until `stopped()`: feeds every second while parked records are found or the queue is too full to tell; else looks less often (up to FEED_MAX_IDLE_MS), sooner when this process parks one. */
  async feedLoop(window: QueueWindow, stopped: () => boolean): Promise<void> {
    let idle = 1000;
    let waited = 0;
    while (!stopped()) {
      if (idle > 0) {
        await this.#o.sleep(250);
        waited += 250;
        if (waited < idle && !window.takeParkedHint()) continue;
      }
      waited = 0;
      try {
        const { parked, sent } = await this.feed();
        // A full batch sent: more may be parked and the queue may have room still: at once
        // (fast dispatchers empty a window within a second; the room read bounds the sending).
        idle = parked === 0 ? Math.min(FEED_MAX_IDLE_MS, Math.max(1000, idle * 2)) : sent >= (this.#o.feedBatch ?? 64) ? 0 : 1000;
      } catch (err) {
        this.#o.log.warn({ err }, 'invocation feed failed');
        idle = FEED_MAX_IDLE_MS;
      }
    }
  }
}
