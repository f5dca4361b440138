/**
 * Asynchronous invocations on Azure Storage: records in the Table `invocations` (partition
 * `inv`, RowKey = invocation id; Idempotency-Key claims in partition `idem`), work in the
 * Queue `ringfaas-invocations` with `ringfaas-invocations-dead` beside it, and large inputs and
 * results in the Blob container `invocation-payloads`. Every call is bounded in time and every
 * driver failure is RF_STORAGE_UNAVAILABLE (storage/azure-errors.ts). The queue's implementation
 * is azure-invocation-queue.ts; this file holds the record store and opens both.
 */
import { odata, TableClient, type TableEntityResult } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { RfError } from '../errors/index.ts';
import { StorageErrors } from './errors.ts';
import { bounded, statusOf, type AzureCallContext } from './azure-errors.ts';
import { connectionSecrets, isInsecureEndpoint, parseConnectionString } from './azure-connection.ts';
import { AzureInvocationQueue } from './azure-invocation-queue.ts';
export { AzureInvocationQueue, type AzureInvocationQueueOptions } from './azure-invocation-queue.ts';
import { PARKED_DUE_AT } from './async-types.ts';
import type {
  IdempotencyClaim,
  InvocationListQuery,
  InvocationPage,
  InvocationQueue,
  InvocationRecord,
  InvocationStore,
  StoredInvocation,
} from './async-types.ts';

export const INVOCATIONS_TABLE = 'invocations';
export const INVOCATIONS_QUEUE = 'ringfaas-invocations';
export const DEAD_LETTER_QUEUE = 'ringfaas-invocations-dead';
export const PAYLOADS_CONTAINER = 'invocation-payloads';
const RECORD_PARTITION = 'inv';
const IDEMPOTENCY_PARTITION = 'idem';
/** Parked records (async-types.ts PARKED_DUE_AT): queued, dueAt at the sentinel. */
const PARKED_FILTER = `PartitionKey eq '${RECORD_PARTITION}' and status eq 'queued' and dueAt ge ${PARKED_DUE_AT}.0`;

/** Scalar columns of a record; the nested ones are JSON strings. */
const JSON_COLUMNS = ['attemptLog', 'error'] as const;

function toEntity(record: InvocationRecord): { partitionKey: string; rowKey: string } & Record<string, unknown> {
  const entity: { partitionKey: string; rowKey: string } & Record<string, unknown> = { partitionKey: RECORD_PARTITION, rowKey: record.id };
  for (const [key, value] of Object.entries(record)) {
    if (key === 'id' || value === undefined) continue;
    entity[key] = (JSON_COLUMNS as readonly string[]).includes(key) ? JSON.stringify(value) : value;
  }
  // Int64 would come back as bigint; a double keeps ms exactly (< 2^53).
  entity.expiresAt = { value: String(record.expiresAt), type: 'Double' };
  if (record.dueAt !== undefined) entity.dueAt = { value: String(record.dueAt), type: 'Double' };
  return entity;
}

function num(raw: unknown): number {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'bigint') return Number(raw);
  if (typeof raw === 'object' && raw !== null && 'value' in raw) return Number((raw as { value: unknown }).value);
  return Number(raw);
}

function toRecord(entity: Record<string, unknown>): InvocationRecord {
  try {
    const record: Record<string, unknown> = { id: entity.rowKey };
    for (const [key, value] of Object.entries(entity)) {
      if (['partitionKey', 'rowKey', 'etag', 'timestamp', 'odata.etag', 'odata.metadata'].includes(key) || key.endsWith('@odata.type')) continue;
      record[key] = (JSON_COLUMNS as readonly string[]).includes(key) && typeof value === 'string' ? JSON.parse(value) : value;
    }
    for (const key of ['attempts', 'retryBase', 'maxRetries', 'timeoutMs', 'expiresAt', 'inputBytes']) record[key] = num(record[key]);
    if (record.dueAt !== undefined) record.dueAt = num(record.dueAt);
    if (!Array.isArray(record.attemptLog)) record.attemptLog = [];
    if (typeof record.functionId !== 'string' || typeof record.status !== 'string') throw new Error('functionId or status missing');
    return record as unknown as InvocationRecord;
  } catch (err) {
    throw new RfError(StorageErrors.UNAVAILABLE, `invocation row '${String(entity.rowKey)}' is malformed`, { cause: err });
  }
}

function etagOf(response: { etag?: string }, what: string): string {
  if (response.etag === undefined) throw new RfError(StorageErrors.UNAVAILABLE, `storage answered ${what} without an ETag`);
  return response.etag;
}

export interface AzureAsyncStoreOptions extends AzureCallContext {
  table: TableClient;
  container: ContainerClient;
  /** Deadline of one payload transfer (up to 6 MB); default max(30 000, operationTimeoutMs). */
  transferTimeoutMs?: number;
}

/** InvocationStore on a Table and a Blob container. */
export class AzureInvocationStore implements InvocationStore {
  readonly #table: TableClient;
  readonly #container: ContainerClient;
  readonly #ctx: AzureCallContext;
  readonly #transferCtx: AzureCallContext;

  constructor(options: AzureAsyncStoreOptions) {
    this.#table = options.table;
    this.#container = options.container;
    this.#ctx = { operationTimeoutMs: options.operationTimeoutMs, secrets: options.secrets };
    this.#transferCtx = { ...this.#ctx, operationTimeoutMs: Math.max(options.transferTimeoutMs ?? 30_000, options.operationTimeoutMs) };
  }

  async create(record: InvocationRecord): Promise<StoredInvocation> {
    const response = await bounded(
      this.#ctx,
      'invocations.create',
      (abortSignal) => this.#table.createEntity(toEntity(record), { abortSignal }),
      (err) => {
        if (statusOf(err) === 409) throw new RfError(StorageErrors.ALREADY_EXISTS, `invocation '${record.id}' already exists`);
        throw err;
      },
    );
    return { record: structuredClone(record), etag: etagOf(response, 'invocations.create') };
  }

  async get(id: string): Promise<StoredInvocation | undefined> {
    const entity = await bounded<TableEntityResult<Record<string, unknown>> | undefined>(
      this.#ctx,
      'invocations.get',
      (abortSignal) => this.#table.getEntity<Record<string, unknown>>(RECORD_PARTITION, id, { abortSignal }),
      (err) => {
        if (statusOf(err) === 404) return undefined;
        throw err;
      },
    );
    if (entity === undefined) return undefined;
    return { record: toRecord(entity), etag: etagOf(entity, 'invocations.get') };
  }

  async update(record: InvocationRecord, etag: string): Promise<StoredInvocation> {
    const response = await bounded(
      this.#ctx,
      'invocations.update',
      (abortSignal) => this.#table.updateEntity(toEntity(record), 'Replace', { etag, abortSignal }),
      (err) => {
        const status = statusOf(err);
        if (status === 412) throw new RfError(StorageErrors.CONFLICT, `invocation '${record.id}' was changed concurrently`);
        if (status === 404) throw new RfError(StorageErrors.NOT_FOUND, `invocation '${record.id}' does not exist`);
        throw err;
      },
    );
    return { record: structuredClone(record), etag: etagOf(response, 'invocations.update') };
  }

  async delete(id: string, etag?: string): Promise<boolean> {
    return bounded(
      this.#ctx,
      'invocations.delete',
      async (abortSignal) => {
        await this.#table.deleteEntity(RECORD_PARTITION, id, { etag: etag ?? '*', abortSignal });
        return true;
      },
      (err) => {
        const status = statusOf(err);
        if (status === 404) return false;
        if (status === 412) throw new RfError(StorageErrors.CONFLICT, `invocation '${id}' was changed concurrently`);
        throw err;
      },
    );
  }

  async list(query: InvocationListQuery): Promise<InvocationPage> {
    const clauses = [odata`PartitionKey eq ${RECORD_PARTITION}`];
    if (query.functionId !== undefined) clauses.push(odata`functionId eq ${query.functionId}`);
    if (query.status !== undefined) clauses.push(odata`status eq ${query.status}`);
    return bounded(this.#ctx, 'invocations.list', async (abortSignal) => {
      const pages = this.#table
        .listEntities<Record<string, unknown>>({ queryOptions: { filter: clauses.join(' and ') }, abortSignal })
        .byPage({ maxPageSize: query.limit, ...(query.continuationToken === undefined ? {} : { continuationToken: query.continuationToken }) });
      const first = await pages.next();
      if (first.done === true) return { items: [] };
      const page = first.value as Array<Record<string, unknown>> & { continuationToken?: string };
      const items = page.map(toRecord);
      return page.continuationToken === undefined ? { items } : { items, continuationToken: page.continuationToken };
    });
  }

  async expired(nowMs: number, limit: number): Promise<StoredInvocation[]> {
    return bounded(this.#ctx, 'invocations.expired', async (abortSignal) => {
      const out: StoredInvocation[] = [];
      const pages = this.#table.listEntities<Record<string, unknown>>({
        queryOptions: { filter: `PartitionKey eq '${RECORD_PARTITION}' and expiresAt lt ${nowMs}.0` },
        abortSignal,
      });
      for await (const entity of pages) {
        out.push({ record: toRecord(entity), etag: etagOf(entity, 'invocations.expired') });
        if (out.length >= limit) break;
      }
      return out;
    });
  }

  async overdue(queuedBefore: number, runningBefore: number, limit: number): Promise<StoredInvocation[]> {
    const q = Math.floor(queuedBefore);
    const r = Math.floor(runningBefore);
    return this.#firstRecords('invocations.overdue', `PartitionKey eq '${RECORD_PARTITION}' and ((status eq 'queued' and dueAt lt ${q}.0) or (status eq 'running' and dueAt lt ${r}.0))`, limit);
  }

  async parked(limit: number): Promise<StoredInvocation[]> {
    return this.#firstRecords('invocations.parked', PARKED_FILTER, limit);
  }

  async countParked(cap: number): Promise<number> {
    return bounded(this.#ctx, 'invocations.countParked', async (abortSignal) => {
      // Row keys only, one page: a bounded answer however many are parked.
      const pages = this.#table.listEntities({ queryOptions: { filter: PARKED_FILTER, select: ['RowKey'] }, abortSignal }).byPage({ maxPageSize: Math.max(1, Math.min(1000, cap)) });
      const first = await pages.next();
      return first.done === true ? 0 : Math.min(cap, first.value.length);
    });
  }

  /** The first `limit` records a filter selects (row-key order), asked for in one page of `limit`. */
  async #firstRecords(what: string, filter: string, limit: number): Promise<StoredInvocation[]> {
    return bounded(this.#ctx, what, async (abortSignal) => {
      const out: StoredInvocation[] = [];
      const pages = this.#table.listEntities<Record<string, unknown>>({ queryOptions: { filter }, abortSignal }).byPage({ maxPageSize: Math.max(1, Math.min(1000, limit)) });
      for await (const page of pages) {
        for (const entity of page) {
          out.push({ record: toRecord(entity), etag: etagOf(entity, what) });
          if (out.length >= limit) return out;
        }
      }
      return out;
    });
  }

  async claimIdempotency(row: string, invocationId: string, inputSha256: string): Promise<IdempotencyClaim> {
    const claimed = await bounded(
      this.#ctx,
      'invocations.claimIdempotency',
      async (abortSignal) => {
        await this.#table.createEntity({ partitionKey: IDEMPOTENCY_PARTITION, rowKey: row, invocationId, inputSha256 }, { abortSignal });
        return true;
      },
      (err) => {
        if (statusOf(err) === 409) return false;
        throw err;
      },
    );
    if (claimed) return { state: 'claimed' };
    const entity = await bounded(this.#ctx, 'invocations.readIdempotency', (abortSignal) =>
      this.#table.getEntity<Record<string, unknown>>(IDEMPOTENCY_PARTITION, row, { abortSignal }),
    );
    return { state: 'taken', invocationId: String(entity.invocationId), inputSha256: String(entity.inputSha256) };
  }

  async releaseIdempotency(row: string): Promise<void> {
    await bounded(
      this.#ctx,
      'invocations.releaseIdempotency',
      async (abortSignal) => {
        await this.#table.deleteEntity(IDEMPOTENCY_PARTITION, row, { abortSignal });
      },
      (err) => {
        if (statusOf(err) === 404) return;
        throw err;
      },
    );
  }

  async putPayload(name: string, bytes: Buffer): Promise<void> {
    await bounded(this.#transferCtx, 'payloads.put', async (abortSignal) => {
      await this.#container.getBlockBlobClient(name).uploadData(bytes, { abortSignal });
    });
  }

  async getPayload(name: string, maxBytes: number): Promise<Buffer> {
    return bounded(
      this.#transferCtx,
      'payloads.get',
      async (abortSignal) => {
        const blob = this.#container.getBlobClient(name);
        const props = await blob.getProperties({ abortSignal });
        if ((props.contentLength ?? 0) > maxBytes) throw new RfError(StorageErrors.UNAVAILABLE, `payload '${name}' is larger than ${maxBytes} bytes`);
        return blob.downloadToBuffer(0, undefined, { abortSignal });
      },
      (err) => {
        if (statusOf(err) === 404) throw new RfError(StorageErrors.NOT_FOUND, `payload '${name}' does not exist`);
        throw err;
      },
    );
  }

  async deletePayload(name: string): Promise<void> {
    await bounded(this.#ctx, 'payloads.delete', async (abortSignal) => {
      await this.#container.getBlobClient(name).deleteIfExists({ abortSignal });
    });
  }
}

/** The stores of asynchronous invocations. */
export interface AsyncStores {
  invocations: InvocationStore;
  queue: InvocationQueue;
}

export interface OpenAsyncStoresOptions {
  /** Connection string with Table, Blob and Queue endpoints. */
  connectionString: string;
  /** Deadline of one operation, SDK retries included; default 5000 ms. */
  operationTimeoutMs?: number;
  /** Deadline of one payload transfer (up to 6 MB); default 30000 ms. */
  transferTimeoutMs?: number;
}

/**
 * Opens the async stores, creating the table, both queues and the container when missing.
 * RF_STORAGE_UNAVAILABLE when storage cannot be reached (or has no Queue endpoint).
 */
export async function openAsyncStores(options: OpenAsyncStoresOptions): Promise<AsyncStores> {
  const { connectionString } = options;
  const ctx: AzureCallContext = { operationTimeoutMs: options.operationTimeoutMs ?? 5000, secrets: connectionSecrets(connectionString) };
  const payloadCtx: AzureCallContext = { ...ctx, operationTimeoutMs: Math.max(options.transferTimeoutMs ?? 30_000, ctx.operationTimeoutMs) };
  const pairs = parseConnectionString(connectionString);
  // Explicit endpoints without a Queue one (an Azurite started without its Queue service):
  // there is no queue to reach; fail at once rather than at the default cloud endpoint.
  const explicit = pairs.has('blobendpoint') || pairs.has('tableendpoint');
  if (!pairs.has('queueendpoint') && (explicit || !pairs.has('accountname')) && pairs.get('usedevelopmentstorage') !== 'true') {
    throw new RfError(StorageErrors.UNAVAILABLE, 'the storage connection string names no Queue endpoint (asynchronous invocations need one)');
  }
  const retry = { maxTries: 3, retryDelayInMs: 100, maxRetryDelayInMs: 500 };
  const clients = await bounded(ctx, 'open async stores (reading the connection string)', async () => {
    const service = QueueServiceClient.fromConnectionString(connectionString, { retryOptions: retry });
    return {
      table: TableClient.fromConnectionString(connectionString, INVOCATIONS_TABLE, {
        allowInsecureConnection: isInsecureEndpoint(connectionString, 'table'),
        retryOptions: { maxRetries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 500 },
      }),
      container: BlobServiceClient.fromConnectionString(connectionString, { retryOptions: retry }).getContainerClient(PAYLOADS_CONTAINER),
      queue: service.getQueueClient(INVOCATIONS_QUEUE),
      dead: service.getQueueClient(DEAD_LETTER_QUEUE),
    };
  });
  const tolerateExists = (err: unknown): void => {
    if (statusOf(err) === 409) return;
    throw err;
  };
  await Promise.all([
    bounded(ctx, 'invocations.createTable', (abortSignal) => clients.table.createTable({ abortSignal }), tolerateExists),
    bounded(ctx, 'payloads.createContainer', async (abortSignal) => void (await clients.container.createIfNotExists({ abortSignal })), tolerateExists),
    bounded(ctx, 'queue.create', async (abortSignal) => void (await clients.queue.createIfNotExists({ abortSignal })), tolerateExists),
    bounded(ctx, 'deadLetters.create', async (abortSignal) => void (await clients.dead.createIfNotExists({ abortSignal })), tolerateExists),
  ]);
  return {
    invocations: new AzureInvocationStore({ ...ctx, transferTimeoutMs: payloadCtx.operationTimeoutMs, table: clients.table, container: clients.container }),
    queue: new AzureInvocationQueue({ ...ctx, queue: clients.queue, deadLetters: clients.dead }),
  };
}
