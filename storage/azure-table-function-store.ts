/**
 * FunctionStore on an Azure Table (`functions`): one entity per function, all in one
 * partition, RowKey = the function id (URI-encoded: Table keys forbid `/`, `\`, `#` and `?`,
 * and the ids ringfaas assigns are URL-safe, so they are stored as they are). Updates and deletes are conditional on the entity's
 * ETag, which Table Storage checks atomically, so two concurrent writers with the same ETag
 * never both succeed.
 */
import type { TableClient, TableEntityResult } from '@azure/data-tables';
import { RfError } from '../errors/index.ts';
import { StorageErrors } from './errors.ts';
import { odata } from '@azure/data-tables';
import { bounded, listPartition, statusOf, type AzureCallContext } from './azure-errors.ts';
import type { FunctionPage, FunctionRecord, FunctionStore, StoredFunction } from './types.ts';
import { numberColumn, stringColumn } from './table-columns.ts';

/** The single partition holding every function. */
export const FUNCTIONS_PARTITION = 'fn';

/** A function as a Table entity: the record's fields as columns, `env` as a JSON string. */
interface FunctionEntity {
  partitionKey: string;
  rowKey: string;
  name: string;
  memorySize: number;
  timeoutMs: number;
  idleTimeoutMs: number;
  maxRetries?: number;
  version: number;
  codeSha256: string;
  codeSize: number;
  createdAt: string;
  updatedAt: string;
  env: string;
}

function rowKeyOf(id: string): string {
  return encodeURIComponent(id);
}

function toEntity(record: FunctionRecord): FunctionEntity {
  return {
    partitionKey: FUNCTIONS_PARTITION,
    rowKey: rowKeyOf(record.id),
    name: record.name,
    memorySize: record.memorySize,
    timeoutMs: record.timeoutMs,
    idleTimeoutMs: record.idleTimeoutMs,
    ...(record.maxRetries === undefined ? {} : { maxRetries: record.maxRetries }),
    version: record.version,
    codeSha256: record.codeSha256,
    codeSize: record.codeSize,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    env: JSON.stringify(record.env),
  };
}

function envColumn(entity: Record<string, unknown>): Record<string, string> {
  const raw = entity.env;
  if (raw === undefined || raw === '') return {};
  const parsed: unknown = JSON.parse(stringColumn(entity, 'env'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error("column 'env' is not an object");
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string') throw new Error(`env '${k}' is not a string`);
    env[k] = v;
  }
  return env;
}

/** Reads an entity back into a record; a malformed row is a storage fault, not a crash. */
function toRecord(entity: Record<string, unknown>): FunctionRecord {
  try {
    return {
      id: decodeURIComponent(stringColumn(entity, 'rowKey')),
      name: stringColumn(entity, 'name'),
      memorySize: numberColumn(entity, 'memorySize'),
      timeoutMs: numberColumn(entity, 'timeoutMs'),
      idleTimeoutMs: numberColumn(entity, 'idleTimeoutMs'),
      version: numberColumn(entity, 'version'),
      codeSha256: stringColumn(entity, 'codeSha256'),
      codeSize: numberColumn(entity, 'codeSize'),
      createdAt: stringColumn(entity, 'createdAt'),
      updatedAt: stringColumn(entity, 'updatedAt'),
      env: envColumn(entity),
      ...(entity.maxRetries === undefined ? {} : { maxRetries: numberColumn(entity, 'maxRetries') }),
    };
  } catch (err) {
    throw new RfError(StorageErrors.UNAVAILABLE, `function row '${String(entity.rowKey)}' is malformed`, { cause: err });
  }
}

function etagOf(response: { etag?: string }, what: string): string {
  if (response.etag === undefined) throw new RfError(StorageErrors.UNAVAILABLE, `storage answered ${what} without an ETag`);
  return response.etag;
}

export interface AzureTableFunctionStoreOptions extends AzureCallContext {
  /** A client on the `functions` table (created beforehand, see openStores). */
  client: TableClient;
}

export class AzureTableFunctionStore implements FunctionStore {
  readonly #client: TableClient;
  readonly #ctx: AzureCallContext;

  constructor(options: AzureTableFunctionStoreOptions) {
    this.#client = options.client;
    this.#ctx = { operationTimeoutMs: options.operationTimeoutMs, secrets: options.secrets };
  }

  async create(record: FunctionRecord): Promise<StoredFunction> {
    const response = await bounded(
      this.#ctx,
      'functions.create',
      (abortSignal) => this.#client.createEntity(toEntity(record), { abortSignal }),
      (err) => {
        if (statusOf(err) === 409) throw new RfError(StorageErrors.ALREADY_EXISTS, `function '${record.id}' already exists`);
        throw err;
      },
    );
    return { record: structuredClone(record), etag: etagOf(response, 'functions.create') };
  }

  async get(id: string): Promise<StoredFunction | undefined> {
    const entity = await bounded<TableEntityResult<Record<string, unknown>> | undefined>(
      this.#ctx,
      'functions.get',
      (abortSignal) => this.#client.getEntity<Record<string, unknown>>(FUNCTIONS_PARTITION, rowKeyOf(id), { abortSignal }),
      (err) => {
        if (statusOf(err) === 404) return undefined;
        throw err;
      },
    );
    if (entity === undefined) return undefined;
    return { record: toRecord(entity), etag: etagOf(entity, 'functions.get') };
  }

  async list(): Promise<FunctionRecord[]> {
    return (await listPartition(this.#ctx, 'functions.list', this.#client, FUNCTIONS_PARTITION)).map(toRecord);
  }

  async listPage(options: { limit: number; continuationToken?: string }): Promise<FunctionPage> {
    const token = options.continuationToken;
    // Table's token is opaque to clients, but bounded and of a known alphabet before it goes back.
    if (token !== undefined && !/^[A-Za-z0-9+/=_.!*'()~-]{1,2048}$/.test(token)) {
      throw new RfError(StorageErrors.BAD_TOKEN, 'the continuation token is not one this store issued');
    }
    return bounded(this.#ctx, 'functions.listPage', async (abortSignal) => {
      const pages = this.#client
        .listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${FUNCTIONS_PARTITION}` }, abortSignal })
        .byPage({ maxPageSize: options.limit, ...(token === undefined ? {} : { continuationToken: token }) });
      const first = await pages.next();
      if (first.done === true) return { records: [] };
      const page = first.value as Array<Record<string, unknown>> & { continuationToken?: string };
      const records = page.map(toRecord);
      return page.continuationToken === undefined ? { records } : { records, nextToken: page.continuationToken };
    }, (err) => {
      if (statusOf(err) === 400 && token !== undefined) throw new RfError(StorageErrors.BAD_TOKEN, 'the continuation token was refused by storage');
      throw err;
    });
  }

  async update(record: FunctionRecord, etag: string): Promise<StoredFunction> {
    const response = await bounded(
      this.#ctx,
      'functions.update',
      (abortSignal) => this.#client.updateEntity(toEntity(record), 'Replace', { etag, abortSignal }),
      (err) => {
        const status = statusOf(err);
        if (status === 412) throw new RfError(StorageErrors.CONFLICT, `function '${record.id}' was changed concurrently`);
        if (status === 404) throw new RfError(StorageErrors.NOT_FOUND, `function '${record.id}' does not exist`);
        throw err;
      },
    );
    return { record: structuredClone(record), etag: etagOf(response, 'functions.update') };
  }

  async delete(id: string, etag?: string): Promise<boolean> {
    return bounded(
      this.#ctx,
      'functions.delete',
      async (abortSignal) => {
        await this.#client.deleteEntity(FUNCTIONS_PARTITION, rowKeyOf(id), { etag: etag ?? '*', abortSignal });
        return true;
      },
      (err) => {
        const status = statusOf(err);
        if (status === 404) return false;
        if (status === 412) throw new RfError(StorageErrors.CONFLICT, `function '${id}' was changed concurrently`);
        throw err;
      },
    );
  }
}
