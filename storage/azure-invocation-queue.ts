/**
 * The work queue of asynchronous invocations on two Azure Queues: `ringfaas-invocations` and
 * `ringfaas-invocations-dead` beside it. Every call is bounded in time and every driver
 * failure is RF_STORAGE_UNAVAILABLE (storage/azure-errors.ts).
 */
import type { QueueClient } from '@azure/storage-queue';
import { RfError } from '../errors/index.ts';
import { StorageErrors } from './errors.ts';
import { bounded, statusOf, type AzureCallContext } from './azure-errors.ts';
import type { InvocationQueue, QueueStats, QueuedMessage } from './async-types.ts';

/** Azure Queue visibility timeouts are whole seconds, 0..7 days. */
function seconds(ms: number): number {
  return Math.min(7 * 24 * 3600, Math.max(0, Math.ceil(ms / 1000)));
}

export interface AzureInvocationQueueOptions extends AzureCallContext {
  queue: QueueClient;
  deadLetters: QueueClient;
  /**
   * Deadline of one receive; default 4 × operationTimeoutMs. Longer than other calls: on
   * Azurite a receive scans and sorts every message of the account (docs/async.md), and a
   * receive that times out only hides its messages for one visibility timeout.
   */
  receiveTimeoutMs?: number;
}

/** InvocationQueue on two Azure Queues. */
export class AzureInvocationQueue implements InvocationQueue {
  /** The work queue and the dead-letter queue. */
  readonly #queue: QueueClient;
  readonly #dead: QueueClient;
  /** Every call's deadline, and a receive's (longer: see receiveTimeoutMs). */
  readonly #ctx: AzureCallContext;
  readonly #receiveCtx: AzureCallContext;

  constructor({ queue, deadLetters, operationTimeoutMs, secrets, receiveTimeoutMs }: AzureInvocationQueueOptions) {
    [this.#queue, this.#dead] = [queue, deadLetters];
    this.#ctx = { operationTimeoutMs, secrets };
    this.#receiveCtx = { operationTimeoutMs: receiveTimeoutMs ?? 4 * operationTimeoutMs, secrets };
  }

  async send(text: string): Promise<void> {
    // TTL -1: a message never expires on its own; the record's expiry and the sweeper bound it.
    await bounded(this.#ctx, 'queue.send', (abortSignal) => this.#queue.sendMessage(text, { messageTimeToLive: -1, abortSignal }));
  }

  async receive(visibilityMs: number, max: number): Promise<QueuedMessage[]> {
    const numberOfMessages = Math.min(32, Math.max(1, Math.floor(max)));
    const response = await bounded(this.#receiveCtx, 'queue.receive', (abortSignal) =>
      this.#queue.receiveMessages({ numberOfMessages, visibilityTimeout: Math.max(1, seconds(visibilityMs)), abortSignal }),
    );
    return response.receivedMessageItems.map((item) => ({
      messageId: item.messageId,
      popReceipt: item.popReceipt,
      text: item.messageText,
      dequeueCount: item.dequeueCount,
      insertedAt: item.insertedOn.getTime(),
    }));
  }

  async headInsertedAt(): Promise<number | undefined> {
    const peek = await bounded(this.#ctx, 'queue.peek', (abortSignal) => this.#queue.peekMessages({ numberOfMessages: 1, abortSignal }));
    return peek.peekedMessageItems[0]?.insertedOn.getTime();
  }

  async setVisibility(message: QueuedMessage, visibilityMs: number): Promise<QueuedMessage> {
    const response = await bounded(
      this.#ctx,
      'queue.setVisibility',
      (abortSignal) => this.#queue.updateMessage(message.messageId, message.popReceipt, undefined, seconds(visibilityMs), { abortSignal }),
      (err) => {
        // Another receiver holds it now (our visibility ran out), or it is gone.
        if (statusOf(err) === 404 || statusOf(err) === 400) throw new RfError(StorageErrors.CONFLICT, 'the message is no longer ours');
        throw err;
      },
    );
    return { ...message, popReceipt: response.popReceipt ?? message.popReceipt };
  }

  async delete(message: QueuedMessage): Promise<void> {
    await bounded(
      this.#ctx,
      'queue.delete',
      async (abortSignal) => {
        await this.#queue.deleteMessage(message.messageId, message.popReceipt, { abortSignal });
      },
      (err) => {
        if (statusOf(err) === 404 || statusOf(err) === 400) return;
        throw err;
      },
    );
  }

  async deadLetter(message: QueuedMessage): Promise<void> {
    await bounded(this.#ctx, 'deadLetters.send', (abortSignal) => this.#dead.sendMessage(message.text, { messageTimeToLive: -1, abortSignal }));
    await this.delete(message);
  }

  async depth(): Promise<number> {
    const props = await bounded(this.#ctx, 'queue.properties', (abortSignal) => this.#queue.getProperties({ abortSignal }));
    return props.approximateMessagesCount ?? 0;
  }

  async stats(nowMs: number): Promise<QueueStats> {
    const [props, dead, peek] = await Promise.all([
      bounded(this.#ctx, 'queue.properties', (abortSignal) => this.#queue.getProperties({ abortSignal })),
      bounded(this.#ctx, 'deadLetters.properties', (abortSignal) => this.#dead.getProperties({ abortSignal })),
      bounded(this.#ctx, 'queue.peek', (abortSignal) => this.#queue.peekMessages({ numberOfMessages: 1, abortSignal })),
    ]);
    const oldest = peek.peekedMessageItems[0]?.insertedOn.getTime();
    return {
      depth: props.approximateMessagesCount ?? 0,
      oldestAgeMs: oldest === undefined ? 0 : Math.max(0, nowMs - oldest),
      deadLetters: dead.approximateMessagesCount ?? 0,
    };
  }
}

