/**
 * Wires the three Azure stores from one connection string (Azurite's or a real account's).
 */
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient, StorageRetryPolicyType } from '@azure/storage-blob';
import { bounded, statusOf, type AzureCallContext } from './azure-errors.ts';
import { connectionSecrets, isInsecureEndpoint } from './azure-connection.ts';
import { AzureTableFunctionStore } from './azure-table-function-store.ts';
import { AzureTableMembershipStore } from './azure-table-membership-store.ts';
import { AzureBlobArtifactStore } from './azure-blob-artifact-store.ts';
import { AzureTableRouterStatsStore } from './azure-table-router-stats-store.ts';
import type { Stores } from './types.ts';

/** Names of the tables and the container ringfaas uses. */
export const FUNCTIONS_TABLE = 'functions';
export const WORKERS_TABLE = 'workers';
/** Routers' dashboard rows (docs/dashboard.md). */
export const ROUTERS_TABLE = 'routers';
export const DEPLOYMENTS_CONTAINER = 'deployments';
/** Default deadline of one storage operation: what needs storage fails within it during an outage. */
export const DEFAULT_STORAGE_TIMEOUT_MS = 2000;

export interface OpenStoresOptions {
  /** An Azure Storage connection string with Table and Blob endpoints. */
  connectionString: string;
  /** Deadline of one metadata operation, SDK retries included; default 2000 ms (RINGFAAS_STORAGE_TIMEOUT_MS). */
  operationTimeoutMs?: number;
  /** Longest deadline of one code upload or download (a large zip); default 30000 ms. */
  transferTimeoutMs?: number;
}

/**
 * SDK retries are kept short: a storage outage must answer within about one operation
 * timeout, and our own deadline cuts any retry still in flight.
 */
const TABLE_RETRY = { maxRetries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 500 };
function blobRetry(tryTimeoutMs: number) {
  return {
    retryPolicyType: StorageRetryPolicyType.EXPONENTIAL,
    maxTries: 3,
    retryDelayInMs: 100,
    maxRetryDelayInMs: 500,
    tryTimeoutInMs: tryTimeoutMs,
  };
}

/**
 * Opens the Azure stores on one connection string, creating the tables `functions` and
 * `workers` and the container `deployments` when missing. Fails with RF_STORAGE_UNAVAILABLE
 * (within the operation timeout) when storage cannot be reached.
 */
export async function openStores(options: OpenStoresOptions): Promise<Stores> {
  const { connectionString } = options;
  const ctx: AzureCallContext = {
    operationTimeoutMs: options.operationTimeoutMs ?? DEFAULT_STORAGE_TIMEOUT_MS,
    secrets: connectionSecrets(connectionString),
  };
  const transferTimeoutMs = Math.max(options.transferTimeoutMs ?? 30_000, ctx.operationTimeoutMs);
  const tableOptions = {
    allowInsecureConnection: isInsecureEndpoint(connectionString, 'table'),
    retryOptions: TABLE_RETRY,
  };

  const { functionsTable, workersTable, routersTable, container } = await bounded(ctx, 'open (reading the connection string)', async () => {
    // Parsing the connection string can throw, with the string in the message: keep it inside.
    return {
      functionsTable: TableClient.fromConnectionString(connectionString, FUNCTIONS_TABLE, tableOptions),
      workersTable: TableClient.fromConnectionString(connectionString, WORKERS_TABLE, tableOptions),
      routersTable: TableClient.fromConnectionString(connectionString, ROUTERS_TABLE, tableOptions),
      container: BlobServiceClient.fromConnectionString(connectionString, {
        retryOptions: blobRetry(transferTimeoutMs),
      }).getContainerClient(DEPLOYMENTS_CONTAINER),
    };
  });

  const tolerateExists = (err: unknown): void => {
    if (statusOf(err) === 409) return;
    throw err;
  };
  await Promise.all([
    bounded(ctx, 'functions.createTable', (abortSignal) => functionsTable.createTable({ abortSignal }), tolerateExists),
    bounded(ctx, 'workers.createTable', (abortSignal) => workersTable.createTable({ abortSignal }), tolerateExists),
    bounded(ctx, 'routers.createTable', (abortSignal) => routersTable.createTable({ abortSignal }), tolerateExists),
    bounded(
      ctx,
      'deployments.createContainer',
      async (abortSignal) => {
        await container.createIfNotExists({ abortSignal });
      },
      tolerateExists,
    ),
  ]);

  return {
    functions: new AzureTableFunctionStore({ ...ctx, client: functionsTable }),
    membership: new AzureTableMembershipStore({ ...ctx, client: workersTable }),
    routers: new AzureTableRouterStatsStore({ ...ctx, client: routersTable }),
    artifacts: new AzureBlobArtifactStore({ ...ctx, container, transferTimeoutMs }),
    // The SDK clients hold no timers or sockets of their own beyond the shared agent.
    close: async () => {},
  };
}
