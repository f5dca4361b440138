/**
 * Function CRUD on the stores: the handlers behind /functions routes, free of HTTP.
 *
 * Code blobs are create-only (`ArtifactStore.put` refuses a version that exists), so the
 * blob a record names was written by the writer of that record and is never replaced: its
 * `codeSha256` stays true. Write order, so that nothing is ever half-done for a reader:
 *  - create: the code blob (version 1) first, then the record. A fresh id whose version 1 is
 *    taken (code left by a failed create) draws another id. A failed record write removes the
 *    blob again, unless the record turns out to be ours after all.
 *  - update: the new version's blob first, then the record, conditional on the store ETag it
 *    was read with; then the change notifier (so no worker runs the old version once the call
 *    returns), then the old version's blob goes.
 *  - delete: the record first (conditional), then the notifier, then every blob.
 *
 * Concurrent updates never lose a write: within one router they are serialised per function;
 * across routers, two writers that read version N both try to upload N+1 and only one can.
 * The other waits (up to TAKEN_VERSION_WAIT_MS) for the record to move past N, then answers
 * 412 when the client sent a stale If-Match, or retries as the next version. A number still
 * taken after the wait belongs to an update that failed or stalled after its upload: that
 * blob is left alone and the writer takes the next number, so a failed update never blocks a
 * function; the conditional record write still lets exactly one writer of a given ETag win.
 * A writer removes only blobs it uploaded itself, and only when no record names them; the
 * winner removes the numbers it skipped.
 *
 * Worked example: the record is at v4 (ETag E). Routers A and B both get a PUT with
 * If-Match "v4". A uploads 5.zip; B's upload of 5.zip is refused; B re-reads: once A's record
 * write lands (v5, ETag F) B answers 412 with details { version: 5 }. Had A crashed after its
 * upload, B would find v4/E unchanged after the wait, upload 6.zip and write v6 with E; the
 * orphan 5.zip goes when v6 replaces v4.
 *
 * One unit (over 350 lines): create, update, delete and list share one write protocol (code blob, then the
 * record on its ETag, then the workers told) and its per-function queue; split, it would drift.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { RfError, hasCode } from '../errors/index.ts';
import { StorageErrors, type FunctionRecord, type Stores, type StoredFunction } from '../storage/index.ts';
import type { FunctionChangeNotifier, RequestContext } from './invoker.ts';
import { RouterErrors } from './errors.ts';
import { parseFunctionInput, type FunctionInput, type FunctionInputLimits } from './function-input.ts';

export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 900_000;
/** Retries of a failed asynchronous invocation (docs/async.md). */
export const DEFAULT_MAX_RETRIES = 2;
/** Conditional writes retried this often before answering RF_ROUTER_CONFLICT. */
const MAX_WRITE_ATTEMPTS = 8;
/**
 * How long a writer whose version number is taken waits for the record to move before it
 * takes the next number. The holder is usually between its upload and its record write, a
 * few ms; a holder slower than this only costs a skipped number, never correctness.
 */
export const TAKEN_VERSION_WAIT_MS = 1000;
const FIRST_POLL_MS = 10;

export interface FunctionsApiDeps {
  stores: Pick<Stores, 'functions' | 'artifacts'>;
  notifier: FunctionChangeNotifier;
  limits: FunctionInputLimits;
  /** ms since the epoch. */
  clock: () => number;
  /** New function ids; random base32 by default. */
  newId?: () => string;
  /** Waits between re-reads of a record (see TAKEN_VERSION_WAIT_MS); a timer by default. */
  sleep?: (ms: number) => Promise<void>;
}

/** What a re-read found while waiting for a record to move past the ETag a writer read. */
type RecordWait =
  | { state: 'moved'; current: StoredFunction | undefined }
  | { state: 'unchanged'; current: StoredFunction };

/** The HTTP ETag of a record: its version, which every update changes. */
export function etagOf(record: FunctionRecord): string {
  return `"v${record.version}"`;
}

/** Whether an If-Match header value matches the record (`*`, or one of a list of ETags). */
export function ifMatchAccepts(ifMatch: string, record: FunctionRecord): boolean {
  const current = etagOf(record);
  return ifMatch.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === current || t === `W/${current}`;
  });
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** 16 chars of lower-case base32: 80 random bits, URL-safe and a valid function name too. */
export function randomFunctionId(): string {
  const bytes = randomBytes(16);
  let id = '';
  for (const byte of bytes) id += BASE32[byte & 31];
  return id;
}

/** Serialises async work per key; entries live only while work is queued (bounded by in-flight requests). */
class KeyedQueue {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

function notFound(id: string): RfError {
  return new RfError(RouterErrors.FUNCTION_NOT_FOUND, `function ${JSON.stringify(id)} does not exist`);
}

function preconditionFailed(id: string, record: FunctionRecord): RfError {
  return new RfError(RouterErrors.PRECONDITION_FAILED, `function ${JSON.stringify(id)} is at version ${record.version}; If-Match does not match ${etagOf(record)}`, {
    details: { version: record.version, etag: etagOf(record) },
  });
}

/** The function CRUD operations. */
export interface FunctionsApi {
  create(body: unknown, ctx: RequestContext): Promise<FunctionRecord>;
  list(): Promise<FunctionRecord[]>;
  /** One page (GET /functions?limit=&continuationToken=). */
  listPage(limit: number, continuationToken: string | undefined): Promise<{ functions: FunctionRecord[]; nextToken: string | null }>;
  get(id: string): Promise<FunctionRecord>;
  update(id: string, body: unknown, ifMatch: string | undefined, ctx: RequestContext): Promise<FunctionRecord>;
  remove(id: string, ifMatch: string | undefined, ctx: RequestContext): Promise<void>;
}

export function createFunctionsApi(deps: FunctionsApiDeps): FunctionsApi {
  const { functions, artifacts } = deps.stores;
  const newId = deps.newId ?? randomFunctionId;
  const sleep = deps.sleep ?? ((ms: number) => sleepMs(ms));
  const writes = new KeyedQueue();
  const now = (): string => new Date(deps.clock()).toISOString();

  async function create(body: unknown, ctx: RequestContext): Promise<FunctionRecord> {
    const input = await parseFunctionInput(body, { requireMemory: true, limits: deps.limits });
    for (let attempt = 1; ; attempt++) {
      const id = newId();
      const at = now();
      const record: FunctionRecord = {
        id,
        name: input.name ?? id,
        memorySize: input.memorySize ?? 128,
        timeoutMs: input.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        idleTimeoutMs: input.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
        maxRetries: input.maxRetries ?? DEFAULT_MAX_RETRIES,
        version: 1,
        codeSha256: input.codeSha256,
        codeSize: input.zip.length,
        createdAt: at,
        updatedAt: at,
        env: input.env ?? {},
      };
      try {
        await artifacts.put(id, 1, input.zip);
      } catch (err) {
        // Code already under this id (left by a failed create, or by a deleted function whose
        // blobs were not all removed): not ours to touch; another id is as good.
        if (hasCode(err, StorageErrors.ALREADY_EXISTS) && attempt < MAX_WRITE_ATTEMPTS) {
          ctx.log.warn({ fnId: id, attempt }, 'code already stored under a new id, drawing another');
          continue;
        }
        throw err;
      }
      try {
        const stored = await functions.create(record);
        ctx.log.info({ fnId: id, version: 1, codeSize: record.codeSize }, 'function created');
        return stored.record;
      } catch (err) {
        const landed = await settleFailedCreate(record, ctx);
        if (landed !== undefined) {
          ctx.log.info({ fnId: id, version: 1, codeSize: record.codeSize }, 'function created');
          return landed.record;
        }
        if (hasCode(err, StorageErrors.ALREADY_EXISTS) && attempt < MAX_WRITE_ATTEMPTS) continue;
        throw err;
      }
    }
  }

  /**
   * After a failed record create: the record, when the write landed after all (the SDK's retry
   * of a create that landed is refused as a duplicate); else our version-1 blob is removed,
   * since no record can name it.
   */
  async function settleFailedCreate(record: FunctionRecord, ctx: RequestContext): Promise<StoredFunction | undefined> {
    try {
      const current = await functions.get(record.id);
      if (current !== undefined && isDeepStrictEqual(current.record, record)) return current;
      await artifacts.delete(record.id, 1);
    } catch (err) {
      ctx.log.warn({ fnId: record.id, err }, 'orphan code blob left after a failed create');
    }
    return undefined;
  }

  /** Removes a blob this writer uploaded and no record names; a failure only leaves an orphan. */
  async function discardOwnCode(id: string, version: number, ctx: RequestContext): Promise<void> {
    try {
      await artifacts.delete(id, version);
    } catch (err) {
      ctx.log.warn({ fnId: id, version, err }, 'orphan code blob left after a failed update');
    }
  }

  /** Re-reads the record until its ETag is no longer `etag` or TAKEN_VERSION_WAIT_MS has passed. */
  async function awaitMove(id: string, etag: string): Promise<RecordWait> {
    let waitedMs = 0;
    for (let delayMs = FIRST_POLL_MS; ; delayMs *= 2) {
      const current = await functions.get(id);
      if (current === undefined || current.etag !== etag) return { state: 'moved', current };
      if (waitedMs >= TAKEN_VERSION_WAIT_MS) return { state: 'unchanged', current };
      await sleep(delayMs);
      waitedMs += delayMs;
    }
  }

  async function get(id: string): Promise<FunctionRecord> {
    const stored = await functions.get(id);
    if (stored === undefined) throw notFound(id);
    return stored.record;
  }

  async function update(id: string, body: unknown, ifMatch: string | undefined, ctx: RequestContext): Promise<FunctionRecord> {
    const input = await parseFunctionInput(body, { requireMemory: false, limits: deps.limits });
    const { stored, replaced } = await writes.run(id, () => writeNewVersion(id, input, ifMatch, ctx));
    const record = stored.record;
    ctx.log.info({ fnId: id, version: record.version, codeSize: record.codeSize }, 'function updated');
    await deps.notifier.functionUpdated(id, record.version, ctx);
    // The replaced version goes, and so does any number skipped on the way: each holder of one
    // read an ETag our write made stale, so no record can name it any more.
    for (let version = replaced; version < record.version; version++) {
      try {
        await artifacts.delete(id, version);
      } catch (err) {
        ctx.log.warn({ fnId: id, version, err }, 'old code blob not removed');
      }
    }
    return record;
  }

  /** The update's writes (see the module comment); answers the new record and the version it replaced. */
  async function writeNewVersion(
    id: string,
    input: FunctionInput,
    ifMatch: string | undefined,
    ctx: RequestContext,
  ): Promise<{ stored: StoredFunction; replaced: number }> {
    let current = await functions.get(id);
    let version = 0;
    let triedOn: string | undefined;
    for (let attempt = 1; ; attempt++) {
      if (current === undefined) throw notFound(id);
      if (ifMatch !== undefined && !ifMatchAccepts(ifMatch, current.record)) throw preconditionFailed(id, current.record);
      if (attempt > MAX_WRITE_ATTEMPTS) {
        throw new RfError(RouterErrors.CONFLICT, `function ${JSON.stringify(id)} kept changing during ${MAX_WRITE_ATTEMPTS} attempts; nothing was changed, retry`);
      }
      const old = current.record;
      // On the same record, a taken number was just found: the next one. Else the one after the record's.
      version = current.etag === triedOn ? version + 1 : old.version + 1;
      triedOn = current.etag;
      const next: FunctionRecord = {
        ...old,
        name: input.name ?? old.name,
        memorySize: input.memorySize ?? old.memorySize,
        timeoutMs: input.timeoutMs ?? old.timeoutMs,
        idleTimeoutMs: input.idleTimeoutMs ?? old.idleTimeoutMs,
        maxRetries: input.maxRetries ?? old.maxRetries ?? DEFAULT_MAX_RETRIES,
        env: input.env ?? old.env,
        version,
        codeSha256: input.codeSha256,
        codeSize: input.zip.length,
        updatedAt: now(),
      };

      try {
        await artifacts.put(id, version, input.zip);
      } catch (err) {
        if (!hasCode(err, StorageErrors.ALREADY_EXISTS)) throw err;
        // Another writer holds this number; its blob is never touched here.
        const wait = await awaitMove(id, current.etag);
        ctx.log.info({ fnId: id, version, attempt, record: wait.state }, 'code version taken by another writer');
        current = wait.current;
        continue;
      }

      try {
        return { stored: await functions.update(next, current.etag), replaced: old.version };
      } catch (err) {
        if (hasCode(err, StorageErrors.NOT_FOUND)) {
          await discardOwnCode(id, version, ctx);
          throw notFound(id);
        }
        // Any other failure leaves the outcome unknown: the blob stays (a later writer skips it).
        if (!hasCode(err, StorageErrors.CONFLICT)) throw err;
        const latest = await functions.get(id);
        // The SDK's retry of a write that landed is refused as stale: then the write is ours.
        if (latest !== undefined && isDeepStrictEqual(latest.record, next)) return { stored: latest, replaced: old.version };
        if (latest === undefined || latest.record.version !== version) await discardOwnCode(id, version, ctx);
        ctx.log.info({ fnId: id, version, attempt }, 'concurrent update');
        current = latest;
      }
    }
  }

  async function remove(id: string, ifMatch: string | undefined, ctx: RequestContext): Promise<void> {
    await writes.run(id, async () => {
      for (let attempt = 1; ; attempt++) {
        const current = await functions.get(id);
        if (current === undefined) throw notFound(id);
        if (ifMatch !== undefined && !ifMatchAccepts(ifMatch, current.record)) throw preconditionFailed(id, current.record);
        try {
          if (!(await functions.delete(id, current.etag))) throw notFound(id);
          return;
        } catch (err) {
          if (!hasCode(err, StorageErrors.CONFLICT)) throw err;
          // Changed between our read and our delete: with If-Match that is a stale precondition;
          // without, delete whatever is current now (re-read), a bounded number of times.
          if (ifMatch !== undefined) {
            const now = await functions.get(id);
            if (now === undefined) throw notFound(id);
            throw preconditionFailed(id, now.record);
          }
          if (attempt >= MAX_WRITE_ATTEMPTS) {
            throw new RfError(RouterErrors.CONFLICT, `function ${JSON.stringify(id)} kept changing during ${attempt} attempts; it was not deleted, retry`);
          }
        }
      }
    });
    ctx.log.info({ fnId: id }, 'function deleted');
    await deps.notifier.functionDeleted(id, ctx);
    try {
      await artifacts.deleteAll(id);
    } catch (err) {
      ctx.log.warn({ fnId: id, err }, 'code blobs of a deleted function not removed');
    }
  }

  async function listPage(limit: number, continuationToken: string | undefined): Promise<{ functions: FunctionRecord[]; nextToken: string | null }> {
    const page = await functions.listPage({ limit, ...(continuationToken === undefined ? {} : { continuationToken }) });
    return { functions: page.records, nextToken: page.nextToken ?? null };
  }

  return { create, list: () => functions.list(), listPage, get, update, remove };
}
