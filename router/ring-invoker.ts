/**
 * Forwards invocations to workers on the ring: the router's hot path.
 *
 * For one request: the function's preference list from the ring view (home first, suspects
 * and workers being drained left out, at most `maxCandidates`), ordered by the bounded-load
 * rule (ring/bounded-load.ts, over the view's bins: workers, or with `loadByHost` the hosts they
 * run on, router/host-groups.ts; with the sustained-load bound, ring/sustained-load.ts, workers whose
 * averaged load is over it after the accepting ones; when no candidate accepts, the next worker
 * of the whole ring that does goes first) — and, with `warmFirst`, when that rule moves the request off its
 * home, a worker under the bound (the home: at most one over it unless held on its average,
 * ring/'s HOME_WARM_SLACK) that this router heard holds an idle warm container of the function
 * goes first (router/warm-hints.ts) — then tried in turn:
 *
 * - 429 RF_WORKER_AT_CAPACITY or 503 RF_WORKER_DRAINING (the request never started), marked
 *   by the worker itself with x-ringfaas-refusal (a header no function's container can make
 *   the worker send) → next (a draining worker is taken off this router's ring at once);
 * - connection refused / connect timeout (never sent) → mark the worker suspect, next;
 * - written on an invoke channel the worker then closed (GOAWAY) without reading it (never ran)
 *   → next, as a draining refusal;
 * - 503 RF_STORAGE_UNAVAILABLE marked `code-unavailable` (a worker without the function's code
 *   while storage is out; nothing started) → the untried candidates in preference order, home
 *   first, at most MAX_CODE_UNAVAILABLE_RETRIES times, then that answer as it is;
 * - any other answer (success or not) → answered to the client as is, bytes untouched; it is
 *   read up to `maxAnswerBytes` (counted as it arrives), past that RF_RING_WORKER_ANSWER_TOO_LARGE;
 * - a failure once the request was sent (reset, timeout) → 502/504, never re-sent: the
 *   function may have run.
 *
 * When every candidate was full, the request goes back to its home worker (or the first full
 * one in preference order) with x-ringfaas-wait-ms, where it may queue for `homeWaitMs`; a
 * second 429 is RF_RING_AT_CAPACITY.
 *
 * The request goes over the worker's invoke channel (router/worker-channel.ts: one framed,
 * multiplexed connection per worker) when it has one, else over one keep-alive undici Pool per
 * worker; both are reused across requests and closed (gracefully) when the worker leaves the
 * ring. The outcomes above are the same either way (a channel that cannot be opened is a refused
 * connection; one that breaks after the request was written is a failure after sending).
 */
import { Pool } from 'undici';
import { RfError } from '../errors/index.ts';
import { planSpill, warmAccepts, DEFAULT_LOAD_FACTOR, RingErrors, type Ring } from '../ring/index.ts';
import { RouterErrors } from './errors.ts';
import { CODE_UNAVAILABLE_CODE, DEFAULT_MAX_OUTPUT_BYTES, INVOKE_ENVELOPE_BYTES, RETRYABLE_WORKER_CODES, WorkerHeaders, readBounded, CLUSTER_KEY_HEADER } from '../contract/index.ts';
import type { ForwardedResponse, Invoker, RequestContext } from './invoker.ts';
import type { RingMetrics, SpillReason } from './ring-metrics.ts';
import type { RingView } from './ring-view.ts';
import type { WorkerRow } from '../storage/index.ts';
import { CONNECT_ERROR_CODES } from './connect-errors.ts';
import { WarmHints } from './warm-hints.ts';
import { ChannelError, WorkerChannel, channelCapable } from './worker-channel.ts';

/** The largest function timeout (15 minutes) plus a container start and margin. */
export const DEFAULT_WORKER_REQUEST_TIMEOUT_MS = 900_000 + 60_000;
/** Slack over a worker's own bound (headers of the JSON envelope, rounding). */
const ANSWER_MARGIN_BYTES = 64 * 1024;

/** Headers the router adds to a forwarded answer whose client asked for details (x-ringfaas-details: 1). */
export const RouterHeaders = {
  /** How many workers the request passed over before the one that served it. */
  spills: 'x-ringfaas-spills',
  /** The router's id. */
  router: 'x-ringfaas-router',
} as const;

export interface RingInvokerOptions {
  view: RingView;
  /** This router's id (x-ringfaas-router). */
  routerId: string;
  metrics?: RingMetrics;
  /** Bounded-load factor c. Default 1.25; Infinity turns the check off. */
  loadFactor?: number;
  /** At most this many workers of the preference list are tried. Default 16. */
  maxCandidates?: number;
  /** How long a request may queue at its home worker once every candidate was full. Default 10 000. */
  homeWaitMs?: number;
  /**
   * Time to the worker's response headers: covers the largest function timeout (900 000 ms,
   * loading included) plus a container start and margin. Default 960 000.
   */
  requestTimeoutMs?: number;
  /**
   * Largest invocation output, bytes (RINGFAAS_MAX_OUTPUT_BYTES, the workers' bound). A worker's
   * answer is read up to this plus the envelope (logs, error). Default 6 MB.
   */
  maxOutputBytes?: number;
  /** TCP connect timeout to a worker. Default 2000. */
  connectTimeoutMs?: number;
  /** Keep-alive connections per worker. Default 128. */
  connectionsPerWorker?: number;
  /** Sent to workers in x-ringfaas-cluster-key (contract/cluster-auth.ts). */
  clusterKey?: string;
  /** How long a worker's report of idle warm containers is trusted (router/warm-hints.ts). Default 30 000. */
  warmHintTtlMs?: number;
  /**
   * Warm first when spilling (docs/ring.md; RINGFAAS_WARM_FIRST). Default true: on the compare
   * benchmark, three alternated pairs cost nothing measurable (bench/analysis.md, 2026-12-04).
   */
  warmFirst?: boolean;
  /**
   * Send invocations over each worker's invoke channel (one framed connection, router/worker-channel.ts)
   * rather than HTTP/1.1. Default true; workers that refuse it are asked over HTTP.
   */
  invokeChannel?: boolean;
}

/** Why an attempt could not take the request (it never started executing). */
type Refusal = 'at_capacity' | 'draining' | 'connect_error' | 'code_unavailable';

/** `response`: the refusal as the worker answered it (code_unavailable: answered when no retry is left). */
type AttemptResult = { ok: true; response: ForwardedResponse } | { ok: false; refusal: Refusal; response?: ForwardedResponse };

/** Workers asked again after a code-unavailable refusal (each costs up to one storage deadline). */
const MAX_CODE_UNAVAILABLE_RETRIES = 2;

/**
 * Never copied from a worker's answer: hop-by-hop, length, the router's own request id, the
 * worker's load report (for routers, not clients), and credentials. (Requests to workers are
 * built from scratch: a client's Authorization header never reaches a worker.)
 */
const NOT_FORWARDED = new Set([WorkerHeaders.refusal, 'authorization', CLUSTER_KEY_HEADER, 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization', 'x-request-id', WorkerHeaders.load, WorkerHeaders.idle]);
/** Also not copied unless the client asked for details (docs/api.md): the start kind and the instance (the body's `logs` has both). */
const DETAIL_ONLY: ReadonlySet<string> = new Set([WorkerHeaders.start, WorkerHeaders.instance]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

interface WorkerPool {
  address: string;
  pool: Pool;
}

interface WorkerChannelEntry {
  address: string;
  channel: WorkerChannel;
}

/** A worker's answer, whichever way it came. */
interface WorkerExchange {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** x-ringfaas-load: the worker's in-flight executions. */
  load: number | undefined;
}

/** The ring's Invoker: lookup, bounded-load order, spill, wait at home. */
export class RingInvoker implements Invoker {
  readonly #view: RingView;
  readonly #routerId: string;
  readonly #metrics: RingMetrics | undefined;
  readonly #loadFactor: number;
  readonly #maxCandidates: number;
  readonly #homeWaitMs: number;
  readonly #requestTimeoutMs: number;
  readonly #maxAnswerBytes: number;
  readonly #connectTimeoutMs: number;
  readonly #connections: number;
  readonly #clusterKey: string | undefined;
  readonly #pools = new Map<string, WorkerPool>();
  readonly #channels = new Map<string, WorkerChannelEntry>();
  readonly #useChannel: boolean;
  readonly #warm: WarmHints;
  readonly #warmFirst: boolean;
  /** forwards{result="ok"}, bound once (the hot path). */
  readonly #forwardedOk: { inc(): void } | undefined;
  #closed = false;

  constructor(options: RingInvokerOptions) {
    this.#view = options.view;
    this.#routerId = options.routerId;
    this.#metrics = options.metrics;
    this.#forwardedOk = options.metrics?.forwards.labels({ result: 'ok' });
    this.#loadFactor = options.loadFactor ?? DEFAULT_LOAD_FACTOR;
    this.#maxCandidates = options.maxCandidates ?? 16;
    this.#homeWaitMs = options.homeWaitMs ?? 10_000;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_WORKER_REQUEST_TIMEOUT_MS;
    this.#maxAnswerBytes = (options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES) + INVOKE_ENVELOPE_BYTES + ANSWER_MARGIN_BYTES;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.#connections = options.connectionsPerWorker ?? 128;
    this.#clusterKey = options.clusterKey;
    this.#warmFirst = options.warmFirst ?? true;
    this.#useChannel = options.invokeChannel ?? true;
    this.#warm = new WarmHints({ now: () => performance.now(), ...(options.warmHintTtlMs === undefined ? {} : { ttlMs: options.warmHintTtlMs }) });
    this.#view.onChange((next) => this.#closeDeparted(next));
  }

  async invoke(functionId: string, input: Buffer, ctx: RequestContext): Promise<ForwardedResponse> {
    const view = this.#view;
    const ring = view.ring;
    if (ring.size === 0) throw this.#fail(RingErrors.EMPTY, 'no live worker is on the ring', functionId, 0);
    const candidates = view.candidates(functionId, this.#maxCandidates);
    const held = view.heldFor(functionId);
    const plan = planSpill({ candidates, loadOf: (id) => view.boundLoadOf(id), totalLoad: view.totalLoad, workerCount: view.boundSize, c: this.#loadFactor, ...(held === undefined ? {} : { held }) });
    let order = plan.order;
    let spills = plan.skipped;
    if (plan.accepting === 0 && ring.size > this.#maxCandidates) {
      // None of the candidates accepts: the next worker of the whole ring that does goes first
      // (Mirrokni et al.'s walk, docs/ring.md), before the held and over-bound candidates.
      const bound = plan.bound;
      const next = view.beyondCandidates(functionId, this.#maxCandidates).find((id) => view.boundLoadOf(id) < bound && held?.(id) !== true);
      if (next !== undefined) {
        order = [next, ...order];
        spills = candidates.length;
      }
    }
    let warmPassed = 0;
    if (spills > 0 && this.#warmFirst) {
      // Warm first when spilling: the bound moved the request off its home, so among the
      // workers under the bound one known to hold an idle warm container goes first (docs/ring.md);
      // the home may be one over the bound unless held on its average (ring/'s HOME_WARM_SLACK).
      // It may be a held worker (sustained-load bound) before the first accepting one in
      // preference order: then fewer workers are passed over than the bound alone passed.
      const bound = plan.bound;
      const home = candidates[0];
      // asked only of a worker with a warm hint, so the home's held-test runs only when it has one
      const warm = this.#warm.firstWarm(functionId, order, (id) => warmAccepts(view.boundLoadOf(id), bound, id === home && view.heldFor(functionId, true)?.(id) !== true));
      if (warm !== undefined && warm !== order[0]) {
        order = [warm, ...order.filter((id) => id !== warm)];
        const at = candidates.indexOf(warm);
        warmPassed = Math.max(0, at - spills);
        spills = at;
      }
    }
    if (spills - warmPassed > 0) this.#metrics?.spills.inc({ reason: 'bounded_load' }, spills - warmPassed);
    if (warmPassed > 0) this.#metrics?.spills.inc({ reason: 'warm_elsewhere' }, warmPassed);
    let full: Set<string> | undefined;
    let codeUnavailable: ForwardedResponse | undefined;
    let codeRetries = 0;
    const tried = new Set<string>();
    for (let i = 0; i < order.length; i++) {
      const workerId = order[i] as string;
      if (i > 0) this.#metrics?.retries.inc();
      if (ctx.left?.left === true) throw this.#cancelled(functionId, spills);
      tried.add(workerId);
      const result = await this.#attempt(ring, workerId, functionId, input, ctx, 0, spills);
      if (result.ok) return result.response;
      spills++;
      this.#metrics?.spills.inc({ reason: result.refusal satisfies SpillReason });
      ctx.log.debug({ functionId, workerId, refusal: result.refusal }, 'invocation spilled');
      if (result.refusal === 'connect_error') view.markSuspect(workerId, 'connect_error');
      else if (result.refusal === 'draining') view.markDraining(workerId);
      else if (result.refusal === 'at_capacity') {
        (full ??= new Set()).add(workerId);
        if (this.#warmFirst) this.#warm.refused(functionId, workerId);
      } else if (result.refusal === 'code_unavailable') {
        // Storage is out and this worker lacks the code: the workers most likely to hold it
        // are the function's own, in preference order (home first), whatever their load.
        codeUnavailable = result.response;
        if (codeRetries++ >= MAX_CODE_UNAVAILABLE_RETRIES) return codeUnavailable as ForwardedResponse;
        order = [...order.slice(0, i + 1), ...candidates.filter((id) => !tried.has(id))];
      }
    }
    if (full === undefined) {
      if (codeUnavailable !== undefined) return codeUnavailable;
      throw this.#fail(RingErrors.NO_WORKER_AVAILABLE, 'every candidate worker refused the connection or is draining', functionId, spills);
    }
    if (ctx.left?.left === true) throw this.#cancelled(functionId, spills);
    const waitAt = candidates.find((id) => full.has(id)) ?? (full.values().next().value as string);
    this.#metrics?.waits.inc();
    this.#metrics?.retries.inc();
    ctx.log.debug({ functionId, workerId: waitAt, waitMs: this.#homeWaitMs }, 'every candidate full, waiting at home');
    const result = await this.#attempt(ring, waitAt, functionId, input, ctx, this.#homeWaitMs, spills);
    if (result.ok) return result.response;
    if (result.refusal === 'connect_error') view.markSuspect(waitAt, 'connect_error');
    else if (result.refusal === 'draining') view.markDraining(waitAt);
    throw this.#fail(RingErrors.AT_CAPACITY, `every worker that could run function '${functionId}' is at capacity`, functionId, spills + 1);
  }

  /** Closes every pool (in-flight requests finish first). */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    const channels = [...this.#channels.values()];
    this.#pools.clear();
    this.#channels.clear();
    await Promise.all([...pools.map((p) => p.pool.close()), ...channels.map((c) => c.channel.close())]);
  }

  async #attempt(ring: Ring<WorkerRow>, workerId: string, functionId: string, input: Buffer, ctx: RequestContext, waitMs: number, spills: number): Promise<AttemptResult> {
    const address = ring.members.get(workerId)?.address;
    if (address === undefined) return { ok: false, refusal: 'connect_error' };
    let reportedLoad: number | undefined;
    const startedAt = performance.now();
    this.#view.requestStarted(workerId);
    if (this.#warmFirst) this.#warm.taken(functionId, workerId);
    try {
      const channel = this.#channelFor(workerId, address);
      const answer =
        channel !== undefined && channel.refusedStatus() === undefined
          ? await this.#overChannel(channel, workerId, address, functionId, input, ctx, waitMs, spills)
          : await this.#overHttp(workerId, address, functionId, input, ctx, waitMs, spills);
      if (answer === 'not_sent') return { ok: false, refusal: 'connect_error' };
      if (answer === 'not_read') return { ok: false, refusal: 'draining' };
      reportedLoad = answer.load;
      if (this.#warmFirst) this.#warm.reported(functionId, workerId, answer.headers[WorkerHeaders.idle]);
      const { status, headers, body } = answer;
      const refusal = headers[WorkerHeaders.refusal];
      if ((status === 429 || status === 503) && refusal !== undefined && isRetryable(body)) {
        return { ok: false, refusal: status === 429 ? 'at_capacity' : 'draining' };
      }
      if (status === 503 && refusal === 'code-unavailable' && errorCodeOfBody(body) === CODE_UNAVAILABLE_CODE) {
        return { ok: false, refusal: 'code_unavailable', response: this.#response(503, headers, body, spills, ctx.details === true) };
      }
      this.#forwardedOk?.inc();
      this.#view.executed(functionId, performance.now() - startedAt);
      return { ok: true, response: this.#response(status, headers, body, spills, ctx.details === true) };
    } finally {
      this.#view.requestEnded(workerId, reportedLoad);
    }
  }

  /**
   * The worker's answer over its invoke channel; a refused upgrade falls back to HTTP for this
   * attempt. `not_read`: the worker closed the channel (GOAWAY) before it read the request.
   */
  async #overChannel(channel: WorkerChannel, workerId: string, address: string, functionId: string, input: Buffer, ctx: RequestContext, waitMs: number, spills: number): Promise<WorkerExchange | 'not_sent' | 'not_read'> {
    try {
      const answer = await channel.request(
        { functionId, requestId: ctx.requestId, waitMs, details: ctx.details === true, reportIdle: this.#warmFirst, input },
        this.#requestTimeoutMs + waitMs,
        ctx.left,
      );
      return { status: answer.status, headers: answer.headers, body: answer.body, load: answer.load };
    } catch (err) {
      if (!(err instanceof ChannelError)) throw err;
      switch (err.reason) {
        case 'connect':
          return 'not_sent';
        case 'closing':
          return 'not_read';
        case 'refused':
          return this.#overHttp(workerId, address, functionId, input, ctx, waitMs, spills);
        case 'aborted':
          throw this.#cancelled(functionId, spills);
        case 'timeout':
        case 'broken':
          throw this.#failedAfterSending(err.reason === 'timeout', err, workerId, functionId, spills, ctx);
      }
    }
  }

  /** The worker's answer over HTTP/1.1 (workers without the channel, https addresses, or the channel turned off). */
  async #overHttp(workerId: string, address: string, functionId: string, input: Buffer, ctx: RequestContext, waitMs: number, spills: number): Promise<WorkerExchange | 'not_sent'> {
    const pool = this.#pool(workerId, address);
    // Only what the worker reads: every header costs both ends on the hot path.
    const headers: Record<string, string> = { [WorkerHeaders.requestId]: ctx.requestId };
    if (waitMs > 0) headers[WorkerHeaders.waitMs] = String(waitMs);
    if (this.#clusterKey !== undefined) headers[CLUSTER_KEY_HEADER] = this.#clusterKey;
    if (ctx.details === true) headers[WorkerHeaders.details] = '1';
    if (this.#warmFirst) headers[WorkerHeaders.reportIdle] = '1';
    let sent = false;
    try {
      const res = await pool.request({
        path: `/invoke/${encodeURIComponent(functionId)}`,
        method: 'POST',
        headers,
        body: input,
        headersTimeout: this.#requestTimeoutMs + waitMs,
        bodyTimeout: this.#requestTimeoutMs,
        ...(ctx.left === undefined ? {} : { signal: ctx.left.signal }),
      });
      sent = true;
      const load = res.headers[WorkerHeaders.load];
      const body = await readBounded(res.body, this.#maxAnswerBytes);
      if (body === undefined) {
        throw this.#fail(RingErrors.WORKER_ANSWER_TOO_LARGE, `worker '${workerId}' answered more than ${this.#maxAnswerBytes} bytes`, functionId, spills);
      }
      return { status: res.statusCode, headers: res.headers, body, load: typeof load === 'string' ? Number(load) : undefined };
    } catch (err) {
      if (err instanceof RfError) throw err;
      if (ctx.left?.left === true) throw this.#cancelled(functionId, spills);
      const code = errorCode(err);
      if (!sent && CONNECT_ERROR_CODES.has(code)) return 'not_sent';
      throw this.#failedAfterSending(TIMEOUT_CODES.has(code), err, workerId, functionId, spills, ctx);
    }
  }

  /** A request sent (over either transport) and then not answered: logged, never re-sent (it may have run). */
  #failedAfterSending(timedOut: boolean, err: unknown, workerId: string, functionId: string, spills: number, ctx: RequestContext): RfError {
    ctx.log.warn({ err, functionId, workerId }, 'worker failed after the request was sent');
    if (timedOut) return this.#fail(RingErrors.WORKER_TIMEOUT, `worker '${workerId}' did not answer in time`, functionId, spills, err);
    return this.#fail(RingErrors.WORKER_UNREACHABLE, `the connection to worker '${workerId}' broke; the invocation may have run and is not retried`, functionId, spills, err);
  }

  /** The worker's invoke channel (opened on first use), or undefined when HTTP is to be used. */
  #channelFor(workerId: string, address: string): WorkerChannel | undefined {
    if (!this.#useChannel || !channelCapable(address)) return undefined;
    const known = this.#channels.get(workerId);
    if (known !== undefined && known.address === address) return known.channel;
    if (known !== undefined) void known.channel.close();
    const channel = new WorkerChannel({
      address,
      connectTimeoutMs: this.#connectTimeoutMs,
      maxAnswerBytes: this.#maxAnswerBytes,
      // Sent only at the end of a drain: no new work goes there, before this router's next poll.
      onGoaway: () => this.#view.markDraining(workerId),
      ...(this.#clusterKey === undefined ? {} : { clusterKey: this.#clusterKey }),
    });
    if (!this.#closed) this.#channels.set(workerId, { address, channel });
    return channel;
  }

  /** The client left: nothing more is tried (the worker withdraws what still waits when its connection closes). */
  #cancelled(functionId: string, spills: number): RfError {
    return new RfError(RouterErrors.REQUEST_CANCELLED, 'the client left before the invocation was answered', { details: { functionId, spills } });
  }

  /** The client's answer: the worker's headers filtered, and the detail headers when asked for. */
  #response(status: number, source: WorkerExchange['headers'], body: Buffer, spills: number, details: boolean): ForwardedResponse {
    const headers: Record<string, string> = {};
    for (const name in source) {
      const value = source[name];
      if (value === undefined || NOT_FORWARDED.has(name) || (!details && DETAIL_ONLY.has(name))) continue;
      headers[name] = typeof value === 'string' ? value : value.join(', ');
    }
    if (details) {
      headers[RouterHeaders.spills] = String(spills);
      headers[RouterHeaders.router] = this.#routerId;
    }
    const start = source[WorkerHeaders.start];
    return { status, headers, body, served: { spills, start: typeof start === 'string' ? start : undefined } };
  }

  #pool(workerId: string, address: string): Pool {
    const known = this.#pools.get(workerId);
    if (known !== undefined && known.address === address) return known.pool;
    if (known !== undefined) void known.pool.close();
    const pool = new Pool(address, {
      connections: this.#connections,
      pipelining: 1,
      connect: { timeout: this.#connectTimeoutMs },
      keepAliveTimeout: 4000,
    });
    if (!this.#closed) this.#pools.set(workerId, { address, pool });
    return pool;
  }

  #closeDeparted(next: Ring<WorkerRow>): void {
    for (const [id, entry] of this.#channels) {
      if (next.members.get(id)?.address === entry.address) continue;
      this.#channels.delete(id);
      this.#warm.forgetWorker(id);
      void entry.channel.close();
    }
    for (const [id, entry] of this.#pools) {
      if (next.members.get(id)?.address === entry.address) continue;
      this.#pools.delete(id);
      this.#warm.forgetWorker(id);
      void entry.pool.close();
    }
  }

  #fail(spec: (typeof RingErrors)[keyof typeof RingErrors], message: string, functionId: string, spills: number, cause?: unknown): RfError {
    this.#metrics?.forwards.inc({ result: spec.code });
    return new RfError(spec, message, { cause, details: { functionId, spills } });
  }
}

/** Whether an error body carries a code that means the request never started. */
function isRetryable(body: Buffer): boolean {
  const code = errorCodeOfBody(body);
  return code !== undefined && RETRYABLE_WORKER_CODES.has(code);
}

/** The `error.code` of a worker's JSON error body, if it is one. */
function errorCodeOfBody(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: { code?: unknown } };
    const code = parsed.error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined; // not a worker error body: answered to the client as is
  }
}

function errorCode(err: unknown): string {
  if (typeof err !== 'object' || err === null) return '';
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
  const cause = (err as { cause?: { code?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  return typeof code === 'string' ? code : '';
}
