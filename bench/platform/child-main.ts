/**
 * The main of the bench's own child processes (the only bench module that reads
 * process.env): a Redis-design web service or worker, or a hop of the limit chain. The
 * parent (bench/platform/*.ts) passes settings in the environment and gets
 * `{ ready: true, url }` over IPC; SIGTERM stops the child cleanly.
 *
 * RINGFAAS_BENCH_ROLE = redis-web | redis-worker | hop-proxy | hop-container | lone-worker | hosted
 * (lone-worker: one ringfaas worker on in-memory stores holding the benchmark function; its
 * ready URL is the worker's invoke URL for it. For the worker benchmark.)
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createMemoryStores } from '../../storage/index.ts';
import { startWorker } from '../../worker/index.ts';
import { startRedisWebService } from '../redis-design/web-service.ts';
import { startRedisWorker } from '../redis-design/redis-worker.ts';
import { redisKeys } from '../redis-design/keys.ts';
import { startContainerHop, startProxyHop } from '../limit/chain.ts';
import { createBenchRuntime, type RuntimeKind } from './runtime.ts';
import { startHosted } from './hosted.ts';

function required(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is required`);
  return v;
}

async function main(): Promise<void> {
  const role = required('RINGFAAS_BENCH_ROLE');
  const log = pino({ level: process.env.RINGFAAS_LOG_LEVEL ?? 'warn', base: { service: `bench-${role}` } });
  const closers: Array<() => Promise<void>> = [];
  let url: string;
  if (role === 'redis-web' || role === 'redis-worker') {
    const { openStores } = await import('../../storage/index.ts');
    const stores = await openStores({ connectionString: required('RINGFAAS_STORAGE_CONNECTION_STRING') });
    const redis = new Redis(required('RINGFAAS_REDIS_URL'), { maxRetriesPerRequest: 2 });
    const keys = redisKeys(process.env.RINGFAAS_BENCH_REDIS_PREFIX ?? 'rf:');
    closers.push(async () => {
      await stores.close();
      redis.disconnect();
    });
    if (role === 'redis-web') {
      const web = await startRedisWebService({ stores, redis, keys, log });
      closers.unshift(() => web.close());
      url = web.url;
    } else {
      const runtime = await createBenchRuntime(required('RINGFAAS_RUNTIME') as RuntimeKind);
      const worker = await startRedisWorker({
        id: required('RINGFAAS_WORKER_ID'),
        capacityMb: Number(required('RINGFAAS_WORKER_MEMORY_MB')),
        coldPoolSize: Number(process.env.RINGFAAS_COLD_POOL_SIZE ?? 2),
        runtime,
        stores,
        redis,
        keys,
        logger: log,
      });
      closers.unshift(async () => {
        await worker.close();
        await runtime.close();
      });
      url = worker.address;
    }
  } else if (role === 'hop-proxy') {
    const hop = await startProxyHop({ next: required('RINGFAAS_BENCH_NEXT') });
    closers.push(() => hop.close());
    url = hop.url;
  } else if (role === 'hop-container') {
    const runtime = await createBenchRuntime(required('RINGFAAS_RUNTIME') as RuntimeKind);
    const hop = await startContainerHop({
      runtime,
      zip: readFileSync(required('RINGFAAS_BENCH_ZIP_FILE')),
      containers: Number(required('RINGFAAS_BENCH_CONTAINERS')),
      memoryMb: Number(process.env.RINGFAAS_BENCH_MEMORY_MB ?? 128),
      ownerId: required('RINGFAAS_WORKER_ID'),
    });
    closers.push(async () => {
      await hop.close();
      await runtime.close();
    });
    url = hop.url;
  } else if (role === 'hosted') {
    const kind = required('RINGFAAS_BENCH_PLATFORM') as 'ringfaas' | 'redis-design' | 'limit';
    const hosted = await startHosted({
      kind,
      workers: Number(required('RINGFAAS_BENCH_WORKERS')),
      workerMemoryMb: Number(required('RINGFAAS_WORKER_MEMORY_MB')),
      coldPoolSize: Number(process.env.RINGFAAS_COLD_POOL_SIZE ?? 2),
      runtime: required('RINGFAAS_RUNTIME') as RuntimeKind,
      ...(process.env.RINGFAAS_REDIS_URL === undefined ? {} : { redisUrl: process.env.RINGFAAS_REDIS_URL }),
      ...(kind === 'limit' ? { zip: readFileSync(required('RINGFAAS_BENCH_ZIP_FILE')), containers: Number(required('RINGFAAS_BENCH_CONTAINERS')) } : {}),
      memoryMb: Number(process.env.RINGFAAS_BENCH_MEMORY_MB ?? 128),
      log,
    });
    closers.push(() => hosted.close());
    url = hosted.url;
  } else if (role === 'lone-worker') {
    const runtime = await createBenchRuntime(required('RINGFAAS_RUNTIME') as RuntimeKind);
    const stores = createMemoryStores();
    const zip = readFileSync(required('RINGFAAS_BENCH_ZIP_FILE'));
    const now = new Date().toISOString();
    const functionId = 'benchnoop';
    await stores.artifacts.put(functionId, 1, zip);
    await stores.functions.create({
      id: functionId,
      name: 'bench-noop',
      memorySize: 128,
      timeoutMs: 10_000,
      idleTimeoutMs: 15 * 60_000,
      version: 1,
      codeSha256: '',
      codeSize: zip.length,
      createdAt: now,
      updatedAt: now,
      env: {},
    });
    const worker = await startWorker({
      id: required('RINGFAAS_WORKER_ID'),
      capacityMb: Number(process.env.RINGFAAS_WORKER_MEMORY_MB ?? 4096),
      coldPoolSize: Number(process.env.RINGFAAS_COLD_POOL_SIZE ?? 2),
      runtime,
      stores,
      logger: log,
    });
    closers.push(async () => {
      await worker.close();
      await runtime.close();
      await stores.close();
    });
    url = `${worker.address}/invoke/${functionId}`;
  } else {
    throw new Error(`unknown RINGFAAS_BENCH_ROLE ${role}`);
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      for (const close of closers) await close().catch((err: unknown) => log.error({ err }, 'close failed'));
      process.exit(0);
    })();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.send?.({ ready: true, url });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
