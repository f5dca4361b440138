/**
 * RouterStatsStore on an Azure Table (`routers`): one entity per router, all in one partition,
 * RowKey = the router id. Each router writes only its own row, so upserts are unconditional.
 * The stats text stays under Table Storage's 64 KiB string property limit (32 K UTF-16 chars).
 */
import type { TableClient } from '@azure/data-tables';
import { RfError } from '../errors/index.ts';
import { StorageErrors } from './errors.ts';
import { bounded, listPartition, statusOf, type AzureCallContext } from './azure-errors.ts';
import { int64, numberColumn } from './table-columns.ts';
import type { RouterStatsRow, RouterStatsStore } from './types.ts';

/** The single partition holding every router. */
export const ROUTERS_PARTITION = 'router';
/** Largest stats text a row may hold (a Table string property holds 32 K UTF-16 characters). */
export const MAX_ROUTER_STATS_CHARS = 32_000;

function toRow(entity: Record<string, unknown>): RouterStatsRow {
  let n = Number.NaN;
  try {
    n = numberColumn(entity, 'updatedAt');
  } catch {
    // a missing or non-number column: the row is malformed, answered below
  }
  if (typeof entity.rowKey !== 'string' || typeof entity.stats !== 'string' || !Number.isFinite(n)) {
    throw new RfError(StorageErrors.UNAVAILABLE, `router row '${String(entity.rowKey)}' is malformed`);
  }
  return { id: decodeURIComponent(entity.rowKey), updatedAt: n, stats: entity.stats };
}

export interface AzureTableRouterStatsStoreOptions extends AzureCallContext {
  /** A client on the `routers` table (created beforehand, see openStores). */
  client: TableClient;
}

export class AzureTableRouterStatsStore implements RouterStatsStore {
  readonly #client: TableClient;
  readonly #ctx: AzureCallContext;

  constructor(options: AzureTableRouterStatsStoreOptions) {
    this.#client = options.client;
    this.#ctx = { operationTimeoutMs: options.operationTimeoutMs, secrets: options.secrets };
  }

  async upsert(row: RouterStatsRow): Promise<void> {
    if (row.stats.length > MAX_ROUTER_STATS_CHARS) throw new RangeError(`router stats of ${row.stats.length} chars exceed ${MAX_ROUTER_STATS_CHARS}`);
    const entity = {
      partitionKey: ROUTERS_PARTITION,
      rowKey: encodeURIComponent(row.id),
      updatedAt: int64(row.updatedAt),
      stats: row.stats,
    };
    await bounded(this.#ctx, 'routers.upsert', (abortSignal) => this.#client.upsertEntity(entity, 'Replace', { abortSignal }));
  }

  async list(): Promise<RouterStatsRow[]> {
    return (await listPartition(this.#ctx, 'routers.list', this.#client, ROUTERS_PARTITION)).map(toRow);
  }

  async remove(id: string): Promise<boolean> {
    return bounded(
      this.#ctx,
      'routers.remove',
      async (abortSignal) => {
        await this.#client.deleteEntity(ROUTERS_PARTITION, encodeURIComponent(id), { abortSignal });
        return true;
      },
      (err) => {
        if (statusOf(err) === 404) return false;
        throw err;
      },
    );
  }
}
