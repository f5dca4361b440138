/**
 * The worker's cache of function records and unpacked code, so that a warm invocation does
 * not touch storage.
 *
 * - One storage read per function version: the first invocation loads the record and the
 *   code zip (single-flight: concurrent first calls share one load), later ones hit the cache.
 * - Bounded: an LRU of `maxEntries` functions.
 * - `invalidate(id, version)` (the function was updated to `version`) drops an older cached
 *   version; a load in flight that read an older record re-reads instead of filling the
 *   cache with it. `delete(id)` drops the function; a load racing the delete re-reads (and
 *   finds nothing) instead of resurrecting it.
 *
 * Caveat: `clear()` (the worker lost contact with storage and may have missed
 * invalidations) empties the cache; loads in flight re-read.
 */
import { RfError } from '../errors/index.ts';
import type { ArtifactStore, FunctionRecord, FunctionStore } from '../storage/types.ts';
import { unpackCode } from './code.ts';
import { WorkerErrors } from './errors.ts';
import type { PoolFunction } from './pool-types.ts';

/** A cached function version: its record and its code, ready for the pool. */
export interface CachedFunction {
  record: FunctionRecord;
  /** The record and code in the pool's shape. */
  fn: PoolFunction;
}

export interface FunctionCacheOptions {
  functions: FunctionStore;
  artifacts: ArtifactStore;
  /** Most functions kept (default 256). */
  maxEntries?: number;
  /** Re-reads a load may do when invalidations keep racing it (default 5). */
  maxReloads?: number;
}

interface InFlight {
  promise: Promise<CachedFunction>;
  /** Lowest version the load may fill the cache with (raised by invalidate). */
  minVersion: number;
  /** Bumped by invalidate/delete/clear: the load re-reads when it changed under it. */
  epoch: number;
}

/** See the file header. */
export class FunctionCache {
  readonly #functions: FunctionStore;
  readonly #artifacts: ArtifactStore;
  readonly #maxEntries: number;
  readonly #maxReloads: number;
  /** LRU: a Map keeps insertion order; a hit re-inserts. */
  readonly #entries = new Map<string, CachedFunction>();
  readonly #loading = new Map<string, InFlight>();

  constructor(options: FunctionCacheOptions) {
    this.#functions = options.functions;
    this.#artifacts = options.artifacts;
    this.#maxEntries = options.maxEntries ?? 256;
    this.#maxReloads = options.maxReloads ?? 5;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached function, without I/O (the warm path). */
  peek(functionId: string): CachedFunction | undefined {
    const entry = this.#entries.get(functionId);
    if (entry !== undefined && this.#entries.size > 1) {
      this.#entries.delete(functionId);
      this.#entries.set(functionId, entry);
    }
    return entry;
  }

  /**
   * The function's current version, from the cache or loaded once. Fails with
   * RF_WORKER_FUNCTION_NOT_FOUND, RF_STORAGE_UNAVAILABLE, RF_FUNCTION_LOAD_FAILED (bad zip).
   */
  get(functionId: string): Promise<CachedFunction> {
    const entry = this.peek(functionId);
    if (entry !== undefined) return Promise.resolve(entry);
    const inFlight = this.#loading.get(functionId);
    if (inFlight !== undefined) return inFlight.promise;
    const load: InFlight = { promise: Promise.resolve(undefined as never), minVersion: 0, epoch: 0 };
    load.promise = this.#load(functionId, load).finally(() => {
      if (this.#loading.get(functionId) === load) this.#loading.delete(functionId);
    });
    this.#loading.set(functionId, load);
    return load.promise;
  }

  /** The function was updated to `version`: forget anything older. */
  invalidate(functionId: string, version: number): void {
    const entry = this.#entries.get(functionId);
    if (entry !== undefined && entry.record.version < version) this.#entries.delete(functionId);
    const load = this.#loading.get(functionId);
    if (load !== undefined) {
      load.minVersion = Math.max(load.minVersion, version);
      load.epoch++;
    }
  }

  /** The function was deleted. */
  delete(functionId: string): void {
    this.#entries.delete(functionId);
    const load = this.#loading.get(functionId);
    if (load !== undefined) load.epoch++;
  }

  /** Forgets everything (see the header's caveat). */
  clear(): void {
    this.#entries.clear();
    for (const load of this.#loading.values()) load.epoch++;
  }

  async #load(functionId: string, load: InFlight): Promise<CachedFunction> {
    for (let attempt = 0; ; attempt++) {
      const epoch = load.epoch;
      const stored = await this.#functions.get(functionId);
      if (load.epoch !== epoch && attempt < this.#maxReloads) continue;
      if (stored === undefined) {
        throw new RfError(WorkerErrors.FUNCTION_NOT_FOUND, 'the function does not exist', { details: { functionId } });
      }
      const record = stored.record;
      if (record.version < load.minVersion && attempt < this.#maxReloads) continue;
      const zip = await this.#artifacts.get(functionId, record.version).catch((err: unknown) => {
        // The version was replaced or deleted between the two reads: read the record again.
        if (hasCode(err, 'RF_STORAGE_NOT_FOUND')) return undefined;
        throw err;
      });
      if (zip === undefined || (load.epoch !== epoch && attempt < this.#maxReloads)) {
        if (attempt < this.#maxReloads) continue;
        throw new RfError(WorkerErrors.FUNCTION_NOT_FOUND, 'the function code does not exist', { details: { functionId } });
      }
      const entry: CachedFunction = { record, fn: await toPoolFunction(record, zip) };
      if (load.epoch === epoch) this.#put(functionId, entry);
      return entry;
    }
  }

  #put(functionId: string, entry: CachedFunction): void {
    this.#entries.delete(functionId);
    this.#entries.set(functionId, entry);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }
}

function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
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
