/**
 * The container pool of one worker.
 *
 * Algorithm
 * ---------
 * Containers live in three places: a LIFO warm stack of idle containers per function
 * version (`Slot.idle`), a cold pool of pre-started unassigned containers, and busy (one
 * execution each). Every container reserves memory against `capacityMb`: its function's
 * memory, or `poolMemoryMb` while it sits in the cold pool.
 *
 * `acquire(fn)` tries, in order:
 *   1. warm: pop the most recently released idle container of this version;
 *   2. a start already in progress that no waiting request counts on (an "orphan", left when
 *      a released container served the request that caused it): count on it;
 *   3. cold-pool: specialise a pooled container (resize to fn.memoryMb, unpack the code into
 *      its code folder, load), if the extra memory fits;
 *   4. cold-create: create and start a container, if fn.memoryMb fits;
 *   5. 3 or 4 after evicting enough idle memory: other pooled containers first (they are
 *      speculative), then idle containers of other function versions, oldest idle first;
 *   6. else, with waitMs > 0, wait in a bounded FIFO queue for capacity until waitMs passes,
 *      otherwise fail at once with 429 RF_WORKER_AT_CAPACITY (the router spills on it).
 *
 * A start is made for exactly one request, so N concurrent cold requests start at most N
 * containers (no thundering herd). A container released while requests wait goes to a
 * queued request first, then to the oldest request whose cold start is still in progress
 * (it gets a warm start sooner; its start, now an orphan, serves the next request or lands
 * on the stack). A fresh container goes to a request counting on a start first.
 *
 * Idle expiry is one timer set at the earliest expiry; a sweep removes every idle container
 * past its function's idleTimeoutMs. The cold pool refills in the background whenever
 * memory is free and nothing waits for capacity.
 *
 * Worked example: capacity 1024 MB, pool of 2 × 128 MB (256 reserved). A 256 MB function's
 * first call specialises a pooled container (+128: 384) and the pool starts a replacement
 * (512). Three concurrent calls to a 512 MB function: the first specialises a pooled
 * container (+384: 896), the refill takes the last 128 (1024). The second needs +384 for the
 * last ready pooled container or 512 for a new one; evicting the idle 256 MB container (and
 * the pooled one) frees at most 384 of the 512, not enough, so nothing is evicted and it gets
 * 429 at once — or, with waitMs, the first call's container when released.
 *
 * Caveats: memory of a removed container counts as free at once, while Docker may take a
 * moment to stop it; the queue is FIFO but skips a request whose function does not fit yet
 * (a big function at the head does not block small ones, and may wait longer).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { RfError } from '../errors/index.ts';
import { WorkerErrors } from './errors.ts';
import { writeCode } from './code.ts';
import { systemClock, systemScheduler, type Clock, type Scheduler, type TimerHandle } from '../clock/index.ts';
import type { ContainerHandle, ContainerRuntime } from './runtime.ts';
import { DEFAULT_MAX_OUTPUT_BYTES, INVOKE_ENVELOPE_BYTES, type StartKind, type WorkerStatus } from '../contract/index.ts';
import type { Claim, Lease, PoolFunction, PooledContainer, RemoveReason, Slot } from './pool-types.ts';
import type { KeepAlivePolicy } from './keepalive/index.ts';

export type { Claim, Lease, PoolFunction, PooledContainer, RemoveReason, Slot, ContainerState } from './pool-types.ts';

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
}

/**
 * How a request waits: `waitMs` > 0 queues it for capacity that long; `signal` (the client
 * left) withdraws it while it waits (a start it caused goes on and serves the next request).
 */
export interface AcquireOptions {
  waitMs?: number;
  signal?: AbortSignal;
}

export type PoolState = 'active' | 'draining' | 'closed';

/** The container pool; see the file header. */
export class Pool {
  readonly capacityMb: number;
  readonly coldPoolTarget: number;
  readonly poolMemoryMb: number;
  /** Largest serialised output of an invocation, bytes. */
  readonly maxOutputBytes: number;
  /** Largest answer read from a container for one invocation: the output and its logs. */
  readonly maxAnswerBytes: number;
  #state: PoolState = 'active';
  #reservedMb = 0;
  #busy = 0;
  /** Requests waiting for a container (all slots). */
  #waiting = 0;
  #seq = 0;
  readonly #opts: PoolOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  readonly #events: PoolEvents;
  readonly #maxQueue: number;
  readonly #slots = new Map<string, Slot>();
  readonly #containers = new Map<string, PooledContainer>();
  /** Idle containers, oldest idle first (a Set keeps insertion order). */
  readonly #idleOrder = new Set<PooledContainer>();
  readonly #cold: PooledContainer[] = [];
  #coldStarting = 0;
  #refillPaused = false;
  /** Requests waiting for capacity, oldest first. */
  readonly #queued: Claim[] = [];
  #sweep: TimerHandle | undefined;
  #sweepAt = Infinity;
  /** Pending pre-warms by function version (one each). */
  readonly #prewarms = new Map<string, TimerHandle>();
  readonly #tasks = new Set<Promise<unknown>>();
  #settledWaiters: Array<() => void> = [];
  #drainTimer: TimerHandle | undefined;
  #pumping = false;

  constructor(options: PoolOptions) {
    this.#opts = options;
    this.capacityMb = options.capacityMb;
    this.coldPoolTarget = options.coldPoolSize;
    this.poolMemoryMb = options.poolMemoryMb ?? 128;
    this.#log = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#events = options.events ?? {};
    this.#maxQueue = options.maxQueue ?? 1000;
    this.maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    this.maxAnswerBytes = this.maxOutputBytes + INVOKE_ENVELOPE_BYTES;
  }

  get state(): PoolState {
    return this.#state;
  }
  get reservedMb(): number {
    return this.#reservedMb;
  }
  /** Executions running now. */
  get busy(): number {
    return this.#busy;
  }
  /** Requests holding or waiting for a container. */
  get load(): number {
    return this.#busy + this.#waiting;
  }
  get coldPoolIdle(): number {
    return this.#cold.length;
  }
  get warmIdle(): number {
    return this.#idleOrder.size;
  }
  get queued(): number {
    return this.#queued.length;
  }
  get containerCount(): number {
    return this.#containers.size;
  }

  /** Starts the cold pool and resolves once it is full (or could not be filled). */
  async fill(): Promise<void> {
    this.#refill();
    await Promise.allSettled([...this.#tasks]);
  }

  /**
   * Gets a container of `fn` for one execution: warm, else cold (see the header). Fails with
   * RF_WORKER_DRAINING, RF_WORKER_FUNCTION_TOO_LARGE, RF_WORKER_AT_CAPACITY, or the start's
   * own error (RF_WORKER_CONTAINER_START_FAILED, RF_FUNCTION_LOAD_FAILED...).
   */
  acquire(fn: PoolFunction, options: AcquireOptions = {}): Promise<Lease> {
    if (this.#state !== 'active') return Promise.reject(new RfError(WorkerErrors.DRAINING, 'the worker is draining'));
    if (fn.memoryMb > this.capacityMb) {
      return Promise.reject(
        new RfError(WorkerErrors.FUNCTION_TOO_LARGE, 'the function needs more memory than the worker has', {
          details: { memoryMb: fn.memoryMb, capacityMb: this.capacityMb },
        }),
      );
    }
    const slot = this.#slotFor(fn);
    this.#keepAliveStart(slot);
    const warm = slot.idle.pop();
    if (warm !== undefined) {
      this.#idleOrder.delete(warm);
      this.#events.onStart?.('warm');
      return Promise.resolve(this.#hand(warm, 'warm'));
    }
    return new Promise<Lease>((resolve, reject) => {
      const claim: Claim = { slot, resolve, reject, settled: false, backed: false, queued: false, timer: undefined };
      slot.waiting.push(claim);
      this.#waiting++;
      const signal = options.signal;
      if (signal !== undefined) {
        if (signal.aborted) {
          this.#settle(claim, undefined, cancelled());
          return;
        }
        signal.addEventListener('abort', () => this.#settle(claim, undefined, cancelled()), { once: true });
      }
      if (slot.starting > slot.backed || this.#tryStart(slot)) {
        claim.backed = true;
        slot.backed++;
        return;
      }
      const waitMs = options.waitMs ?? 0;
      if (waitMs > 0 && this.#queued.length < this.#maxQueue) {
        claim.queued = true;
        this.#queued.push(claim);
        claim.timer = setTimeout(() => this.#settle(claim, undefined, this.#atCapacity()), waitMs);
        return;
      }
      this.#settle(claim, undefined, this.#atCapacity());
    });
  }

  /**
   * Takes one particular idle container (the Redis design hands out container locations).
   * Undefined when it is not idle on this version's stack any more.
   */
  acquireInstance(fn: PoolFunction, instanceId: string): Lease | undefined {
    if (this.#state !== 'active') return undefined;
    const c = this.#containers.get(instanceId);
    if (c === undefined || c.state !== 'idle' || c.slot?.key !== slotKey(fn)) return undefined;
    const stack = c.slot.idle;
    stack.splice(stack.indexOf(c), 1);
    this.#idleOrder.delete(c);
    this.#events.onStart?.('warm');
    return this.#hand(c, 'warm');
  }

  /** Gives a container back after a completed execution (it stays warm). */
  release(lease: Lease): void {
    const c = this.#busyContainer(lease);
    if (c === undefined) return;
    const slot = c.slot!;
    c.lease = undefined;
    slot.busy--;
    this.#busy--;
    if (slot.retired || this.#state !== 'active') {
      this.#remove(c, slot.deleted ? 'deleted' : this.#state === 'active' ? 'retired' : 'drained');
      return;
    }
    this.#deliver(c, false);
  }

  /** Removes a container after a failed execution (timeout, crash): its memory is freed. */
  discard(lease: Lease, reason: RemoveReason): void {
    const c = this.#busyContainer(lease);
    if (c === undefined) return;
    c.lease = undefined;
    c.slot!.busy--;
    this.#busy--;
    this.#remove(c, reason);
  }

  /** A new version of the function exists: retire the containers of older versions. */
  retire(functionId: string, currentVersion: number): number {
    let removed = 0;
    for (const slot of [...this.#slots.values()]) {
      if (slot.fn.id !== functionId || slot.fn.version >= currentVersion) continue;
      slot.retired = true;
      for (const c of [...slot.idle]) {
        this.#remove(c, 'retired');
        removed++;
      }
      this.#dropSlotIfEmpty(slot);
    }
    return removed;
  }

  /** The function is gone: every container of it goes, waiting requests fail with 404. */
  removeFunction(functionId: string): number {
    let removed = 0;
    for (const slot of [...this.#slots.values()]) {
      if (slot.fn.id !== functionId) continue;
      slot.retired = true;
      slot.deleted = true;
      for (const c of [...slot.idle]) {
        this.#remove(c, 'deleted');
        removed++;
      }
      const gone = new RfError(WorkerErrors.FUNCTION_NOT_FOUND, 'the function was deleted');
      for (const claim of [...slot.waiting]) this.#settle(claim, undefined, gone);
      this.#dropSlotIfEmpty(slot);
    }
    return removed;
  }

  /** What GET /status reports of the pool. */
  status(): Pick<WorkerStatus, 'capacityMb' | 'reservedMb' | 'inFlight' | 'coldPool' | 'functions'> {
    return {
      capacityMb: this.capacityMb,
      reservedMb: this.#reservedMb,
      inFlight: this.#busy,
      coldPool: { idle: this.#cold.length, target: this.coldPoolTarget },
      functions: [...this.#slots.values()].map((s) => ({ functionId: s.fn.id, version: s.fn.version, idle: s.idle.length, busy: s.busy })),
    };
  }

  /** Idle containers of one function version, most recently used first (for tests and /status). */
  idleInstances(functionId: string, version: number): string[] {
    const slot = this.#slots.get(`${functionId}@${version}`);
    return slot === undefined ? [] : slot.idle.map((c) => c.instanceId).reverse();
  }

  /**
   * Stops taking work: waiting-for-capacity requests fail with RF_WORKER_DRAINING, pooled and
   * idle containers go at once, running executions and starts in progress finish (their
   * containers go when released). Resolves when nothing runs and every container is removed.
   */
  async drain(): Promise<void> {
    if (this.#state === 'active') {
      this.#state = 'draining';
      this.#sweep?.cancel();
      this.#sweep = undefined;
      for (const t of this.#prewarms.values()) t.cancel();
      this.#prewarms.clear();
      const draining = new RfError(WorkerErrors.DRAINING, 'the worker is draining');
      for (const claim of [...this.#queued]) this.#settle(claim, undefined, draining);
      for (const c of [...this.#cold]) this.#remove(c, 'drained');
      for (const c of [...this.#idleOrder]) this.#remove(c, 'drained');
      const timeoutMs = this.#opts.drainTimeoutMs ?? 60_000;
      this.#drainTimer = this.#scheduler.setTimer(timeoutMs, () => this.#forceDrain(timeoutMs));
    }
    while (this.#busy > 0 || this.#tasks.size > 0 || this.#waiting > 0) {
      await new Promise<void>((resolve) => this.#settledWaiters.push(resolve));
    }
    this.#drainTimer?.cancel();
    this.#drainTimer = undefined;
  }

  /**
   * The drain's bound passed: every container still running or starting is removed (its
   * execution fails as crashed), every waiting request fails with RF_WORKER_DRAINING.
   */
  #forceDrain(timeoutMs: number): void {
    this.#drainTimer = undefined;
    const stuck = [...this.#containers.values()];
    this.#log.warn({ containers: stuck.length, waiting: this.#waiting, timeoutMs }, 'drain timed out: removing what is still running');
    for (const c of stuck) {
      if (c.state === 'busy') {
        // The execution's release/discard will find nothing: account for it here.
        c.lease = undefined;
        c.slot!.busy--;
        this.#busy--;
      }
      this.#remove(c, 'drain-timeout', false);
    }
    const draining = new RfError(WorkerErrors.DRAINING, 'the worker drained');
    for (const slot of [...this.#slots.values()]) for (const claim of [...slot.waiting]) this.#settle(claim, undefined, draining);
    this.#notifySettled();
  }

  /** Drains, then marks the pool closed. */
  async close(): Promise<void> {
    await this.drain();
    this.#state = 'closed';
  }

  /**
   * Loads containers of `fn` without a request until `count` are idle or starting (a pre-warm
   * of the keep-alive policy, or a warm hand-off); they stay `keepAliveMs` once ready. Only
   * free memory or evictable idle memory is used; answers how many starts began.
   */
  prewarm(fn: PoolFunction, keepAliveMs: number, count = 1): number {
    if (this.#state !== 'active' || fn.memoryMb > this.capacityMb || keepAliveMs <= 0) return 0;
    const slot = this.#slotFor(fn);
    slot.prewarmKeepMs = keepAliveMs;
    let started = 0;
    while (slot.idle.length + slot.starting - slot.backed < count && this.#tryStart(slot)) started++;
    this.#dropSlotIfEmpty(slot);
    return started;
  }

  // ---- internals ----

  /** An invocation of slot's function starts: the policy learns; a pending pre-warm is moot. */
  #keepAliveStart(slot: Slot): void {
    const policy = this.#opts.keepAlive;
    if (policy === undefined) return;
    this.#prewarms.get(slot.key)?.cancel();
    this.#prewarms.delete(slot.key);
    policy.onInvocationStart(slot.fn.id, this.#clock.now(), { memoryMb: slot.fn.memoryMb, cold: slot.idle.length === 0, coldStartMs: this.#opts.coldStartEstimateMs ?? 500 });
  }

  /** When an idle container of slot expires: the policy's keep-alive, or a pre-warm later. */
  #idleExpiry(slot: Slot, now: number, fresh: boolean): number {
    const policy = this.#opts.keepAlive;
    if (fresh && slot.prewarmKeepMs !== undefined && slot.busy === 0) {
      const keep = slot.prewarmKeepMs;
      slot.prewarmKeepMs = undefined;
      return now + keep; // loaded by prewarm(): not an idle time of the function
    }
    if (policy === undefined) return now + slot.fn.idleTimeoutMs;
    const w = policy.onIdle(slot.fn.id, now, slot.fn.idleTimeoutMs, slot.busy + Math.max(0, slot.idle.length - 1));
    if (w.prewarmMs > 0 && slot.busy === 0 && slot.idle.length <= 1) {
      const fn = slot.fn;
      this.#prewarms.get(slot.key)?.cancel();
      this.#prewarms.set(
        slot.key,
        this.#scheduler.setTimer(w.prewarmMs, () => {
          this.#prewarms.delete(slot.key);
          this.prewarm(fn, w.keepAliveMs);
        }),
      );
      return now; // unloaded at once, loaded again before the next call is expected
    }
    return now + w.keepAliveMs;
  }

  /** Idle containers in eviction order: oldest idle first, or by the policy's priority. */
  #evictionOrder(): PooledContainer[] {
    const idle = [...this.#idleOrder];
    const policy = this.#opts.keepAlive;
    if (policy === undefined) return idle;
    const now = this.#clock.now();
    const prio = new Map(idle.map((c) => [c, policy.evictionPriority(c.slot!.fn.id, c.idleSince, now)]));
    return idle.sort((a, b) => (prio.get(a) as number) - (prio.get(b) as number));
  }

  #slotFor(fn: PoolFunction): Slot {
    const key = slotKey(fn);
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      slot = { key, fn, idle: [], waiting: [], busy: 0, starting: 0, backed: 0, retired: false, deleted: false };
      this.#slots.set(key, slot);
    }
    return slot;
  }

  #dropSlotIfEmpty(slot: Slot): void {
    if (slot.idle.length === 0 && slot.waiting.length === 0 && slot.busy === 0 && slot.starting === 0) {
      if (this.#slots.get(slot.key) === slot) this.#slots.delete(slot.key);
    }
  }

  #hand(c: PooledContainer, start: StartKind): Lease {
    const slot = c.slot!;
    const loadMs = start === 'warm' ? 0 : (c.loadMs ?? 0);
    const lease: Lease = { instanceId: c.instanceId, handle: c.handle!, start, fn: slot.fn, timeoutMs: Math.max(1, slot.fn.timeoutMs - loadMs) };
    c.state = 'busy';
    c.lease = lease;
    slot.busy++;
    this.#busy++;
    return lease;
  }

  #busyContainer(lease: Lease): PooledContainer | undefined {
    const c = this.#containers.get(lease.instanceId);
    if (c === undefined || c.state !== 'busy' || c.lease !== lease) return undefined;
    return c;
  }

  #atCapacity(): RfError {
    return new RfError(WorkerErrors.AT_CAPACITY, 'no idle container and no memory to start one', {
      details: { capacityMb: this.capacityMb, reservedMb: this.#reservedMb },
    });
  }

  /** Settles a claim with a container or an error and takes it off every list. */
  #settle(claim: Claim, c: PooledContainer | undefined, err: Error | undefined, start: StartKind = 'warm'): void {
    if (claim.settled) return;
    claim.settled = true;
    const slot = claim.slot;
    slot.waiting.splice(slot.waiting.indexOf(claim), 1);
    this.#waiting--;
    if (claim.backed) slot.backed--;
    if (claim.queued) {
      clearTimeout(claim.timer);
      this.#queued.splice(this.#queued.indexOf(claim), 1);
    }
    if (c !== undefined) {
      this.#events.onStart?.(start);
      claim.resolve(this.#hand(c, start));
    } else {
      claim.reject(err ?? this.#atCapacity());
      this.#dropSlotIfEmpty(slot);
      this.#notifySettled();
    }
  }

  /**
   * Hands a ready container of slot to a waiting request, else pushes it on the warm stack.
   * A fresh container serves a request counting on a start first; a released one a request
   * queued for capacity first.
   */
  #deliver(c: PooledContainer, fresh: boolean, start: StartKind = 'warm'): void {
    const slot = c.slot!;
    if (slot.waiting.length > 0) {
      const first = fresh ? slot.waiting.find((w) => w.backed) : slot.waiting.find((w) => w.queued);
      const claim = first ?? slot.waiting[0]!;
      this.#settle(claim, c, undefined, fresh ? start : 'warm');
      return;
    }
    if (slot.retired) {
      this.#remove(c, slot.deleted ? 'deleted' : 'retired');
      return;
    }
    c.state = 'idle';
    c.idleSince = this.#clock.now();
    slot.idle.push(c);
    this.#idleOrder.add(c);
    c.expiresAt = this.#idleExpiry(slot, c.idleSince, fresh);
    if (c.expiresAt < this.#sweepAt) this.#scheduleSweep(c.expiresAt);
    if (this.#queued.length > 0) this.#pump();
    this.#notifySettled();
  }

  /** Memory that evicting pooled and other versions' idle containers would free. */
  #makeRoom(needMb: number, forSlot: Slot, keep: PooledContainer | undefined): boolean {
    const free = this.capacityMb - this.#reservedMb;
    if (needMb <= free) return true;
    let evictable = 0;
    for (const c of this.#cold) if (c !== keep) evictable += c.memoryMb;
    for (const c of this.#idleOrder) if (c.slot !== forSlot) evictable += c.memoryMb;
    if (free + evictable < needMb) return false;
    for (const c of [...this.#cold]) {
      if (this.capacityMb - this.#reservedMb >= needMb) return true;
      if (c !== keep) this.#remove(c, 'evicted', false);
    }
    for (const c of this.#evictionOrder()) {
      if (this.capacityMb - this.#reservedMb >= needMb) return true;
      if (c.slot !== forSlot) {
        this.#opts.keepAlive?.onEvict(c.slot!.fn.id, this.#opts.keepAlive.evictionPriority(c.slot!.fn.id, c.idleSince, this.#clock.now()));
        this.#remove(c, 'evicted', false);
      }
    }
    return this.capacityMb - this.#reservedMb >= needMb;
  }

  /** Starts a container for slot (pooled, else created) when memory allows. */
  #tryStart(slot: Slot): boolean {
    if (this.#state !== 'active') return false;
    const fn = slot.fn;
    const pooled = this.#cold.at(-1);
    if (pooled !== undefined && this.#makeRoom(fn.memoryMb - pooled.memoryMb, slot, pooled)) {
      this.#cold.pop();
      this.#reservedMb += fn.memoryMb - pooled.memoryMb;
      pooled.memoryMb = fn.memoryMb;
      pooled.state = 'starting';
      pooled.slot = slot;
      slot.starting++;
      this.#track(this.#specialise(pooled, 'cold-pool'));
      this.#refill();
      return true;
    }
    if (!this.#makeRoom(fn.memoryMb, slot, undefined)) return false;
    const c = this.#newContainer(fn.memoryMb);
    c.slot = slot;
    slot.starting++;
    this.#track(this.#specialise(c, 'cold-create'));
    return true;
  }

  #newContainer(memoryMb: number): PooledContainer {
    const instanceId = `${(this.#seq++).toString(36)}${randomBytes(3).toString('hex')}`;
    const c: PooledContainer = { instanceId, handle: undefined, state: 'starting', memoryMb, slot: undefined, idleSince: 0, expiresAt: Infinity, lease: undefined, exit: undefined };
    this.#containers.set(instanceId, c);
    this.#reservedMb += memoryMb;
    return c;
  }

  async #startHandle(c: PooledContainer): Promise<void> {
    const handle = await this.#opts.runtime.start({
      instanceId: c.instanceId,
      workerId: this.#opts.workerId,
      memoryMb: c.memoryMb,
      network: this.#opts.network ?? false,
    });
    c.handle = handle;
    if (c.state === 'removed') {
      // Removed while it was being created (a forced drain, an eviction): it goes now.
      this.#track(handle.remove());
      throw new RfError(WorkerErrors.CONTAINER_START_FAILED, 'the container was removed while starting');
    }
    handle.exited.then(
      (exit) => {
        c.exit = exit;
        if (c.state === 'idle' || c.state === 'pooled') {
          this.#log.warn({ instanceId: c.instanceId, exitCode: exit.exitCode, oomKilled: exit.oomKilled }, 'idle container exited');
          this.#remove(c, 'exited');
        }
      },
      () => undefined,
    );
  }

  async #specialise(c: PooledContainer, kind: 'cold-pool' | 'cold-create'): Promise<void> {
    const slot = c.slot!;
    const fn = slot.fn;
    try {
      if (kind === 'cold-create') await this.#startHandle(c);
      else await c.handle!.setMemoryLimit(fn.memoryMb);
      await writeCode(c.handle!.codeDir, fn.files);
      const loadStartedAt = this.#clock.now();
      await this.#loadWithin(c.handle!, fn);
      c.loadMs = this.#clock.now() - loadStartedAt;
    } catch (raw) {
      slot.starting--;
      const err = toStartError(raw);
      this.#log.warn({ err: raw, functionId: fn.id, version: fn.version, instanceId: c.instanceId, kind }, 'container start failed');
      this.#startFailed(slot, err);
      this.#remove(c, err.code === WorkerErrors.INVOKE_TIMEOUT.code ? 'load-timeout' : err.code === 'RF_FUNCTION_LOAD_FAILED' ? 'load-failed' : 'start-failed');
      return;
    }
    slot.starting--;
    if (c.state === 'removed') {
      if (c.handle !== undefined) this.#track(c.handle.remove());
      this.#startFailed(slot, new RfError(WorkerErrors.CONTAINER_START_FAILED, 'the container was removed while starting'));
      return;
    }
    this.#deliver(c, true, kind);
  }

  /**
   * Loads the function, bounded by its timeoutMs: a module whose top level never finishes
   * (an endless loop, a top-level await that never settles) fails with 504
   * RF_WORKER_INVOKE_TIMEOUT, and the caller removes the container.
   */
  #loadWithin(handle: ContainerHandle, fn: PoolFunction): Promise<void> {
    const load = handle.load({ functionId: fn.id, version: fn.version, memoryMb: fn.memoryMb, timeoutMs: fn.timeoutMs, env: fn.env, maxOutputBytes: this.maxOutputBytes });
    return new Promise<void>((resolve, reject) => {
      const timer = this.#scheduler.setTimer(fn.timeoutMs, () =>
        reject(
          new RfError(WorkerErrors.INVOKE_TIMEOUT, `the function did not finish loading within its timeout of ${fn.timeoutMs} ms`, {
            details: { timeoutMs: fn.timeoutMs, phase: 'load' },
          }),
        ),
      );
      load.then(
        () => {
          timer.cancel();
          resolve();
        },
        (err: unknown) => {
          timer.cancel();
          reject(err);
        },
      );
    });
  }

  /** A start failed: the request counting on it (if still waiting) gets the error. */
  #startFailed(slot: Slot, err: RfError): void {
    if (slot.backed > slot.starting) {
      const claim = slot.waiting.find((w) => w.backed);
      if (claim !== undefined) this.#settle(claim, undefined, err);
    }
    this.#dropSlotIfEmpty(slot);
    this.#notifySettled();
  }

  #remove(c: PooledContainer, reason: RemoveReason, pump = true): void {
    if (c.state === 'removed') return;
    const previous = c.state;
    c.state = 'removed';
    this.#reservedMb -= c.memoryMb;
    this.#containers.delete(c.instanceId);
    if (previous === 'idle') {
      const stack = c.slot!.idle;
      stack.splice(stack.indexOf(c), 1);
      this.#idleOrder.delete(c);
    } else if (previous === 'pooled') {
      this.#cold.splice(this.#cold.indexOf(c), 1);
    }
    if (c.slot !== undefined && previous !== 'starting') this.#dropSlotIfEmpty(c.slot);
    this.#events.onRemove?.(reason);
    this.#log.debug({ instanceId: c.instanceId, reason, functionId: c.slot?.fn.id }, 'container removed');
    if (c.handle !== undefined) this.#track(c.handle.remove());
    if (pump) {
      this.#pump();
      this.#refill();
    }
    this.#notifySettled();
  }

  /** Gives freed capacity to requests waiting for it, oldest first. */
  #pump(): void {
    if (this.#pumping || this.#queued.length === 0 || this.#state !== 'active') return;
    this.#pumping = true;
    try {
      for (const claim of [...this.#queued]) {
        if (claim.settled) continue;
        const slot = claim.slot;
        if (slot.starting > slot.backed || this.#tryStart(slot)) {
          clearTimeout(claim.timer);
          claim.queued = false;
          claim.timer = undefined;
          this.#queued.splice(this.#queued.indexOf(claim), 1);
          claim.backed = true;
          slot.backed++;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Starts pooled containers up to the target while memory is free and nobody waits for it. */
  #refill(): void {
    while (
      this.#state === 'active' &&
      !this.#refillPaused &&
      this.#queued.length === 0 &&
      this.#cold.length + this.#coldStarting < this.coldPoolTarget &&
      this.capacityMb - this.#reservedMb >= this.poolMemoryMb
    ) {
      const c = this.#newContainer(this.poolMemoryMb);
      this.#coldStarting++;
      this.#track(this.#startPooled(c));
    }
  }

  async #startPooled(c: PooledContainer): Promise<void> {
    try {
      await this.#startHandle(c);
    } catch (err) {
      this.#coldStarting--;
      this.#log.error({ err, instanceId: c.instanceId }, 'cold pool container start failed');
      this.#refillPaused = true;
      setTimeout(() => {
        this.#refillPaused = false;
        this.#refill();
      }, this.#opts.refillBackoffMs ?? 1000).unref();
      this.#remove(c, 'start-failed');
      return;
    }
    this.#coldStarting--;
    if (c.state === 'removed') return;
    if (this.#state !== 'active') {
      this.#remove(c, 'drained');
      return;
    }
    c.state = 'pooled';
    this.#cold.push(c);
    this.#pump();
    this.#notifySettled();
  }

  #scheduleSweep(at: number): void {
    if (!Number.isFinite(at)) return; // kept until evicted (Greedy-Dual)
    this.#sweep?.cancel();
    this.#sweepAt = at;
    this.#sweep = this.#scheduler.setTimer(at - this.#clock.now(), () => this.#runSweep());
  }

  #runSweep(): void {
    this.#sweep = undefined;
    this.#sweepAt = Infinity;
    if (this.#state !== 'active') return;
    const now = this.#clock.now();
    let next = Infinity;
    const expired: PooledContainer[] = [];
    for (const c of this.#idleOrder) {
      const at = c.expiresAt;
      if (at <= now) expired.push(c);
      else if (at < next) next = at;
    }
    for (const c of expired) this.#remove(c, 'expired');
    if (expired.length > 0) this.#log.debug({ count: expired.length }, 'idle containers expired');
    if (next < this.#sweepAt) this.#scheduleSweep(next);
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch((err: unknown) => this.#log.error({ err }, 'pool task failed'));
    this.#tasks.add(tracked);
    void tracked.finally(() => {
      this.#tasks.delete(tracked);
      this.#notifySettled();
    });
  }

  #notifySettled(): void {
    if (this.#settledWaiters.length === 0) return;
    const waiters = this.#settledWaiters;
    this.#settledWaiters = [];
    for (const wake of waiters) wake();
  }
}

function slotKey(fn: PoolFunction): string {
  return `${fn.id}@${fn.version}`;
}

function cancelled(): RfError {
  return new RfError(WorkerErrors.REQUEST_CANCELLED, 'the client left before a container was free');
}

function toStartError(err: unknown): RfError {
  if (err instanceof RfError) return err;
  return new RfError(WorkerErrors.CONTAINER_START_FAILED, 'the container could not be started', { cause: err });
}
