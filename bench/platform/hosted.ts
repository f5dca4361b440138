/**
 * The "shared" layout: one target's whole platform inside one process (the bench's child),
 * on in-memory stores — for machines or trees without Azure storage, and as a second view
 * of the same comparison (every target pays the same single event loop).
 *
 *   ringfaas       startRouter + N × startWorker (the production code, memory stores)
 *   redis-design   the web service + N Redis-design workers
 *   limit          hop 1 + hop 2
 *
 * The processes layout (targets.ts) is the faithful one: each component its own process.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createMemoryStores } from '../../storage/index.ts';
import { startWorker } from '../../worker/index.ts';
import { loadRouterConfig, startRouter } from '../../router/index.ts';
import { startRedisWorker } from '../redis-design/redis-worker.ts';
import { startRedisWebService } from '../redis-design/web-service.ts';
import { redisKeys } from '../redis-design/keys.ts';
import { startContainerHop, startProxyHop } from '../limit/chain.ts';
import { createBenchRuntime, type RuntimeKind } from './runtime.ts';

export interface HostedOptions {
  kind: 'ringfaas' | 'redis-design' | 'limit';
  workers: number;
  workerMemoryMb: number;
  coldPoolSize: number;
  runtime: RuntimeKind;
  redisUrl?: string;
  /** limit: the function zip and container count. */
  zip?: Buffer;
  containers?: number;
  memoryMb?: number;
  log: Logger;
}

/** Starts the platform; answers its base URL (limit: its invoke URL) and a closer. */
export async function startHosted(options: HostedOptions): Promise<{ url: string; close(): Promise<void> }> {
  const closers: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  const run = randomBytes(2).toString('hex');
  try {
    const runtime = await createBenchRuntime(options.runtime);
    closers.push(() => runtime.close());
    if (options.kind === 'limit') {
      const hop2 = await startContainerHop({ runtime, zip: options.zip as Buffer, containers: options.containers ?? 15, memoryMb: options.memoryMb ?? 128, ownerId: `bench-limit-${run}` });
      closers.push(() => hop2.close());
      const hop1 = await startProxyHop({ next: hop2.url });
      closers.push(() => hop1.close());
      return { url: `${hop1.url}/invoke`, close };
    }
    const stores = createMemoryStores();
    closers.push(() => stores.close());
    if (options.kind === 'ringfaas') {
      for (let i = 1; i <= options.workers; i++) {
        const worker = await startWorker({ id: `bench-rf-${run}-${i}`, capacityMb: options.workerMemoryMb, coldPoolSize: options.coldPoolSize, runtime, stores, logger: options.log });
        closers.push(() => worker.close());
      }
      const config = loadRouterConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'in-memory', RINGFAAS_PORT: '0' }, [], { routerId: `bench-router-${run}` });
      const router = await startRouter({ config, stores, log: options.log });
      closers.push(() => router.close());
      return { url: router.url, close };
    }
    const redis = new Redis(options.redisUrl as string, { maxRetriesPerRequest: 2 });
    closers.push(async () => void redis.disconnect());
    const keys = redisKeys(`rfbench:${run}:`);
    for (let i = 1; i <= options.workers; i++) {
      const worker = await startRedisWorker({ id: `bench-rd-${run}-${i}`, capacityMb: options.workerMemoryMb, coldPoolSize: options.coldPoolSize, runtime, stores, redis, keys, logger: options.log });
      closers.push(() => worker.close());
    }
    const web = await startRedisWebService({ stores, redis, keys, log: options.log });
    closers.push(() => web.close());
    return { url: web.url, close };
  } catch (err) {
    await close();
    throw err;
  }
}
