/**
 * The worker's side of the shim protocol (worker/shim/shim.cjs): one keep-alive undici client
 * per container over its Unix socket, and the ContainerHandle both runtimes hand out. A
 * runtime supplies how to stop the container and a promise of its exit; this module does the
 * talking, the error mapping and the idempotent removal.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client, errors as undiciErrors } from 'undici';
import { RfError } from '../errors/index.ts';
import { CONTAINER_ERRORS, FunctionErrors, WorkerErrors } from './errors.ts';
import { DEFAULT_MAX_OUTPUT_BYTES, INVOKE_ENVELOPE_BYTES, readBounded, type LoggedLines } from '../contract/index.ts';
import type { ContainerExit, ContainerHandle, LoadRequest, ShimResult } from './runtime.ts';

/** Where the shim file lives in this source tree. */
export function shimPath(): string {
  return fileURLToPath(new URL('./shim/shim.cjs', import.meta.url));
}

/** The shim's source (hashed into the runtime image tag). */
export function shimSource(): Buffer {
  return readFileSync(shimPath());
}

/** The socket's file name inside the socket directory. */
export const SHIM_SOCKET_NAME = 'shim.sock';
/**
 * The shim's documented limits (the same numbers as in worker/shim/shim.cjs, which cannot
 * import anything; the runtime contract suite checks them against the real shim).
 */
export const SHIM_LIMITS = {
  /** Most log lines returned per invocation. */
  maxLogLines: 1000,
  /** Most log bytes (UTF-8, summed over lines) returned per invocation. */
  maxLogBytes: 256 * 1024,
  /** Largest serialised output, bytes. */
  maxOutputBytes: 6 * 1024 * 1024,
} as const;

/**
 * Longest Unix socket path, bytes (sun_path: 108 on Linux, 104 on macOS, NUL included; Linux
 * silently truncates a longer one). The shim refuses a longer path at start.
 */
export const MAX_SOCKET_PATH_BYTES = 103;

/** True when a Unix socket can be bound and reached at `socketPath`. */
export function socketPathFits(socketPath: string): boolean {
  return Buffer.byteLength(socketPath) <= MAX_SOCKET_PATH_BYTES;
}

/** Request header carrying the invocation's deadline (epoch ms). */
export const DEADLINE_HEADER = 'x-ringfaas-deadline';
/** The id the shim gives the function as `context.invocationId`. */
export const INVOCATION_ID_HEADER = 'x-ringfaas-invocation-id';

/** A keep-alive HTTP client for one shim socket. */
export function createShimClient(socketPath: string): Client {
  return new Client('http://localhost', {
    socketPath,
    pipelining: 1,
    keepAliveTimeout: 600_000,
    keepAliveMaxTimeout: 600_000,
    // The worker enforces the function's timeout itself (and aborts this call).
    headersTimeout: 0,
    bodyTimeout: 0,
  });
}

/**
 * Polls `GET /health` on the shim's socket until it answers, the container exits, or
 * `timeoutMs` passes. Checks for the socket file first (cheap) every `stepMs`.
 */
export async function waitForShim(
  client: Client,
  socketPath: string,
  options: { timeoutMs: number; stepMs: number; exited: Promise<unknown> },
): Promise<void> {
  let gone = false;
  void options.exited.then(() => {
    gone = true;
  });
  const until = Date.now() + options.timeoutMs;
  let lastError: unknown;
  while (Date.now() < until) {
    if (gone) throw new Error('the container exited before its shim answered');
    if (existsSync(socketPath)) {
      try {
        const res = await client.request({ path: '/health', method: 'GET' });
        await res.body.dump();
        if (res.statusCode === 200) return;
      } catch (err) {
        lastError = err;
      }
    }
    await new Promise((r) => setTimeout(r, options.stepMs));
  }
  throw new Error(`the shim did not answer within ${options.timeoutMs} ms`, { cause: lastError });
}

export interface ShimHandleOptions {
  instanceId: string;
  codeDir: string;
  socketPath: string;
  client: Client;
  /** Resolves when the container stops (for any reason, including remove()). */
  stopped: Promise<ContainerExit>;
  /** Stops the container and frees everything of it; called at most once. */
  destroy: () => Promise<void>;
  /** Changes the memory limit (docker); absent = no-op. */
  setMemoryLimit?: (memoryMb: number) => Promise<void>;
  /**
   * Called, not awaited, once a load succeeded, with the memory limit then (docker: the
   * container drops from the start CPU share to its function's, about 10 ms of engine work
   * the first invocation does not wait for). Must not throw.
   */
  loaded?: (memoryMb: number) => Promise<void>;
  /** The memory limit the container was started with, MB (a change to the same value is skipped). */
  memoryMb?: number;
  /** How long invoke() waits for the exit details after the socket broke (default 2000 ms). */
  crashDetailsWaitMs?: number;
}

/** Largest answer to /load read from a shim, bytes. */
const MAX_LOAD_ANSWER_BYTES = 64 * 1024;

function notAResult(): ShimResult {
  return {
    state: 'error',
    code: FunctionErrors.BAD_OUTPUT.code,
    message: "the function's container answered something that is not a result",
    logs: { lines: [], truncated: false },
    functionMs: 0,
  };
}

/**
 * The container's answer as data: a result, or a RF_FUNCTION_* error. Nothing in it can be a
 * worker code (a function that patches the shim's HTTP server could write anything): an
 * unknown code becomes RF_FUNCTION_ERROR, a malformed answer RF_FUNCTION_BAD_OUTPUT.
 */
export function parseShimResult(text: string): ShimResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return notAResult();
  }
  if (value === null || typeof value !== 'object') return notAResult();
  const v = value as Record<string, unknown>;
  const logs = loggedLines(v.logs);
  const functionMs = typeof v.functionMs === 'number' && Number.isFinite(v.functionMs) ? v.functionMs : 0;
  if (v.state === 'ok') return { state: 'ok', output: v.output, logs, functionMs };
  if (v.state !== 'error') return notAResult();
  const message = typeof v.message === 'string' ? v.message : 'the function failed';
  const code = typeof v.code === 'string' && CONTAINER_ERRORS.has(v.code) ? v.code : FunctionErrors.ERROR.code;
  return { state: 'error', code, message, logs, functionMs };
}

/** The answer's `logs` when well-formed (lines of text), else none. */
function loggedLines(value: unknown): LoggedLines {
  const logs = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  const lines = Array.isArray(logs.lines) && logs.lines.every((l) => typeof l === 'string') ? (logs.lines as string[]) : [];
  return { lines, truncated: logs.truncated === true };
}

/** A ContainerHandle over a shim socket. */
export class ShimHandle implements ContainerHandle {
  readonly instanceId: string;
  readonly codeDir: string;
  readonly socketPath: string;
  readonly exited: Promise<ContainerExit>;
  readonly #opts: ShimHandleOptions;
  #removing: Promise<void> | undefined;
  #exit: ContainerExit | undefined;
  #memoryMb: number | undefined;
  /** A raise of the memory limit still in flight: load() waits for it (see setMemoryLimit). */
  #pendingLimit: Promise<void> | undefined;

  constructor(opts: ShimHandleOptions) {
    this.#opts = opts;
    this.instanceId = opts.instanceId;
    this.codeDir = opts.codeDir;
    this.socketPath = opts.socketPath;
    this.#memoryMb = opts.memoryMb;
    // `exited` resolves only for stops the worker did not ask for.
    this.exited = new Promise<ContainerExit>((resolve) => {
      void opts.stopped.then((exit) => {
        this.#exit = exit;
        if (this.#removing === undefined) resolve(exit);
      });
    });
  }

  async load(request: LoadRequest): Promise<void> {
    const pending = this.#pendingLimit;
    if (pending === undefined) await this.#load(request);
    else {
      // The raise and the load overlap; either failing fails the load.
      const [limit, load] = await Promise.allSettled([pending, this.#load(request)]);
      if (load.status === 'rejected') throw load.reason;
      if (limit.status === 'rejected') throw limit.reason;
    }
    if (this.#memoryMb !== undefined) void this.#opts.loaded?.(this.#memoryMb);
  }

  async #load(request: LoadRequest): Promise<void> {
    let status: number;
    let text: string;
    try {
      const res = await this.#opts.client.request({
        path: '/load',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(request),
      });
      status = res.statusCode;
      const body = await readBounded(res.body, MAX_LOAD_ANSWER_BYTES);
      if (body === undefined) throw new RfError(FunctionErrors.LOAD_FAILED, 'the container answered too much to load');
      text = body.toString('utf8');
    } catch (err) {
      if (err instanceof RfError) throw err;
      throw new RfError(FunctionErrors.LOAD_FAILED, 'the container stopped while loading the function', { cause: err });
    }
    if (status === 204) return;
    let message = `the shim answered ${status} to load`;
    try {
      const body = JSON.parse(text) as { message?: unknown };
      if (typeof body.message === 'string') message = body.message;
    } catch {
      // not JSON: keep the generic message
    }
    throw new RfError(FunctionErrors.LOAD_FAILED, message);
  }

  async invoke(input: Buffer, deadlineMs: number, signal?: AbortSignal, maxAnswerBytes = DEFAULT_MAX_OUTPUT_BYTES + INVOKE_ENVELOPE_BYTES, invocationId?: string): Promise<ShimResult> {
    if (this.#pendingLimit !== undefined) await this.#pendingLimit;
    let body: Buffer | undefined;
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json', [DEADLINE_HEADER]: String(deadlineMs) };
      if (invocationId !== undefined && /^[A-Za-z0-9._:-]{1,128}$/.test(invocationId)) headers[INVOCATION_ID_HEADER] = invocationId;
      const res = await this.#opts.client.request({
        path: '/invoke',
        method: 'POST',
        headers,
        body: input,
        signal,
      });
      // Counted as the bytes arrive: a container may stream without end and without a length.
      body = await readBounded(res.body, maxAnswerBytes);
    } catch (err) {
      if (signal?.aborted === true || err instanceof undiciErrors.RequestAbortedError) throw err;
      throw await this.#crashError(err);
    }
    if (body === undefined) {
      throw new RfError(FunctionErrors.OUTPUT_TOO_LARGE, `the function's answer is larger than ${maxAnswerBytes} bytes`, {
        details: { limitBytes: maxAnswerBytes },
      });
    }
    return parseShimResult(body.toString('utf8'));
  }

  async #crashError(cause: unknown): Promise<RfError> {
    const waitMs = this.#opts.crashDetailsWaitMs ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      this.#opts.stopped,
      new Promise<undefined>((r) => {
        timer = setTimeout(() => r(undefined), waitMs);
      }),
    ]);
    clearTimeout(timer);
    if (exit === undefined) {
      return new RfError(FunctionErrors.CRASHED, 'the connection to the function container broke during the invocation', { cause });
    }
    const message = exit.oomKilled
      ? 'the function container was killed for exceeding its memory limit'
      : `the function container exited during the invocation (exit code ${exit.exitCode ?? 'unknown'})`;
    return new RfError(FunctionErrors.CRASHED, message, { cause, details: { exitCode: exit.exitCode, oomKilled: exit.oomKilled } });
  }

  /**
   * A change to the current value costs nothing. A raise returns at once and overlaps the
   * engine's update (about 10 ms with Docker) with writing the code and loading it: load() and
   * invoke() wait for it, so the function never runs before its limit is set. A lowering is
   * awaited here (the code must not run with more memory than it is allowed).
   */
  async setMemoryLimit(memoryMb: number): Promise<void> {
    const apply = this.#opts.setMemoryLimit;
    if (apply === undefined || memoryMb === this.#memoryMb) return;
    if (this.#exit !== undefined) {
      throw new RfError(WorkerErrors.CONTAINER_START_FAILED, 'the container has stopped');
    }
    const previous = this.#pendingLimit ?? Promise.resolve();
    const raise = this.#memoryMb !== undefined && memoryMb > this.#memoryMb;
    this.#memoryMb = memoryMb;
    const update = previous.then(() => apply(memoryMb));
    const tracked = update.finally(() => {
      if (this.#pendingLimit === tracked) this.#pendingLimit = undefined;
    });
    this.#pendingLimit = tracked;
    if (raise) {
      tracked.catch(() => undefined); // surfaced by load()/invoke()
      return;
    }
    await tracked;
  }

  remove(): Promise<void> {
    this.#removing ??= (async () => {
      await this.#opts.client.destroy().catch(() => undefined);
      await this.#opts.destroy().catch(() => undefined);
    })();
    return this.#removing;
  }
}
