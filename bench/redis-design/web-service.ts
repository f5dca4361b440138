/**
 * The Redis design's web service (the seed's external-facing component): the very router app
 * ringfaas serves (router/app.ts: the same routes, CRUD straight to storage, errors, metrics),
 * wired with the Redis discovery (RedisInvoker) instead of the ring, a notifier that tells the
 * workers registered in Redis about function changes, and a read-only workers API.
 * Stateless: any number of them can share one Redis.
 */
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { errorBody, RfError } from '../../errors/index.ts';
import { createRouterApp, type FunctionChangeNotifier, type RequestContext, type WorkersApi } from '../../router/index.ts';
import type { ArtifactStore, FunctionStore } from '../../storage/index.ts';
import { BenchErrors } from '../errors.ts';
import { RedisInvoker } from './invoker.ts';
import type { RedisKeys } from './keys.ts';

/** Tells every worker registered in Redis that a function changed (in parallel, bounded). */
export class RedisChangeNotifier implements FunctionChangeNotifier {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly timeoutMs = 2000,
  ) {}

  async functionUpdated(functionId: string, version: number, ctx: RequestContext): Promise<void> {
    await this.#all(ctx, `/functions/${encodeURIComponent(functionId)}/invalidate`, 'POST', JSON.stringify({ version }));
    // Old versions' locations are dropped lazily: their workers answer 410 for them.
  }

  async functionDeleted(functionId: string, ctx: RequestContext): Promise<void> {
    await this.#all(ctx, `/functions/${encodeURIComponent(functionId)}`, 'DELETE', undefined);
    await this.redis.del(this.keys.warm(functionId));
  }

  async #all(ctx: RequestContext, path: string, method: 'POST' | 'DELETE', body: string | undefined): Promise<void> {
    const workers = await this.redis.hgetall(this.keys.workers);
    await Promise.all(
      Object.entries(workers).map(async ([workerId, address]) => {
        try {
          const res = await request(`${address}${path}`, {
            method,
            body,
            headers: { 'content-type': 'application/json' },
            headersTimeout: this.timeoutMs,
            bodyTimeout: this.timeoutMs,
          });
          await res.body.dump();
        } catch (err: unknown) {
          ctx.log.warn({ err, workerId }, 'function change not delivered');
        }
      }),
    );
  }
}

/** GET /workers lists the workers registered in Redis; membership changes are not offered. */
export class RedisWorkersApi implements WorkersApi {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async list(): Promise<unknown> {
    const workers = await this.redis.hgetall(this.keys.workers);
    const cold = await this.redis.llen(this.keys.cold);
    return { design: 'redis', coldReservations: cold, workers: Object.entries(workers).map(([id, address]) => ({ id, address })) };
  }

  add(): Promise<{ status: number; body: unknown }> {
    return Promise.resolve(this.#unsupported());
  }

  remove(): Promise<{ status: number; body: unknown }> {
    return Promise.resolve(this.#unsupported());
  }

  #unsupported(): { status: number; body: unknown } {
    const err = new RfError(BenchErrors.NOT_SUPPORTED, 'Redis-design workers join by announcing themselves in Redis');
    return { status: err.status, body: errorBody(err) };
  }
}

export interface RedisWebServiceOptions {
  stores: { functions: FunctionStore; artifacts: ArtifactStore };
  redis: Redis;
  keys: RedisKeys;
  log: Logger;
  host?: string;
  port?: number;
  /** How long an invocation may wait for a location (default 10 000 ms). */
  waitMs?: number;
}

export interface RunningRedisWebService {
  url: string;
  close(): Promise<void>;
}

/** Starts the web service; see the file header. */
export async function startRedisWebService(options: RedisWebServiceOptions): Promise<RunningRedisWebService> {
  const invoker = new RedisInvoker({ redis: options.redis, keys: options.keys, ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }) });
  const app = createRouterApp({
    stores: options.stores,
    invoker,
    notifier: new RedisChangeNotifier(options.redis, options.keys),
    workers: new RedisWorkersApi(options.redis, options.keys),
    log: options.log,
    registry: new Registry(),
    apiKeys: [],
    routerId: 'redis-web',
  });
  const server = app.server;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const url = `http://${options.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`;
  options.log.info({ url }, 'redis-design web service listening');
  return {
    url,
    async close(): Promise<void> {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await invoker.close();
    },
  };
}
