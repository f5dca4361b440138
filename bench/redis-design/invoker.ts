/**
 * The Redis design's discovery and forwarding (the seed's web service), as an `Invoker` the
 * router app runs instead of the ring's RingInvoker.
 *
 * Per invocation:
 *   1. pop a location: the function's warm stack (LPOP warm:<fn>, LIFO), else a cold
 *      reservation (LPOP cold) — one script, one round trip;
 *   2. warm: POST <worker>/instances/<instance>/invoke/<fn>. A 410 means the container is gone
 *      (expired, retired, or handed out twice): the entry is dropped, go to 1;
 *   3. cold: POST <worker>/cold/<fn>: the worker starts a container on that reservation and
 *      runs the execution. A 429/503 means the reservation was stale: dropped, go to 1;
 *   4. nothing popped: wait a little and retry until `waitMs`, then 503 RF_BENCH_REDIS_NO_CAPACITY.
 * The worker pushes the container's location back on the warm stack (LPUSH) when the
 * execution ends, before it answers, so the next LPOP sees it.
 *
 * A request is sent to another location only when the previous one cannot have run it (410,
 * 429, 503, connection refused), as the ring's forwarder does.
 */
import { Pool } from 'undici';
import type { Redis } from 'ioredis';
import { RfError } from '../../errors/index.ts';
import type { ForwardedResponse, Invoker, RequestContext } from '../../router/index.ts';
import { BenchErrors } from '../errors.ts';
import { decodeEntry, POP_LOCATION_LUA, type RedisKeys } from './keys.ts';

export interface RedisInvokerOptions {
  redis: Redis;
  keys: RedisKeys;
  /** How long a request may wait for a location when both lists are empty (default 10 000 ms). */
  waitMs?: number;
  /** Pause between empty polls (default 5 ms). */
  pollMs?: number;
  /** Most stale entries skipped for one request (default 64). */
  maxAttempts?: number;
}

const PASSED_HEADERS = [
  'content-type',
  'x-ringfaas-worker',
  'x-ringfaas-instance',
  'x-ringfaas-start',
];

/** Statuses after which the execution surely did not run: try the next location. */
const STALE_STATUSES = new Set([410, 429, 503]);

/** See the file header. */
export class RedisInvoker implements Invoker {
  readonly #o: RedisInvokerOptions;
  readonly #pools = new Map<string, Pool>();
  #sha: string | undefined;

  constructor(options: RedisInvokerOptions) {
    this.#o = options;
  }

  async invoke(functionId: string, input: Buffer, ctx: RequestContext): Promise<ForwardedResponse> {
    const deadline = Date.now() + (this.#o.waitMs ?? 10_000);
    const maxAttempts = this.#o.maxAttempts ?? 64;
    let dropped = 0;
    for (;;) {
      const popped = await this.#pop(functionId);
      if (popped === null) {
        if (Date.now() >= deadline) {
          throw new RfError(BenchErrors.REDIS_NO_CAPACITY, 'no warm container and no cold reservation', { details: { dropped } });
        }
        await new Promise((resolve) => setTimeout(resolve, this.#o.pollMs ?? 5));
        continue;
      }
      const [kind, raw] = popped;
      const entry = decodeEntry(raw);
      if (entry === undefined) continue;
      const path = kind === 'w' ? `/instances/${entry.id}/invoke/${encodeURIComponent(functionId)}` : `/cold/${encodeURIComponent(functionId)}`;
      const answer = await this.#post(entry.address, path, input, ctx);
      if (answer !== undefined && !STALE_STATUSES.has(answer.status)) return answer;
      dropped++;
      ctx.log.debug({ functionId, kind, entry: raw, status: answer?.status }, 'stale location dropped');
      if (dropped >= maxAttempts) {
        throw new RfError(BenchErrors.REDIS_WORKER_UNREACHABLE, 'every location tried was stale or unreachable', { details: { dropped } });
      }
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#pools.values()].map((p) => p.close()));
    this.#pools.clear();
  }

  async #pop(functionId: string): Promise<[string, string] | null> {
    const keys = this.#o.keys;
    try {
      this.#sha ??= (await this.#o.redis.script('LOAD', POP_LOCATION_LUA)) as string;
      return (await this.#o.redis.evalsha(this.#sha, 2, keys.warm(functionId), keys.cold)) as [string, string] | null;
    } catch (err: unknown) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        this.#sha = undefined;
        return this.#pop(functionId);
      }
      throw new RfError(BenchErrors.REDIS_UNAVAILABLE, 'Redis did not answer', { cause: err });
    }
  }

  /** Forwards to a worker; undefined when it could not be reached (nothing ran). */
  async #post(address: string, path: string, input: Buffer, ctx: RequestContext): Promise<ForwardedResponse | undefined> {
    let pool = this.#pools.get(address);
    if (pool === undefined) {
      pool = new Pool(address, { keepAliveTimeout: 60_000 });
      this.#pools.set(address, pool);
    }
    let res;
    try {
      res = await pool.request({
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', 'x-ringfaas-request-id': ctx.requestId },
        body: input,
      });
    } catch (err: unknown) {
      const code = (err as { code?: unknown }).code;
      if (code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT') return undefined;
      throw new RfError(BenchErrors.REDIS_WORKER_UNREACHABLE, 'the worker failed during the invocation', { cause: err });
    }
    const body = Buffer.from(await res.body.arrayBuffer());
    const headers: Record<string, string> = {};
    for (const name of PASSED_HEADERS) {
      const v = res.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    return { status: res.statusCode, headers, body };
  }
}
