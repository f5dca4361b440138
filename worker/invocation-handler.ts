/**
 * One invocation on this worker, whatever carried it (an HTTP POST /invoke/{id} or a frame of
 * the invoke channel): the checks, the pool, the answer, the metrics. The transports only read
 * the request and write what this returns.
 */
import type { Logger } from 'pino';
import { errorBody, RfError } from '../errors/index.ts';
import { EMPTY_INPUT_JSON, REFUSAL_OF_CODE, WorkerHeaders } from '../contract/index.ts';
import { WorkerErrors } from './errors.ts';
import { invokeOnPool } from './invoke.ts';
import { invocationAnswer, resultLabel, errorLabel } from './invocation-answer.ts';
import type { AcquireOptions, ContainerPool } from './pool/index.ts';
import type { FunctionCache } from './function-cache.ts';
import type { InvocationResultLabel, WorkerMetrics } from './metrics.ts';

/** What the worker answers: status, its own headers (no content-type, length or load), body. */
export interface WorkerAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One invocation request, as a transport read it. */
export interface InvocationCall {
  functionId: string;
  /** Raw JSON bytes (empty: `{}`). */
  input: Buffer;
  requestId: string;
  /** How long the request may wait for capacity here (0: refused at once when full). */
  waitMs: number;
  /** Answer the detail headers (x-ringfaas-instance). */
  details: boolean;
  /** Answer x-ringfaas-idle. */
  reportIdle: boolean;
  /**
   * Aborted when the caller left: a wait for a container is withdrawn. Its signal is read only
   * when the request waits for one (an AbortSignal is made on its first read, an EventTarget per
   * request that the hot path, served by an idle container, does without).
   */
  left: AbortController;
  /** performance.now() when the request arrived (the worker's duration counts from it). */
  receivedAt: number;
}

export interface InvocationHandlerDeps {
  workerId: string;
  pool: ContainerPool;
  cache: FunctionCache;
  metrics: WorkerMetrics;
  logger: Logger;
}

const EMPTY_INPUT = Buffer.from(EMPTY_INPUT_JSON);
/** The longest wait a request may ask for. */
const MAX_WAIT_MS = 15 * 60_000;

/** The answer to an error: a deliberate RfError as it is (with the refusal mark when it is one), anything else a logged 500. */
export function errorAnswer(err: unknown, logger: Logger, context: { reqId: string; method?: string | undefined; url?: string | undefined }): WorkerAnswer {
  if (err instanceof RfError) {
    // Only the worker's own refusals carry the mark routers spill on (never a container's bytes).
    const refusal = REFUSAL_OF_CODE.get(err.code);
    return { status: err.status, headers: refusal === undefined ? {} : { [WorkerHeaders.refusal]: refusal }, body: JSON.stringify(errorBody(err)) };
  }
  logger.error({ err, ...context }, 'request failed');
  const internal = new RfError(WorkerErrors.INTERNAL, `internal error (request id ${context.reqId})`);
  return { status: internal.status, headers: {}, body: JSON.stringify(errorBody(internal)) };
}

/**
 * How a call waits for a container. The pool reads `signal` only when the request has to wait
 * (see InvocationCall.left). A class: an object literal with a getter took about 0.3 µs to make.
 */
class CallAcquire implements AcquireOptions {
  readonly waitMs: number;
  readonly #left: AbortController;

  constructor(waitMs: number, left: AbortController) {
    this.waitMs = waitMs;
    this.#left = left;
  }

  get signal(): AbortSignal {
    return this.#left.signal;
  }
}

/** Makes the handler both transports call. */
export function createInvocationHandler(deps: InvocationHandlerDeps): (call: InvocationCall) => Promise<WorkerAnswer> {
  const { pool, cache, metrics, workerId, logger } = deps;
  /** Sequence of x-ringfaas-idle reports (routers apply the newest they have seen). */
  let idleSeq = 0;
  return async (call) => {
    let label: InvocationResultLabel = 'error';
    try {
      if (pool.state !== 'active') throw new RfError(WorkerErrors.DRAINING, 'the worker is draining');
      const entry = cache.peek(call.functionId) ?? (await cache.get(call.functionId));
      const acquire = new CallAcquire(Math.min(call.waitMs, MAX_WAIT_MS), call.left);
      const result = await invokeOnPool(pool, entry.fn, call.input.length === 0 ? EMPTY_INPUT : call.input, acquire, metrics.invocationEvents, call.requestId);
      label = resultLabel(result);
      const answer = invocationAnswer(result, workerId, performance.now() - call.receivedAt, call.details);
      if (call.reportIdle) answer.headers[WorkerHeaders.idle] = `${pool.idleCount(entry.fn)} ${++idleSeq}`;
      return answer;
    } catch (err) {
      label = errorLabel(err);
      return errorAnswer(err, logger, { reqId: call.requestId, method: 'POST', url: `/invoke/${call.functionId}` });
    } finally {
      metrics.invocation(label, performance.now() - call.receivedAt);
    }
  };
}
