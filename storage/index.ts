/** The storage area's public surface: the contracts and their implementations. */
export type * from './types.ts';
export { StorageErrors } from './errors.ts';
export { MemoryFunctionStore, MemoryArtifactStore, MemoryMembershipStore, MemoryRouterStatsStore, createMemoryStores } from './memory-stores.ts';
export { openStores, FUNCTIONS_TABLE, WORKERS_TABLE, ROUTERS_TABLE, DEPLOYMENTS_CONTAINER, type OpenStoresOptions } from './open-stores.ts';
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
export { azuriteSkip, startTestAzurite, openTestStores, type TestStores, type TestStoresKind } from './testing.ts';
export { AzureTableRouterStatsStore, MAX_ROUTER_STATS_CHARS, type AzureTableRouterStatsStoreOptions } from './azure-table-router-stats-store.ts';
