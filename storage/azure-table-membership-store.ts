/**
 * MembershipStore on an Azure Table (`workers`): one entity per worker, all in one partition,
 * RowKey = the worker id (URI-encoded, since Table keys forbid `/`, `\`, `#` and `?`).
 * Each worker writes only its own row, so upserts are unconditional.
 */
import type { TableClient } from '@azure/data-tables';
import { RfError } from '../errors/index.ts';
import { StorageErrors } from './errors.ts';
import { bounded, listPartition, statusOf, type AzureCallContext } from './azure-errors.ts';
import { int64, numberColumn } from './table-columns.ts';
import type { MembershipStore, WorkerRow, WorkerState } from './types.ts';

/** The single partition holding every worker. */
export const WORKERS_PARTITION = 'worker';

function rowKeyOf(id: string): string {
  return encodeURIComponent(id);
}

function toRow(entity: Record<string, unknown>): WorkerRow {
  try {
    const state = entity.state;
    if (state !== 'active' && state !== 'draining') throw new Error("column 'state' is not a worker state");
    if (typeof entity.rowKey !== 'string' || typeof entity.address !== 'string') {
      throw new Error("columns 'rowKey' and 'address' must be strings");
    }
    return {
      id: decodeURIComponent(entity.rowKey),
      address: entity.address,
      capacityMb: numberColumn(entity, 'capacityMb'),
      state,
      heartbeatAt: numberColumn(entity, 'heartbeatAt'),
      startedAt: numberColumn(entity, 'startedAt'),
    };
  } catch (err) {
    throw new RfError(StorageErrors.UNAVAILABLE, `worker row '${String(entity.rowKey)}' is malformed`, { cause: err });
  }
}

export interface AzureTableMembershipStoreOptions extends AzureCallContext {
  /** A client on the `workers` table (created beforehand, see openStores). */
  client: TableClient;
}

export class AzureTableMembershipStore implements MembershipStore {
  readonly #client: TableClient;
  readonly #ctx: AzureCallContext;

  constructor(options: AzureTableMembershipStoreOptions) {
    this.#client = options.client;
    this.#ctx = { operationTimeoutMs: options.operationTimeoutMs, secrets: options.secrets };
  }

  async upsert(row: WorkerRow): Promise<void> {
    const entity = {
      partitionKey: WORKERS_PARTITION,
      rowKey: rowKeyOf(row.id),
      address: row.address,
      capacityMb: row.capacityMb,
      state: row.state,
      heartbeatAt: int64(row.heartbeatAt),
      startedAt: int64(row.startedAt),
    };
    await bounded(this.#ctx, 'workers.upsert', (abortSignal) =>
      this.#client.upsertEntity(entity, 'Replace', { abortSignal }),
    );
  }

  async get(id: string): Promise<WorkerRow | undefined> {
    const entity = await bounded<Record<string, unknown> | undefined>(
      this.#ctx,
      'workers.get',
      (abortSignal) => this.#client.getEntity<Record<string, unknown>>(WORKERS_PARTITION, rowKeyOf(id), { abortSignal }),
      (err) => {
        if (statusOf(err) === 404) return undefined;
        throw err;
      },
    );
    return entity === undefined ? undefined : toRow(entity);
  }

  async list(): Promise<WorkerRow[]> {
    return (await listPartition(this.#ctx, 'workers.list', this.#client, WORKERS_PARTITION)).map(toRow);
  }

  async setState(id: string, state: WorkerState): Promise<void> {
    await bounded(
      this.#ctx,
      'workers.setState',
      (abortSignal) =>
        // Merge with etag '*': only the state changes, and only on an existing row.
        this.#client.updateEntity({ partitionKey: WORKERS_PARTITION, rowKey: rowKeyOf(id), state }, 'Merge', {
          etag: '*',
          abortSignal,
        }),
      (err) => {
        if (statusOf(err) === 404) throw new RfError(StorageErrors.NOT_FOUND, `worker '${id}' is not registered`);
        throw err;
      },
    );
  }

  async remove(id: string): Promise<boolean> {
    return bounded(
      this.#ctx,
      'workers.remove',
      async (abortSignal) => {
        await this.#client.deleteEntity(WORKERS_PARTITION, rowKeyOf(id), { abortSignal });
        return true;
      },
      (err) => {
        if (statusOf(err) === 404) return false;
        throw err;
      },
    );
  }
}
