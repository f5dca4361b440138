/**
 * The Redis design end to end on real components: Redis (RINGFAAS_REDIS_URL, default
 * 127.0.0.1:6390), two Redis-design workers on the process runtime, the web service (the
 * router app with the Redis invoker), shared in-memory stores.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { createMemoryStores } from '../../storage/index.ts';
import { ProcessRuntime } from '../../worker/process-runtime.ts';
import { redisAvailable, skipUnless, testRedisUrl } from '../../testing/services.ts';
import { startRedisWorker, type RunningRedisWorker } from '../redis-design/redis-worker.ts';
import { startRedisWebService, type RunningRedisWebService } from '../redis-design/web-service.ts';
import { redisKeys } from '../redis-design/keys.ts';
import { functionSource, zipIndex } from '../functions/code.ts';

const skip = skipUnless(await redisAvailable(), 'Redis', `nothing answers at ${testRedisUrl()}`);
const keys = redisKeys(`rftest:${randomBytes(3).toString('hex')}:`);
let redis: Redis;
let baseDir: string;
const workers: RunningRedisWorker[] = [];
let web: RunningRedisWebService;

async function call(path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${web.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text.length > 0 ? JSON.parse(text) : undefined };
}

async function deploy(): Promise<string> {
  const zipFile = zipIndex(await functionSource('instance-id')).toString('base64');
  const res = await call('/functions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ memorySize: 128, zipFile, name: 'rd' }) });
  assert.equal(res.status, 201);
  return res.body.id as string;
}

const invoke = (id: string): Promise<{ status: number; headers: Headers; body: any }> =>
  call(`/functions/${id}/invoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });

before(async () => {
  if (skip !== false) return;
  redis = new Redis(testRedisUrl());
  baseDir = mkdtempSync(join(tmpdir(), 'rf-redis-design-'));
  const stores = createMemoryStores();
  const log = pino({ level: 'silent' });
  for (const i of [1, 2]) {
    workers.push(
      await startRedisWorker({ id: `rd-test-${i}`, capacityMb: 512, coldPoolSize: 1, runtime: new ProcessRuntime({ baseDir }), stores, redis, keys, logger: log }),
    );
  }
  web = await startRedisWebService({ stores, redis, keys, log, waitMs: 2000 });
});

after(async () => {
  if (skip !== false) return;
  await web?.close();
  await Promise.all(workers.map((w) => w.close()));
  const left = await redis.keys(`${keys.cold.slice(0, -'cold'.length)}*`);
  if (left.length > 0) await redis.del(...left);
  redis.disconnect();
  rmSync(baseDir, { recursive: true, force: true });
});

test('workers announce their free memory on the cold queue', { skip }, async () => {
  // 2 workers × 512 MB in 128 MB reservations
  assert.equal(await redis.llen(keys.cold), 8);
  assert.equal(Object.keys(await redis.hgetall(keys.workers)).length, 2);
});

test('the first call takes a cold reservation, later calls reuse the same warm container (LIFO)', { skip }, async () => {
  const id = await deploy();
  const first = await invoke(id);
  assert.equal(first.status, 200);
  assert.notEqual(first.headers.get('x-ringfaas-start'), 'warm');
  const instance = first.body.output.instanceId as string;
  for (let i = 0; i < 5; i++) {
    const next = await invoke(id);
    assert.equal(next.status, 200);
    assert.equal(next.headers.get('x-ringfaas-start'), 'warm');
    assert.equal(next.body.output.instanceId, instance);
  }
  assert.equal(await redis.llen(keys.warm(id)), 1);
});

test('concurrent calls start one container each and all come back to the warm stack', { skip }, async () => {
  const id = await deploy();
  const answers = await Promise.all(Array.from({ length: 4 }, () => invoke(id)));
  assert.ok(answers.every((a) => a.status === 200));
  const instances = new Set(answers.map((a) => a.body.output.instanceId as string));
  // Every container that answered is back on the stack, once. The stack may hold one more
  // than answered: a cold call whose own start was overtaken by a container released meanwhile
  // is served by that one, and the container it started is announced idle when it is ready.
  const stack = await redis.lrange(keys.warm(id), 0, -1);
  assert.equal(new Set(stack).size, stack.length, `no entry twice: ${stack.join(', ')}`);
  assert.ok(stack.length >= instances.size && stack.length <= answers.length, `${stack.length} entries for ${instances.size} instances that answered`);
});

test('a stale warm entry (container gone) is dropped and the call still succeeds', { skip }, async () => {
  const id = await deploy();
  assert.equal((await invoke(id)).status, 200);
  await redis.lpush(keys.warm(id), `nosuchinstance ${workers[0]!.address}`);
  const res = await invoke(id);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-ringfaas-start'), 'warm');
  assert.equal(await redis.llen(keys.warm(id)), 1);
});

test('an update runs the new version at once; old locations are dropped lazily', { skip }, async () => {
  const id = await deploy();
  assert.equal((await invoke(id)).status, 200);
  const code = 'module.exports = async () => ({ version: 2 });';
  const put = await call(`/functions/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ memorySize: 128, code }) });
  assert.equal(put.status, 200);
  const res = await invoke(id);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.output, { version: 2 });
  assert.equal(res.body.logs.version, 2);
});

test('GET /workers lists the Redis-design workers; POST /workers is not offered', { skip }, async () => {
  const list = await call('/workers');
  assert.equal(list.status, 200);
  assert.equal(list.body.workers.length, 2);
  const add = await call('/workers', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"x","address":"http://127.0.0.1:1"}' });
  assert.equal(add.body.error.code, 'RF_BENCH_NOT_SUPPORTED');
});
