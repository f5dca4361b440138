/**
 * The router's configuration, read once from the environment and argv by router/main.ts (and
 * by the dispatcher process, router/async-dispatcher-main.ts) through the configuration table
 * (config/variables.ts: every variable, its range and default), every problem reported
 * together, then frozen.
 */
import { isLoopbackHost, type LogLevel } from '../contract/index.ts';
import { VARIABLES as V, readVariables, settle, type Environment } from '../config/index.ts';
import { parseApiKey } from './auth.ts';
import type { SustainedBound } from '../ring/index.ts';

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
  /** Invocations go to workers over their invoke channel (router/worker-channel.ts); off: HTTP/1.1. */
  readonly invokeChannel: boolean;
  /** The sustained-load bound (RINGFAAS_SUSTAINED_LOAD), undefined when off. */
  readonly sustainedLoad: SustainedBound | undefined;
  /** Warm first when spilling (RINGFAAS_WARM_FIRST; docs/ring.md). */
  readonly warmFirst: boolean;
  /** Workers on one host are one bin of the bounded-load rule (RINGFAAS_LOAD_BY_HOST; docs/ring.md). */
  readonly loadByHost: boolean;
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

/** The variables the router reads, by field. */
const ROUTER_VARIABLES = {
  port: V.RINGFAAS_PORT,
  host: V.RINGFAAS_HOST,
  apiKeys: V.RINGFAAS_API_KEYS,
  membershipTtlMs: V.RINGFAAS_MEMBERSHIP_TTL_MS,
  connectionString: V.RINGFAAS_STORAGE_CONNECTION_STRING,
  logLevel: V.RINGFAAS_LOG_LEVEL,
  routerId: V.RINGFAAS_ROUTER_ID,
  insecure: V.RINGFAAS_INSECURE,
  maxOutputBytes: V.RINGFAAS_MAX_OUTPUT_BYTES,
  invokeChannel: V.RINGFAAS_INVOKE_CHANNEL,
  sustainedLoad: V.RINGFAAS_SUSTAINED_LOAD,
  warmFirst: V.RINGFAAS_WARM_FIRST,
  loadByHost: V.RINGFAAS_LOAD_BY_HOST,
  clusterKey: V.RINGFAAS_CLUSTER_KEY,
  tlsCert: V.RINGFAAS_TLS_CERT,
  tlsKey: V.RINGFAAS_TLS_KEY,
  storageTimeoutMs: V.RINGFAAS_STORAGE_TIMEOUT_MS,
  orphanSweepMs: V.RINGFAAS_ORPHAN_SWEEP_MS,
  concurrency: V.RINGFAAS_ASYNC_CONCURRENCY,
  resultTtlMs: V.RINGFAAS_ASYNC_RESULT_TTL,
  visibilityMarginMs: V.RINGFAAS_ASYNC_VISIBILITY_MARGIN_MS,
  backoffBaseMs: V.RINGFAAS_ASYNC_BACKOFF_MS,
  sweepIntervalMs: V.RINGFAAS_ASYNC_SWEEP_INTERVAL_MS,
};

export { isLoopbackHost };

/**
 * Reads and validates the router's configuration; throws RF_CONFIG_INVALID listing every
 * problem. `defaults.routerId` is the id when RINGFAAS_ROUTER_ID is unset. The dispatcher
 * process reads the same variables as `dispatcher` (the table's views: a free port by default,
 * a concurrency of at least 1).
 */
export function loadRouterConfig(
  env: Environment,
  argv: readonly string[],
  defaults: { routerId: string },
  component: 'router' | 'dispatcher' = 'router',
): RouterConfig {
  const read = readVariables(env, component, ROUTER_VARIABLES, { [V.RINGFAAS_ROUTER_ID.name]: defaults.routerId });
  const { apiKeys, host, tlsCert, tlsKey } = read.values;
  const insecure = argv.includes('--insecure') || read.values.insecure === true;
  const problems: string[] = [];
  for (const entry of apiKeys ?? []) {
    const key = parseApiKey(entry);
    if ('problem' in key) problems.push(key.problem);
  }
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    problems.push('RINGFAAS_TLS_CERT and RINGFAAS_TLS_KEY go together: set both (HTTPS) or neither');
  }
  if (host !== undefined && !read.problems.some((p) => p.startsWith(`${V.RINGFAAS_API_KEYS.name} `)) && apiKeys === undefined && !insecure && !isLoopbackHost(host)) {
    problems.push(
      `refusing to listen on ${host} (beyond loopback) without API keys: set RINGFAAS_API_KEYS, or pass --insecure (RINGFAAS_INSECURE=1) to run open`,
    );
  }
  const c = settle(component, read, problems);
  return Object.freeze({
    port: c.port,
    host: c.host,
    apiKeys: Object.freeze([...(c.apiKeys ?? [])]),
    membershipTtlMs: c.membershipTtlMs,
    connectionString: c.connectionString,
    logLevel: c.logLevel,
    routerId: c.routerId,
    insecure,
    maxOutputBytes: c.maxOutputBytes,
    invokeChannel: c.invokeChannel,
    sustainedLoad: c.sustainedLoad,
    warmFirst: c.warmFirst,
    loadByHost: c.loadByHost,
    clusterKey: c.clusterKey,
    tls: c.tlsCert !== undefined && c.tlsKey !== undefined ? Object.freeze({ certFile: c.tlsCert, keyFile: c.tlsKey }) : undefined,
    storageTimeoutMs: c.storageTimeoutMs,
    orphanSweepMs: c.orphanSweepMs,
    async: Object.freeze({
      concurrency: c.concurrency,
      resultTtlMs: c.resultTtlMs,
      visibilityMarginMs: c.visibilityMarginMs,
      backoffBaseMs: c.backoffBaseMs,
      sweepIntervalMs: c.sweepIntervalMs,
    }),
  });
}
