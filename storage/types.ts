/**
 * The storage contracts. Each has an Azure implementation (Table / Blob Storage, Azurite
 * locally) and an in-memory one; one contract test suite runs against both.
 */

/** Function metadata, as stored and as answered by the public API. Never holds a credential. */
export interface FunctionRecord {
  /** Stable id, URL-safe, assigned on create. */
  id: string;
  /** Human name, `[A-Za-z0-9-_]{1,64}`. */
  name: string;
  /** Memory in MB (128..4096): the container's memory limit and its reservation on a worker. */
  memorySize: number;
  /** Per-invocation time limit; past it the container is killed. */
  timeoutMs: number;
  /** An idle warm container is removed after this long unused. */
  idleTimeoutMs: number;
  /**
   * Starts at 1 and grows on every update, by 1 unless an earlier update left that number's
   * code behind (failed or stalled after its upload). Code artifacts are kept per version.
   */
  version: number;
  /** Hex SHA-256 of the code zip of this version. */
  codeSha256: string;
  /** Size in bytes of the code zip of this version. */
  codeSize: number;
  /** ISO-8601 times. */
  createdAt: string;
  updatedAt: string;
  /** Environment variables given to the function (strings only). */
  env: Record<string, string>;
  /**
   * Asynchronous invocations: retries after a failed attempt (function error or timeout),
   * 0..10; absent on records written before the field existed (read as 2).
   */
  maxRetries?: number;
}

/** A record with the store's concurrency token (an ETag), used for If-Match updates. */
export interface StoredFunction {
  record: FunctionRecord;
  etag: string;
}

/**
 * Function metadata. Writes are conditional so concurrent updates never lose a write:
 * `update` and `delete` with an etag fail with RF_STORAGE_CONFLICT when it is stale.
 * Every failure of the backing service is an RfError RF_STORAGE_UNAVAILABLE (with `cause`),
 * raised within the store's operation timeout, never a hang.
 */
export interface FunctionStore {
  /** Fails with RF_STORAGE_ALREADY_EXISTS when the id is taken. */
  create(record: FunctionRecord): Promise<StoredFunction>;
  get(id: string): Promise<StoredFunction | undefined>;
  list(): Promise<FunctionRecord[]>;
  /**
   * One page of the functions, in id order: at most `limit` records, and `nextToken` (opaque:
   * Azure Table's continuation token, or the in-memory store's own) when more may follow.
   * A token that this store cannot read fails with RF_STORAGE_BAD_TOKEN.
   */
  listPage(options: { limit: number; continuationToken?: string }): Promise<FunctionPage>;
  /** Replaces the record when `etag` still matches; RF_STORAGE_CONFLICT otherwise, RF_STORAGE_NOT_FOUND when gone. */
  update(record: FunctionRecord, etag: string): Promise<StoredFunction>;
  /** Removes the record; `etag` (optional) must match. False when there was nothing. */
  delete(id: string, etag?: string): Promise<boolean>;
}

/** One page of a function listing. */
export interface FunctionPage {
  records: FunctionRecord[];
  /** Pass back as `continuationToken` for the next page; undefined on the last page. */
  nextToken?: string;
}

/**
 * Code zips, one object per function version (Blob container `deployments`, `<id>/<version>.zip`).
 * An object is written once and never replaced, so a record's `codeSha256` stays true of the
 * object its version names.
 */
export interface ArtifactStore {
  /**
   * Stores one version's code, create-only: RF_STORAGE_ALREADY_EXISTS when that version is
   * already stored (whoever wrote it; it is left as it is). Of concurrent puts of one version
   * exactly one succeeds.
   */
  put(functionId: string, version: number, zip: Buffer): Promise<void>;
  /** RF_STORAGE_NOT_FOUND when absent. */
  get(functionId: string, version: number): Promise<Buffer>;
  /** Removes one version; no error when absent. */
  delete(functionId: string, version: number): Promise<void>;
  /** Removes every version of a function. */
  deleteAll(functionId: string): Promise<void>;
  /** Every stored version (for the orphan sweeper), with when it was written (ms since the epoch). */
  listVersions(): Promise<StoredArtifact[]>;
}

/** One stored code object. */
export interface StoredArtifact {
  functionId: string;
  version: number;
  /** When it was written, ms since the epoch. */
  writtenAt: number;
}

export type WorkerState = 'active' | 'draining';

/** One worker's row in the Table `workers`. */
export interface WorkerRow {
  /** Stable id, chosen by the worker (also its ring node name). */
  id: string;
  /** Base URL of the worker's internal HTTP API, e.g. `http://127.0.0.1:7001`. */
  address: string;
  /** Memory the worker may reserve for containers, MB. */
  capacityMb: number;
  state: WorkerState;
  /** Last heartbeat, ms since the epoch (the worker's clock). */
  heartbeatAt: number;
  /** When the worker first registered, ms since the epoch. */
  startedAt: number;
}

/** Worker membership. Routers read it to build their ring; workers write their own row. */
export interface MembershipStore {
  /** Creates or replaces a worker's row. */
  upsert(row: WorkerRow): Promise<void>;
  get(id: string): Promise<WorkerRow | undefined>;
  list(): Promise<WorkerRow[]>;
  /** Sets the state of an existing row; RF_STORAGE_NOT_FOUND when absent. */
  setState(id: string, state: WorkerState): Promise<void>;
  remove(id: string): Promise<boolean>;
}

/** The three stores a process is wired with. */
export interface Stores {
  functions: FunctionStore;
  artifacts: ArtifactStore;
  membership: MembershipStore;
  /** Routers' dashboard rows (optional: a router without it shows its own traffic only). */
  routers?: RouterStatsStore;
  /** Releases clients and timers. */
  close(): Promise<void>;
}

/** One router's row in the Table `routers`: what it tells other routers' dashboards. */
export interface RouterStatsRow {
  /** The router's id (RINGFAAS_ROUTER_ID). */
  id: string;
  /** When the row was written, ms since the epoch (the router's clock). */
  updatedAt: number;
  /** The router's own traffic, serialised by the router (opaque here), at most MAX_ROUTER_STATS_CHARS. */
  stats: string;
}

/** Routers' dashboard rows: each router writes its own and reads all (no router knows another). */
export interface RouterStatsStore {
  /** Creates or replaces a router's row. */
  upsert(row: RouterStatsRow): Promise<void>;
  list(): Promise<RouterStatsRow[]>;
  remove(id: string): Promise<boolean>;
}
