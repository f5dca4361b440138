/**
 * The worker's cache of function records and unpacked code, so that a warm invocation does
 * not touch storage.
 *
 * - One storage read per function version: the first invocation loads the record and the
 *   code zip (single-flight: concurrent first calls share one load), later ones hit the cache.
 * - Bounded in bytes: an LRU holding at most `maxBytes` of code (each entry's `bytes`, by
 *   default the unpacked files' sizes plus a fixed overhead). An entry larger than the bound
 *   is answered but not kept.
 * - Push: `invalidate(id, version)` (the function was updated to `version`) drops an older
 *   cached version; a load in flight that read an older record re-reads instead of filling
 *   the cache with it. `delete(id)` drops the function; a load racing the delete re-reads (and
 *   finds nothing) instead of resurrecting it.
 * - Bounded staleness, for when a push is lost: an entry validated more than `revalidateMs`
 *   ago is not served from `peek()`; `get()` revalidates it first (one record read; the code
 *   only when the version moved). A background sweep every `revalidateMs / 2` revalidates the
 *   entries used since their last validation, so a busy function never waits on storage. With
 *   every push lost, a PUT is therefore served within `revalidateMs` (+ one read) and a DELETE
 *   stops being served within it. A change found this way is reported through `onChange`
 *   (the worker retires or removes that function's containers).
 * - Storage outage: a revalidation that fails with RF_STORAGE_UNAVAILABLE keeps the entry as
 *   it is, and while `health` says storage is degraded `peek()` serves entries however old:
 *   the worker keeps serving every function it holds at the last version it knows. Only a
 *   successful revalidation changes what is served. As soon as storage answers again, the
 *   staleness bound applies again (docs/storage.md).
 *
 * Worked example (revalidateMs = 2000): f@v3 validated at t=0. A PUT at t=100 makes v4 but
 * its push is lost. The sweep at t=1000 finds f validated 1000 ms ago (≥ 1000, and used since)
 * and reads the record: v4, so it loads v4's code, replaces the entry, and `onChange` retires
 * v3's containers; at the latest, an invocation at t=2001 finds the entry too old for peek()
 * and revalidates before running.
 */
import { RfError, hasCode } from '../errors/index.ts';
import { StorageErrors, type ArtifactStore, type FunctionRecord, type FunctionStore, type StorageHealth } from '../storage/index.ts';
import { unpackCode } from './code.ts';
import { WorkerErrors } from './errors.ts';
import type { PoolFunction } from './pool/index.ts';
import { systemClock, systemScheduler, type Clock, type Scheduler, type TimerHandle } from '../clock/index.ts';

/** A cached function version: its record and its code, ready for the pool. */
export interface CachedFunction {
  record: FunctionRecord;
  /** The record and code in the pool's shape. */
  fn: PoolFunction;
}

/** What a revalidation found changed (the push that should have said so was lost). */
export type FunctionChange = { kind: 'updated'; version: number } | { kind: 'deleted' };

/** Default bound of the cache, bytes (RINGFAAS_WORKER_CODE_CACHE_MB). */
export const DEFAULT_CODE_CACHE_BYTES = 256 * 1024 * 1024;
/** Default staleness bound, ms (RINGFAAS_FUNCTION_REVALIDATE_MS). */
export const DEFAULT_REVALIDATE_MS = 2000;
/** Bytes counted per entry on top of its files (record, maps, objects). */
const ENTRY_OVERHEAD_BYTES = 2048;
/** Revalidations a background sweep runs at once. */
const SWEEP_CONCURRENCY = 4;

export interface FunctionCacheOptions {
  functions: FunctionStore;
  artifacts: ArtifactStore;
  /** Most bytes of code kept (default DEFAULT_CODE_CACHE_BYTES). */
  maxBytes?: number;
  /** Bytes an entry counts for (default: its files' sizes + a fixed overhead). */
  sizeOf?: (entry: CachedFunction) => number;
  /** Staleness bound (default 2000 ms); see the header. */
  revalidateMs?: number;
  /** Re-reads a load may do when invalidations keep racing it (default 5). */
  maxReloads?: number;
  /** Storage reachability: recorded by every read, and read by peek(). */
  health?: StorageHealth;
  /** A revalidation found the function updated or deleted. */
  onChange?: (functionId: string, change: FunctionChange) => void;
  clock?: Clock;
  scheduler?: Scheduler;
}

interface Entry {
  cached: CachedFunction;
  bytes: number;
  validatedAt: number;
  /** Served since the last validation (the sweep revalidates only these). */
  used: boolean;
}

interface InFlight {
  promise: Promise<CachedFunction>;
  /** Lowest version the load may fill the cache with (raised by invalidate). */
  minVersion: number;
  /** Bumped by invalidate/delete: the load re-reads when it changed under it. */
  epoch: number;
}

/** See the file header. */
export class FunctionCache {
  readonly #functions: FunctionStore;
  readonly #artifacts: ArtifactStore;
  readonly #maxBytes: number;
  readonly #sizeOf: (entry: CachedFunction) => number;
  readonly #revalidateMs: number;
  readonly #maxReloads: number;
  readonly #health: StorageHealth | undefined;
  readonly #onChange: ((functionId: string, change: FunctionChange) => void) | undefined;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  /** LRU: a Map keeps insertion order; a hit re-inserts. */
  readonly #entries = new Map<string, Entry>();
  readonly #loading = new Map<string, InFlight>();
  #bytes = 0;
  #timer: TimerHandle | undefined;
  #sweeping = false;

  constructor(options: FunctionCacheOptions) {
    this.#functions = options.functions;
    this.#artifacts = options.artifacts;
    this.#maxBytes = options.maxBytes ?? DEFAULT_CODE_CACHE_BYTES;
    this.#sizeOf = options.sizeOf ?? defaultSizeOf;
    this.#revalidateMs = options.revalidateMs ?? DEFAULT_REVALIDATE_MS;
    this.#maxReloads = options.maxReloads ?? 5;
    this.#health = options.health;
    this.#onChange = options.onChange;
    this.#clock = options.clock ?? systemClock;
    this.#scheduler = options.scheduler ?? systemScheduler;
  }

  /** Functions cached. */
  get size(): number {
    return this.#entries.size;
  }

  /** Bytes the cached entries count for (never above maxBytes). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Starts the background revalidation sweep (every revalidateMs / 2). */
  start(): void {
    if (this.#timer !== undefined) return;
    const tick = (): void => {
      this.#timer = this.#scheduler.setTimer(Math.max(1, Math.floor(this.#revalidateMs / 2)), () => {
        void this.sweep().finally(() => {
          if (this.#timer !== undefined) tick();
        });
      });
    };
    tick();
  }

  /** Stops the sweep. */
  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /**
   * The cached function, without I/O (the warm path), when it was validated within the bound
   * or storage is degraded; undefined otherwise (then call get()).
   */
  peek(functionId: string): CachedFunction | undefined {
    const entry = this.#entries.get(functionId);
    if (entry === undefined) return undefined;
    if (this.#clock.now() - entry.validatedAt > this.#revalidateMs && this.#health?.degraded !== true) return undefined;
    this.#touch(functionId, entry);
    return entry.cached;
  }

  /**
   * The function's current version: from the cache when fresh, else read (first load, or a
   * revalidation of a stale entry, single-flight). A stale entry is answered as it is when the
   * revalidation cannot reach storage. Fails with RF_WORKER_FUNCTION_NOT_FOUND,
   * RF_STORAGE_UNAVAILABLE, RF_FUNCTION_LOAD_FAILED (bad zip).
   */
  async get(functionId: string): Promise<CachedFunction> {
    const fresh = this.peek(functionId);
    if (fresh !== undefined) return fresh;
    const entry = this.#entries.get(functionId);
    try {
      const loaded = await this.#loadOnce(functionId);
      return loaded;
    } catch (err) {
      const still = this.#entries.get(functionId);
      if (entry !== undefined && still === entry && hasCode(err, StorageErrors.UNAVAILABLE)) {
        this.#touch(functionId, entry);
        return entry.cached;
      }
      throw err;
    }
  }

  /** The function was updated to `version`: forget anything older. */
  invalidate(functionId: string, version: number): void {
    const entry = this.#entries.get(functionId);
    if (entry !== undefined && entry.cached.record.version < version) this.#remove(functionId);
    const load = this.#loading.get(functionId);
    if (load !== undefined) {
      load.minVersion = Math.max(load.minVersion, version);
      load.epoch++;
    }
  }

  /** The function was deleted. */
  delete(functionId: string): void {
    this.#remove(functionId);
    const load = this.#loading.get(functionId);
    if (load !== undefined) load.epoch++;
  }

  /**
   * Revalidates the entries used since their last validation and older than half the bound.
   * Stops at the first storage-unavailable failure (the rest would fail the same way).
   */
  async sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const now = this.#clock.now();
      const due = [...this.#entries].filter(([, e]) => e.used && now - e.validatedAt >= this.#revalidateMs / 2).map(([id]) => id);
      let unreachable = false;
      const next = async (): Promise<void> => {
        for (let id = due.shift(); id !== undefined && !unreachable; id = due.shift()) {
          await this.#loadOnce(id).catch((err: unknown) => {
            if (hasCode(err, StorageErrors.UNAVAILABLE)) unreachable = true;
            // Not found: #load removed it and reported the delete. Anything else: the next use retries.
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(SWEEP_CONCURRENCY, due.length) }, next));
    } finally {
      this.#sweeping = false;
    }
  }

  #touch(functionId: string, entry: Entry): void {
    entry.used = true;
    if (this.#entries.size > 1) {
      this.#entries.delete(functionId);
      this.#entries.set(functionId, entry);
    }
  }

  #remove(functionId: string): void {
    const entry = this.#entries.get(functionId);
    if (entry === undefined) return;
    this.#entries.delete(functionId);
    this.#bytes -= entry.bytes;
  }

  #loadOnce(functionId: string): Promise<CachedFunction> {
    const inFlight = this.#loading.get(functionId);
    if (inFlight !== undefined) return inFlight.promise;
    const load: InFlight = { promise: Promise.resolve(undefined as never), minVersion: 0, epoch: 0 };
    load.promise = this.#load(functionId, load).finally(() => {
      if (this.#loading.get(functionId) === load) this.#loading.delete(functionId);
    });
    this.#loading.set(functionId, load);
    return load.promise;
  }

  async #read<T>(what: string, call: () => Promise<T>): Promise<T> {
    return this.#health === undefined ? call() : this.#health.track(what, call);
  }

  async #load(functionId: string, load: InFlight): Promise<CachedFunction> {
    for (let attempt = 0; ; attempt++) {
      const epoch = load.epoch;
      const readAt = this.#clock.now();
      const stored = await this.#read('functions.get', () => this.#functions.get(functionId));
      if (load.epoch !== epoch && attempt < this.#maxReloads) continue;
      if (stored === undefined) {
        if (this.#entries.has(functionId) && load.epoch === epoch) {
          this.#remove(functionId);
          this.#onChange?.(functionId, { kind: 'deleted' });
        }
        throw new RfError(WorkerErrors.FUNCTION_NOT_FOUND, 'the function does not exist', { details: { functionId } });
      }
      const record = stored.record;
      if (record.version < load.minVersion && attempt < this.#maxReloads) continue;
      const current = this.#entries.get(functionId);
      if (current !== undefined && current.cached.record.version === record.version) {
        // Still the version we hold: the read only renews its validation.
        current.validatedAt = readAt;
        current.used = false;
        return current.cached;
      }
      const zip = await this.#read('artifacts.get', () => this.#artifacts.get(functionId, record.version)).catch((err: unknown) => {
        // The version was replaced or deleted between the two reads: read the record again.
        if (hasCode(err, StorageErrors.NOT_FOUND)) return undefined;
        throw err;
      });
      if (zip === undefined || (load.epoch !== epoch && attempt < this.#maxReloads)) {
        if (attempt < this.#maxReloads) continue;
        throw new RfError(WorkerErrors.FUNCTION_NOT_FOUND, 'the function code does not exist', { details: { functionId } });
      }
      const cached: CachedFunction = { record, fn: await toPoolFunction(record, zip) };
      if (load.epoch === epoch) {
        const replaced = this.#entries.get(functionId);
        this.#put(functionId, cached, readAt);
        if (replaced !== undefined && replaced.cached.record.version < record.version) {
          this.#onChange?.(functionId, { kind: 'updated', version: record.version });
        }
      }
      return cached;
    }
  }

  #put(functionId: string, cached: CachedFunction, validatedAt: number): void {
    this.#remove(functionId);
    const bytes = this.#sizeOf(cached);
    if (bytes > this.#maxBytes) return;
    this.#entries.set(functionId, { cached, bytes, validatedAt, used: false });
    this.#bytes += bytes;
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#remove(oldest);
    }
  }
}

function defaultSizeOf(entry: CachedFunction): number {
  let bytes = ENTRY_OVERHEAD_BYTES;
  for (const file of entry.fn.files) bytes += file.data.byteLength + file.path.length * 2;
  return bytes;
}

/** A record and its code zip in the pool's shape. */
export async function toPoolFunction(record: FunctionRecord, zip: Uint8Array): Promise<PoolFunction> {
  const files = await unpackCode(zip);
  return {
    id: record.id,
    version: record.version,
    memoryMb: record.memorySize,
    timeoutMs: record.timeoutMs,
    idleTimeoutMs: record.idleTimeoutMs,
    env: record.env,
    files,
  };
}
