// preview host: one process with the whole platform on memory stores (not committed)
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { createMemoryStores } from '../storage/index.ts';
import { startWorker } from '../worker/index.ts';
import { loadRouterConfig } from '../router/config.ts';
import { startRouter } from '../router/main.ts';
import { createBenchRuntime } from './platform/runtime.ts';
import { startRedisWorker } from './redis-design/redis-worker.ts';
import { startRedisWebService } from './redis-design/web-service.ts';
import { redisKeys } from './redis-design/keys.ts';
const mode = process.argv[2];
const stores = createMemoryStores();
const log = pino({ level: 'warn' });
let url: string;
if (mode === 'ringfaas') {
  for (const i of [1, 2]) await startWorker({ id: `prev-${i}`, capacityMb: 2048, coldPoolSize: 2, runtime: await createBenchRuntime('docker'), stores, logger: log });
  const config = loadRouterConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'x', RINGFAAS_PORT: '0', RINGFAAS_LOG_LEVEL: 'warn' }, [], { routerId: 'prev' });
  url = (await startRouter({ config, stores, log, ring: { pollIntervalMs: 200 } })).url;
  await new Promise((r) => setTimeout(r, 1500));
} else {
  const redis = new Redis('redis://127.0.0.1:6390');
  const keys = redisKeys(`prev${process.pid}:`);
  for (const i of [1, 2]) await startRedisWorker({ id: `prevr-${i}`, capacityMb: 2048, coldPoolSize: 2, runtime: await createBenchRuntime('docker'), stores, redis, keys, logger: log });
  url = (await startRedisWebService({ stores, redis, keys, log })).url;
}
process.send?.({ ready: true, url });
