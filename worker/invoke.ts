/**
 * One invocation on the pool: take a container, run the function under its timeout, give the
 * container back — or remove it when the execution cost it (timeout, crash). A function can
 * fail its own invocation, never the worker.
 */
import { RfError } from '../errors/index.ts';
import { CONTAINER_ERRORS, FunctionErrors, WorkerErrors } from './errors.ts';
import type { AcquireOptions, ContainerPool, Lease, PoolFunction } from './pool/index.ts';
import type { ShimResult } from './runtime.ts';
import type { LoggedLines, StartKind } from '../contract/index.ts';

/** The logs of an execution that never reached its function. */
const NO_LINES: LoggedLines = Object.freeze({ lines: [], truncated: false }) as LoggedLines;

/** What ran, where: for the response headers and the `logs` object. */
export interface ExecutionInfo {
  instanceId: string;
  start: StartKind;
  version: number;
  functionMs: number;
  logs: LoggedLines;
}

/** An execution's outcome: the function's output, or a coded failure of this execution. */
export type InvocationResult =
  | ({ state: 'ok'; output: unknown } & ExecutionInfo)
  | ({ state: 'error'; error: RfError } & ExecutionInfo);

/** Hooks for metrics. */
export interface InvocationEvents {
  onTimeout?(): void;
  onCrash?(): void;
}

const TIMED_OUT = Symbol('timed out');

/**
 * Runs `fn` once on `input` (raw JSON bytes). Rejects only when no execution started
 * (RF_WORKER_AT_CAPACITY, RF_WORKER_DRAINING, a failed cold start...); once the function
 * runs, every outcome is a result.
 */
export async function invokeOnPool(
  pool: ContainerPool,
  fn: PoolFunction,
  input: Buffer,
  options: AcquireOptions = {},
  events: InvocationEvents = {},
  invocationId?: string,
): Promise<InvocationResult> {
  const lease = await pool.acquire(fn, options);
  return runOnLease(pool, lease, input, events, invocationId);
}

/** Runs one execution on a leased container and gives the container back (or removes it). */
/** `invocationId` becomes the function's context.invocationId (else the shim numbers calls). */
export async function runOnLease(pool: ContainerPool, lease: Lease, input: Buffer, events: InvocationEvents = {}, invocationId?: string): Promise<InvocationResult> {
  const fn = lease.fn;
  const startedAt = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await new Promise<ShimResult | typeof TIMED_OUT | { failure: unknown }>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), lease.timeoutMs);
    // No AbortSignal (it costs microseconds per call): on timeout the container is removed,
    // which ends the socket call.
    lease.handle.invoke(input, Date.now() + lease.timeoutMs, undefined, pool.maxAnswerBytes, invocationId).then(resolve, (failure: unknown) => resolve({ failure }));
  });
  clearTimeout(timer);

  if (outcome === TIMED_OUT) {
    pool.discard(lease, 'timeout');
    events.onTimeout?.();
    const error = new RfError(WorkerErrors.INVOKE_TIMEOUT, `the function ran past its timeout of ${fn.timeoutMs} ms`, {
      details: { timeoutMs: fn.timeoutMs },
    });
    return failed(lease, error, performance.now() - startedAt);
  }
  if ('failure' in outcome && outcome.failure instanceof RfError && outcome.failure.code === FunctionErrors.OUTPUT_TOO_LARGE.code) {
    // It stopped being read mid-answer: the container goes, and its memory with it.
    pool.discard(lease, 'output-too-large');
    return failed(lease, outcome.failure, performance.now() - startedAt);
  }
  if ('failure' in outcome) {
    pool.discard(lease, 'crashed');
    events.onCrash?.();
    const error =
      outcome.failure instanceof RfError && outcome.failure.code === FunctionErrors.CRASHED.code
        ? outcome.failure
        : new RfError(FunctionErrors.CRASHED, 'the function container stopped during the invocation', { cause: outcome.failure });
    return failed(lease, error, performance.now() - startedAt);
  }
  pool.release(lease);
  const ran = {
    instanceId: lease.instanceId,
    start: lease.start,
    version: fn.version,
    functionMs: outcome.functionMs,
    logs: outcome.logs,
  };
  if (outcome.state === 'ok') return { state: 'ok', output: outcome.output, ...ran };
  const spec = CONTAINER_ERRORS.get(outcome.code) ?? FunctionErrors.ERROR;
  return { state: 'error', error: new RfError(spec, outcome.message), ...ran };
}

function failed(lease: Lease, error: RfError, functionMs: number): InvocationResult {
  return { state: 'error', error, instanceId: lease.instanceId, start: lease.start, version: lease.fn.version, functionMs, logs: NO_LINES };
}
