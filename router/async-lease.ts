/**
 * A dispatcher's hold on one queue message while its attempt runs: the message was received
 * invisible for `leaseMs`, and the lease renews that visibility every third of it (Azure Queue
 * updateMessage) until the dispatcher settles the message (deletes it, dead-letters it, or
 * makes it visible again later). So an attempt that runs longer than the visibility timeout is
 * never delivered to a second dispatcher while it runs, and a dispatcher that dies leaves its
 * message to reappear within `leaseMs` of its last renewal.
 *
 * Every renewal answers a new pop receipt; settling waits for a renewal in flight so that it
 * uses the latest one. A renewal that finds the message taken by another receiver (our
 * visibility ran out before a renewal landed: storage was slower than two thirds of the lease)
 * stops renewing and marks the lease lost; the record's ETag-conditional writes then keep one
 * outcome (router/async-dispatcher.ts).
 */
import type { Logger } from 'pino';
import { hasCode } from '../errors/index.ts';
import { StorageErrors, type InvocationQueue, type QueuedMessage } from '../storage/index.ts';

export interface MessageLeaseOptions {
  queue: InvocationQueue;
  message: QueuedMessage;
  /** The visibility timeout the message was received with, and each renewal sets. */
  leaseMs: number;
  log: Logger;
  /** Counts each renewal (metrics); optional. */
  onRenew?: () => void;
}

/** Renews a held message's visibility until settled. */
export class MessageLease {
  readonly #o: MessageLeaseOptions;
  #message: QueuedMessage;
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;
  #settled = false;
  #lost = false;

  constructor(options: MessageLeaseOptions) {
    this.#o = options;
    this.#message = options.message;
    this.#schedule();
  }

  /** The message with its latest pop receipt. */
  get message(): QueuedMessage {
    return this.#message;
  }

  /** True when a renewal found the message held by another receiver. */
  get lost(): boolean {
    return this.#lost;
  }

  #schedule(): void {
    if (this.#settled || this.#lost) return;
    this.#timer = setTimeout(() => {
      this.#renewing = this.#renew().finally(() => {
        this.#renewing = undefined;
        this.#schedule();
      });
    }, Math.max(250, Math.floor(this.#o.leaseMs / 3)));
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    if (this.#settled) return;
    try {
      this.#message = await this.#o.queue.setVisibility(this.#message, this.#o.leaseMs);
      this.#o.onRenew?.();
    } catch (err) {
      if (hasCode(err, StorageErrors.CONFLICT)) {
        this.#lost = true;
        this.#o.log.warn({ messageId: this.#message.messageId }, 'message lease lost: another dispatcher may run this invocation too');
        return;
      }
      // Storage failed this once: the next renewal may land before the visibility runs out.
      this.#o.log.warn({ err, messageId: this.#message.messageId }, 'message lease renewal failed');
    }
  }

  /**
   * Stops renewing, waits for a renewal in flight, then runs `settle` with the latest message
   * (its delete, dead-letter or delayed return). A lost lease still runs it: the queue
   * ignores a stale pop receipt.
   */
  async settle(settle: (message: QueuedMessage) => Promise<void>): Promise<void> {
    this.#stop();
    await this.#renewing;
    await settle(this.#message);
  }

  /** Stops renewing without touching the message (it reappears when its visibility runs out). */
  async release(): Promise<void> {
    this.#stop();
    await this.#renewing;
  }

  #stop(): void {
    this.#settled = true;
    clearTimeout(this.#timer);
  }
}
