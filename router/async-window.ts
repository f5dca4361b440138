/**
 * The bounded queue window: the invocation queue never holds much more than `size` messages.
 *
 * Why: on Azurite every queue call costs time proportional to the messages in the whole
 * account (docs/async.md, "The queue window: a deep backlog"), so a queue 10,000 deep drains at under one
 * invocation a second. The invocation record in the Table is the durable truth of an accepted
 * invocation (accept writes it before the message), so the queue need not hold the backlog:
 *
 *  - accept asks `admit()`: while the estimated depth is under `size` it sends the message as
 *    before; otherwise it writes the record *parked* (status `queued`, dueAt = PARKED_DUE_AT)
 *    and sends nothing;
 *  - each dispatcher's feeder (router/async-dispatcher.ts `feed()`) un-parks the oldest parked
 *    records while the estimate is under size / 2, each by an ETag-conditional write and then
 *    its message, so two feeders never both send one.
 *
 * The estimate: the queue's approximate message count, read at most once per `refreshMs` and
 * shared by every caller in the process (one read in flight at a time), plus the messages this
 * process admitted or sent since that read *started* (what it sent while the read was in flight
 * stays counted: the count may predate it). A read is as old as its start: one that took long
 * (a slow store, or a process paused while it was in flight) is stale on arrival, and the
 * feeder, which may send a whole window on it, reads again before trusting it (`room()`).
 * Other processes' sends since the read are not seen: with
 * R accepting routers the queue may briefly hold up to about size + R × (what each admits in
 * one refresh). The bound is approximate by design; what matters is that the depth no longer
 * grows with the backlog.
 *
 * A failed depth read is thrown to the caller: accept answers 503 (nothing accepted), as for
 * any storage failure.
 */
import type { InvocationQueue } from '../storage/index.ts';

/**
 * Default window. Measured on Azurite on the shared 2-core machine (docs/async.md): a receive
 * of 32 costs ~60 ms at 1,000 messages in the account and ~550 ms at 10,000, a delete 35–54 ms
 * and 147–450 ms; at a few hundred messages both are near their floor. 256 keeps 8 full
 * receive batches ready for the dispatchers (far more than the default 4 × routers slots)
 * while keeping every queue call near that floor.
 */
export const DEFAULT_QUEUE_WINDOW = 256;

export interface QueueWindowOptions {
  queue: Pick<InvocationQueue, 'depth'>;
  /** Most messages the queue should hold. Default DEFAULT_QUEUE_WINDOW. */
  size?: number;
  /** How often the queue's depth is read at most, ms. Default 1000. */
  refreshMs?: number;
  /** ms, monotonic enough (Date.now). */
  clock: () => number;
}

export class QueueWindow {
  readonly size: number;
  readonly #o: QueueWindowOptions;
  readonly #refreshMs: number;
  /** The last depth read and when it was asked for (its count is at least that old). */
  #read: { depth: number; startedAt: number } | undefined;
  #reading: Promise<number> | undefined;
  /** Messages admitted or sent by this process since the last read started. */
  #since = 0;
  /** Set when this process parked a record: the local feeder looks again soon. */
  #parkedHere = false;

  constructor(options: QueueWindowOptions) {
    this.#o = options;
    this.size = Math.max(1, Math.floor(options.size ?? DEFAULT_QUEUE_WINDOW));
    this.#refreshMs = options.refreshMs ?? 1000;
  }

  /** The estimated depth: the last read plus what this process admitted or sent since it started. */
  #current(): number {
    return (this.#read?.depth ?? 0) + this.#since;
  }

  #fresh(): boolean {
    return this.#read !== undefined && this.#o.clock() - this.#read.startedAt < this.#refreshMs;
  }

  /** Reads the depth unless the last read started under refreshMs ago (one read in flight, shared). */
  async #refresh(): Promise<void> {
    if (this.#fresh()) return;
    if (this.#reading === undefined) {
      const startedAt = this.#o.clock();
      const sinceAtStart = this.#since;
      this.#reading = this.#o.queue
        .depth()
        .then((depth) => {
          this.#read = { depth, startedAt };
          // What was admitted or sent while the read was in flight stays counted.
          this.#since -= sinceAtStart;
          return depth;
        })
        .finally(() => (this.#reading = undefined));
    }
    await this.#reading;
  }

  /** True (and counted as sent) when one more message fits the window; false: park it. */
  async admit(): Promise<boolean> {
    await this.#refresh();
    // Compared and counted in one synchronous step: concurrent callers never both take the last place.
    if (this.#current() >= this.size) {
      this.#parkedHere = true;
      return false;
    }
    this.#since++;
    return true;
  }

  /**
   * Messages a feeder may send now: 0 unless the estimate is under size / 2, then up to the room
   * left. A read already stale when it arrived (it took longer than refreshMs) is read again
   * once: a feeder sends up to a whole window on what it answers.
   */
  async room(): Promise<number> {
    await this.#refresh();
    if (!this.#fresh()) await this.#refresh();
    const depth = this.#current();
    return depth < this.size / 2 ? this.size - depth : 0;
  }

  /** Counts messages a feeder sent. */
  sent(count: number): void {
    this.#since += count;
  }

  /** True once after this process parked a record (then false until it parks again). */
  takeParkedHint(): boolean {
    const hint = this.#parkedHere;
    this.#parkedHere = false;
    return hint;
  }
}
