/**
 * The worker area's public surface. Other areas import only from here.
 *
 * - startWorker(options): a whole worker (pool, cache, HTTP server, heartbeat) in-process.
 * - ContainerPool + invokeOnPool/runOnLease: the container pool, for another front-end (the Redis
 *   design) to drive: pool.acquire(fn) → lease, runOnLease(pool, lease, input) (or
 *   lease.handle.invoke + pool.release/discard).
 * - The protocol types and the error registry.
 */
export { startWorker, type StartWorkerOptions, type RunningWorker } from './start-worker.ts';
export { ContainerPool, type PoolOptions, type PoolEvents, type AcquireOptions, type PoolState } from './pool/index.ts';
export type { Lease, PoolFunction, PooledContainer, ContainerState, RemoveReason } from './pool/index.ts';
export { invokeOnPool, runOnLease, type InvocationResult, type ExecutionInfo, type InvocationEvents } from './invoke.ts';
export { FunctionCache, toPoolFunction, type CachedFunction, type FunctionCacheOptions } from './function-cache.ts';
export { unpackCode, writeCode, type CodeFile } from './code.ts';
export { Heartbeat, type HeartbeatOptions } from './heartbeat.ts';
export { createWorkerServer, MAX_INPUT_BYTES, type WorkerServerDeps } from './server.ts';
export { InvokeChannels, type InvokeChannelsDeps } from './invoke-channel.ts';
export type { WorkerAnswer, InvocationCall } from './invocation-handler.ts';
export { readBody } from './request-body.ts';
export { invocationAnswer } from './invocation-answer.ts';
export { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
export { loadWorkerConfig, defaultWorkerId, type WorkerConfig } from './config.ts';
export * as keepalive from './keepalive/index.ts';
export { ManualClock, systemClock, systemScheduler, type Clock, type Scheduler, type TimerHandle } from '../clock/index.ts';
export * from '../contract/index.ts';
export { WorkerErrors, FunctionErrors } from './errors.ts';
export type * from './runtime.ts';
export { selectRuntime, waitForEngine, removeWorkerLeftovers, type RuntimeChoice, type SelectRuntimeOptions, type SelectedRuntime } from './runtime-select.ts';
export { DockerRuntime, dockerEngineAvailable } from './docker-runtime.ts';
export { ProcessRuntime } from './process-runtime.ts';
export { buildRuntimeImage, defaultRuntimeImageName, assembleRootFs, importTarImage, type BuildRuntimeImageOptions } from './runtime-image.ts';
export { main as workerMain } from './main.ts';
