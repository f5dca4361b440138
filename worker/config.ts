/**
 * The worker process's configuration, read from the environment by worker/main.ts (the only
 * reader of process.env) through the configuration table (config/variables.ts: every variable,
 * its range and default), validated once: every problem is reported together
 * (RF_CONFIG_INVALID), then the result is frozen.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { isLoopbackHost } from '../contract/index.ts';
import { VARIABLES as V, readVariables, settle, type Environment, type ValuesOf } from '../config/index.ts';

/** The variables the worker reads, by field. */
const WORKER_VARIABLES = {
  id: V.RINGFAAS_WORKER_ID,
  host: V.RINGFAAS_WORKER_HOST,
  port: V.RINGFAAS_WORKER_PORT,
  advertiseAddress: V.RINGFAAS_WORKER_ADDRESS,
  memoryMb: V.RINGFAAS_WORKER_MEMORY_MB,
  coldPoolSize: V.RINGFAAS_COLD_POOL_SIZE,
  poolMemoryMb: V.RINGFAAS_POOL_MEMORY_MB,
  runtime: V.RINGFAAS_RUNTIME,
  runtimeImage: V.RINGFAAS_RUNTIME_IMAGE,
  /** 'none' (default): containers have no network; any other value names the Docker network to attach. */
  functionNetwork: V.RINGFAAS_FUNCTION_NETWORK,
  storageConnectionString: V.RINGFAAS_STORAGE_CONNECTION_STRING,
  logLevel: V.RINGFAAS_LOG_LEVEL,
  heartbeatMs: V.RINGFAAS_HEARTBEAT_MS,
  membershipTtlMs: V.RINGFAAS_MEMBERSHIP_TTL_MS,
  maxQueue: V.RINGFAAS_WORKER_MAX_QUEUE,
  maxCreating: V.RINGFAAS_WORKER_MAX_CREATING,
  maxOutputBytes: V.RINGFAAS_MAX_OUTPUT_BYTES,
  drainTimeoutMs: V.RINGFAAS_WORKER_DRAIN_TIMEOUT_MS,
  /** The cluster key routers present (contract/cluster-auth.ts); required beyond loopback. */
  clusterKey: V.RINGFAAS_CLUSTER_KEY,
  codeCacheMb: V.RINGFAAS_WORKER_CODE_CACHE_MB,
  revalidateMs: V.RINGFAAS_FUNCTION_REVALIDATE_MS,
  storageTimeoutMs: V.RINGFAAS_STORAGE_TIMEOUT_MS,
  /** Keep-alive policy of idle containers (worker/keepalive; `fixed` unless set, docs/simulation.md). */
  keepAlivePolicy: V.RINGFAAS_KEEPALIVE_POLICY,
  /** Divides the policy's time windows (trace replays run time-compressed). */
  keepAliveTimeScale: V.RINGFAAS_KEEPALIVE_TIME_SCALE,
  /** Warm hand-off on join and drain (worker/handoff): true on. */
  warmHandoff: V.RINGFAAS_WARM_HANDOFF,
  /** The Docker engine's address (dockerode reads it too); set, an engine is configured. */
  dockerHost: V.DOCKER_HOST,
};

/** The validated, frozen worker configuration. */
export type WorkerConfig = Readonly<ValuesOf<typeof WORKER_VARIABLES>>;

/** A default worker id: the host name plus a short random suffix. */
export function defaultWorkerId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 40) || 'worker';
  return `${/^[A-Za-z0-9]/.test(host) ? host : `w${host}`}-${randomBytes(3).toString('hex')}`;
}

/** Reads the worker's configuration from the environment; throws RF_CONFIG_INVALID listing every problem. */
export function loadWorkerConfig(env: Environment): WorkerConfig {
  const read = readVariables(env, 'worker', WORKER_VARIABLES, { [V.RINGFAAS_WORKER_ID.name]: defaultWorkerId() });
  const { host, clusterKey, heartbeatMs, membershipTtlMs } = read.values;
  const clusterKeyBad = read.problems.some((p) => p.startsWith(`${V.RINGFAAS_CLUSTER_KEY.name} `));
  const problems: string[] = [];
  if (host !== undefined && clusterKey === undefined && !clusterKeyBad && !isLoopbackHost(host)) {
    problems.push(
      `RINGFAAS_CLUSTER_KEY is required when RINGFAAS_WORKER_HOST (${host}) is beyond loopback: a worker reachable from the network must require the cluster key`,
    );
  }
  if (heartbeatMs !== undefined && membershipTtlMs !== undefined && heartbeatMs * 2 > membershipTtlMs) {
    problems.push('RINGFAAS_HEARTBEAT_MS must be at most half of RINGFAAS_MEMBERSHIP_TTL_MS (else the worker keeps dropping off the ring)');
  }
  return settle('worker', read, problems);
}
