/**
 * The ContainerRuntime contract: what the worker's pool needs from a container technology.
 * Two implementations: DockerRuntime (dockerode; the default wherever an engine answers) and
 * ProcessRuntime (a child process per container running the same shim, no isolation).
 * One contract suite (worker/test/runtime-contract.test.ts) runs against both.
 *
 * Lifecycle of a container, as the pool drives it:
 *   start(spec)            → a running shim, no function loaded (a cold-pool container)
 *   handle.load(request)   → the function's code (already unpacked by the pool into
 *                            handle.codeDir) is loaded: the container is now specialised
 *   handle.invoke(...)     → one execution at a time
 *   handle.remove()        → stopped and removed (idempotent)
 */
import type { LoggedLines } from '../contract/index.ts';

/** What a new container is started with. */
export interface ContainerSpec {
  /** Unique id chosen by the pool; also names the container (`ringfaas-<workerId>-<instanceId>`). */
  instanceId: string;
  /** The id of the worker that owns it; put in a label so leftovers can be found. */
  workerId: string;
  /** Initial memory limit, MB (a pool container is resized with setMemoryLimit on specialisation). */
  memoryMb: number;
  /** Give the container a network (off by default: RINGFAAS_FUNCTION_NETWORK). */
  network: boolean;
}

/** What the shim needs to load a function. */
export interface LoadRequest {
  functionId: string;
  version: number;
  memoryMb: number;
  timeoutMs: number;
  env: Record<string, string>;
  /** Largest serialised output the shim answers (it answers RF_FUNCTION_BAD_OUTPUT past it). */
  maxOutputBytes?: number;
}

/** The shim's answer to one invocation. */
export type ShimResult =
  | { state: 'ok'; output: unknown; logs: LoggedLines; functionMs: number }
  | { state: 'error'; code: string; message: string; logs: LoggedLines; functionMs: number };

/** Why a container stopped on its own. */
export interface ContainerExit {
  /** Process exit code, when known. */
  exitCode: number | null;
  /** True when the kernel's OOM killer ended it (docker: State.OOMKilled). */
  oomKilled: boolean;
}

export interface ContainerHandle {
  readonly instanceId: string;
  /**
   * Host directory holding the function's code, seen inside the container at /code
   * (read-only there). The pool unpacks the zip here before calling load().
   */
  readonly codeDir: string;
  /** Resolves once, when the container stops for any reason other than remove(). */
  readonly exited: Promise<ContainerExit>;
  /** Loads /code/index.js in the shim. Rejects with an RfError RF_FUNCTION_LOAD_FAILED. */
  load(request: LoadRequest): Promise<void>;
  /**
   * Runs the loaded function on `input` (raw JSON bytes). Rejects with an RfError
   * RF_FUNCTION_CRASHED when the container died during the call. The caller enforces the
   * timeout (and removes the container when it passes); `signal` aborts the socket call.
   * The answer is read up to `maxAnswerBytes` (default DEFAULT_MAX_OUTPUT_BYTES +
   * INVOKE_ENVELOPE_BYTES); past it the read stops and the call rejects with
   * RF_FUNCTION_OUTPUT_TOO_LARGE (the caller removes the container). Whatever the container
   * answers is a function's result or a RF_FUNCTION_* error, never a worker code.
   * `invocationId` (the router's request id; an async invocation's id) becomes the function's
   * `context.invocationId`.
   */
  invoke(input: Buffer, deadlineMs: number, signal?: AbortSignal, maxAnswerBytes?: number, invocationId?: string): Promise<ShimResult>;
  /** Changes the memory limit of the running container (no-op for the process runtime). */
  setMemoryLimit(memoryMb: number): Promise<void>;
  /** Kills and removes the container; idempotent, never throws. */
  remove(): Promise<void>;
}

export interface ContainerRuntime {
  readonly kind: 'docker' | 'process';
  /** Makes the runtime usable (docker: builds the runtime image when missing). */
  prepare(): Promise<void>;
  start(spec: ContainerSpec): Promise<ContainerHandle>;
  /** Removes containers labelled with this worker id (leftovers of an earlier crash). Returns how many. */
  removeLeftovers(workerId: string): Promise<number>;
  /** Releases clients; does not remove containers. */
  close(): Promise<void>;
}
