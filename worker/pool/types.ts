/**
 * The types the pool's parts share: the pool's options, what a function looks like to the
 * pool, the pool's record of one container, a claim (a request waiting for a container) and
 * a lease (one container held for one execution).
 */
import type { Logger } from 'pino';
import type { ContainerExit, ContainerHandle, ContainerRuntime } from '../runtime.ts';
import type { CodeFile } from '../code.ts';
import type { StartKind } from '../../contract/index.ts';
import type { Clock, Scheduler, TimerHandle } from '../../clock/index.ts';
import type { KeepAlivePolicy } from '../keepalive/index.ts';

/** Hooks the pool calls on the events that metrics count. */
export interface PoolEvents {
  /** A container was handed to a request (warm, or fresh from a cold start). */
  onStart?(kind: StartKind): void;
  /** A container was removed. */
  onRemove?(reason: RemoveReason): void;
}

export interface PoolOptions {
  workerId: string;
  runtime: ContainerRuntime;
  capacityMb: number;
  /** Target number of pre-started unassigned containers. */
  coldPoolSize: number;
  /** Memory of a pooled container until it is specialised (default 128). */
  poolMemoryMb?: number;
  /** Give containers a network (default false). */
  network?: boolean;
  /** Largest number of requests waiting for capacity (default 1000). */
  maxQueue?: number;
  /** Pause of the cold-pool refill after a failed start (default 1000 ms). */
  refillBackoffMs?: number;
  logger: Logger;
  /** Time for every part of the pool (default systemClock / systemScheduler). */
  clock?: Clock;
  scheduler?: Scheduler;
  events?: PoolEvents;
  /** Largest serialised output of an invocation, bytes (default DEFAULT_MAX_OUTPUT_BYTES). */
  maxOutputBytes?: number;
  /**
   * How long drain() lets running executions and starts finish before it removes their
   * containers (default 60 000 ms).
   */
  drainTimeoutMs?: number;
  /**
   * Keep-alive policy (worker/keepalive): idle windows, pre-warms and eviction order. Default
   * none: every idle container stays its function's idleTimeoutMs, oldest idle evicted first.
   */
  keepAlive?: KeepAlivePolicy;
  /** What a cold start is assumed to cost, for the policy (default 500 ms). */
  coldStartEstimateMs?: number;
  /**
   * Share of capacityMb that warm-ups (warm-ups.ts) never reserve: it is kept for traffic
   * (default 0.25).
   */
  warmUpHeadroomShare?: number;
  /** Most warm-up container starts running at once (default 2). */
  warmUpConcurrency?: number;
  /**
   * A hand-off's grace, ms (default HAND_OFF_GRACE_MS, the hand-off's window of recent use):
   * a warm-up item last used on its peer at most this long ago is a hand-off's (warm-ups.ts),
   * and the containers it loads are held, evicted only after every other idle container, for
   * this long or until used (eviction.ts).
   */
  handOffGraceMs?: number;
  /**
   * Most containers being created on the engine at once, for requests, pre-warms, warm-ups and
   * the cold pool together (default DEFAULT_MAX_CREATING; starts.ts).
   */
  maxCreating?: number;
}

/**
 * Default bound on container creations at once. A creation costs the engine a few hundred
 * milliseconds of CPU; unbounded, an overloaded worker kept starting containers for requests
 * a release would have served within milliseconds, evicting warm ones to make room, until
 * most of its memory was containers still starting (the soak at 70 req/s on 2 cores). 2 served
 * more than 4 at 100 req/s on that machine (bench/analysis.md, "Creations at once").
 */
export const DEFAULT_MAX_CREATING = 2;

/**
 * How a request waits: `waitMs` > 0 queues it for capacity that long; `signal` (the client
 * left) withdraws it while it waits (a start it caused goes on and serves the next request).
 * `signal` is read only when no idle container serves the request at once, so a caller may
 * make it lazily (worker/invocation-handler.ts does: an AbortSignal per request costs).
 */
export interface AcquireOptions {
  waitMs?: number;
  signal?: AbortSignal;
}

export type PoolState = 'active' | 'draining' | 'closed';

/** What the pool needs to know of one function version. */
export interface PoolFunction {
  id: string;
  version: number;
  /** The container's memory limit and its reservation, MB. */
  memoryMb: number;
  timeoutMs: number;
  idleTimeoutMs: number;
  env: Record<string, string>;
  /** The unpacked code zip (see code.ts). */
  files: readonly CodeFile[];
}

/**
 * starting: being created, or specialised to a function;
 * pooled: running, unassigned, in the cold pool;
 * idle: specialised, on its function version's warm stack;
 * busy: running one execution;
 * removed: gone (its memory is free again).
 */
export type ContainerState = 'starting' | 'pooled' | 'idle' | 'busy' | 'removed';

/** Why a container was removed (also a metrics label). */
export type RemoveReason =
  | 'expired'
  | 'evicted'
  | 'retired'
  | 'deleted'
  | 'timeout'
  | 'crashed'
  | 'exited'
  | 'load-failed'
  | 'start-failed'
  | 'drained'
  | 'output-too-large'
  | 'load-timeout'
  | 'drain-timeout';

/**
 * Who a container start is for: a request (claims.ts), the keep-alive policy's pre-warm
 * (idle-expiry.ts), or a warm-up (warm-ups.ts), whose container stays `keepMs` once ready and,
 * for a hand-off's, is held from eviction until `heldUntil` (eviction.ts).
 */
export type StartFor = { kind: 'request' } | { kind: 'prewarm' } | { kind: 'warm-up'; keepMs: number; heldUntil: number | undefined };

/** The warm stack of one function version and the requests waiting for it. */
export interface Slot {
  readonly key: string;
  readonly fn: PoolFunction;
  /** Idle containers, most recently released last (LIFO: pop takes it). */
  readonly idle: PooledContainer[];
  /** Requests waiting for a container of this version, oldest first. */
  readonly waiting: Claim[];
  busy: number;
  /** Containers being created or specialised for this version. */
  starting: number;
  /** Waiting claims that a start in progress (or a release) will serve: always <= starting. */
  backed: number;
  /** A newer version exists: containers are removed when released instead of kept. */
  retired: boolean;
  /** The function was deleted: every container goes, even fresh ones. */
  deleted: boolean;
  /** Keep-alive of containers started by prewarm() with no request waiting, ms. */
  prewarmKeepMs?: number;
}

/** The pool's record of one container. */
export interface PooledContainer {
  readonly instanceId: string;
  /** Undefined while the container is being created. */
  handle: ContainerHandle | undefined;
  state: ContainerState;
  /** Memory reserved for it now, MB (the pool default while pooled). */
  memoryMb: number;
  /** The version it is specialised to (undefined while unassigned). */
  slot: Slot | undefined;
  /** Clock time it became idle. */
  idleSince: number;
  /** Clock time its idle keep-alive ends (from the keep-alive policy; Infinity: until evicted). */
  expiresAt: number;
  /** The lease it is held under while busy. */
  lease: Lease | undefined;
  /** Set when the container stopped on its own. */
  exit: ContainerExit | undefined;
  /** How long loading the function took, ms (counts against the first execution's timeout). */
  loadMs?: number;
  /**
   * Set while it is a warm-up's container that no request has used yet (warm-ups.ts): how
   * long it stays idle once ready, ms. Such a container is evicted before any other, unless a
   * hand-off holds it (`handOffHeldUntil`).
   */
  warmUpKeepMs?: number | undefined;
  /**
   * Set while a hand-off holds it (warm-ups.ts): clock time until which, unless a request uses
   * it first, it is evicted only after every other idle container (eviction.ts).
   */
  handOffHeldUntil?: number | undefined;
  /** A warm-up's start given up for traffic while it ran (starts.ts `cancel`): no longer counted as starting. */
  startCancelled?: boolean;
}

/** A request waiting for a container. */
export interface Claim {
  readonly slot: Slot;
  readonly resolve: (lease: Lease) => void;
  readonly reject: (err: Error) => void;
  settled: boolean;
  /** A start in progress counts for it (it never times out). */
  backed: boolean;
  /** It waits for capacity (x-ringfaas-wait-ms) and has a timer. */
  queued: boolean;
  timer: TimerHandle | undefined;
}

/** One container held for one execution; give it back with pool.release() or pool.discard(). */
export interface Lease {
  readonly instanceId: string;
  readonly handle: ContainerHandle;
  readonly start: StartKind;
  readonly fn: PoolFunction;
  /**
   * What the execution may take, ms: the function's timeoutMs, less the load on a cold start
   * (loading counts against the timeout).
   */
  readonly timeoutMs: number;
}
