/**
 * The router's configuration, read once from the environment and argv by router/main.ts,
 * validated with zod (every problem reported together) and frozen.
 *
 * | variable                           | default      |
 * |------------------------------------|--------------|
 * | RINGFAAS_PORT                      | 8080         |
 * | RINGFAAS_HOST                      | 127.0.0.1    |
 * | RINGFAAS_API_KEYS                  | (none)       | comma-separated `key[:scope]`, scope invoke|deploy|admin (default admin)
 * | RINGFAAS_CLUSTER_KEY               | (none)       | sent to workers (x-ringfaas-cluster-key); needed by POST /workers
 * | RINGFAAS_TLS_CERT, RINGFAAS_TLS_KEY | (none)      | PEM files: serve HTTPS
 * | RINGFAAS_STORAGE_CONNECTION_STRING | (required)   |
 * | RINGFAAS_LOG_LEVEL                 | info         |
 * | RINGFAAS_ROUTER_ID                 | router-<host>-<pid> |
 * | RINGFAAS_MEMBERSHIP_TTL_MS         | 5000         | a worker row older than this is off the ring
 * | RINGFAAS_INSECURE=1 or --insecure  | off          | allow non-loopback without keys
 * | RINGFAAS_MAX_OUTPUT_BYTES          | 6291456      | an invocation's output bound (as the workers')
 * | RINGFAAS_STORAGE_TIMEOUT_MS        | 2000         | deadline of one storage operation
 * | RINGFAAS_ORPHAN_SWEEP_MS           | 600000       | orphan code sweep period and grace (0 = off)
 * | RINGFAAS_ASYNC_CONCURRENCY         | 4            | async messages run at once by this router's dispatcher; 0: none
 * | RINGFAAS_ASYNC_RESULT_TTL          | 24h          | how long a finished async invocation is kept (ms, or 90s/30m/24h/7d)
 * | RINGFAAS_ASYNC_VISIBILITY_MARGIN_MS| 30000        | lease of a message being run (its visibility, renewed every third of it)
 * | RINGFAAS_ASYNC_BACKOFF_MS          | 1000         | first retry delay of a failed async attempt (doubles)
 * | RINGFAAS_ASYNC_SWEEP_INTERVAL_MS   | 60000        | how often expired async records are removed; 0: never
 */
import { z } from 'zod';
import { RfError, ConfigErrors } from '../errors/index.ts';
import { DEFAULT_MEMBER_TTL_MS } from '../ring/index.ts';
import { isLoopbackHost, MIN_CLUSTER_KEY_LENGTH, LOG_LEVELS, type LogLevel } from '../contract/index.ts';
import { parseApiKey } from './auth.ts';

export interface RouterConfig {
  readonly port: number;
  readonly host: string;
  readonly apiKeys: readonly string[];
  readonly membershipTtlMs: number;
  readonly connectionString: string;
  readonly logLevel: LogLevel;
  readonly routerId: string;
  readonly insecure: boolean;
  /** An invocation's output bound, bytes: a worker's answer is read up to this plus its envelope. */
  readonly maxOutputBytes: number;
  /** The cluster key sent on every call to a worker (contract/cluster-auth.ts). */
  readonly clusterKey: string | undefined;
  /** PEM certificate chain and private key files: the router serves HTTPS when both are set. */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  readonly storageTimeoutMs: number;
  readonly orphanSweepMs: number;
  /** Asynchronous invocations (docs/async.md). */
  readonly async: AsyncConfig;
}

export interface AsyncConfig {
  readonly concurrency: number;
  readonly resultTtlMs: number;
  readonly visibilityMarginMs: number;
  readonly backoffBaseMs: number;
  readonly sweepIntervalMs: number;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `86400000`, `90s`, `30m`, `24h`, `7d` → ms; NaN when malformed. */
export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (match === null) return Number.NaN;
  return Math.round(Number(match[1]) * (DURATION_UNITS[match[2] ?? 'ms'] as number));
}

function intSchema(name: string, min: number, max: number) {
  return z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be an integer`)
    .min(min, `${name} must be ${min}..${max}`)
    .max(max, `${name} must be ${min}..${max}`);
}

const schema = z.object({
  port: z.coerce
    .number({ error: 'RINGFAAS_PORT must be a number' })
    .int('RINGFAAS_PORT must be an integer')
    .min(0, 'RINGFAAS_PORT must be 0..65535')
    .max(65535, 'RINGFAAS_PORT must be 0..65535'),
  host: z.string().min(1, 'RINGFAAS_HOST must not be empty'),
  apiKeys: z.array(
    z
      .string()
      .min(8, 'each key of RINGFAAS_API_KEYS must be at least 8 characters (scope suffix included)')
      .regex(/^\S+$/, 'a key of RINGFAAS_API_KEYS must not contain white space'),
  ),
  membershipTtlMs: z.coerce
    .number({ error: 'RINGFAAS_MEMBERSHIP_TTL_MS must be a number' })
    .int('RINGFAAS_MEMBERSHIP_TTL_MS must be an integer')
    .min(500, 'RINGFAAS_MEMBERSHIP_TTL_MS must be 500..600000')
    .max(600_000, 'RINGFAAS_MEMBERSHIP_TTL_MS must be 500..600000'),
  connectionString: z.string({ error: 'RINGFAAS_STORAGE_CONNECTION_STRING is required' }).min(1, 'RINGFAAS_STORAGE_CONNECTION_STRING is required'),
  logLevel: z.enum(LOG_LEVELS, {
    error: 'RINGFAAS_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
  }),
  routerId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'RINGFAAS_ROUTER_ID must match [A-Za-z0-9._-]{1,64}'),
  insecure: z.boolean(),
  maxOutputBytes: z.coerce
    .number({ error: 'RINGFAAS_MAX_OUTPUT_BYTES must be a number' })
    .int('RINGFAAS_MAX_OUTPUT_BYTES must be an integer')
    .min(1024, 'RINGFAAS_MAX_OUTPUT_BYTES must be 1024..67108864')
    .max(64 * 1024 * 1024, 'RINGFAAS_MAX_OUTPUT_BYTES must be 1024..67108864'),
  clusterKey: z
    .string()
    .min(MIN_CLUSTER_KEY_LENGTH, `RINGFAAS_CLUSTER_KEY must be at least ${MIN_CLUSTER_KEY_LENGTH} characters`)
    .regex(/^[\x21-\x7e]+$/, 'RINGFAAS_CLUSTER_KEY must be printable ASCII without spaces')
    .optional(),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
  storageTimeoutMs: z.coerce
    .number({ error: 'RINGFAAS_STORAGE_TIMEOUT_MS must be a number' })
    .int('RINGFAAS_STORAGE_TIMEOUT_MS must be an integer')
    .min(100, 'RINGFAAS_STORAGE_TIMEOUT_MS must be 100..120000')
    .max(120_000, 'RINGFAAS_STORAGE_TIMEOUT_MS must be 100..120000'),
  orphanSweepMs: z.coerce
    .number({ error: 'RINGFAAS_ORPHAN_SWEEP_MS must be a number' })
    .int('RINGFAAS_ORPHAN_SWEEP_MS must be an integer')
    .min(0, 'RINGFAAS_ORPHAN_SWEEP_MS must be 0 (off) or 1000..86400000')
    .max(86_400_000, 'RINGFAAS_ORPHAN_SWEEP_MS must be 0 (off) or 1000..86400000')
    .refine((n) => n === 0 || n >= 1000, 'RINGFAAS_ORPHAN_SWEEP_MS must be 0 (off) or 1000..86400000'),
  async: z.object({
    concurrency: intSchema('RINGFAAS_ASYNC_CONCURRENCY', 0, 256),
    resultTtlMs: z
      .number()
      .refine((n) => Number.isFinite(n), 'RINGFAAS_ASYNC_RESULT_TTL must be ms or a duration like 90s, 30m, 24h, 7d')
      .refine((n) => !Number.isFinite(n) || (n >= 1000 && n <= 365 * 86_400_000), 'RINGFAAS_ASYNC_RESULT_TTL must be 1s..365d'),
    visibilityMarginMs: intSchema('RINGFAAS_ASYNC_VISIBILITY_MARGIN_MS', 1000, 3_600_000),
    backoffBaseMs: intSchema('RINGFAAS_ASYNC_BACKOFF_MS', 0, 600_000),
    sweepIntervalMs: intSchema('RINGFAAS_ASYNC_SWEEP_INTERVAL_MS', 0, 86_400_000),
  }),
});

export { isLoopbackHost };

/** Reads and validates the router's configuration; throws RF_CONFIG_INVALID listing every problem. */
export function loadRouterConfig(env: Readonly<Record<string, string | undefined>>, argv: readonly string[], defaults: { routerId: string }): RouterConfig {
  const get = (name: string): string | undefined => env[name]?.trim() || undefined;
  const keysText = get('RINGFAAS_API_KEYS');
  const keys = (keysText ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  const parsed = schema.safeParse({
    port: get('RINGFAAS_PORT') ?? '8080',
    host: get('RINGFAAS_HOST') ?? '127.0.0.1',
    apiKeys: keys,
    membershipTtlMs: get('RINGFAAS_MEMBERSHIP_TTL_MS') ?? DEFAULT_MEMBER_TTL_MS,
    connectionString: get('RINGFAAS_STORAGE_CONNECTION_STRING'),
    logLevel: get('RINGFAAS_LOG_LEVEL') ?? 'info',
    routerId: get('RINGFAAS_ROUTER_ID') ?? defaults.routerId,
    insecure: argv.includes('--insecure') || ['1', 'true'].includes(get('RINGFAAS_INSECURE') ?? ''),
    maxOutputBytes: get('RINGFAAS_MAX_OUTPUT_BYTES') ?? 6 * 1024 * 1024,
    clusterKey: get('RINGFAAS_CLUSTER_KEY'),
    tlsCert: get('RINGFAAS_TLS_CERT'),
    tlsKey: get('RINGFAAS_TLS_KEY'),
    storageTimeoutMs: get('RINGFAAS_STORAGE_TIMEOUT_MS') ?? 2000,
    orphanSweepMs: get('RINGFAAS_ORPHAN_SWEEP_MS') ?? 600_000,
    async: loadAsyncFields(get),
  });
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => issue.message);
  for (const entry of keys) {
    const key = parseApiKey(entry);
    if ('problem' in key) problems.push(key.problem);
  }
  if ((get('RINGFAAS_TLS_CERT') === undefined) !== (get('RINGFAAS_TLS_KEY') === undefined)) {
    problems.push('RINGFAAS_TLS_CERT and RINGFAAS_TLS_KEY go together: set both (HTTPS) or neither');
  }
  // A set but empty key list (", ,") must not silently mean "no authentication".
  if (keysText !== undefined && keys.length === 0) problems.push('RINGFAAS_API_KEYS is set but holds no key');
  if (parsed.success && keysText === undefined && !parsed.data.insecure && !isLoopbackHost(parsed.data.host)) {
    problems.push(
      `refusing to listen on ${parsed.data.host} (beyond loopback) without API keys: set RINGFAAS_API_KEYS, or pass --insecure (RINGFAAS_INSECURE=1) to run open`,
    );
  }
  if (!parsed.success || problems.length > 0) {
    throw new RfError(ConfigErrors.INVALID, `invalid router configuration: ${problems.join('; ')}`, { details: { problems } });
  }
  const { tlsCert, tlsKey, clusterKey, ...rest } = parsed.data;
  return Object.freeze({
    ...rest,
    apiKeys: Object.freeze([...rest.apiKeys]),
    async: Object.freeze({ ...rest.async }),
    clusterKey,
    tls: tlsCert !== undefined && tlsKey !== undefined ? Object.freeze({ certFile: tlsCert, keyFile: tlsKey }) : undefined,
  });
}

/** The raw async settings (validated by the schema); also read by router/async-dispatcher-main.ts. */
export function loadAsyncFields(get: (name: string) => string | undefined): Record<keyof AsyncConfig, unknown> {
  return {
    concurrency: get('RINGFAAS_ASYNC_CONCURRENCY') ?? '4',
    resultTtlMs: parseDurationMs(get('RINGFAAS_ASYNC_RESULT_TTL') ?? '24h'),
    visibilityMarginMs: get('RINGFAAS_ASYNC_VISIBILITY_MARGIN_MS') ?? '30000',
    backoffBaseMs: get('RINGFAAS_ASYNC_BACKOFF_MS') ?? '1000',
    sweepIntervalMs: get('RINGFAAS_ASYNC_SWEEP_INTERVAL_MS') ?? '60000',
  };
}
