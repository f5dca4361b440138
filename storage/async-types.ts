/**
 * The storage contracts of asynchronous invocations (docs/async.md): a durable record per
 * invocation (Azure Table `invocations`), a queue of work (Azure Queue `ringfaas-invocations`,
 * a dead-letter queue beside it) and payload blobs for inputs and results too large for a
 * Table column (Blob container `invocation-payloads`).
 */

export type InvocationStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'dead';

/** Final states: nothing runs any more unless a client retries by hand. */
export const FINAL_STATUSES: ReadonlySet<InvocationStatus> = new Set(['succeeded', 'failed', 'dead']);

/** How one attempt ended. `abandoned`: its dispatcher vanished (the message reappeared). */
export type AttemptOutcome = 'succeeded' | 'error' | 'timeout' | 'failed' | 'abandoned';

/** One attempt at running an invocation. */
export interface InvocationAttempt {
  /** ISO-8601 times. */
  startedAt: string;
  endedAt?: string;
  outcome?: AttemptOutcome;
  /** The dispatcher (router id) that ran it. */
  dispatcher: string;
  /** The error code when it failed (RF_FUNCTION_ERROR, RF_WORKER_INVOKE_TIMEOUT...). */
  code?: string;
  /**
   * The queue message this attempt runs from: a delivery of another message for a record
   * that is `running` is a duplicate (a reconciler's re-send) and is dropped.
   */
  messageId?: string;
}

/** A stored invocation: what GET /invocations/{iid} answers (results resolved from blobs). */
export interface InvocationRecord {
  /** Invocation id: time-ordered, URL-safe. */
  id: string;
  functionId: string;
  status: InvocationStatus;
  /** Attempts that counted towards maxRetries (ring-at-capacity returns do not count). */
  attempts: number;
  /** `attempts` when a client last retried by hand: the retry budget counts from there. */
  retryBase: number;
  /** Retries allowed after a failed attempt (the function's maxRetries when accepted). */
  maxRetries: number;
  /** The function's timeoutMs when accepted: sizes the message's visibility timeout. */
  timeoutMs: number;
  /** ISO-8601: when the invocation was durably stored and answered 202. */
  acceptedAt: string;
  /** ISO-8601: when it reached a final state. */
  finishedAt?: string;
  /** ms since the epoch after which the sweeper removes the record and its blobs. */
  expiresAt: number;
  /**
   * ms since the epoch: while `queued`, when its message is due to be visible (accepted, or
   * the end of a retry's backoff); while `running`, when the attempt should have ended (start
   * + timeoutMs). The reconciler re-sends the message of a record long past it. A `queued`
   * record with no message yet because the queue was full (parked, see PARKED_DUE_AT) has
   * dueAt = PARKED_DUE_AT: never due until a feeder un-parks it.
   */
  dueAt?: number;
  /** The last attempts (at most MAX_ATTEMPT_LOG), oldest first. */
  attemptLog: InvocationAttempt[];
  /** The input inline (UTF-8 JSON text) when small; else `inputBlob` names it. */
  input?: string;
  inputBlob?: string;
  inputBytes: number;
  /** SHA-256 hex of the input: an Idempotency-Key reused with another body is refused. */
  inputSha256: string;
  /**
   * The worker's answer body when finished (JSON: `{output, logs}` on success, `{error}` on
   * failure) inline when small; else `resultBlob` names it.
   */
  result?: string;
  resultBlob?: string;
  /** The last error: set while retrying and on failed/dead. */
  error?: { code: string; message: string };
  /** Row key of the Idempotency-Key claim, removed with the record. */
  idempotencyRow?: string;
}

/**
 * The dueAt of a parked record: accepted and stored (`queued`), its message not sent because
 * the queue held a full window of messages (router/async-window.ts). A dispatcher's feeder
 * un-parks it (dueAt = now, then the message) when the queue has room. The largest Date (year
 * 275760): the reconciler's "past due" never matches it, and a Table filter `dueAt ge` it
 * finds the parked records alone. Exact as a double (< 2^53).
 */
export const PARKED_DUE_AT = 8_640_000_000_000_000;

/** True when the record is parked: queued with no message sent (PARKED_DUE_AT). */
export function isParked(record: Pick<InvocationRecord, 'status' | 'dueAt'>): boolean {
  return record.status === 'queued' && record.dueAt === PARKED_DUE_AT;
}

/** Attempts kept in a record (older ones are dropped; `attempts` still counts them). */
export const MAX_ATTEMPT_LOG = 12;
/** Inputs and results up to this many bytes are kept inline in the record (a Table string column holds 64 KiB of UTF-16). */
export const MAX_INLINE_BYTES = 30_000;

export interface StoredInvocation {
  record: InvocationRecord;
  etag: string;
}

export interface InvocationPage {
  items: InvocationRecord[];
  /** Opaque; absent on the last page. */
  continuationToken?: string;
}

export interface InvocationListQuery {
  functionId?: string;
  status?: InvocationStatus;
  /** Page size, 1..1000. */
  limit: number;
  continuationToken?: string;
}

/** What an Idempotency-Key claim found. */
export type IdempotencyClaim = { state: 'claimed' } | { state: 'taken'; invocationId: string; inputSha256: string };

/**
 * Invocation records, Idempotency-Key claims and payload blobs. Writes of a record are
 * conditional on its ETag (RF_STORAGE_CONFLICT when stale) so two dispatchers never both
 * record an outcome. Every backing failure is RF_STORAGE_UNAVAILABLE within the timeout.
 */
export interface InvocationStore {
  /** RF_STORAGE_ALREADY_EXISTS when the id is taken. */
  create(record: InvocationRecord): Promise<StoredInvocation>;
  get(id: string): Promise<StoredInvocation | undefined>;
  update(record: InvocationRecord, etag: string): Promise<StoredInvocation>;
  /** False when absent. */
  delete(id: string, etag?: string): Promise<boolean>;
  list(query: InvocationListQuery): Promise<InvocationPage>;
  /** At most `limit` records whose expiresAt is before `nowMs`. */
  expired(nowMs: number, limit: number): Promise<StoredInvocation[]>;
  /** At most `limit` records `queued` with dueAt before `queuedBefore`, or `running` with dueAt before `runningBefore`. */
  overdue(queuedBefore: number, runningBefore: number, limit: number): Promise<StoredInvocation[]>;
  /** At most `limit` parked records (isParked), oldest (lowest id) first. */
  parked(limit: number): Promise<StoredInvocation[]>;
  /** How many records are parked, counted up to `cap` (a bounded query: `cap` means at least that many). */
  countParked(cap: number): Promise<number>;
  /** Create-only claim of `row` for an invocation id; else what holds it. */
  claimIdempotency(row: string, invocationId: string, inputSha256: string): Promise<IdempotencyClaim>;
  releaseIdempotency(row: string): Promise<void>;
  /** Payload blobs (`<iid>/input`, `<iid>/result`). */
  putPayload(name: string, bytes: Buffer): Promise<void>;
  /** RF_STORAGE_NOT_FOUND when absent; refuses more than maxBytes. */
  getPayload(name: string, maxBytes: number): Promise<Buffer>;
  deletePayload(name: string): Promise<void>;
}

/** A message taken from the queue, invisible to others until its visibility timeout. */
export interface QueuedMessage {
  messageId: string;
  /** Changes on every visibility update; needed to delete or update. */
  popReceipt: string;
  text: string;
  /** Deliveries so far (this one included). */
  dequeueCount: number;
  /** ms since the epoch. */
  insertedAt: number;
}

export interface QueueStats {
  /** Approximate messages in the work queue (visible or not). */
  depth: number;
  /** Age of the oldest message (peek: visible ones only), ms; 0 when none. */
  oldestAgeMs: number;
  /** Approximate messages in the dead-letter queue. */
  deadLetters: number;
}

/** The work queue and its dead-letter queue. */
export interface InvocationQueue {
  send(text: string): Promise<void>;
  /** Up to `max` (1..32) messages, each invisible for visibilityMs; none when the queue has no visible one. */
  receive(visibilityMs: number, max: number): Promise<QueuedMessage[]>;
  /** Makes it visible again in visibilityMs; answers the new pop receipt. */
  setVisibility(message: QueuedMessage, visibilityMs: number): Promise<QueuedMessage>;
  /** Deletes it; no error when it is gone or another receiver holds it now. */
  delete(message: QueuedMessage): Promise<void>;
  /** Copies it to the dead-letter queue, then deletes it. */
  deadLetter(message: QueuedMessage): Promise<void>;
  stats(nowMs: number): Promise<QueueStats>;
  /** Approximate messages in the work queue (visible or not): one call. */
  depth(): Promise<number>;
  /** When the next message to be received (peek) was inserted, ms since the epoch; undefined when none is visible. */
  headInsertedAt(): Promise<number | undefined>;
}
