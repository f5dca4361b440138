/**
 * The worker process: `node --import tsx worker/main.ts`. The only place that reads the
 * worker's environment (through worker/config.ts and the table in config/), creates the root logger,
 * and wires the runtime, the stores and the worker together.
 *
 * SIGTERM / SIGINT / POST /drain: drain (finish in-flight executions, remove every
 * container, remove the membership row), then exit 0. A second signal exits at once (1),
 * unless it comes within a second of the first (the same Ctrl-C, delivered to the process
 * group and forwarded by a launcher).
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { isRfError } from '../errors/index.ts';
import { openStores, waitForStorageAtStart } from '../storage/index.ts';
import { loadWorkerConfig } from './config.ts';
import { selectRuntime } from './runtime-select.ts';
import { startWorker } from './start-worker.ts';
import { collectProcessMetrics, isLoopbackHost } from '../contract/index.ts';
import { createKeepAlivePolicy } from './keepalive/index.ts';

/** A signal repeated within this long after the first is ignored (see onSignal). */
const DUPLICATE_SIGNAL_MS = 1000;

/** Runs a worker process until it is drained; resolves with the exit code. */
export async function main(env: Record<string, string | undefined>): Promise<number> {
  let config;
  try {
    config = loadWorkerConfig(env);
  } catch (err) {
    const bootLog = pino();
    bootLog.fatal({ err, code: isRfError(err) ? err.code : undefined }, 'worker configuration invalid');
    return 1;
  }
  const log: Logger = pino({
    level: config.logLevel,
    base: { pid: process.pid },
    redact: ['connectionString', '*.connectionString', 'clusterKey', '*.clusterKey', 'storageConnectionString', '*.storageConnectionString'],
  });

  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  let selected;
  try {
    selected = await selectRuntime({
    choice: config.runtime,
    ...(config.runtimeImage === undefined ? {} : { image: config.runtimeImage }),
    functionNetwork: config.functionNetwork,
    logger: log,
    engineConfigured: config.dockerHost !== undefined || existsSync('/var/run/docker.sock'),
    processFallbackAllowed: isLoopbackHost(config.host) && config.clusterKey === undefined,
    });
  } catch (err) {
    log.fatal({ err, code: isRfError(err) ? err.code : undefined, workerId: config.id }, 'no container runtime');
    return 1;
  }
  const { runtime, network } = selected;
  let stores;
  try {
    stores = await openStores({ connectionString: config.storageConnectionString, operationTimeoutMs: config.storageTimeoutMs, ...waitForStorageAtStart(log) });
  } catch (err) {
    log.fatal({ err, code: isRfError(err) ? err.code : undefined, workerId: config.id }, 'storage not reachable');
    await runtime.close().catch(() => {});
    return 1;
  }
  const registry = new Registry();
  collectProcessMetrics(registry);

  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const cleanup = async (code: number): Promise<void> => {
    await runtime.close().catch((err: unknown) => log.warn({ err }, 'runtime close failed'));
    await stores.close().catch((err: unknown) => log.warn({ err }, 'stores close failed'));
    finish(code);
  };

  // Signals are taken from before the start: one that arrives while the worker starts (its row
  // may already be written) drains it as soon as it is up, never kills it half-registered.
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  let signalledWhileStarting = false;
  let firstSignalAt: number | undefined;
  const drainNow = (): void => {
    void worker!.drain().then(
      () => cleanup(0),
      (err: unknown) => {
        log.error({ err }, 'drain failed');
        return cleanup(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (firstSignalAt !== undefined) {
      // Ctrl-C reaches the whole process group and a launcher forwards it too: a repeat
      // within a second is the same request, not an impatient second one.
      if (Date.now() - firstSignalAt < DUPLICATE_SIGNAL_MS) return;
      log.warn({ signal }, 'second signal: exiting without finishing the drain');
      finish(1);
      return;
    }
    firstSignalAt = Date.now();
    log.info({ signal }, 'signal received: draining');
    if (worker === undefined) signalledWhileStarting = true;
    else drainNow();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    worker = await startWorker({
      id: config.id,
      host: config.host,
      port: config.port,
      ...(config.advertiseAddress === undefined ? {} : { advertiseAddress: config.advertiseAddress }),
      capacityMb: config.memoryMb,
      coldPoolSize: config.coldPoolSize,
      poolMemoryMb: config.poolMemoryMb,
      network,
      runtime,
      stores,
      logger: log,
      heartbeatMs: config.heartbeatMs,
      membershipTtlMs: config.membershipTtlMs,
      maxQueue: config.maxQueue,
      maxCreating: config.maxCreating,
      maxOutputBytes: config.maxOutputBytes,
      drainTimeoutMs: config.drainTimeoutMs,
      ...(config.clusterKey === undefined ? {} : { clusterKey: config.clusterKey }),
      codeCacheBytes: config.codeCacheMb * 1024 * 1024,
      revalidateMs: config.revalidateMs,
      registry,
      keepAlive: createKeepAlivePolicy(config.keepAlivePolicy, { timeScale: config.keepAliveTimeScale }),
      warmHandoff: config.warmHandoff,
      onDrained: () => void cleanup(0),
    });
  } catch (err) {
    log.fatal({ err, workerId: config.id }, 'worker failed to start');
    await cleanup(1);
    return finished;
  }

  if (signalledWhileStarting) drainNow();
  return finished;
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  main(process.env).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`ringfaas worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
