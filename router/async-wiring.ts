/**
 * Wires asynchronous invocations into a router process (router/main.ts) or a standalone
 * dispatcher (router/async-dispatcher-main.ts): the stores, the API, the metrics and, when
 * the configured concurrency is above 0, a dispatcher running through the given Invoker.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { openAsyncStores, type AsyncStores, type FunctionStore } from '../storage/index.ts';
import { createAsyncApi, type AsyncApi } from './async-api.ts';
import { AsyncDispatcher } from './async-dispatcher.ts';
import { createAsyncMetrics, type AsyncMetrics } from './async-metrics.ts';
import { QueueWindow } from './async-window.ts';
import type { AsyncConfig } from './config.ts';
import type { Invoker } from './invoker.ts';

export interface StartAsyncOptions {
  config: { connectionString: string; routerId: string; async: AsyncConfig };
  log: Logger;
  registry: Registry;
  invoker: Invoker;
  functions: Pick<FunctionStore, 'get'>;
  /** Already open stores (tests); else opened from the connection string. */
  stores?: AsyncStores;
}

export interface RunningAsync {
  api: AsyncApi;
  metrics: AsyncMetrics;
  dispatcher: AsyncDispatcher | undefined;
  stop(): Promise<void>;
}

/**
 * Opens the async stores and starts the dispatcher. Storage without a Queue endpoint is not
 * fatal: the router runs without asynchronous invocations (503 RF_ROUTER_ASYNC_UNAVAILABLE)
 * and says so once.
 */
export async function startAsync(options: StartAsyncOptions): Promise<RunningAsync | undefined> {
  const { config, log } = options;
  let stores = options.stores;
  if (stores === undefined) {
    try {
      stores = await openAsyncStores({ connectionString: config.connectionString });
    } catch (err) {
      log.warn({ err }, 'asynchronous invocations are off: their queue storage could not be opened');
      return undefined;
    }
  }
  const metrics = createAsyncMetrics(options.registry, stores.queue, Date.now, stores.invocations);
  // One window per process, shared by its accept and its dispatcher's feeder.
  const window = new QueueWindow({ queue: stores.queue, clock: Date.now });
  const api = createAsyncApi({ functions: options.functions, stores, clock: Date.now, resultTtlMs: config.async.resultTtlMs, window, onParked: () => metrics.parked.inc() });
  let dispatcher: AsyncDispatcher | undefined;
  if (config.async.concurrency > 0) {
    dispatcher = new AsyncDispatcher({
      stores,
      invoker: options.invoker,
      log: log.child({ component: 'async-dispatcher' }),
      metrics,
      dispatcherId: config.routerId,
      concurrency: config.async.concurrency,
      leaseMs: config.async.visibilityMarginMs,
      backoffBaseMs: config.async.backoffBaseMs,
      sweepIntervalMs: config.async.sweepIntervalMs,
      resultTtlMs: config.async.resultTtlMs,
      clock: Date.now,
      sleep: (ms) => sleep(ms),
      window,
    });
    dispatcher.start();
    log.info({ concurrency: config.async.concurrency }, 'async dispatcher started');
  }
  return { api, metrics, dispatcher, stop: async () => dispatcher?.stop() };
}
