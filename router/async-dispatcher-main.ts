/**
 * A standalone asynchronous-invocation dispatcher process (`ringfaas dispatcher`): the router's
 * ring view and RingInvoker, with no public API, taking messages from the invocation queue
 * beside (or instead of) the routers' own dispatchers. Any number of them compete safely
 * (router/async-dispatcher.ts). It reads the router's configuration (RINGFAAS_ASYNC_*,
 * RINGFAAS_STORAGE_CONNECTION_STRING...); RINGFAAS_ASYNC_CONCURRENCY is its concurrency and
 * must be above 0. /metrics is served on RINGFAAS_PORT (default 0: a free port, logged).
 *
 * Run: `node --import tsx router/async-dispatcher-main.ts`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Registry } from 'prom-client';
import { isRfError } from '../errors/index.ts';
import { collectProcessMetrics } from '../contract/index.ts';
import { openStores, openAsyncStores, waitForStorageAtStart } from '../storage/index.ts';
import { startAsync } from './async-wiring.ts';
import { loadRouterConfig } from './config.ts';
import { createRingInvoker, createRouterLogger } from './main.ts';
import { RingMetrics } from './ring-metrics.ts';
import { RingView } from './ring-view.ts';

export async function main(env: NodeJS.ProcessEnv): Promise<void> {
  let config;
  try {
    const routerId = `dispatcher-${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
    config = loadRouterConfig(env, [], { routerId }, 'dispatcher');
  } catch (err) {
    process.stderr.write(`${isRfError(err) ? `${err.code}: ` : ''}${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  const log = createRouterLogger(config).child({ role: 'dispatcher' });
  const stores = await openStores({ connectionString: config.connectionString, operationTimeoutMs: config.storageTimeoutMs, ...waitForStorageAtStart(log) });
  const asyncStores = await openAsyncStores({ connectionString: config.connectionString });
  const registry = new Registry();
  collectProcessMetrics(registry);
  const ringMetrics = new RingMetrics(registry);
  const view = new RingView({ membership: stores.membership, log, metrics: ringMetrics, ttlMs: config.membershipTtlMs, ...(config.sustainedLoad === undefined ? {} : { sustained: config.sustainedLoad }), loadByHost: config.loadByHost });
  await view.start();
  // The same as a router's: workers beyond loopback refuse a call without the key.
  const invoker = createRingInvoker(config, view, ringMetrics);
  const running = await startAsync({ config, log, registry, invoker, functions: stores.functions, stores: asyncStores });
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    void registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
  });
  await new Promise<void>((resolve) => server.listen(config.port, config.host.replace(/^\[(.*)\]$/, '$1'), resolve));
  const port = (server.address() as AddressInfo).port;
  log.info({ metrics: `http://${config.host}:${port}/metrics`, concurrency: config.async.concurrency }, 'dispatcher running');
  const shutdown = (signal: string): void => {
    log.info({ signal }, 'dispatcher shutting down');
    setTimeout(() => process.exit(1), 30_000).unref();
    void (async () => {
      await running?.stop();
      server.close();
      view.stop();
      await invoker.close();
      process.exit(0);
    })();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.env);
}
