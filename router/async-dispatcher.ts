/**
 * The asynchronous-invocation dispatcher: one fetch loop that receives up to 32 messages at a
 * time from the invocation queue (never more than it has free slots of `concurrency`), and one
 * handler per message that runs it through the router's own Invoker (the ring: same home
 * worker, same warm containers as synchronous calls), records the outcome, and only then
 * deletes the message. Any number of dispatchers, in routers or standalone, compete safely:
 *
 *  - a received message is invisible to the others for `leaseMs`, renewed every third of it
 *    while its attempt runs (router/async-lease.ts), and only its holder's pop receipt can
 *    delete or move it;
 *  - the record's every write is conditional on its ETag: of two dispatchers that hold the same
 *    invocation (a lease lost, a duplicate message), one write wins and the other drops its
 *    outcome, so one output is recorded, never two different ones.
 *
 * Batched receives: on Azurite every queue call costs time proportional to the messages in the
 * account (it scans and sorts them all), so one receive per 32 messages instead of one per
 * message, and no visibility update per message, is what lets a deep backlog drain
 * (docs/async.md, "The queue window: a deep backlog").
 *
 * Per message: record missing → delete the message (expired, or an accept that was undone);
 * record final → delete (a duplicate delivery); record `running` from another message →
 * delete (a duplicate: the running one's own message still exists and comes back if its
 * dispatcher dies); record `running` from this message → its dispatcher vanished: that attempt
 * ends `abandoned` (it counts). Then: status running, attempts + 1 (a write); invoke; then
 *  - success → `succeeded`, result, delete the message;
 *  - ring at capacity / empty / no worker (the call never ran) → back to `queued`, the attempt
 *    undone, the message visible again in `capacityDelayMs`;
 *  - function error, timeout, broken worker connection (may have run) → when attempts since the
 *    last manual retry ≤ maxRetries: `queued`, message visible again after
 *    backoffBaseMs × 2^(n−1) (n = failed attempts, capped at 5 minutes); else `dead`, message
 *    moved to the dead-letter queue;
 *  - the worker refused the call for good (4xx: function deleted, bad input) → `failed`.
 *
 * Worked example (maxRetries 2, backoff 1 s): attempt 1 throws → queued, visible in 1 s;
 * attempt 2 throws → queued, in 2 s; attempt 3 throws → dead, in the dead-letter queue. A
 * client's POST /invocations/{iid}/retry sets retryBase = 3: three more attempts.
 *
 * The upkeep (router/async-maintenance.ts, run by start()). The reconciler: a record is written before its message is
 * sent (router/async-api.ts), so a router dying in between, or storage failing at the send and
 * again at the undo, leaves a `queued` record with no message. Each record carries `dueAt`
 * (when its message is due visible; for `running`, when its attempt should have ended). A
 * `queued` record whose dueAt is more than `reconcileAfterMs` before the insertion time of the
 * queue's head message (or before now when no message is visible) would have been received by
 * now if it had a message (the queue hands out the oldest first, approximately): its message
 * is re-sent. Likewise a `running` record `reconcileAfterMs` past its dueAt (its message should
 * have come back): the attempt ends `abandoned`, the record goes back to `queued` and a message
 * is sent. Each re-send first moves dueAt to now with a conditional write, so two reconcilers
 * never both send, and a wrong guess costs one duplicate message, dropped as above.
 *
 * The feeder (every second while parked records exist): accept parks an invocation
 * (no message) when the queue holds a full window (router/async-window.ts); the feeder
 * un-parks the oldest ones while the queue is under half the window, each by a conditional
 * write (dueAt = now) and then its message, so two feeders never both send one.
 *
 * Caveats: delivery is at-least-once (a dispatcher killed mid-run leaves its message to
 * reappear once its lease runs out, and the function runs again); the record is written before
 * the message is deleted or dead-lettered, so a crash between the two leaves a message whose
 * record is final, deleted on its next delivery (a dead one then never reaches the dead-letter
 * queue, though its record says dead).
 *
 * One unit (over 350 lines): the fetch loop, the per-message handler and its retries share the
 * slot accounting and the lease of each message.
 */
import { hasCode, isRfError } from '../errors/index.ts';
import { RingErrors } from '../ring/index.ts';
import { StorageErrors, FINAL_STATUSES, MAX_ATTEMPT_LOG, MAX_INLINE_BYTES, type AttemptOutcome, type InvocationRecord, type QueuedMessage, type StoredInvocation } from '../storage/index.ts';
import { payloadNames, type InvocationMessage } from './async-api.ts';
import { MessageLease } from './async-lease.ts';
import type { Invoker } from './invoker.ts';
import { AsyncMaintenance, type AsyncMaintenanceOptions } from './async-maintenance.ts';
import { RouterErrors } from './errors.ts';

/** The dispatcher's options; the upkeep's (router/async-maintenance.ts) pass through to it. */
export interface AsyncDispatcherOptions extends Omit<AsyncMaintenanceOptions, 'leaseMs'> {
  invoker: Invoker;
  /** Written into each attempt (the router id). */
  dispatcherId: string;
  /** Messages run at once (0: none; the sweeper and reconciler still run when started). */
  concurrency: number;
  /**
   * The visibility timeout of a held message, renewed every third of it while its attempt
   * runs (RINGFAAS_ASYNC_VISIBILITY_MARGIN_MS). Default 30 000.
   */
  leaseMs?: number;
  /** First retry delay; doubles per failed attempt. Default 1000. */
  backoffBaseMs?: number;
  /** How soon a message the ring had no capacity for comes back. Default 2000. */
  capacityDelayMs?: number;
  /** Kept after finishing (RINGFAAS_ASYNC_RESULT_TTL). */
  resultTtlMs: number;
  /** How often expired records are swept and overdue ones reconciled; 0 disables. Default 60 000. */
  sweepIntervalMs?: number;
  /** Longest wait between polls of an empty queue. Default 1000. */
  maxIdleMs?: number;
  /** Largest input read back from a blob. Default 6 MB + 1 KB. */
  maxInputBytes?: number;
}

const MAX_BACKOFF_MS = 300_000;
/** Azure Queue hands out at most 32 messages per receive. */
const MAX_RECEIVE = 32;
/** Ring answers meaning the call never reached a function: not an attempt. */
const NOT_RUN_CODES: ReadonlySet<string> = new Set([RingErrors.AT_CAPACITY.code, RingErrors.EMPTY.code, RingErrors.NO_WORKER_AVAILABLE.code]);

type Outcome =
  | { kind: 'succeeded'; body: string }
  | { kind: 'not_run'; code: string }
  | { kind: 'retryable'; outcome: AttemptOutcome; code: string; message: string; body?: string }
  | { kind: 'final'; code: string; message: string; body?: string };

function parseMessage(text: string): InvocationMessage | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<InvocationMessage>;
    if (typeof parsed.iid === 'string' && typeof parsed.fn === 'string') return parsed as InvocationMessage;
  } catch {
    // not ours: dead-lettered below
  }
  return undefined;
}

/** The worker's error body's code and message, when it has one. */
function errorOf(body: string, status: number): { code: string; message: string } {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code === 'string') return { code: parsed.error.code, message: String(parsed.error.message ?? '') };
  } catch {
    // fall through
  }
  return { code: `HTTP_${status}`, message: body.slice(0, 500) };
}

export class AsyncDispatcher {
  readonly #o: AsyncDispatcherOptions;
  readonly #lease: number;
  /** The sweeper, reconciler and feeder (router/async-maintenance.ts), run by start(). */
  readonly maintenance: AsyncMaintenance;
  readonly #running = new Set<Promise<void>>();
  #fetcher: Promise<void> | undefined;
  #feeder: Promise<void> | undefined;
  #stopped = true;
  #sweepTimer: NodeJS.Timeout | undefined;
  /** Wakes the fetch loop when a slot frees (or on stop). */
  #wake: (() => void) | undefined;

  constructor(options: AsyncDispatcherOptions) {
    this.#o = options;
    this.#lease = options.leaseMs ?? 30_000;
    this.maintenance = new AsyncMaintenance({ ...options, leaseMs: this.#lease });
  }

  /** Messages held now (received and not yet settled): at most `concurrency`. */
  get inFlight(): number {
    return this.#running.size;
  }

  /** Starts the fetch loop (when concurrency > 0) and the sweeper/reconciler. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    if (this.#o.concurrency > 0) this.#fetcher = this.#fetchLoop();
    if (this.#o.window !== undefined) this.#feeder = this.maintenance.feedLoop(this.#o.window, () => this.#stopped);
    const every = this.#o.sweepIntervalMs ?? 60_000;
    if (every > 0) {
      this.#sweepTimer = setInterval(() => {
        void this.maintenance.sweep().catch((err: unknown) => this.#o.log.warn({ err }, 'invocation sweep failed'));
        void this.maintenance.reconcile().catch((err: unknown) => this.#o.log.warn({ err }, 'invocation reconcile failed'));
      }, every);
      this.#sweepTimer.unref();
    }
  }

  /** Stops taking messages and waits for the ones in hand (their leases cover a cut-off). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#sweepTimer);
    this.#wake?.();
    await this.#fetcher;
    await this.#feeder;
    await Promise.allSettled([...this.#running]);
  }

  async #fetchLoop(): Promise<void> {
    const maxIdle = this.#o.maxIdleMs ?? 1000;
    let idle = 25;
    while (!this.#stopped) {
      const free = this.#o.concurrency - this.#running.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      let batch: QueuedMessage[];
      try {
        batch = await this.#o.stores.queue.receive(this.#lease, Math.min(MAX_RECEIVE, free));
      } catch (err) {
        this.#o.log.warn({ err }, 'invocation queue receive failed');
        await this.#o.sleep(maxIdle);
        continue;
      }
      if (batch.length === 0) {
        await this.#o.sleep(idle);
        idle = Math.min(maxIdle, idle * 2);
        continue;
      }
      idle = 25;
      for (const message of batch) {
        const run = this.#hold(message).finally(() => {
          this.#running.delete(run);
          this.#wake?.();
        });
        this.#running.add(run);
      }
    }
  }

  /** Runs one message under a renewed lease; a failure leaves the message to reappear. */
  async #hold(message: QueuedMessage): Promise<void> {
    const lease = new MessageLease({ queue: this.#o.stores.queue, message, leaseMs: this.#lease, log: this.#o.log, onRenew: () => this.#o.metrics.leaseRenewals.inc() });
    try {
      await this.#handle(lease);
    } catch (err) {
      // Storage failed mid-way: the message comes back when its visibility runs out.
      this.#o.log.warn({ err, messageId: message.messageId }, 'invocation dispatch failed; the message will reappear');
    } finally {
      await lease.release();
    }
  }

  async #handle(lease: MessageLease): Promise<void> {
    const { invocations, queue } = this.#o.stores;
    const log = this.#o.log;
    const messageId = lease.message.messageId;
    const parsed = parseMessage(lease.message.text);
    if (parsed === undefined) {
      log.warn({ messageId }, 'malformed invocation message dead-lettered');
      await lease.settle((m) => queue.deadLetter(m));
      return;
    }
    const found = await invocations.get(parsed.iid);
    if (found === undefined || FINAL_STATUSES.has(found.record.status)) {
      await lease.settle((m) => queue.delete(m));
      return;
    }
    let stored: StoredInvocation = found;
    const record = structuredClone(stored.record);
    const now = this.#o.clock();
    if (record.status === 'running') {
      const last = record.attemptLog.at(-1);
      if (last?.messageId !== undefined && last.messageId !== messageId && last.endedAt === undefined) {
        // A duplicate (a reconciler's re-send): the running attempt's own message comes back if its dispatcher dies.
        log.info({ iid: record.id, messageId }, 'duplicate message of a running invocation dropped');
        await lease.settle((m) => queue.delete(m));
        return;
      }
      if (last !== undefined && last.endedAt === undefined) Object.assign(last, { endedAt: new Date(now).toISOString(), outcome: 'abandoned' });
      this.#o.metrics.attempts.inc({ outcome: 'abandoned' });
      log.warn({ iid: record.id, attempts: record.attempts }, 'invocation found running: its dispatcher vanished, running it again');
      if (record.attempts - record.retryBase > record.maxRetries) {
        // Its dispatchers keep vanishing (a poison input?): no more attempts.
        record.status = 'dead';
        record.error = { code: RouterErrors.ASYNC_ABANDONED.code, message: 'every attempt was abandoned by its dispatcher' };
        record.finishedAt = new Date(now).toISOString();
        record.expiresAt = now + this.#o.resultTtlMs;
        if (await this.#write(record, stored.etag)) {
          this.#o.metrics.deadLetters.inc();
          await lease.settle((m) => queue.deadLetter(m));
        }
        return;
      }
    }
    record.status = 'running';
    record.attempts += 1;
    record.dueAt = now + record.timeoutMs;
    record.attemptLog.push({ startedAt: new Date(now).toISOString(), dispatcher: this.#o.dispatcherId, messageId });
    if (record.attemptLog.length > MAX_ATTEMPT_LOG) record.attemptLog.splice(0, record.attemptLog.length - MAX_ATTEMPT_LOG);
    try {
      stored = await invocations.update(record, stored.etag);
    } catch (err) {
      if (hasCode(err, StorageErrors.CONFLICT) || hasCode(err, StorageErrors.NOT_FOUND)) return; // another dispatcher has it
      throw err;
    }

    let outcome: Outcome;
    try {
      outcome = await this.#run(record, parsed);
    } catch (err) {
      // Storage failed before the function ran (its input blob unreadable): not an attempt.
      // Undone at once when storage lets us; else the message reappears when its lease runs out.
      log.warn({ err, iid: record.id }, 'invocation input unreadable; the attempt is undone and the message returns');
      const undo = structuredClone(stored.record);
      undo.status = 'queued';
      undo.attempts -= 1;
      undo.attemptLog.pop();
      const delay = this.#o.capacityDelayMs ?? 2000;
      undo.dueAt = this.#o.clock() + delay;
      if (await this.#write(undo, stored.etag)) await lease.settle((m) => this.#requeue(m, delay));
      return;
    }
    const end = this.#o.clock();
    const next = structuredClone(stored.record);
    const attempt = next.attemptLog.at(-1);
    if (outcome.kind === 'not_run') {
      const delay = this.#o.capacityDelayMs ?? 2000;
      next.status = 'queued';
      next.attempts -= 1;
      next.dueAt = end + delay;
      next.attemptLog.pop();
      if (await this.#write(next, stored.etag)) {
        this.#o.metrics.requeued.inc();
        await lease.settle((m) => this.#requeue(m, delay));
      }
      return;
    }
    if (attempt !== undefined) attempt.endedAt = new Date(end).toISOString();
    const failedAttempts = next.attempts - next.retryBase;
    let finalStatus: InvocationRecord['status'];
    let body: string | undefined;
    if (outcome.kind === 'succeeded') {
      finalStatus = 'succeeded';
      body = outcome.body;
      if (attempt !== undefined) attempt.outcome = 'succeeded';
      delete next.error;
    } else {
      if (attempt !== undefined) Object.assign(attempt, { outcome: outcome.kind === 'final' ? 'failed' : outcome.outcome, code: outcome.code });
      next.error = { code: outcome.code, message: outcome.message.slice(0, 2000) };
      body = outcome.body;
      finalStatus = outcome.kind === 'final' ? 'failed' : failedAttempts <= next.maxRetries ? 'queued' : 'dead';
    }
    this.#o.metrics.attempts.inc({ outcome: attempt?.outcome ?? 'error' });
    next.status = finalStatus;
    if (finalStatus === 'queued') {
      const delay = Math.min(MAX_BACKOFF_MS, (this.#o.backoffBaseMs ?? 1000) * 2 ** (failedAttempts - 1));
      next.dueAt = end + delay;
      if (await this.#write(next, stored.etag)) {
        this.#o.metrics.retries.inc();
        log.info({ iid: next.id, attempts: next.attempts, delayMs: delay, code: outcome.kind === 'succeeded' ? undefined : outcome.code }, 'invocation attempt failed, retrying later');
        await lease.settle((m) => this.#requeue(m, delay));
      }
      return;
    }
    delete next.dueAt;
    next.finishedAt = new Date(end).toISOString();
    next.expiresAt = end + this.#o.resultTtlMs;
    if (body !== undefined) {
      if (Buffer.byteLength(body) <= MAX_INLINE_BYTES) next.result = body;
      else {
        const name = payloadNames(next.id).result;
        await invocations.putPayload(name, Buffer.from(body, 'utf8'));
        next.resultBlob = name;
      }
    }
    if (!(await this.#write(next, stored.etag))) return;
    this.#o.metrics.endToEnd.observe({ status: finalStatus }, (end - Date.parse(next.acceptedAt)) / 1000);
    if (finalStatus === 'dead') {
      this.#o.metrics.deadLetters.inc();
      log.warn({ iid: next.id, attempts: next.attempts, code: next.error?.code }, 'invocation dead after its retries');
      await lease.settle((m) => queue.deadLetter(m));
    } else await lease.settle((m) => queue.delete(m));
  }

  /** Writes the outcome; false when another dispatcher changed the record meanwhile (its outcome stands). */
  async #write(record: InvocationRecord, etag: string): Promise<boolean> {
    try {
      await this.#o.stores.invocations.update(record, etag);
      return true;
    } catch (err) {
      if (!hasCode(err, StorageErrors.CONFLICT) && !hasCode(err, StorageErrors.NOT_FOUND)) throw err;
      this.#o.log.warn({ iid: record.id }, 'invocation record changed by another dispatcher; this outcome is dropped');
      return false;
    }
  }

  async #requeue(message: QueuedMessage, delayMs: number): Promise<void> {
    try {
      await this.#o.stores.queue.setVisibility(message, delayMs);
    } catch (err) {
      if (!hasCode(err, StorageErrors.CONFLICT)) throw err;
    }
  }

  async #run(record: InvocationRecord, message: InvocationMessage): Promise<Outcome> {
    let input: Buffer;
    try {
      input = record.input !== undefined ? Buffer.from(record.input, 'utf8') : await this.#o.stores.invocations.getPayload(message.blob ?? record.inputBlob ?? '', this.#o.maxInputBytes ?? 6 * 1024 * 1024 + 1024);
    } catch (err) {
      if (hasCode(err, StorageErrors.NOT_FOUND)) return { kind: 'final', code: 'RF_STORAGE_NOT_FOUND', message: 'the input blob is gone' };
      throw err;
    }
    try {
      const answer = await this.#o.invoker.invoke(record.functionId, input, { requestId: record.id, log: this.#o.log });
      const body = typeof answer.body === 'string' ? answer.body : answer.body.toString('utf8');
      if (answer.status >= 200 && answer.status < 300) return { kind: 'succeeded', body };
      const error = errorOf(body, answer.status);
      if (answer.status === 504 || error.code === 'RF_WORKER_INVOKE_TIMEOUT') return { kind: 'retryable', outcome: 'timeout', ...error, body };
      if (answer.status >= 400 && answer.status < 500 && answer.status !== 429 && answer.status !== 408) return { kind: 'final', ...error, body };
      return { kind: 'retryable', outcome: 'error', ...error, body };
    } catch (err) {
      if (isRfError(err) && NOT_RUN_CODES.has(err.code)) return { kind: 'not_run', code: err.code };
      const code = isRfError(err) ? err.code : 'RF_ROUTER_INTERNAL';
      const message = isRfError(err) ? err.message : 'the dispatcher failed to invoke';
      if (!isRfError(err)) this.#o.log.error({ err, iid: record.id }, 'async invoke failed');
      return { kind: 'retryable', outcome: code === RingErrors.WORKER_TIMEOUT.code ? 'timeout' : 'error', code, message };
    }
  }
}
