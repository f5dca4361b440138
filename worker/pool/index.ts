/**
 * The worker's container pool (see container-pool.ts for the parts and their jobs). The rest
 * of worker/ imports the pool from here.
 */
export { ContainerPool } from './container-pool.ts';
export type { PoolOptions, PoolEvents, AcquireOptions, PoolState, Claim, Lease, PoolFunction, PooledContainer, RemoveReason, Slot, ContainerState } from './types.ts';
export type { WarmUpBatch, WarmUpItem } from './warm-ups.ts';
export { HAND_OFF_GRACE_MS } from './eviction.ts';
