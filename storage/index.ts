/** The storage area's public surface: the contracts and their implementations. */
export type * from './types.ts';
export { StorageErrors } from './errors.ts';
export { MemoryFunctionStore, MemoryArtifactStore, MemoryMembershipStore, MemoryRouterStatsStore, createMemoryStores } from './memory-stores.ts';
export { openStores, STORAGE_STARTUP_WAIT_MS, waitForStorageAtStart, FUNCTIONS_TABLE, WORKERS_TABLE, ROUTERS_TABLE, DEPLOYMENTS_CONTAINER, type OpenStoresOptions } from './open-stores.ts';
export { AzureTableFunctionStore, type AzureTableFunctionStoreOptions } from './azure-table-function-store.ts';
export { AzureTableMembershipStore, type AzureTableMembershipStoreOptions } from './azure-table-membership-store.ts';
export { AzureBlobArtifactStore, artifactBlobName, type AzureBlobArtifactStoreOptions } from './azure-blob-artifact-store.ts';
export {
  startAzurite,
  azuriteConnectionString,
  AZURITE_ACCOUNT_NAME,
  AZURITE_ACCOUNT_KEY,
  type AzuriteOptions,
  type AzuriteHandle,
} from './azurite.ts';
export { AzureTableRouterStatsStore, MAX_ROUTER_STATS_CHARS, type AzureTableRouterStatsStoreOptions } from './azure-table-router-stats-store.ts';
export { freePort } from './azurite.ts';
export { StorageHealth, registerStorageDegradedGauge, isUnavailable, trackedStore, type StorageHealthView, type StorageHealthOptions, type HealthClock } from './health.ts';
export { sweepOrphans, type OrphanSweepOptions, type OrphanSweepResult } from './orphan-sweeper.ts';
export type * from './async-types.ts';
export { FINAL_STATUSES, MAX_ATTEMPT_LOG, MAX_INLINE_BYTES, PARKED_DUE_AT, isParked } from './async-types.ts';
export {
  AzureInvocationStore,
  AzureInvocationQueue,
  openAsyncStores,
  INVOCATIONS_TABLE,
  INVOCATIONS_QUEUE,
  DEAD_LETTER_QUEUE,
  PAYLOADS_CONTAINER,
  type AsyncStores,
  type OpenAsyncStoresOptions,
  type AzureAsyncStoreOptions,
  type AzureInvocationQueueOptions,
} from './azure-async-store.ts';
