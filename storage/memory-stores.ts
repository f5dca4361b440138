/**
 * In-memory implementations of the storage contracts: real implementations of the same
 * interfaces (they pass the same contract suite as the Azure ones), for unit speed and for
 * single-process use. Nothing survives the process.
 */
import { RfError } from '../errors/index.ts';
import { StorageErrors } from './errors.ts';
import type {
  ArtifactStore,
  FunctionPage,
  FunctionRecord,
  FunctionStore,
  MembershipStore,
  RouterStatsRow,
  RouterStatsStore,
  StoredArtifact,
  StoredFunction,
  Stores,
  WorkerRow,
  WorkerState,
} from './types.ts';

/** Deep copy, so callers never share state with the store. */
function copy<T>(value: T): T {
  return structuredClone(value);
}

export class MemoryFunctionStore implements FunctionStore {
  readonly #rows = new Map<string, StoredFunction>();
  #writes = 0;

  #stored(record: FunctionRecord): StoredFunction {
    this.#writes += 1;
    const stored = { record: copy(record), etag: `W/"${this.#writes}"` };
    this.#rows.set(record.id, stored);
    return copy(stored);
  }

  async create(record: FunctionRecord): Promise<StoredFunction> {
    if (this.#rows.has(record.id)) {
      throw new RfError(StorageErrors.ALREADY_EXISTS, `function '${record.id}' already exists`);
    }
    return this.#stored(record);
  }

  async get(id: string): Promise<StoredFunction | undefined> {
    const stored = this.#rows.get(id);
    return stored === undefined ? undefined : copy(stored);
  }

  async list(): Promise<FunctionRecord[]> {
    return [...this.#rows.values()].map((stored) => copy(stored.record));
  }

  async listPage(options: { limit: number; continuationToken?: string }): Promise<FunctionPage> {
    let after = '';
    if (options.continuationToken !== undefined) {
      const decoded = /^m1\.([A-Za-z0-9_-]*)$/.exec(options.continuationToken);
      if (decoded === null) throw new RfError(StorageErrors.BAD_TOKEN, 'the continuation token is not one this store issued');
      after = Buffer.from(decoded[1]!, 'base64url').toString('utf8');
    }
    const ids = [...this.#rows.keys()].filter((id) => id > after).sort();
    const page = ids.slice(0, options.limit);
    const records = page.map((id) => copy((this.#rows.get(id) as StoredFunction).record));
    const last = page[page.length - 1];
    return ids.length > options.limit && last !== undefined ? { records, nextToken: `m1.${Buffer.from(last).toString('base64url')}` } : { records };
  }

  async update(record: FunctionRecord, etag: string): Promise<StoredFunction> {
    const current = this.#rows.get(record.id);
    if (current === undefined) throw new RfError(StorageErrors.NOT_FOUND, `function '${record.id}' does not exist`);
    if (current.etag !== etag) {
      throw new RfError(StorageErrors.CONFLICT, `function '${record.id}' was changed concurrently`);
    }
    return this.#stored(record);
  }

  async delete(id: string, etag?: string): Promise<boolean> {
    const current = this.#rows.get(id);
    if (current === undefined) return false;
    if (etag !== undefined && current.etag !== etag) {
      throw new RfError(StorageErrors.CONFLICT, `function '${id}' was changed concurrently`);
    }
    return this.#rows.delete(id);
  }
}

export class MemoryArtifactStore implements ArtifactStore {
  readonly #blobs = new Map<string, Buffer>();
  readonly #writtenAt = new Map<string, number>();
  /** ms since the epoch (tests move it). */
  now: () => number = () => Date.now();

  async put(functionId: string, version: number, zip: Buffer): Promise<void> {
    const key = `${functionId}/${version}`;
    if (this.#blobs.has(key)) {
      throw new RfError(StorageErrors.ALREADY_EXISTS, `code of function '${functionId}' version ${version} already exists`);
    }
    this.#blobs.set(key, Buffer.from(zip));
    this.#writtenAt.set(key, this.now());
  }

  async listVersions(): Promise<StoredArtifact[]> {
    return [...this.#blobs.keys()].map((key) => {
      const at = key.lastIndexOf('/');
      return { functionId: key.slice(0, at), version: Number(key.slice(at + 1)), writtenAt: this.#writtenAt.get(key) ?? 0 };
    });
  }

  async get(functionId: string, version: number): Promise<Buffer> {
    const blob = this.#blobs.get(`${functionId}/${version}`);
    if (blob === undefined) {
      throw new RfError(StorageErrors.NOT_FOUND, `no code for function '${functionId}' version ${version}`);
    }
    return Buffer.from(blob);
  }

  async delete(functionId: string, version: number): Promise<void> {
    this.#blobs.delete(`${functionId}/${version}`);
  }

  async deleteAll(functionId: string): Promise<void> {
    for (const key of this.#blobs.keys()) if (key.startsWith(`${functionId}/`)) this.#blobs.delete(key);
  }

  /** How many versions are stored (for tests that check nothing was written). */
  get size(): number {
    return this.#blobs.size;
  }
}

export class MemoryMembershipStore implements MembershipStore {
  readonly #rows = new Map<string, WorkerRow>();

  async upsert(row: WorkerRow): Promise<void> {
    this.#rows.set(row.id, copy(row));
  }

  async get(id: string): Promise<WorkerRow | undefined> {
    const row = this.#rows.get(id);
    return row === undefined ? undefined : copy(row);
  }

  async list(): Promise<WorkerRow[]> {
    return [...this.#rows.values()].map(copy);
  }

  async setState(id: string, state: WorkerState): Promise<void> {
    const row = this.#rows.get(id);
    if (row === undefined) throw new RfError(StorageErrors.NOT_FOUND, `worker '${id}' is not registered`);
    row.state = state;
  }

  async remove(id: string): Promise<boolean> {
    return this.#rows.delete(id);
  }
}

export class MemoryRouterStatsStore implements RouterStatsStore {
  readonly #rows = new Map<string, RouterStatsRow>();

  async upsert(row: RouterStatsRow): Promise<void> {
    this.#rows.set(row.id, { ...row });
  }

  async list(): Promise<RouterStatsRow[]> {
    return [...this.#rows.values()].map((row) => ({ ...row }));
  }

  async remove(id: string): Promise<boolean> {
    return this.#rows.delete(id);
  }
}

/** The in-memory stores, wired as one `Stores`. */
export function createMemoryStores(): Stores {
  return {
    functions: new MemoryFunctionStore(),
    artifacts: new MemoryArtifactStore(),
    membership: new MemoryMembershipStore(),
    routers: new MemoryRouterStatsStore(),
    close: async () => {},
  };
}
