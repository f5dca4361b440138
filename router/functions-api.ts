/**
 * Function CRUD on the stores: the handlers behind /functions routes, free of HTTP.
 *
 * Write order, so that nothing is ever half-done for a reader:
 *  - create: the code blob (version 1) first, then the record; a failed record write removes
 *    the blob again (when the record surely does not exist).
 *  - update: the new version's blob first, then the record, conditional on the store ETag it
 *    was read with; then the change notifier (so no worker runs the old version once the call
 *    returns), then the old version's blob goes.
 *  - delete: the record first (conditional), then the notifier, then every blob.
 *
 * Concurrent updates never lose a write: within one router they are serialised per function;
 * across routers the conditional record write makes the loser re-read and retry as the next
 * version (or answer 412 when the client sent If-Match).
 */
import { randomBytes } from 'node:crypto';
import { RfError, hasCode } from '../errors/index.ts';
import { StorageErrors } from '../storage/errors.ts';
import type { FunctionRecord, Stores, StoredFunction } from '../storage/types.ts';
import type { FunctionChangeNotifier, RequestContext } from './invoker.ts';
import { RouterErrors } from './errors.ts';
import { parseFunctionInput, type FunctionInputLimits } from './function-input.ts';

export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 900_000;
/** Conditional writes retried this often before answering RF_ROUTER_CONFLICT. */
const MAX_WRITE_ATTEMPTS = 8;

export interface FunctionsApiDeps {
  stores: Pick<Stores, 'functions' | 'artifacts'>;
  notifier: FunctionChangeNotifier;
  limits: FunctionInputLimits;
  /** ms since the epoch. */
  clock: () => number;
  /** New function ids; random base32 by default. */
  newId?: () => string;
}

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
  get(id: string): Promise<FunctionRecord>;
  update(id: string, body: unknown, ifMatch: string | undefined, ctx: RequestContext): Promise<FunctionRecord>;
  remove(id: string, ifMatch: string | undefined, ctx: RequestContext): Promise<void>;
}

export function createFunctionsApi(deps: FunctionsApiDeps): FunctionsApi {
  const { functions, artifacts } = deps.stores;
  const newId = deps.newId ?? randomFunctionId;
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
        version: 1,
        codeSha256: input.codeSha256,
        codeSize: input.zip.length,
        createdAt: at,
        updatedAt: at,
        env: input.env ?? {},
      };
      await artifacts.put(id, 1, input.zip);
      try {
        const stored = await functions.create(record);
        ctx.log.info({ fnId: id, version: 1, codeSize: record.codeSize }, 'function created');
        return stored.record;
      } catch (err) {
        await discardNewBlob(id, ctx);
        if (hasCode(err, StorageErrors.ALREADY_EXISTS) && attempt < MAX_WRITE_ATTEMPTS) continue;
        throw err;
      }
    }
  }

  /** After a failed record create: remove the blob unless the record exists after all (a write that timed out but landed). */
  async function discardNewBlob(id: string, ctx: RequestContext): Promise<void> {
    try {
      if ((await functions.get(id)) !== undefined) return;
      await artifacts.deleteAll(id);
    } catch (err) {
      ctx.log.warn({ fnId: id, err }, 'orphan code blob left after a failed create');
    }
  }

  async function get(id: string): Promise<FunctionRecord> {
    const stored = await functions.get(id);
    if (stored === undefined) throw notFound(id);
    return stored.record;
  }

  async function update(id: string, body: unknown, ifMatch: string | undefined, ctx: RequestContext): Promise<FunctionRecord> {
    const input = await parseFunctionInput(body, { requireMemory: false, limits: deps.limits });
    const stored = await writes.run(id, async (): Promise<StoredFunction> => {
      for (let attempt = 1; ; attempt++) {
        const current = await functions.get(id);
        if (current === undefined) throw notFound(id);
        if (ifMatch !== undefined && !ifMatchAccepts(ifMatch, current.record)) throw preconditionFailed(id, current.record);
        const old = current.record;
        const next: FunctionRecord = {
          ...old,
          name: input.name ?? old.name,
          memorySize: input.memorySize ?? old.memorySize,
          timeoutMs: input.timeoutMs ?? old.timeoutMs,
          idleTimeoutMs: input.idleTimeoutMs ?? old.idleTimeoutMs,
          env: input.env ?? old.env,
          version: old.version + 1,
          codeSha256: input.codeSha256,
          codeSize: input.zip.length,
          updatedAt: now(),
        };
        await artifacts.put(id, next.version, input.zip);
        try {
          return await functions.update(next, current.etag);
        } catch (err) {
          if (hasCode(err, StorageErrors.NOT_FOUND)) {
            await artifacts.delete(id, next.version).catch((e: unknown) => ctx.log.warn({ fnId: id, err: e }, 'orphan code blob left after a failed update'));
            throw notFound(id);
          }
          if (!hasCode(err, StorageErrors.CONFLICT)) throw err;
          // Another router wrote this version first. Our blob of the same version number may
          // have replaced theirs: retrying as the next version makes the final state ours, as
          // if the two updates had run one after the other.
          ctx.log.info({ fnId: id, version: next.version, attempt }, 'concurrent update, retrying');
          if (ifMatch !== undefined) {
            const now = await functions.get(id);
            if (now !== undefined && now.record.version === next.version && now.record.codeSha256 !== next.codeSha256) {
              ctx.log.error({ fnId: id, version: next.version }, 'concurrent cross-router update with If-Match may have replaced the winner code blob');
            }
            throw preconditionFailed(id, now?.record ?? next);
          }
          if (attempt >= MAX_WRITE_ATTEMPTS) {
            throw new RfError(RouterErrors.CONFLICT, `function ${JSON.stringify(id)} kept changing during ${attempt} attempts; nothing was changed, retry`);
          }
        }
      }
    });
    const record = stored.record;
    ctx.log.info({ fnId: id, version: record.version, codeSize: record.codeSize }, 'function updated');
    await deps.notifier.functionUpdated(id, record.version, ctx);
    try {
      await artifacts.delete(id, record.version - 1);
    } catch (err) {
      ctx.log.warn({ fnId: id, version: record.version - 1, err }, 'old code blob not removed');
    }
    return record;
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

  return { create, list: () => functions.list(), get, update, remove };
}
