/**
 * Asynchronous invocations, free of HTTP: accept (`Prefer: respond-async`), read, list, retry.
 *
 * Accept writes, in order, so that a 202 is answered only once the invocation will run:
 *  1. the Idempotency-Key claim (when a key was sent): a create-only row `<fnId>:<sha256(key)>`
 *     naming the new invocation id; a taken claim answers its invocation instead;
 *  2. the input blob, when the input is over MAX_INLINE_BYTES;
 *  3. the record, status `queued`;
 *  4. the queue message `{iid, fn, blob?}`, unless the queue holds a full window of messages
 *     (router/async-window.ts): then step 3 wrote the record *parked* (dueAt = PARKED_DUE_AT)
 *     and a dispatcher's feeder sends the message once the queue has room.
 * A failure at any step undoes the earlier ones (best effort) and answers 503
 * RF_STORAGE_UNAVAILABLE: nothing was accepted. Crash windows (docs/async.md):
 *  - the router dies after 3 and before 4 (or storage fails at 4 and again while undoing):
 *    a `queued` record with no message is left; the client had no 202. The dispatchers'
 *    reconciler (router/async-dispatcher.ts) finds it past due and sends its message, so it
 *    runs (a client that retries with the same Idempotency-Key is answered that invocation);
 *  - the router dies after 4, before answering: the invocation runs, the client saw a broken
 *    connection; the Idempotency-Key makes its retry return this one instead of a second.
 */
import { createHash, randomBytes } from 'node:crypto';
import { RfError, hasCode } from '../errors/index.ts';
import { StorageErrors, FINAL_STATUSES, MAX_INLINE_BYTES, PARKED_DUE_AT, type InvocationRecord, type InvocationStatus, type StoredInvocation, type AsyncStores, type FunctionStore } from '../storage/index.ts';
import { RouterErrors } from './errors.ts';
import { DEFAULT_MAX_RETRIES } from './functions-api.ts';
import type { RequestContext } from './invoker.ts';
import type { QueueWindow } from './async-window.ts';

/** The queue message: small, so it never needs the blob path itself. */
export interface InvocationMessage {
  iid: string;
  fn: string;
  /** The input blob, when the input was too large for the record. */
  blob?: string;
}

/** What GET /invocations/{iid} answers. */
export interface InvocationView {
  invocationId: string;
  functionId: string;
  status: InvocationStatus;
  attempts: number;
  maxRetries: number;
  acceptedAt: string;
  finishedAt?: string;
  expiresAt: string;
  /** Each attempt's start, end, outcome and dispatcher (the last 12). */
  attemptHistory: InvocationRecord['attemptLog'];
  inputBytes: number;
  output?: unknown;
  logs?: unknown;
  error?: { code: string; message: string };
}

export interface AsyncApiDeps {
  functions: Pick<FunctionStore, 'get'>;
  stores: AsyncStores;
  /** ms since the epoch. */
  clock: () => number;
  /** How long a finished invocation is kept (RINGFAAS_ASYNC_RESULT_TTL). */
  resultTtlMs: number;
  /** Largest result read back from a blob, bytes (the worker's 6 MB output limit plus logs). */
  maxResultBytes?: number;
  newId?: () => string;
  /**
   * The bounded queue window (router/async-window.ts): when given, a message is sent only
   * while the queue has room; otherwise the record is stored parked and a feeder sends it later.
   */
  window?: QueueWindow;
  /** Called once per invocation accepted parked (the metrics counter). */
  onParked?: () => void;
}

export interface AcceptResult {
  record: InvocationRecord;
  /** True when an Idempotency-Key named an invocation accepted before. */
  replayed: boolean;
}

export interface AsyncApi {
  accept(functionId: string, input: Buffer, idempotencyKey: string | undefined, ctx: RequestContext): Promise<AcceptResult>;
  get(invocationId: string): Promise<InvocationView>;
  list(query: { functionId?: string; status?: string; limit?: string; continuationToken?: string }): Promise<{ items: InvocationView[]; nextToken?: string }>;
  retry(invocationId: string, ctx: RequestContext): Promise<InvocationView>;
}

const STATUSES: ReadonlySet<string> = new Set(['queued', 'running', 'succeeded', 'failed', 'dead']);
/** A pending invocation is kept this much longer than a finished one (a backlog may be long). */
export const PENDING_GRACE_MS = 7 * 24 * 3600_000;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** Time-ordered ids: 9 base-36 chars of ms since the epoch, then 12 random base32 chars. */
export function newInvocationId(nowMs: number): string {
  let tail = '';
  for (const byte of randomBytes(12)) tail += BASE32[byte & 31];
  return `${nowMs.toString(36).padStart(9, '0')}${tail}`;
}

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The queue message of a record. */
export function messageOf(record: Pick<InvocationRecord, 'id' | 'functionId' | 'inputBlob'>): InvocationMessage {
  return { iid: record.id, fn: record.functionId, ...(record.inputBlob === undefined ? {} : { blob: record.inputBlob }) };
}

/** Blob names of an invocation's payloads. */
export const payloadNames = (iid: string): { input: string; result: string } => ({ input: `${iid}/input`, result: `${iid}/result` });

function notFound(iid: string): RfError {
  return new RfError(RouterErrors.INVOCATION_NOT_FOUND, `invocation ${JSON.stringify(iid)} does not exist (or has expired)`);
}

/** Best effort: a cleanup failure is logged, never answered (the original failure is). */
async function quietly(ctx: RequestContext, what: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (err) {
    ctx.log.warn({ err, what }, 'cleanup after a failed accept failed');
  }
}

export function createAsyncApi(deps: AsyncApiDeps): AsyncApi {
  const { invocations, queue } = deps.stores;
  const maxResultBytes = deps.maxResultBytes ?? 8 * 1024 * 1024;
  const newId = deps.newId ?? (() => newInvocationId(deps.clock()));

  async function view(record: InvocationRecord): Promise<InvocationView> {
    const out: InvocationView = {
      invocationId: record.id,
      functionId: record.functionId,
      status: record.status,
      attempts: record.attempts,
      maxRetries: record.maxRetries,
      acceptedAt: record.acceptedAt,
      expiresAt: new Date(record.expiresAt).toISOString(),
      attemptHistory: record.attemptLog,
      inputBytes: record.inputBytes,
    };
    if (record.finishedAt !== undefined) out.finishedAt = record.finishedAt;
    if (record.error !== undefined) out.error = record.error;
    let text = record.result;
    if (text === undefined && record.resultBlob !== undefined) {
      try {
        text = (await invocations.getPayload(record.resultBlob, maxResultBytes)).toString('utf8');
      } catch (err) {
        if (!hasCode(err, StorageErrors.NOT_FOUND)) throw err;
      }
    }
    if (text !== undefined) {
      try {
        const parsed = JSON.parse(text) as { output?: unknown; logs?: unknown; error?: { code: string; message: string } };
        if ('output' in parsed) out.output = parsed.output;
        if (parsed.logs !== undefined) out.logs = parsed.logs;
        if (parsed.error !== undefined && out.error === undefined) out.error = parsed.error;
      } catch {
        out.output = text; // not JSON: answered as the text it is
      }
    }
    return out;
  }

  async function accept(functionId: string, input: Buffer, idempotencyKey: string | undefined, ctx: RequestContext): Promise<AcceptResult> {
    const fn = await deps.functions.get(functionId);
    if (fn === undefined) throw new RfError(RouterErrors.FUNCTION_NOT_FOUND, `function ${JSON.stringify(functionId)} does not exist`);
    const inputSha256 = sha256(input);
    let iid = newId();
    let claimRow: string | undefined;
    let claimedHere = false;
    if (idempotencyKey !== undefined) {
      claimRow = `${encodeURIComponent(functionId)}:${sha256(idempotencyKey)}`;
      const claim = await invocations.claimIdempotency(claimRow, iid, inputSha256);
      if (claim.state === 'taken') {
        if (claim.inputSha256 !== inputSha256) {
          throw new RfError(RouterErrors.IDEMPOTENCY_CONFLICT, 'this Idempotency-Key was used for another input of this function', {
            details: { invocationId: claim.invocationId },
          });
        }
        const existing = await invocations.get(claim.invocationId);
        if (existing !== undefined) return { record: existing.record, replayed: true };
        // The first request did not finish its accept (or its record expired): take it over.
        iid = claim.invocationId;
      } else claimedHere = true;
    }
    const names = payloadNames(iid);
    const now = deps.clock();
    const record: InvocationRecord = {
      id: iid,
      functionId,
      status: 'queued',
      attempts: 0,
      retryBase: 0,
      maxRetries: fn.record.maxRetries ?? DEFAULT_MAX_RETRIES,
      timeoutMs: fn.record.timeoutMs,
      acceptedAt: new Date(now).toISOString(),
      expiresAt: now + deps.resultTtlMs + PENDING_GRACE_MS,
      dueAt: now,
      attemptLog: [],
      inputBytes: input.length,
      inputSha256,
    };
    if (claimRow !== undefined) record.idempotencyRow = claimRow;
    const inline = input.length <= MAX_INLINE_BYTES;
    if (inline) record.input = input.toString('utf8');
    else record.inputBlob = names.input;
    const message = messageOf(record);

    let stored: StoredInvocation | undefined;
    let parked = false;
    try {
      // The queue full (a deep backlog): the record alone, parked; a feeder sends its message later.
      if (deps.window !== undefined && !(await deps.window.admit())) {
        parked = true;
        record.dueAt = PARKED_DUE_AT;
      }
      if (!inline) await invocations.putPayload(names.input, input);
      try {
        stored = await invocations.create(record);
      } catch (err) {
        // A take-over racing another: whoever created the record first has accepted it.
        if (hasCode(err, StorageErrors.ALREADY_EXISTS) && !claimedHere) {
          const existing = await invocations.get(iid);
          if (existing !== undefined) return { record: existing.record, replayed: true };
        }
        throw err;
      }
      if (!parked) await queue.send(JSON.stringify(message));
    } catch (err) {
      ctx.log.warn({ err, fnId: functionId, iid }, 'asynchronous invocation not accepted');
      if (stored !== undefined) await quietly(ctx, 'record', () => invocations.delete(iid, stored?.etag));
      if (!inline) await quietly(ctx, 'input blob', () => invocations.deletePayload(names.input));
      if (claimedHere && claimRow !== undefined) await quietly(ctx, 'idempotency claim', () => invocations.releaseIdempotency(claimRow));
      throw err;
    }
    if (parked) deps.onParked?.();
    ctx.log.info({ fnId: functionId, iid, inputBytes: input.length, parked }, 'asynchronous invocation accepted');
    return { record: stored.record, replayed: false };
  }

  async function get(invocationId: string): Promise<InvocationView> {
    const stored = await invocations.get(invocationId);
    if (stored === undefined || stored.record.expiresAt < deps.clock()) throw notFound(invocationId);
    return view(stored.record);
  }

  async function list(query: { functionId?: string; status?: string; limit?: string; continuationToken?: string }): Promise<{ items: InvocationView[]; nextToken?: string }> {
    const limit = query.limit === undefined ? 100 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new RfError(RouterErrors.INVALID_QUERY, 'limit must be an integer 1..1000');
    if (query.status !== undefined && !STATUSES.has(query.status)) {
      throw new RfError(RouterErrors.INVALID_QUERY, `status must be one of ${[...STATUSES].join(', ')}`);
    }
    let continuationToken: string | undefined;
    if (query.continuationToken !== undefined) {
      // Our tokens are base64url of the store's; anything else is a client's mistake, not a 5xx.
      continuationToken = Buffer.from(query.continuationToken, 'base64url').toString('utf8');
      if (continuationToken.length === 0) throw new RfError(RouterErrors.INVALID_QUERY, 'continuationToken is not one this API gave');
    }
    const page = await invocations.list({
      limit,
      ...(query.functionId === undefined ? {} : { functionId: query.functionId }),
      ...(query.status === undefined ? {} : { status: query.status as InvocationStatus }),
      ...(continuationToken === undefined ? {} : { continuationToken }),
    });
    // Lists never read result blobs: the summary carries inline results only.
    const items = await Promise.all(page.items.map((record) => view({ ...record, resultBlob: undefined } as InvocationRecord)));
    return page.continuationToken === undefined ? { items } : { items, nextToken: Buffer.from(page.continuationToken, 'utf8').toString('base64url') };
  }

  async function retry(invocationId: string, ctx: RequestContext): Promise<InvocationView> {
    const stored = await invocations.get(invocationId);
    if (stored === undefined) throw notFound(invocationId);
    const record = stored.record;
    if (record.status !== 'dead' && record.status !== 'failed') {
      throw new RfError(RouterErrors.INVOCATION_NOT_RETRYABLE, `invocation ${JSON.stringify(invocationId)} is ${record.status}; only dead or failed ones are retried`, {
        details: { status: record.status },
      });
    }
    const now = deps.clock();
    const next: InvocationRecord = { ...record, status: 'queued', retryBase: record.attempts, dueAt: now, expiresAt: now + deps.resultTtlMs + PENDING_GRACE_MS };
    delete next.finishedAt;
    let updated: StoredInvocation;
    try {
      updated = await invocations.update(next, stored.etag);
    } catch (err) {
      if (hasCode(err, StorageErrors.CONFLICT)) {
        throw new RfError(RouterErrors.CONFLICT, `invocation ${JSON.stringify(invocationId)} changed meanwhile (another retry?); read it again`);
      }
      throw err;
    }
    try {
      await queue.send(JSON.stringify(messageOf(record)));
    } catch (err) {
      // Put it back as it was, so the retry can be asked again.
      await quietly(ctx, 'retry record', () => invocations.update(record, updated.etag));
      throw err;
    }
    ctx.log.info({ iid: record.id, fnId: record.functionId }, 'invocation retried by hand');
    return view(updated.record);
  }

  return { accept, get, list, retry };
}

export { FINAL_STATUSES };
