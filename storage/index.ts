/** The storage area's public surface: the contracts and their implementations. */
export type * from './types.ts';
export { StorageErrors } from './errors.ts';
export { MemoryFunctionStore, MemoryArtifactStore, MemoryMembershipStore, createMemoryStores } from './memory-stores.ts';
