/**
 * The configuration table: every environment variable the router, the asynchronous dispatcher,
 * the worker and the launcher (`npm start`) read, one entry each — its schema and range, its
 * default, who reads it, its one-line doc. The loaders (router/config.ts, worker/config.ts,
 * bin/dev.ts) read through it; docs/configuration.md's Router, Worker and Launcher tables are
 * checked against it (config/test/docs.test.ts), as are the loaders (they read exactly the
 * variables marked for them: config/test/loaders.test.ts).
 *
 * The dispatcher (`ringfaas dispatcher`) reads the router's whole configuration
 * (loadRouterConfig) with its own defaults; `dispatcher` marks the variables it uses.
 *
 * One file, longer than most: it is a table, read top to bottom, and split it would be two.
 */
import { z } from 'zod';
import { LOG_LEVELS, MIN_CLUSTER_KEY_LENGTH } from '../contract/index.ts';
import { DEFAULT_MEMBER_TTL_MS, type SustainedBound } from '../ring/index.ts';
import { parseDurationMs } from './duration.ts';
import { decimal, integer, integerOrOff, matching, oneOf, optional, required, text, url, type Accepts, type Variable } from './variable.ts';

/** The worker's keep-alive policies (worker/keepalive), `fixed` the default. */
export const KEEPALIVE_POLICIES = ['fixed', 'hybrid', 'hazard', 'greedy-dual'] as const;

/** The worker's container runtimes; `auto` chooses at start. */
export const RUNTIME_CHOICES = ['auto', 'docker', 'process'] as const;

const clusterKey: Accepts<string | undefined> = optional({
  schema: z
    .string()
    .min(MIN_CLUSTER_KEY_LENGTH, `must be at least ${MIN_CLUSTER_KEY_LENGTH} characters`)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  accepts: `≥ ${MIN_CLUSTER_KEY_LENGTH} printable ASCII characters, no spaces`,
});

/** `key[:scope],…` → the entries, trimmed, empty ones dropped (each entry's scope is the router's to parse). */
const apiKeys: Accepts<readonly string[] | undefined> = optional({
  schema: z
    .string()
    .transform((list) => list.split(',').map((k) => k.trim()).filter((k) => k.length > 0))
    // A set but empty key list (", ,") must not silently mean "no authentication".
    .refine((keys) => keys.length > 0, 'is set but holds no key')
    .refine((keys) => keys.every((k) => k.length >= 8), 'must hold keys of at least 8 characters each (scope suffix included)')
    .refine((keys) => keys.every((k) => /^\S+$/.test(k)), 'must hold keys without white space'),
  accepts: 'comma-separated `key[:scope]`',
});

const resultTtl: Accepts<number> = {
  schema: z
    .string()
    .transform(parseDurationMs)
    .refine((n) => Number.isFinite(n), 'must be ms or a duration like 90s, 30m, 24h, 7d')
    .refine((n) => !Number.isFinite(n) || (n >= 1000 && n <= 365 * 86_400_000), 'must be 1s..365d'),
  accepts: 'ms, or a number with `ms`, `s`, `m`, `h`, `d`; 1 s..365 d',
};

const onOff: Accepts<boolean> = {
  schema: z
    .string()
    .optional()
    .transform((v) => v === '1' || v === 'true'),
  accepts: '`1` or `true` = on, anything else = off',
};

/** `0` or `1`, read as a boolean (switches whose default is on). */
const zeroOrOne: Accepts<boolean> = {
  schema: oneOf(['0', '1']).schema.transform((v) => v === '1'),
  accepts: oneOf(['0', '1']).accepts,
};

/** `off`, or `c/windowSeconds` (c ≥ 1, window 1..3600 s) → the sustained-load bound's settings, or undefined (off). */
const sustainedLoad: Accepts<SustainedBound | undefined> = {
  schema: z
    .string()
    .regex(/^(off|\d+(\.\d+)?\/\d+(\.\d+)?)$/, 'must be off or c/windowSeconds, e.g. 1.25/30')
    .transform((v) => {
      if (v === 'off') return undefined;
      const [c, seconds] = v.split('/').map(Number) as [number, number];
      return { c, windowMs: seconds * 1000 };
    })
    .refine((v) => v === undefined || (v.c >= 1 && v.c <= 10), 'must have c in 1..10')
    .refine((v) => v === undefined || (v.windowMs >= 1000 && v.windowMs <= 3_600_000), 'must have a window of 1..3600 s'),
  accepts: '`off`, or `c/windowSeconds`: c 1..10, window 1..3600',
};

/** The table, by variable name. */
export const VARIABLES = {
  RINGFAAS_STORAGE_CONNECTION_STRING: {
    name: 'RINGFAAS_STORAGE_CONNECTION_STRING',
    ...required(text()),
    doc: "Azure Storage connection string (or Azurite's) for functions, code and membership",
    readBy: ['router', 'dispatcher', 'worker', 'launcher'],
    secret: true,
    views: {
      worker: { doc: 'as for the router' },
      launcher: { defaultText: 'embedded Azurite', doc: 'when set, no Azurite is started and every process uses this account' },
    },
  },
  RINGFAAS_PORT: {
    name: 'RINGFAAS_PORT',
    ...integer(0, 65535),
    default: '8080',
    doc: 'listen port',
    readBy: ['router', 'dispatcher', 'launcher'],
    views: {
      dispatcher: { default: '0', doc: 'the port of its /metrics' },
      launcher: { ...integer(1, 65535), doc: 'port of the first router' },
    },
  },
  RINGFAAS_HOST: {
    name: 'RINGFAAS_HOST',
    ...text(),
    default: '127.0.0.1',
    doc: 'listen address',
    readBy: ['router', 'dispatcher', 'launcher'],
    views: { launcher: { doc: 'read by the routers (passed through)' } },
  },
  RINGFAAS_API_KEYS: {
    name: 'RINGFAAS_API_KEYS',
    ...apiKeys,
    doc: 'accepted bearer keys and what each may do',
    readBy: ['router', 'launcher'],
    secret: true,
    views: { launcher: { accepts: 'as for the router', doc: 'passed to the routers only (never to workers)' } },
  },
  RINGFAAS_CLUSTER_KEY: {
    name: 'RINGFAAS_CLUSTER_KEY',
    ...clusterKey,
    doc: 'sent to workers in `x-ringfaas-cluster-key`',
    readBy: ['router', 'worker', 'launcher'],
    secret: true,
    views: {
      worker: { doc: 'required in `x-ringfaas-cluster-key` on every route but `GET /healthz` and `POST /cluster/prove`' },
      launcher: { defaultText: 'generated, `<dir>/cluster.key`', accepts: 'as for the worker', doc: 'given to every router and worker' },
    },
  },
  RINGFAAS_TLS_CERT: {
    name: 'RINGFAAS_TLS_CERT',
    ...optional(text('PEM file paths, both or neither')),
    doc: 'serve HTTPS instead of HTTP',
    readBy: ['router', 'launcher'],
    views: { launcher: { accepts: 'as for the router', doc: 'routers serve HTTPS' } },
  },
  RINGFAAS_TLS_KEY: {
    name: 'RINGFAAS_TLS_KEY',
    ...optional(text('PEM file paths, both or neither')),
    doc: 'serve HTTPS instead of HTTP',
    readBy: ['router'],
  },
  RINGFAAS_CA_FILE: {
    name: 'RINGFAAS_CA_FILE',
    ...optional(text('as for the CLI')),
    doc: 'what the ready check trusts',
    readBy: ['launcher'],
  },
  RINGFAAS_INSECURE: {
    name: 'RINGFAAS_INSECURE',
    ...onOff,
    defaultText: 'off',
    doc: 'same as `--insecure`',
    readBy: ['router'],
  },
  RINGFAAS_MEMBERSHIP_TTL_MS: {
    name: 'RINGFAAS_MEMBERSHIP_TTL_MS',
    ...integer(500, 600_000),
    default: String(DEFAULT_MEMBER_TTL_MS),
    doc: "a worker whose last heartbeat is older than this is off this router's ring",
    readBy: ['router', 'dispatcher', 'worker'],
    views: { worker: { doc: 'how long heartbeats may fail before the worker logs that routers have dropped it' } },
  },
  RINGFAAS_LOG_LEVEL: {
    name: 'RINGFAAS_LOG_LEVEL',
    ...oneOf(LOG_LEVELS),
    default: 'info',
    doc: 'pino level',
    readBy: ['router', 'dispatcher', 'worker'],
  },
  RINGFAAS_ROUTER_ID: {
    name: 'RINGFAAS_ROUTER_ID',
    ...required(matching(/^[A-Za-z0-9._-]{1,64}$/)),
    defaultText: '`router-<hostname>-<pid>`',
    doc: "the router's name in its logs",
    readBy: ['router', 'dispatcher'],
    views: { dispatcher: { defaultText: '`dispatcher-<hostname>-<pid>`' } },
  },
  RINGFAAS_MAX_OUTPUT_BYTES: {
    name: 'RINGFAAS_MAX_OUTPUT_BYTES',
    ...integer(1024, 64 * 1024 * 1024),
    default: String(6 * 1024 * 1024),
    doc: "an invocation's output bound",
    readBy: ['router', 'worker'],
  },
  RINGFAAS_INVOKE_CHANNEL: {
    name: 'RINGFAAS_INVOKE_CHANNEL',
    ...zeroOrOne,
    default: '1',
    doc: "invocations to workers over each worker's invoke channel",
    readBy: ['router', 'dispatcher'],
  },
  RINGFAAS_SUSTAINED_LOAD: {
    name: 'RINGFAAS_SUSTAINED_LOAD',
    ...sustainedLoad,
    default: '1.25/30',
    doc: "the sustained-load bound: a worker whose load averaged over the window is over c × the averaged mean takes new requests only when no other worker does",
    readBy: ['router', 'dispatcher'],
  },
  RINGFAAS_WARM_FIRST: {
    name: 'RINGFAAS_WARM_FIRST',
    ...zeroOrOne,
    default: '1',
    doc: 'warm first when spilling: a request the bounded-load rule moves off its home goes to a worker under the bound that holds an idle warm container of the function, or stays at the home one over the bound when the home holds one and the sustained-load bound does not hold it on its average',
    readBy: ['router', 'dispatcher'],
  },
  RINGFAAS_LOAD_BY_HOST: {
    name: 'RINGFAAS_LOAD_BY_HOST',
    ...zeroOrOne,
    default: '1',
    doc: "workers whose addresses name the same host are one bin of the bounded-load rule: their loads are summed and the bound is taken over hosts, so workers on one machine split a function's calls only when its home is full",
    readBy: ['router', 'dispatcher'],
  },
  RINGFAAS_STORAGE_TIMEOUT_MS: {
    name: 'RINGFAAS_STORAGE_TIMEOUT_MS',
    ...integer(100, 120_000),
    default: '2000',
    doc: 'deadline of one storage operation',
    readBy: ['router', 'dispatcher', 'worker'],
  },
  RINGFAAS_ORPHAN_SWEEP_MS: {
    name: 'RINGFAAS_ORPHAN_SWEEP_MS',
    ...integerOrOff(1000, 86_400_000),
    default: '600000',
    doc: 'period and grace of the orphan code sweep',
    readBy: ['router'],
  },
  RINGFAAS_ASYNC_CONCURRENCY: {
    name: 'RINGFAAS_ASYNC_CONCURRENCY',
    ...integer(0, 256),
    default: '4',
    doc: "asynchronous invocations this router's dispatcher runs at once",
    readBy: ['router', 'dispatcher'],
    views: { dispatcher: { ...integer(1, 256), doc: 'its concurrency, at least 1' } },
  },
  RINGFAAS_ASYNC_RESULT_TTL: {
    name: 'RINGFAAS_ASYNC_RESULT_TTL',
    ...resultTtl,
    default: '24h',
    doc: 'how long a finished asynchronous invocation',
    readBy: ['router', 'dispatcher'],
  },
  RINGFAAS_ASYNC_VISIBILITY_MARGIN_MS: {
    name: 'RINGFAAS_ASYNC_VISIBILITY_MARGIN_MS',
    ...integer(1000, 3_600_000),
    default: '30000',
    doc: 'the lease of a message being run',
    readBy: ['router', 'dispatcher'],
  },
  RINGFAAS_ASYNC_BACKOFF_MS: {
    name: 'RINGFAAS_ASYNC_BACKOFF_MS',
    ...integer(0, 600_000),
    default: '1000',
    doc: 'delay before the first retry of a failed asynchronous attempt',
    readBy: ['router', 'dispatcher'],
  },
  RINGFAAS_ASYNC_SWEEP_INTERVAL_MS: {
    name: 'RINGFAAS_ASYNC_SWEEP_INTERVAL_MS',
    ...integer(0, 86_400_000),
    default: '60000',
    doc: 'how often each dispatcher removes expired invocations',
    readBy: ['router', 'dispatcher'],
  },
  RINGFAAS_WORKER_ID: {
    name: 'RINGFAAS_WORKER_ID',
    ...required(matching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/)),
    defaultText: '`<hostname>-<6 random hex>`',
    doc: 'ring node name and container label',
    readBy: ['worker'],
  },
  RINGFAAS_WORKER_HOST: { name: 'RINGFAAS_WORKER_HOST', ...text(), default: '127.0.0.1', doc: 'listen address', readBy: ['worker'] },
  RINGFAAS_WORKER_PORT: { name: 'RINGFAAS_WORKER_PORT', ...integer(0, 65535), default: '0', doc: 'listen port', readBy: ['worker'] },
  RINGFAAS_WORKER_ADDRESS: {
    name: 'RINGFAAS_WORKER_ADDRESS',
    ...optional(url()),
    defaultText: '`http://<host>:<port>`',
    doc: 'the address published for routers',
    readBy: ['worker'],
  },
  RINGFAAS_WORKER_MEMORY_MB: {
    name: 'RINGFAAS_WORKER_MEMORY_MB',
    ...integer(128, 1_048_576),
    default: '4096',
    doc: 'memory the worker may reserve for containers',
    readBy: ['worker'],
  },
  RINGFAAS_COLD_POOL_SIZE: { name: 'RINGFAAS_COLD_POOL_SIZE', ...integer(0, 64), default: '2', doc: 'pre-started unassigned containers to keep', readBy: ['worker'] },
  RINGFAAS_POOL_MEMORY_MB: {
    name: 'RINGFAAS_POOL_MEMORY_MB',
    ...integer(64, 4096),
    default: '128',
    doc: 'memory a pooled container reserves until it is specialised',
    readBy: ['worker'],
  },
  RINGFAAS_RUNTIME: {
    name: 'RINGFAAS_RUNTIME',
    ...oneOf(RUNTIME_CHOICES),
    default: 'auto',
    doc: 'chosen once at start',
    readBy: ['worker', 'launcher'],
    views: { launcher: { defaultText: 'decided by the launcher', doc: 'unset or `auto`: the launcher pings the engine' } },
  },
  RINGFAAS_RUNTIME_IMAGE: {
    name: 'RINGFAAS_RUNTIME_IMAGE',
    ...optional(text('non-empty image name')),
    defaultText: '`ringfaas-runtime:<hash>`, built when missing',
    doc: 'the image functions run in',
    readBy: ['worker'],
  },
  RINGFAAS_FUNCTION_NETWORK: {
    name: 'RINGFAAS_FUNCTION_NETWORK',
    ...text(),
    default: 'none',
    doc: '`none`: containers have no network',
    readBy: ['worker'],
  },
  RINGFAAS_HEARTBEAT_MS: { name: 'RINGFAAS_HEARTBEAT_MS', ...integer(100, 60_000), default: '1000', doc: 'membership heartbeat interval', readBy: ['worker'] },
  RINGFAAS_WORKER_MAX_QUEUE: {
    name: 'RINGFAAS_WORKER_MAX_QUEUE',
    ...integer(0, 100_000),
    default: '1000',
    doc: 'most requests waiting for capacity at once',
    readBy: ['worker'],
  },
  RINGFAAS_WORKER_MAX_CREATING: {
    name: 'RINGFAAS_WORKER_MAX_CREATING',
    ...integer(1, 256),
    default: '2',
    doc: 'most containers being created on the engine at once',
    readBy: ['worker'],
  },
  RINGFAAS_WORKER_DRAIN_TIMEOUT_MS: {
    name: 'RINGFAAS_WORKER_DRAIN_TIMEOUT_MS',
    ...integer(0, 3_600_000),
    default: '60000',
    doc: 'how long a drain lets running executions and container starts finish',
    readBy: ['worker'],
  },
  RINGFAAS_WORKER_CODE_CACHE_MB: {
    name: 'RINGFAAS_WORKER_CODE_CACHE_MB',
    ...integer(1, 65_536),
    default: '256',
    doc: 'megabytes of unpacked function code the worker caches',
    readBy: ['worker'],
  },
  RINGFAAS_FUNCTION_REVALIDATE_MS: {
    name: 'RINGFAAS_FUNCTION_REVALIDATE_MS',
    ...integer(100, 3_600_000),
    default: '2000',
    doc: 'staleness bound: a cached function version is revalidated against storage at least this often',
    readBy: ['worker'],
  },
  RINGFAAS_KEEPALIVE_POLICY: {
    name: 'RINGFAAS_KEEPALIVE_POLICY',
    ...oneOf(KEEPALIVE_POLICIES),
    default: 'hazard',
    doc: 'keep-alive of idle containers',
    readBy: ['worker'],
  },
  RINGFAAS_KEEPALIVE_TIME_SCALE: {
    name: 'RINGFAAS_KEEPALIVE_TIME_SCALE',
    ...decimal(1, 100_000),
    default: '1',
    doc: "divides the policy's windows",
    readBy: ['worker'],
  },
  RINGFAAS_WARM_HANDOFF: { name: 'RINGFAAS_WARM_HANDOFF', ...zeroOrOne, default: '1', doc: 'warm hand-off', readBy: ['worker'] },
  DOCKER_HOST: {
    name: 'DOCKER_HOST',
    ...optional(text('a Docker engine address')),
    defaultText: 'unset',
    doc: 'the Docker engine (dockerode reads it too)',
    readBy: ['worker', 'launcher'],
  },
  RINGFAAS_ROUTERS: { name: 'RINGFAAS_ROUTERS', ...integer(1, 16), default: '2', doc: 'routers to start', readBy: ['launcher'] },
  RINGFAAS_WORKERS: { name: 'RINGFAAS_WORKERS', ...integer(1, 32), default: '3', doc: 'workers to start', readBy: ['launcher'] },
  RINGFAAS_DEV_WORKER_PREFIX: {
    name: 'RINGFAAS_DEV_WORKER_PREFIX',
    ...matching(/^[A-Za-z0-9._-]{1,40}$/),
    default: 'worker-',
    doc: "the workers' ids are this prefix and 1..N",
    readBy: ['launcher'],
  },
  RINGFAAS_DATA_DIR: { name: 'RINGFAAS_DATA_DIR', ...text('non-empty path'), default: '.ringfaas', doc: 'created 0700', readBy: ['launcher'] },
  RINGFAAS_READY_TIMEOUT_MS: {
    name: 'RINGFAAS_READY_TIMEOUT_MS',
    ...integer(1000),
    default: '120000',
    doc: 'how long the start may take',
    readBy: ['launcher'],
  },
} as const satisfies Record<string, Variable<any>>;

/** Every entry of the table. */
export const ALL_VARIABLES: readonly Variable<unknown>[] = Object.values(VARIABLES);
