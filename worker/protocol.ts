/**
 * The internal protocol between a router (or the Redis-design web service) and a worker.
 * The worker produces it, so it lives here; docs/worker-protocol.md describes it in full.
 *
 * All over HTTP/1.1 with keep-alive, JSON bodies.
 *
 *   POST /invoke/{functionId}      body: the function's input (raw JSON, forwarded as is)
 *        request headers:  x-ringfaas-wait-ms  (optional) how long the request may queue at this
 *                          worker for capacity before answering 429; absent/0 = answer 429 at once
 *                          x-ringfaas-request-id (optional) for logs
 *        200 body: InvokeSuccessBody; errors: ErrorBody (errors/index.ts) with the codes below
 *        every response carries x-ringfaas-worker and x-ringfaas-load
 *   POST /functions/{functionId}/invalidate   body: { "version": n }  → 204
 *        the function changed (update: version n is now current) — drop cached metadata and
 *        code older than n, retire containers of older versions
 *   DELETE /functions/{functionId}            → 204: the function is gone; drop everything of it
 *   POST /drain                               → 202: stop taking new work, finish in-flight, leave
 *   GET  /status                              → 200 WorkerStatus
 *   GET  /healthz                             → 200 {"ok":true}
 *   GET  /metrics                             → Prometheus text
 */

/** Response headers of every worker answer. */
export const WorkerHeaders = {
  /** The worker's id. */
  worker: 'x-ringfaas-worker',
  /** The worker's current load: in-flight executions, as a decimal integer. */
  load: 'x-ringfaas-load',
  /** The container instance id that ran the invocation. */
  instance: 'x-ringfaas-instance',
  /** How the container was obtained: see StartKind. (Version and durations: the body's `logs`.) */
  start: 'x-ringfaas-start',
  /** Request: how long the request may wait for capacity at this worker. */
  waitMs: 'x-ringfaas-wait-ms',
  /** Request: correlation id for logs. */
  requestId: 'x-ringfaas-request-id',
} as const;

/**
 * warm: an idle container of this function version was popped off its LIFO stack;
 * cold-pool: a pre-started, unassigned container from the cold pool was specialised;
 * cold-create: a container was created and started for this request.
 */
export type StartKind = 'warm' | 'cold-pool' | 'cold-create';

/** The 200 answer to an invocation, as in the seed: the output and the logs. */
export interface InvokeSuccessBody {
  output: unknown;
  logs: InvocationLogs;
}

export interface InvocationLogs {
  /** Lines the function logged through context.log / console, cut at the documented limit. */
  lines: string[];
  /** True when lines were dropped at the limit. */
  truncated: boolean;
  workerId: string;
  instanceId: string;
  start: StartKind;
  version: number;
  functionMs: number;
  workerMs: number;
}

/** What GET /status answers. */
export interface WorkerStatus {
  id: string;
  state: 'active' | 'draining';
  runtime: 'docker' | 'process';
  capacityMb: number;
  reservedMb: number;
  inFlight: number;
  coldPool: { idle: number; target: number };
  /** Per function version: idle warm containers and busy ones. */
  functions: Array<{ functionId: string; version: number; idle: number; busy: number }>;
}

/** Codes a worker answers that mean the request never started executing: safe to send elsewhere. */
export const RETRYABLE_WORKER_CODES: ReadonlySet<string> = new Set(['RF_WORKER_AT_CAPACITY', 'RF_WORKER_DRAINING']);
