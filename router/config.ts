/**
 * The router's configuration, read once from the environment and argv by router/main.ts,
 * validated with zod (every problem reported together) and frozen.
 *
 * | variable                           | default      |
 * |------------------------------------|--------------|
 * | RINGFAAS_PORT                      | 8080         |
 * | RINGFAAS_HOST                      | 127.0.0.1    |
 * | RINGFAAS_API_KEYS                  | (none)       | comma-separated
 * | RINGFAAS_STORAGE_CONNECTION_STRING | (required)   |
 * | RINGFAAS_LOG_LEVEL                 | info         |
 * | RINGFAAS_ROUTER_ID                 | router-<host>-<pid> |
 * | RINGFAAS_MEMBERSHIP_TTL_MS         | 5000         | a worker row older than this is off the ring
 * | RINGFAAS_INSECURE=1 or --insecure  | off          | allow non-loopback without keys
 * | RINGFAAS_ASYNC_CONCURRENCY         | 4            | async messages run at once by this router's dispatcher; 0: none
 * | RINGFAAS_ASYNC_RESULT_TTL          | 24h          | how long a finished async invocation is kept (ms, or 90s/30m/24h/7d)
 * | RINGFAAS_ASYNC_VISIBILITY_MARGIN_MS| 30000        | added to a function's timeoutMs for its message's visibility
 * | RINGFAAS_ASYNC_BACKOFF_MS          | 1000         | first retry delay of a failed async attempt (doubles)
 * | RINGFAAS_ASYNC_SWEEP_INTERVAL_MS   | 60000        | how often expired async records are removed; 0: never
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { RfError } from '../errors/index.ts';
import { ConfigErrors } from '../errors/config-errors.ts';
import { DEFAULT_MEMBER_TTL_MS } from '../ring/index.ts';

export interface RouterConfig {
  readonly port: number;
  readonly host: string;
  readonly apiKeys: readonly string[];
  readonly membershipTtlMs: number;
  readonly connectionString: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly routerId: string;
  readonly insecure: boolean;
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
      .min(8, 'each key of RINGFAAS_API_KEYS must be at least 8 characters')
      .regex(/^\S+$/, 'a key of RINGFAAS_API_KEYS must not contain white space'),
  ),
  membershipTtlMs: z.coerce
    .number({ error: 'RINGFAAS_MEMBERSHIP_TTL_MS must be a number' })
    .int('RINGFAAS_MEMBERSHIP_TTL_MS must be an integer')
    .min(500, 'RINGFAAS_MEMBERSHIP_TTL_MS must be 500..600000')
    .max(600_000, 'RINGFAAS_MEMBERSHIP_TTL_MS must be 500..600000'),
  connectionString: z.string({ error: 'RINGFAAS_STORAGE_CONNECTION_STRING is required' }).min(1, 'RINGFAAS_STORAGE_CONNECTION_STRING is required'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    error: 'RINGFAAS_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
  }),
  routerId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'RINGFAAS_ROUTER_ID must match [A-Za-z0-9._-]{1,64}'),
  insecure: z.boolean(),
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

/** Whether a listen address reaches only this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || bare.toLowerCase().startsWith('::ffff:127.');
  return false;
}

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
    async: loadAsyncFields(get),
  });
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => issue.message);
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
  return Object.freeze({ ...parsed.data, apiKeys: Object.freeze([...parsed.data.apiKeys]), async: Object.freeze({ ...parsed.data.async }) });
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
