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
  /**
   * How long to keep trying while storage does not answer at all (a timeout, a refused
   * connection, a 5xx), backing off between attempts; default 0 (fail at once). A process
   * that starts alongside its storage waits for it (STORAGE_STARTUP_WAIT_MS); an answer that
   * says no (a bad key: 403) fails at once whatever this says.
   */
  startupWaitMs?: number;
  /** Told of each attempt that failed and will be tried again. */
  onStartupRetry?: (err: unknown, attempt: number, nextInMs: number) => void;
}

/** How long the platform's processes wait for their storage to answer when they start. */
export const STORAGE_STARTUP_WAIT_MS = 60_000;
const STARTUP_BACKOFF_FIRST_MS = 250;
const STARTUP_BACKOFF_MAX_MS = 5000;

/** The start of a platform process: wait up to STORAGE_STARTUP_WAIT_MS for storage, saying so in its log. */
export function waitForStorageAtStart(log: { warn(obj: object, msg: string): void }): Pick<OpenStoresOptions, 'startupWaitMs' | 'onStartupRetry'> {
  return {
    startupWaitMs: STORAGE_STARTUP_WAIT_MS,
    onStartupRetry: (err, attempt, nextInMs) => log.warn({ err, attempt, nextInMs }, 'storage not answering yet; trying again'),
  };
}

/** Whether a failure to open says storage is not there yet (no answer, or a server error). */
function notAnsweringYet(err: unknown): boolean {
  const status = statusOf(err instanceof Error ? err.cause : undefined);
  return status === undefined || status >= 500;
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
  const createAll = () => Promise.all([
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
  const giveUpAt = Date.now() + (options.startupWaitMs ?? 0);
  for (let attempt = 1, backoffMs = STARTUP_BACKOFF_FIRST_MS; ; attempt++, backoffMs = Math.min(backoffMs * 2, STARTUP_BACKOFF_MAX_MS)) {
    try {
      await createAll();
      break;
    } catch (err) {
      if (!notAnsweringYet(err) || Date.now() + backoffMs > giveUpAt) throw err;
      options.onStartupRetry?.(err, attempt, backoffMs);
      await new Promise((resolve) => setTimeout(resolve, backoffMs));
    }
  }

  return {
    functions: new AzureTableFunctionStore({ ...ctx, client: functionsTable }),
    membership: new AzureTableMembershipStore({ ...ctx, client: workersTable }),
    routers: new AzureTableRouterStatsStore({ ...ctx, client: routersTable }),
    artifacts: new AzureBlobArtifactStore({ ...ctx, container, transferTimeoutMs }),
    // The SDK clients hold no timers or sockets of their own beyond the shared agent.
    close: async () => {},
  };
}
