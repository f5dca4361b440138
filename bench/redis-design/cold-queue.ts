/**
 * A worker's memory reservations on the Redis cold queue (the seed: "workers reserve memory
 * space as allocations and store their locations in the messaging layer").
 *
 * A worker keeps one identical entry "<workerId> <address>" per free `slotMb` of its memory
 * on the queue, where free = capacity minus the memory of specialised containers (pooled,
 * unassigned containers count as free: they are what a reservation starts from). The web
 * service pops one entry per cold start; the worker learns of it when the cold request
 * arrives (`consumed()`), and `reconcile()` pushes or removes entries until the queue holds
 * the wanted count. A function bigger than `slotMb` still pops one entry: the reservation is
 * a location, the pool checks the memory and answers 429 when it does not fit, and the web
 * service drops that entry and pops the next (stale entries are dropped lazily).
 *
 * Caveat: between a pop and the cold request's arrival the local count is one too high, so a
 * reconcile then may leave one entry too few until the next one.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { encodeEntry, type RedisKeys } from './keys.ts';

export interface ColdQueueOptions {
  redis: Redis;
  keys: RedisKeys;
  workerId: string;
  address: string;
  slotMb: number;
  /** Free memory for new containers now, MB. */
  freeMb: () => number;
  log: Logger;
}

/** See the file header. */
export class ColdQueue {
  readonly #o: ColdQueueOptions;
  readonly #entry: string;
  /** Entries of this worker believed to be on the queue. */
  #announced = 0;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(options: ColdQueueOptions) {
    this.#o = options;
    this.#entry = encodeEntry(options.workerId, options.address);
  }

  get announced(): number {
    return this.#announced;
  }

  /** Removes entries of an earlier run of this worker, then announces the free memory. */
  async start(): Promise<void> {
    await this.#o.redis.lrem(this.#o.keys.cold, 0, this.#entry);
    this.#announced = 0;
    await this.reconcile();
  }

  /** The web service popped one of this worker's entries (a cold request arrived). */
  consumed(): void {
    if (this.#announced > 0) this.#announced--;
  }

  /** Brings the queue to the wanted count; concurrent calls coalesce into one more run. */
  reconcile(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#running !== undefined) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#once();
        } while (this.#again && !this.#closed);
      } catch (err: unknown) {
        this.#o.log.warn({ err }, 'cold queue reconcile failed');
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  async #once(): Promise<void> {
    const wanted = Math.max(0, Math.floor(this.#o.freeMb() / this.#o.slotMb));
    const diff = wanted - this.#announced;
    if (diff > 0) {
      await this.#o.redis.rpush(this.#o.keys.cold, ...Array.from({ length: diff }, () => this.#entry));
      this.#announced += diff;
    } else if (diff < 0) {
      const removed = await this.#o.redis.lrem(this.#o.keys.cold, -diff, this.#entry);
      this.#announced -= removed;
      // Entries already popped by the web service are not on the queue any more.
      if (removed < -diff) this.#announced = wanted;
    }
  }

  /** Takes every entry of this worker off the queue. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#running;
    await this.#o.redis.lrem(this.#o.keys.cold, 0, this.#entry);
    this.#announced = 0;
  }
}
