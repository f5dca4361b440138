/**
 * The worker process's configuration, read from the environment by worker/main.ts (the only
 * reader of process.env), validated once: every problem is reported together
 * (RF_CONFIG_INVALID), then the result is frozen. docs/worker.md lists the variables.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { RfError, ConfigErrors } from '../errors/index.ts';
import { MIN_CLUSTER_KEY_LENGTH, isLoopbackHost, LOG_LEVELS } from '../contract/index.ts';
import { DEFAULT_MEMBER_TTL_MS } from '../ring/index.ts';

/** The keep-alive policy a worker runs unless RINGFAAS_KEEPALIVE_POLICY says otherwise (docs/simulation.md). */
export const DEFAULT_KEEPALIVE_POLICY = 'fixed';

const schema = z.object({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'letters, digits, _ . - (max 63), starting with a letter or digit'),
  host: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65535),
  advertiseAddress: z.url().optional(),
  memoryMb: z.coerce.number().int().min(128).max(1_048_576),
  coldPoolSize: z.coerce.number().int().min(0).max(64),
  poolMemoryMb: z.coerce.number().int().min(64).max(4096),
  runtime: z.enum(['auto', 'docker', 'process']),
  runtimeImage: z.string().min(1).optional(),
  /** 'none' (default): containers have no network; any other value names the Docker network to attach. */
  functionNetwork: z.string().min(1),
  storageConnectionString: z.string({ error: 'required (the Azure Storage or Azurite connection string)' }).min(1, 'required'),
  logLevel: z.enum(LOG_LEVELS),
  heartbeatMs: z.coerce.number().int().min(100).max(60_000),
  membershipTtlMs: z.coerce.number().int().min(500).max(600_000),
  maxQueue: z.coerce.number().int().min(0).max(100_000),
  maxOutputBytes: z.coerce.number().int().min(1024).max(64 * 1024 * 1024),
  drainTimeoutMs: z.coerce.number().int().min(0).max(3_600_000),
  /** The cluster key routers present (contract/cluster-auth.ts); required beyond loopback. */
  clusterKey: z
    .string()
    .min(MIN_CLUSTER_KEY_LENGTH, `at least ${MIN_CLUSTER_KEY_LENGTH} characters`)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional(),
  codeCacheMb: z.coerce.number().int().min(1).max(65_536),
  revalidateMs: z.coerce.number().int().min(100).max(3_600_000),
  storageTimeoutMs: z.coerce.number().int().min(100).max(120_000),
  /** Keep-alive policy of idle containers (worker/keepalive): hybrid, fixed or greedy-dual. */
  keepAlivePolicy: z.enum(['hybrid', 'fixed', 'greedy-dual']),
  /** Divides the policy's time windows (trace replays run time-compressed). */
  keepAliveTimeScale: z.coerce.number().min(1).max(100_000),
  /** Warm hand-off on join and drain (worker/handoff): 1 on, 0 off. */
  warmHandoff: z.enum(['0', '1']).transform((v) => v === '1'),
});

/** The validated, frozen worker configuration. */
export type WorkerConfig = Readonly<z.infer<typeof schema>>;

/** A default worker id: the host name plus a short random suffix. */
export function defaultWorkerId(): string {
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 40) || 'worker';
  return `${/^[A-Za-z0-9]/.test(host) ? host : `w${host}`}-${randomBytes(3).toString('hex')}`;
}

/**
 * Reads the worker's configuration from environment variables (RINGFAAS_WORKER_ID,
 * RINGFAAS_WORKER_HOST, RINGFAAS_WORKER_PORT, RINGFAAS_WORKER_ADDRESS,
 * RINGFAAS_WORKER_MEMORY_MB, RINGFAAS_COLD_POOL_SIZE, RINGFAAS_POOL_MEMORY_MB, RINGFAAS_RUNTIME,
 * RINGFAAS_RUNTIME_IMAGE, RINGFAAS_FUNCTION_NETWORK, RINGFAAS_STORAGE_CONNECTION_STRING,
 * RINGFAAS_LOG_LEVEL, RINGFAAS_HEARTBEAT_MS, RINGFAAS_MEMBERSHIP_TTL_MS, RINGFAAS_WORKER_MAX_QUEUE,
 * RINGFAAS_MAX_OUTPUT_BYTES, RINGFAAS_WORKER_DRAIN_TIMEOUT_MS, RINGFAAS_CLUSTER_KEY,
 * RINGFAAS_WORKER_CODE_CACHE_MB, RINGFAAS_FUNCTION_REVALIDATE_MS, RINGFAAS_STORAGE_TIMEOUT_MS,
 * RINGFAAS_KEEPALIVE_POLICY, RINGFAAS_KEEPALIVE_TIME_SCALE).
 * Throws RF_CONFIG_INVALID listing every problem.
 */
export function loadWorkerConfig(env: Record<string, string | undefined>): WorkerConfig {
  const get = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const parsed = schema.safeParse({
    id: get('RINGFAAS_WORKER_ID') ?? defaultWorkerId(),
    host: get('RINGFAAS_WORKER_HOST') ?? '127.0.0.1',
    port: get('RINGFAAS_WORKER_PORT') ?? 0,
    advertiseAddress: get('RINGFAAS_WORKER_ADDRESS'),
    memoryMb: get('RINGFAAS_WORKER_MEMORY_MB') ?? 4096,
    coldPoolSize: get('RINGFAAS_COLD_POOL_SIZE') ?? 2,
    poolMemoryMb: get('RINGFAAS_POOL_MEMORY_MB') ?? 128,
    runtime: get('RINGFAAS_RUNTIME') ?? 'auto',
    runtimeImage: get('RINGFAAS_RUNTIME_IMAGE'),
    functionNetwork: get('RINGFAAS_FUNCTION_NETWORK') ?? 'none',
    storageConnectionString: get('RINGFAAS_STORAGE_CONNECTION_STRING'),
    logLevel: get('RINGFAAS_LOG_LEVEL') ?? 'info',
    heartbeatMs: get('RINGFAAS_HEARTBEAT_MS') ?? 1000,
    membershipTtlMs: get('RINGFAAS_MEMBERSHIP_TTL_MS') ?? DEFAULT_MEMBER_TTL_MS,
    maxQueue: get('RINGFAAS_WORKER_MAX_QUEUE') ?? 1000,
    maxOutputBytes: get('RINGFAAS_MAX_OUTPUT_BYTES') ?? 6 * 1024 * 1024,
    drainTimeoutMs: get('RINGFAAS_WORKER_DRAIN_TIMEOUT_MS') ?? 60_000,
    clusterKey: get('RINGFAAS_CLUSTER_KEY'),
    codeCacheMb: get('RINGFAAS_WORKER_CODE_CACHE_MB') ?? 256,
    revalidateMs: get('RINGFAAS_FUNCTION_REVALIDATE_MS') ?? 2000,
    storageTimeoutMs: get('RINGFAAS_STORAGE_TIMEOUT_MS') ?? 2000,
    keepAlivePolicy: get('RINGFAAS_KEEPALIVE_POLICY') ?? DEFAULT_KEEPALIVE_POLICY,
    keepAliveTimeScale: get('RINGFAAS_KEEPALIVE_TIME_SCALE') ?? 1,
    warmHandoff: get('RINGFAAS_WARM_HANDOFF') ?? '0',
  });
  if (parsed.success && parsed.data.clusterKey === undefined && !isLoopbackHost(parsed.data.host)) {
    throw new RfError(
      ConfigErrors.INVALID,
      `invalid worker configuration: RINGFAAS_WORKER_HOST=${parsed.data.host} is beyond loopback and RINGFAAS_CLUSTER_KEY is not set: a worker reachable from the network must require the cluster key`,
      { details: { problems: ['RINGFAAS_CLUSTER_KEY: required when RINGFAAS_WORKER_HOST is beyond loopback'] } },
    );
  }
  if (parsed.success && parsed.data.heartbeatMs * 2 > parsed.data.membershipTtlMs) {
    throw new RfError(
      ConfigErrors.INVALID,
      'invalid worker configuration: RINGFAAS_HEARTBEAT_MS must be at most half of RINGFAAS_MEMBERSHIP_TTL_MS (else the worker keeps dropping off the ring)',
      { details: { problems: ['RINGFAAS_HEARTBEAT_MS: at most half of RINGFAAS_MEMBERSHIP_TTL_MS'] } },
    );
  }
  if (!parsed.success) {
    const names: Record<string, string> = {
      id: 'RINGFAAS_WORKER_ID',
      host: 'RINGFAAS_WORKER_HOST',
      port: 'RINGFAAS_WORKER_PORT',
      advertiseAddress: 'RINGFAAS_WORKER_ADDRESS',
      memoryMb: 'RINGFAAS_WORKER_MEMORY_MB',
      coldPoolSize: 'RINGFAAS_COLD_POOL_SIZE',
      poolMemoryMb: 'RINGFAAS_POOL_MEMORY_MB',
      runtime: 'RINGFAAS_RUNTIME',
      runtimeImage: 'RINGFAAS_RUNTIME_IMAGE',
      functionNetwork: 'RINGFAAS_FUNCTION_NETWORK',
      storageConnectionString: 'RINGFAAS_STORAGE_CONNECTION_STRING',
      logLevel: 'RINGFAAS_LOG_LEVEL',
      heartbeatMs: 'RINGFAAS_HEARTBEAT_MS',
      membershipTtlMs: 'RINGFAAS_MEMBERSHIP_TTL_MS',
      maxQueue: 'RINGFAAS_WORKER_MAX_QUEUE',
      maxOutputBytes: 'RINGFAAS_MAX_OUTPUT_BYTES',
      drainTimeoutMs: 'RINGFAAS_WORKER_DRAIN_TIMEOUT_MS',
      clusterKey: 'RINGFAAS_CLUSTER_KEY',
      codeCacheMb: 'RINGFAAS_WORKER_CODE_CACHE_MB',
      revalidateMs: 'RINGFAAS_FUNCTION_REVALIDATE_MS',
      storageTimeoutMs: 'RINGFAAS_STORAGE_TIMEOUT_MS',
      keepAlivePolicy: 'RINGFAAS_KEEPALIVE_POLICY',
      keepAliveTimeScale: 'RINGFAAS_KEEPALIVE_TIME_SCALE',
      warmHandoff: 'RINGFAAS_WARM_HANDOFF',
    };
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      return `${names[key] ?? key}: ${issue.message}`;
    });
    throw new RfError(ConfigErrors.INVALID, `invalid worker configuration: ${problems.join('; ')}`, { details: { problems } });
  }
  return Object.freeze(parsed.data);
}
