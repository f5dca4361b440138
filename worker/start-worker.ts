/**
 * Builds and starts a worker from an options object: pool, function cache, HTTP server,
 * heartbeat, metrics. Used by worker/main.ts (which reads the environment), by tests
 * in-process, and by anything else that hosts a worker.
 *
 * Start: remove leftovers of an earlier run of this worker id, prepare the runtime, fill the
 * cold pool, listen, register in membership. Drain (POST /drain, SIGTERM in main, or
 * `drain()`): new invocations get 503 RF_WORKER_DRAINING, in-flight ones finish, every
 * container is removed, the membership row goes, the server closes.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { type ArtifactStore, type FunctionStore, type MembershipStore, StorageHealth, registerStorageDegradedGauge } from '../storage/index.ts';
import { urlHost } from '../contract/index.ts';
import { DEFAULT_MEMBER_TTL_MS } from '../ring/index.ts';
import type { ContainerRuntime } from './runtime.ts';
import { systemClock, type Clock, type Scheduler } from '../clock/index.ts';
import { ContainerPool } from './pool/index.ts';
import { FunctionCache } from './function-cache.ts';
import { createWorkerServer } from './server.ts';
import { Heartbeat } from './heartbeat.ts';
import { RecentInvocations, recordingPolicy, WarmHandoff } from './handoff/index.ts';
import { createKeepAlivePolicy } from './keepalive/index.ts';
import { createWorkerMetrics } from './metrics.ts';
import type { KeepAlivePolicy } from './keepalive/index.ts';

export interface StartWorkerOptions {
  /** The worker's id: its ring node name, its containers' label. */
  id: string;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: a free one). */
  port?: number;
  /** URL routers reach it at (default http://<host>:<bound port>). */
  advertiseAddress?: string;
  /** Memory the pool may reserve for containers, MB. */
  capacityMb: number;
  /** Pre-started unassigned containers to keep (default 2). */
  coldPoolSize?: number;
  /** Memory of a pooled container until specialised, MB (default 128). */
  poolMemoryMb?: number;
  /** Give containers a network (default false). */
  network?: boolean;
  runtime: ContainerRuntime;
  stores: { functions: FunctionStore; artifacts: ArtifactStore; membership: MembershipStore };
  logger: Logger;
  /** Metrics registry (default a new one). */
  registry?: Registry;
  /** Heartbeat interval (default 1000 ms). */
  heartbeatMs?: number;
  /** Routers' membership TTL (default DEFAULT_MEMBER_TTL_MS of ring/). */
  membershipTtlMs?: number;
  /** Clock and scheduler of idle expiry and the heartbeat (default the system ones). */
  clock?: Clock;
  scheduler?: Scheduler;
  /** Most requests waiting for capacity (default 1000). */
  maxQueue?: number;
  /** Most containers being created at once (default DEFAULT_MAX_CREATING of pool/). */
  maxCreating?: number;
  /** Bytes of function code cached (default 256 MB; RINGFAAS_WORKER_CODE_CACHE_MB). */
  codeCacheBytes?: number;
  /** Staleness bound of cached functions (default 2000 ms; RINGFAAS_FUNCTION_REVALIDATE_MS). */
  revalidateMs?: number;
  /** Keep-alive policy of idle containers (default none: each function's idleTimeoutMs). */
  keepAlive?: KeepAlivePolicy;
  /** Largest invocation input, bytes (default 6 MB). */
  maxInputBytes?: number;
  /** Largest invocation output, bytes (default 6 MB): a container answering more is destroyed. */
  maxOutputBytes?: number;
  /** How long a drain lets running work finish before removing its containers (default 60 000 ms). */
  drainTimeoutMs?: number;
  /** Remove containers of an earlier run of this worker id at start, and any a failed removal left at drain (default true). */
  removeLeftovers?: boolean;
  /** Call runtime.prepare() at start (default true). */
  prepareRuntime?: boolean;
  /** The cluster key every route but GET /healthz requires (contract/cluster-auth.ts); absent = none. */
  clusterKey?: string;
  /** Called once a drain requested over HTTP (POST /drain) has finished. */
  onDrained?: () => void;
  /** Warm hand-off on join and drain (worker/handoff, docs/ring.md; default false). */
  warmHandoff?: boolean;
  /** Bound on the warm hand-off of a join or a drain, and on each of its peer calls (default 10 000 ms). */
  warmHandoffTimeoutMs?: number;
  /** The hand-off's window of recent use and its warm-ups' grace, ms (default 60 000; pool/ PoolOptions.handOffGraceMs). */
  handOffGraceMs?: number;
}

/** A running worker. */
export interface RunningWorker {
  readonly id: string;
  /** Base URL of its HTTP API. */
  readonly address: string;
  readonly pool: ContainerPool;
  readonly cache: FunctionCache;
  readonly registry: Registry;
  readonly server: Server;
  readonly heartbeat: Heartbeat;
  /** Whether storage answers, as this worker's calls tell it. */
  readonly health: StorageHealth;
  /** Drains and stops (idempotent; the same promise every time). */
  drain(): Promise<void>;
  /** Same as drain(). */
  close(): Promise<void>;
}

/** Builds and starts a worker; see the file header. */
export async function startWorker(options: StartWorkerOptions): Promise<RunningWorker> {
  const log = options.logger.child({ workerId: options.id });
  const registry = options.registry ?? new Registry();
  let poolRef: ContainerPool | undefined;
  const metrics = createWorkerMetrics(registry, () => poolRef);
  const recent = options.warmHandoff === true ? new RecentInvocations() : undefined;
  const keepAlive = recent === undefined ? options.keepAlive : recordingPolicy(options.keepAlive ?? createKeepAlivePolicy('fixed'), recent);
  const pool = new ContainerPool({
    workerId: options.id,
    runtime: options.runtime,
    capacityMb: options.capacityMb,
    coldPoolSize: options.coldPoolSize ?? 2,
    ...(options.poolMemoryMb === undefined ? {} : { poolMemoryMb: options.poolMemoryMb }),
    network: options.network ?? false,
    maxQueue: options.maxQueue ?? 1000,
    ...(options.maxCreating === undefined ? {} : { maxCreating: options.maxCreating }),
    ...(options.maxOutputBytes === undefined ? {} : { maxOutputBytes: options.maxOutputBytes }),
    ...(options.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: options.drainTimeoutMs }),
    ...(options.handOffGraceMs === undefined ? {} : { handOffGraceMs: options.handOffGraceMs }),
    logger: log,
    events: metrics.poolEvents,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.scheduler === undefined ? {} : { scheduler: options.scheduler }),
    ...(keepAlive === undefined ? {} : { keepAlive }),
  });
  poolRef = pool;
  const health = new StorageHealth({ log, ...(options.clock === undefined ? {} : { clock: options.clock }) });
  registerStorageDegradedGauge(health, registry);
  const cache = new FunctionCache({
    functions: options.stores.functions,
    artifacts: options.stores.artifacts,
    ...(options.codeCacheBytes === undefined ? {} : { maxBytes: options.codeCacheBytes }),
    ...(options.revalidateMs === undefined ? {} : { revalidateMs: options.revalidateMs }),
    health,
    // A lost push found by revalidation: do what the push would have done.
    onChange: (functionId, change) => {
      if (change.kind === 'deleted') {
        const removed = pool.removeFunction(functionId);
        log.info({ functionId, removed }, 'function deleted (found by revalidation)');
      } else {
        const retired = pool.retire(functionId, change.version);
        log.info({ functionId, version: change.version, retired }, 'function updated (found by revalidation)');
      }
    },
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.scheduler === undefined ? {} : { scheduler: options.scheduler }),
  });

  if (options.removeLeftovers !== false) {
    const removed = await options.runtime.removeLeftovers(options.id);
    if (removed > 0) log.info({ removed }, 'removed containers left by an earlier run');
  }
  if (options.prepareRuntime !== false) await options.runtime.prepare();
  await pool.fill();

  const handoff =
    recent === undefined
      ? undefined
      : new WarmHandoff({
          workerId: options.id,
          membership: options.stores.membership,
          pool,
          cache,
          recent,
          logger: log,
          clock: options.clock ?? systemClock,
          ...(options.clusterKey === undefined ? {} : { clusterKey: options.clusterKey }),
          ...(options.membershipTtlMs === undefined ? {} : { membershipTtlMs: options.membershipTtlMs }),
          ...(options.warmHandoffTimeoutMs === undefined ? {} : { timeoutMs: options.warmHandoffTimeoutMs }),
        });

  let drainPromise: Promise<void> | undefined;
  let address = '';
  /** The join's warm hand-off runs: /healthz answers 503 until the worker registers. */
  let joining = handoff !== undefined;
  const { server, channels } = createWorkerServer({
    ...(options.clusterKey === undefined ? {} : { clusterKey: options.clusterKey }),
    advertisedAddress: () => address,
    workerId: options.id,
    runtimeKind: options.runtime.kind,
    pool,
    cache,
    health,
    metrics,
    registry,
    logger: log,
    ...(options.maxInputBytes === undefined ? {} : { maxInputBytes: options.maxInputBytes }),
    ...(handoff === undefined ? {} : { extraRoutes: (method, path, req, res) => handoff.route(method, path, req, res), joining: () => joining }),
    onDrain: () => {
      void drain().then(
        () => options.onDrained?.(),
        (err: unknown) => log.error({ err }, 'drain failed'),
      );
    },
  });

  const host = options.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await pool.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  address = options.advertiseAddress ?? `http://${urlHost(host)}:${port}`;

  const hb = new Heartbeat({
    membership: options.stores.membership,
    row: { id: options.id, address, capacityMb: options.capacityMb },
    intervalMs: options.heartbeatMs ?? 1000,
    ttlMs: options.membershipTtlMs ?? DEFAULT_MEMBER_TTL_MS,
    logger: log,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.scheduler === undefined ? {} : { scheduler: options.scheduler }),
    health,
  });
  // warm hand-off: the functions whose home moves here are warm before any router sees this worker
  if (handoff !== undefined) await handoff.beforeJoin(address).catch((err: unknown) => log.warn({ err }, 'hand-off on join failed'));
  await hb.start();
  joining = false;
  cache.start();
  log.info({ address, capacityMb: options.capacityMb, runtime: options.runtime.kind, coldPool: pool.coldPoolIdle }, 'worker listening');

  const drain = (): Promise<void> => {
    drainPromise ??= (async () => {
      log.info({ inFlight: pool.load }, 'worker draining');
      // warm hand-off: the hot functions are warm on their next homes before this worker leaves
      if (handoff !== undefined) await handoff.beforeDrain().catch((err: unknown) => log.warn({ err }, 'hand-off on drain failed'));
      cache.stop();
      const pooled = pool.drain();
      await hb.setDraining();
      await pooled;
      // Whatever a busy engine failed to remove on the way (each removal is retried) goes now.
      if (options.removeLeftovers !== false) await options.runtime.removeLeftovers(options.id).then(
        (left) => left > 0 && log.warn({ left }, 'containers left behind by failed removals: removed at drain'),
        (err: unknown) => log.warn({ err }, 'sweep of containers left behind failed'),
      );
      await hb.stop();
      await channels.close();
      await closeServer(server);
      await handoff?.close();
      log.info({}, 'worker drained');
    })();
    return drainPromise;
  };

  return { id: options.id, address, pool, cache, registry, server, heartbeat: hb, health, drain, close: drain };
}

/** Closes the server: idle keep-alive connections at once, busy ones after a short grace. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), 2000);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
