/**
 * The worker side of the Redis design: ringfaas's own pool, runtime, containers and function
 * cache (worker/index.ts), driven through the seed's messaging layer instead of the ring.
 *
 * HTTP (raw node:http, keep-alive):
 *   POST /instances/{instanceId}/invoke/{functionId}  run on that idle container (a location the
 *        web service popped off the warm stack); 410 RF_BENCH_INSTANCE_GONE when it is not idle
 *        here any more (expired, retired, busy through a duplicate entry)
 *   POST /cold/{functionId}   a cold reservation of this worker was popped: start a container
 *        (from the cold pool, else created) and run; 429 when the memory is not there
 *   POST /functions/{id}/invalidate, DELETE /functions/{id}, GET /healthz, GET /status
 * When an execution ends, the function's containers that are idle in the pool and not yet on
 * its warm stack are pushed there (LPUSH) before the answer is sent. Answers carry the same body and
 * x-ringfaas-* headers as a ringfaas worker's.
 */
import { EMPTY_INPUT_JSON } from '../../contract/index.ts';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { errorBody, RfError } from '../../errors/index.ts';
import {
  FunctionCache,
  invocationAnswer,
  ContainerPool,
  readBody,
  runOnLease,
  WorkerErrors,
  WorkerHeaders,
  MAX_INPUT_BYTES,
  type ContainerRuntime,
  type InvocationResult,
  type Lease,
} from '../../worker/index.ts';
import type { ArtifactStore, FunctionStore } from '../../storage/index.ts';
import { BenchErrors } from '../errors.ts';
import { ColdQueue } from './cold-queue.ts';
import { encodeEntry, type RedisKeys } from './keys.ts';

export interface RedisWorkerOptions {
  id: string;
  host?: string;
  port?: number;
  capacityMb: number;
  /** Pre-started unassigned containers (default 2, as a ringfaas worker). */
  coldPoolSize?: number;
  /** Size of one cold reservation, MB (default 128, the smallest function). */
  slotMb?: number;
  runtime: ContainerRuntime;
  stores: { functions: FunctionStore; artifacts: ArtifactStore };
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
}

export interface RunningRedisWorker {
  readonly id: string;
  readonly address: string;
  readonly pool: ContainerPool;
  close(): Promise<void>;
}

/** As a ringfaas worker: an empty body is the input `{}`. */
const EMPTY_INPUT = Buffer.from(EMPTY_INPUT_JSON);

/** Starts a Redis-design worker; see the file header. */
export async function startRedisWorker(options: RedisWorkerOptions): Promise<RunningRedisWorker> {
  const log = options.logger.child({ workerId: options.id });
  const { redis, keys } = options;
  let coldQueue: ColdQueue | undefined;
  const pool = new ContainerPool({
    workerId: options.id,
    runtime: options.runtime,
    capacityMb: options.capacityMb,
    coldPoolSize: options.coldPoolSize ?? 2,
    // The seed's design as published: a cold request always starts a container (it has no
    // refusal to spill on), so creations at once are not bounded here.
    maxCreating: Number.POSITIVE_INFINITY,
    logger: log,
    events: { onRemove: () => void coldQueue?.reconcile() },
  });
  const cache = new FunctionCache({ functions: options.stores.functions, artifacts: options.stores.artifacts });
  await options.runtime.removeLeftovers(options.id);
  await options.runtime.prepare();
  await pool.fill();

  const send = (res: ServerResponse, status: number, body: string, extra?: Record<string, string>): void => {
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      [WorkerHeaders.worker]: options.id,
      [WorkerHeaders.load]: String(pool.load),
      ...extra,
    });
    res.end(body);
  };
  const sendError = (res: ServerResponse, err: unknown): void => {
    if (err instanceof RfError) return send(res, err.status, JSON.stringify(errorBody(err)));
    log.error({ err }, 'request failed');
    const internal = new RfError(WorkerErrors.INTERNAL, 'internal error');
    send(res, internal.status, JSON.stringify(errorBody(internal)));
  };

  let address = '';
  /**
   * Instances whose location this worker believes is on a warm stack. A container is
   * announced when it becomes idle in the pool, and leaves the set when its entry is popped.
   * (The pool may hand a released container straight to a waiting cold request, or finish a
   * start whose request was served by a released container: announcing idle containers, not
   * "the container that just ran", keeps the stack free of duplicates and orphans.)
   */
  const announced = new Set<string>();
  const announceIdle = async (fn: Lease['fn']): Promise<void> => {
    const idle = pool.idleInstances(fn.id, fn.version).filter((i) => !announced.has(i));
    if (idle.length === 0) return;
    for (const i of idle) announced.add(i);
    // idleInstances is most recent first; push the oldest first so the most recent ends on top.
    await redis.lpush(keys.warm(fn.id), ...idle.reverse().map((i) => encodeEntry(i, address)));
  };
  const answer = async (res: ServerResponse, lease: Lease, input: Buffer, receivedAt: number): Promise<void> => {
    const result: InvocationResult = await runOnLease(pool, lease, input.length === 0 ? EMPTY_INPUT : input);
    await announceIdle(lease.fn);
    const answer = invocationAnswer(result, options.id, performance.now() - receivedAt);
    send(res, answer.status, answer.body, answer.headers);
  };

  const warmInvoke = async (req: IncomingMessage, res: ServerResponse, instanceId: string, functionId: string): Promise<void> => {
    const receivedAt = performance.now();
    const input = await readBody(req, MAX_INPUT_BYTES);
    const entry = cache.peek(functionId) ?? (await cache.get(functionId));
    announced.delete(instanceId); // its entry was just popped
    const lease = pool.acquireInstance(entry.fn, instanceId);
    if (lease === undefined) throw new RfError(BenchErrors.INSTANCE_GONE, 'the container is not idle on this worker any more');
    await answer(res, lease, input, receivedAt);
  };

  const coldInvoke = async (req: IncomingMessage, res: ServerResponse, functionId: string): Promise<void> => {
    const receivedAt = performance.now();
    coldQueue?.consumed();
    try {
      const input = await readBody(req, MAX_INPUT_BYTES);
      const entry = cache.peek(functionId) ?? (await cache.get(functionId));
      const lease = await pool.acquire(entry.fn);
      if (announced.delete(lease.instanceId)) {
        // The pool handed out an idle container whose location is still on the stack: take it off.
        await redis.lrem(keys.warm(entry.fn.id), 1, encodeEntry(lease.instanceId, address));
      }
      await answer(res, lease, input, receivedAt);
    } finally {
      void coldQueue?.reconcile();
    }
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const parts = path.split('/').map((p) => decodeURIComponent(p));
    if (req.method === 'POST' && parts.length === 5 && parts[1] === 'instances' && parts[3] === 'invoke') {
      return warmInvoke(req, res, parts[2] as string, parts[4] as string);
    }
    if (req.method === 'POST' && parts.length === 3 && parts[1] === 'cold') return coldInvoke(req, res, parts[2] as string);
    if (parts[1] === 'functions' && parts.length >= 3) {
      const functionId = parts[2] as string;
      if (req.method === 'POST' && parts[3] === 'invalidate') {
        const body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8')) as { version?: unknown };
        const version = typeof body.version === 'number' ? body.version : Number.MAX_SAFE_INTEGER;
        cache.invalidate(functionId, version);
        pool.retire(functionId, version);
        res.writeHead(204).end();
        return;
      }
      if (req.method === 'DELETE' && parts.length === 3) {
        cache.delete(functionId);
        pool.removeFunction(functionId);
        await redis.del(keys.warm(functionId));
        res.writeHead(204).end();
        return;
      }
    }
    if (req.method === 'GET' && path === '/healthz') return send(res, 200, '{"ok":true}');
    if (req.method === 'GET' && path === '/status') {
      return send(res, 200, JSON.stringify({ id: options.id, coldEntries: coldQueue?.announced ?? 0, ...pool.status() }));
    }
    throw new RfError(WorkerErrors.ROUTE_NOT_FOUND, `no route ${req.method ?? ''} ${path}`);
  };

  const server: Server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => (res.headersSent ? res.destroy() : sendError(res, err)));
  });
  server.keepAliveTimeout = 65_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  address = `http://${host}:${(server.address() as AddressInfo).port}`;

  const slotMb = options.slotMb ?? 128;
  const poolMb = pool.poolMemoryMb * pool.coldPoolTarget;
  coldQueue = new ColdQueue({
    redis,
    keys,
    workerId: options.id,
    address,
    slotMb,
    // Pooled containers are speculative: their memory is what a reservation starts from.
    freeMb: () => Math.min(options.capacityMb, options.capacityMb - pool.reservedMb + poolMb),
    log,
  });
  await redis.hset(keys.workers, options.id, address);
  await coldQueue.start();
  const resync = setInterval(() => void coldQueue?.reconcile(), 1000);
  resync.unref();
  log.info({ address, capacityMb: options.capacityMb, slotMb, coldEntries: coldQueue.announced }, 'redis-design worker listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(resync);
      await coldQueue?.close().catch((err: unknown) => log.warn({ err }, 'cold queue cleanup failed'));
      await redis.hdel(keys.workers, options.id).catch(() => 0);
      await pool.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    })();
    return closing;
  };
  return { id: options.id, address, pool, close };
}
