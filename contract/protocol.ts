/**
 * The internal protocol between a router (or the Redis-design web service) and a worker.
 * Both sides read it, so it lives in contract/, which depends on nothing but errors/ (importing
 * it loads no pool, runtime or dockerode); docs/worker-protocol.md describes it in full.
 *
 * All over HTTP/1.1 with keep-alive, JSON bodies.
 *
 *   POST /invoke/{functionId}      body: the function's input (raw JSON, forwarded as is)
 *        request headers:  x-ringfaas-wait-ms  (optional) how long the request may queue at this
 *                          worker for capacity before answering 429; absent/0 = answer 429 at once
 *                          x-ringfaas-request-id (optional) for logs
 *                          x-ringfaas-details: 1 (optional) also answer x-ringfaas-instance
 *                          x-ringfaas-report-idle: 1 (optional) also answer x-ringfaas-idle
 *        200 body: InvokeSuccessBody; errors: ErrorBody (errors/index.ts) with the codes below
 *        every response carries x-ringfaas-worker and x-ringfaas-load, an executed invocation's
 *        also x-ringfaas-start (and, when asked, x-ringfaas-instance and x-ringfaas-idle: idle
 *        warm containers of the function, answer sequence); no Date header; the worker's own refusals
 *        (RF_WORKER_AT_CAPACITY, RF_WORKER_DRAINING: the request never started) also carry
 *        x-ringfaas-refusal, which nothing a function's container answers can produce
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
  /** The container instance id that ran the invocation (only when the request asked for details; always in the body's `logs`). */
  instance: 'x-ringfaas-instance',
  /** How the container was obtained: see StartKind. (Version and durations: the body's `logs`.) */
  start: 'x-ringfaas-start',
  /** Request: how long the request may wait for capacity at this worker. */
  waitMs: 'x-ringfaas-wait-ms',
  /** Request: correlation id for logs. */
  requestId: 'x-ringfaas-request-id',
  /**
   * Request, `1`: answer the detail headers too (x-ringfaas-instance). Routers send it when
   * their client asked for details (docs/api.md); every header costs each hop on the hot path.
   */
  details: 'x-ringfaas-details',
  /** Request, `1`: answer x-ringfaas-idle too (routers that send warm first, router/warm-hints.ts). */
  reportIdle: 'x-ringfaas-report-idle',
  /**
   * Set by the worker itself, only on its refusals of a request that never started
   * (`at-capacity`, `draining`, and `code-unavailable`: it does not hold the function's code
   * and cannot read it because storage is unreachable): routers spill or retry only on an
   * answer carrying it. Every
   * header of a worker's answer is built by the worker; none is copied from a container.
   */
  refusal: 'x-ringfaas-refusal',
  /**
   * On an executed invocation's answer to a request with x-ringfaas-report-idle: `<idle> <seq>`, how many idle warm containers of the
   * function's version the worker holds right after this execution gave its container back,
   * and the worker's answer sequence number (routers apply the newest: router/warm-hints.ts).
   * For routers, not clients.
   */
  idle: 'x-ringfaas-idle',
} as const;

/** Values of the x-ringfaas-refusal header. */
export type Refusal = 'at-capacity' | 'draining' | 'code-unavailable';

/** An invocation's output is at most this many bytes once serialised (as AWS Lambda). */
export const DEFAULT_MAX_OUTPUT_BYTES = 6 * 1024 * 1024;
/**
 * Room an invocation answer takes beyond its output: the log lines (256 KB of text, up to 6x
 * once JSON-escaped), the `logs` object, an error message. A reader of an answer allows
 * maxOutputBytes + this.
 */
export const INVOKE_ENVELOPE_BYTES = 2 * 1024 * 1024;
/** Largest body of a worker's control answers (/status, /healthz, /drain) a reader accepts. */
export const MAX_CONTROL_ANSWER_BYTES = 1024 * 1024;

/**
 * warm: an idle container of this function version was popped off its LIFO stack;
 * cold-pool: a pre-started, unassigned container from the cold pool was specialised;
 * cold-create: a container was created and started for this request.
 */
export type StartKind = 'warm' | 'cold-pool' | 'cold-create';

/** The input of an invocation sent with an empty body, through a router or straight to a worker. */
export const EMPTY_INPUT_JSON = '{}';

/** The 200 answer to an invocation, as in the seed: the output and the logs. */
export interface InvokeSuccessBody {
  output: unknown;
  logs: InvocationLogs;
}

/**
 * What an execution logged: one shape from the shim's answer to the HTTP answer's `logs`
 * (the container's answer, the worker's result, the router's relay all say `logs.lines` and
 * `logs.truncated`).
 */
export interface LoggedLines {
  /** Lines the function logged through context.log / console, cut at the documented limit. */
  lines: string[];
  /** True when lines were dropped at the limit. */
  truncated: boolean;
}

/** An answer's `logs`: the lines, and where and how the execution ran. */
export interface InvocationLogs extends LoggedLines {
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

/** The part of a readable byte stream a bounded read needs (undici's body, node:http's message). */
export interface ByteStream {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  once(event: 'end', listener: () => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
  destroy(error?: Error): unknown;
}

/**
 * Reads a whole answer body, counting bytes as they arrive (a declared content-length is not
 * trusted): resolves undefined, and destroys the stream (so its connection is not reused),
 * as soon as more than `limitBytes` came. The one bounded reader of peers' answers (shim to
 * worker, worker to router).
 */
export function readBounded(stream: ByteStream, limitBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    stream.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limitBytes) {
        done = true;
        stream.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    stream.once('end', () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    stream.once('error', (err: Error) => {
      if (done) return;
      done = true;
      reject(err);
    });
  });
}
