/**
 * The router process: the only place a router reads the environment, creates the root logger,
 * opens storage and sockets, and wires the parts together (router/app.ts for the HTTP API,
 * the ring view, forwarder, change notifier and workers API for the ring).
 *
 * Run: `node --import tsx router/main.ts [--insecure]` (what `ringfaas dev` starts), or call
 * startRouter() from tests and launchers.
 */
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { RfError, isRfError, ConfigErrors } from '../errors/index.ts';
import { collectProcessMetrics } from '../contract/index.ts';
import { type Stores, StorageHealth, registerStorageDegradedGauge, trackedStore, sweepOrphans, type AsyncStores } from '../storage/index.ts';
import { createRouterApp, type RouterLimits } from './app.ts';
import { WorkerChangeNotifier } from './change-notifier.ts';
import { loadRouterConfig, type RouterConfig } from './config.ts';
import { RingInvoker } from './ring-invoker.ts';
import { RingMetrics } from './ring-metrics.ts';
import { RingView } from './ring-view.ts';
import { RingWorkersApi } from './workers-api.ts';
import { Dashboard } from './dashboard.ts';
import { startAsync, type RunningAsync } from './async-wiring.ts';

/** Paths pino removes from every line, wherever a request or config may be logged. */
export const LOG_REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  '*.headers.authorization',
  'apiKeys',
  'config.apiKeys',
  'connectionString',
  'config.connectionString',
  'clusterKey',
  'config.clusterKey',
];

export interface StartRouterOptions {
  config: RouterConfig;
  /** Root logger; a pino logger at config.logLevel on stdout by default. */
  log?: Logger;
  /** Already open stores (tests); else opened from config.connectionString and closed on close(). */
  stores?: Stores;
  limits?: Partial<RouterLimits>;
  /** Ring knobs (tests shorten the poll). */
  ring?: { pollIntervalMs?: number; ttlMs?: number };
  /** Sent to workers as x-ringfaas-cluster-key (the dashboard's /status reads). */
  clusterKey?: string;
  /** Dashboard knobs (tests shorten them). */
  dashboard?: { maxStreams?: number; tickMs?: number; publishMs?: number };
  /** Already open async stores (tests); else opened from config.connectionString. */
  asyncStores?: AsyncStores;
}

export interface RunningRouter {
  /** `http(s)://host:port` the router listens on. */
  url: string;
  close(): Promise<void>;
}

/** The ring's Invoker of a router or dispatcher process: its id, the output bound, the cluster key. */
export function createRingInvoker(config: Pick<RouterConfig, 'routerId' | 'maxOutputBytes' | 'clusterKey' | 'invokeChannel' | 'warmFirst'>, view: RingView, metrics: RingMetrics): RingInvoker {
  return new RingInvoker({
    view,
    warmFirst: config.warmFirst,
    invokeChannel: config.invokeChannel,
    routerId: config.routerId,
    metrics,
    maxOutputBytes: config.maxOutputBytes,
    ...(config.clusterKey === undefined ? {} : { clusterKey: config.clusterKey }),
  });
}

/** Creates the root logger of a router process. */
export function createRouterLogger(config: Pick<RouterConfig, 'logLevel' | 'routerId'>): Logger {
  return pino({ level: config.logLevel, base: { service: 'router', routerId: config.routerId }, redact: LOG_REDACT_PATHS });
}

/** Starts a router: opens storage (unless given), starts the ring view, listens. */
export async function startRouter(options: StartRouterOptions): Promise<RunningRouter> {
  const { config } = options;
  const log = options.log ?? createRouterLogger(config);
  const ownStores = options.stores === undefined;
  const opened =
    options.stores ??
    (await (async () => {
      const storage = await import('../storage/index.ts');
      return storage.openStores({ connectionString: config.connectionString, operationTimeoutMs: config.storageTimeoutMs, ...storage.waitForStorageAtStart(log) });
    })());
  const registry = new Registry();
  collectProcessMetrics(registry);
  const health = new StorageHealth({ log });
  registerStorageDegradedGauge(health, registry);
  const stores: Stores = {
    functions: trackedStore(opened.functions, health, 'functions'),
    artifacts: trackedStore(opened.artifacts, health, 'artifacts'),
    membership: opened.membership,
    ...(opened.routers === undefined ? {} : { routers: opened.routers }),
    close: () => opened.close(),
  };
  const ringMetrics = new RingMetrics(registry);
  const view = new RingView({
    membership: stores.membership,
    log,
    metrics: ringMetrics,
    health,
    ...(options.ring?.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.ring.pollIntervalMs }),
    ttlMs: options.ring?.ttlMs ?? config.membershipTtlMs,
    ...(config.sustainedLoad === undefined ? {} : { sustained: config.sustainedLoad }),
    loadByHost: config.loadByHost,
  });
  await view.start();
  const key = config.clusterKey === undefined ? {} : { clusterKey: config.clusterKey };
  const invoker = createRingInvoker(config, view, ringMetrics);
  const notifier = new WorkerChangeNotifier({ view, ...key });
  const workers = new RingWorkersApi({ view, membership: stores.membership, routerId: config.routerId, loadFactor: 1.25, ...key });
  const dashboard = new Dashboard({
    view,
    functions: stores.functions,
    ...(stores.routers === undefined ? {} : { routerStats: stores.routers }),
    routerId: config.routerId,
    log,
    ...key,
    ...(options.clusterKey === undefined ? {} : { clusterKey: options.clusterKey }),
    ...options.dashboard,
  });
  dashboard.start();
  // Stores handed in (tests) without async stores: no async part (nothing to open it from).
  const asyncPart: RunningAsync | undefined = !ownStores && options.asyncStores === undefined ? undefined : await startAsync({
    config,
    log,
    registry,
    invoker,
    functions: stores.functions,
    ...(options.asyncStores === undefined ? {} : { stores: options.asyncStores }),
  });
  const app = createRouterApp({
    dashboard,
    stores,
    invoker,
    notifier,
    workers,
    log,
    registry,
    health,
    apiKeys: config.apiKeys,
    routerId: config.routerId,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(asyncPart === undefined ? {} : { async: { api: asyncPart.api, metrics: asyncPart.metrics } }),
  });
  let server: Server = app.server;
  if (config.tls !== undefined) {
    let tls: { cert: Buffer; key: Buffer };
    try {
      tls = { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) };
    } catch (err) {
      view.stop();
      await Promise.allSettled([invoker.close(), notifier.close(), workers.close()]);
      if (ownStores) await stores.close();
      throw new RfError(ConfigErrors.INVALID, `cannot read RINGFAAS_TLS_CERT/RINGFAAS_TLS_KEY: ${(err as Error).message}`, { cause: err });
    }
    server = createHttpsServer(tls, app.handle);
    server.on('checkContinue', app.handle);
  }
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeouts
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // "[::1]" is how a URL writes an IPv6 host; listen() takes it bare.
      server.listen(config.port, config.host.replace(/^\[(.*)\]$/, '$1'), () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await asyncPart?.stop();
    view.stop();
    await Promise.allSettled([invoker.close(), notifier.close(), workers.close(), dashboard.close()]);
    if (ownStores) await stores.close();
    throw err;
  }
  // Orphan code objects (failed or interrupted writes) go after a grace of one period.
  let sweepTimer: NodeJS.Timeout | undefined;
  if (config.orphanSweepMs > 0) {
    sweepTimer = setInterval(() => {
      if (health.degraded) return;
      sweepOrphans({ functions: stores.functions, artifacts: stores.artifacts, graceMs: config.orphanSweepMs, now: Date.now() }).then(
        (result) => {
          if (result.removed.length > 0) log.info({ removed: result.removed.length, scanned: result.scanned }, 'orphan code objects removed');
        },
        (err: unknown) => log.warn({ err }, 'orphan sweep failed'),
      );
    }, config.orphanSweepMs);
    sweepTimer.unref();
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${config.tls === undefined ? 'http' : 'https'}://${host}:${address.port}`;
  log.info({ url, auth: config.apiKeys.length > 0, insecure: config.insecure, clusterKey: config.clusterKey !== undefined }, 'router listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Stop taking connections, let in-flight requests finish, then release the rest.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        void dashboard.close(); // ends the event streams, which would hold the server open
      });
      await asyncPart?.stop();
      view.stop();
      clearInterval(sweepTimer);
      await Promise.allSettled([invoker.close(), notifier.close(), workers.close()]);
      if (ownStores) await stores.close();
      log.info('router stopped');
    })();
    return closing;
  };
  return { url, close };
}

/** The router process's entry point. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  let config: RouterConfig;
  try {
    config = loadRouterConfig(env, argv, { routerId: `router-${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) });
  } catch (err) {
    process.stderr.write(`${isRfError(err) ? `${err.code}: ` : ''}${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  const log = createRouterLogger(config);
  let router: RunningRouter;
  try {
    router = await startRouter({ config, log });
  } catch (err) {
    log.fatal({ err }, 'router failed to start');
    process.exitCode = 1;
    return;
  }
  const shutdown = (signal: string): void => {
    log.info({ signal }, 'router shutting down');
    const force = setTimeout(() => {
      log.warn('shutdown grace period over, exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    void router.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2), process.env);
}
