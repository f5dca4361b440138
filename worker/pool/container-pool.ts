/**
 * The container pool of one worker: its public face, wiring the parts over one shared state.
 *
 * Containers live in three places: a LIFO warm stack of idle containers per function version,
 * a cold pool of pre-started unassigned containers, and busy (one execution each); each
 * reserves memory against `capacityMb`. The jobs, one file each:
 *   - claims.ts: acquire → warm pop, a start in progress, a new start, a bounded wait queue;
 *     where a ready or released container goes;
 *   - eviction.ts: making room under memory pressure (pooled first, then oldest idle);
 *   - starts.ts: cold-pool take vs fresh start, the bounded load;
 *   - cold-pool.ts: background refill with a pause after failures;
 *   - idle-expiry.ts: keep-alive windows, the one sweep timer, pre-warms;
 *   - drain.ts: refusing new work, waiting for in-flight, a bound on the wait;
 *   - warm-ups.ts: containers loaded ahead of traffic, only in spare memory, few at a time.
 * All time goes through the injected clock and scheduler (clock/): no part takes a timer of
 * its own, so the algorithm is tested on a manual clock (worker/test/pool-algorithm.test.ts).
 */
import { RfError } from '../../errors/index.ts';
import type { WorkerStatus } from '../../contract/index.ts';
import { WorkerErrors } from '../errors.ts';
import { Claims } from './claims.ts';
import { ColdPool } from './cold-pool.ts';
import { PoolCore, slotKey } from './core.ts';
import { DrainTracker } from './drain.ts';
import { Eviction } from './eviction.ts';
import { IdleExpiry } from './idle-expiry.ts';
import { Starts } from './starts.ts';
import { WarmUps, type WarmUpBatch, type WarmUpItem } from './warm-ups.ts';
import type { AcquireOptions, Lease, PoolFunction, PooledContainer, PoolOptions, PoolState, RemoveReason } from './types.ts';

/** The container pool; see the file header. */
export class ContainerPool {
  readonly capacityMb: number;
  readonly coldPoolTarget: number;
  readonly poolMemoryMb: number;
  /** Largest serialised output of an invocation, bytes. */
  readonly maxOutputBytes: number;
  /** Largest answer read from a container for one invocation: the output and its logs. */
  readonly maxAnswerBytes: number;
  readonly #core: PoolCore;

  constructor(options: PoolOptions) {
    const core = new PoolCore(options);
    core.parts = { claims: new Claims(core), eviction: new Eviction(core), starts: new Starts(core), coldPool: new ColdPool(core), expiry: new IdleExpiry(core), drain: new DrainTracker(core), warmUps: new WarmUps(core) };
    this.#core = core;
    this.capacityMb = core.capacityMb;
    this.coldPoolTarget = core.parts.coldPool.target;
    this.poolMemoryMb = core.poolMemoryMb;
    this.maxOutputBytes = core.maxOutputBytes;
    this.maxAnswerBytes = core.maxAnswerBytes;
  }

  get state(): PoolState {
    return this.#core.state;
  }
  get reservedMb(): number {
    return this.#core.reservedMb;
  }
  /** Executions running now. */
  get busy(): number {
    return this.#core.busy;
  }
  /** Requests holding or waiting for a container. */
  get load(): number {
    return this.#core.busy + this.#core.waiting;
  }
  get coldPoolIdle(): number {
    return this.#core.cold.length;
  }
  get warmIdle(): number {
    return this.#core.idleOrder.size;
  }
  get queued(): number {
    return this.#core.parts.claims.queued;
  }
  get containerCount(): number {
    return this.#core.containers.size;
  }

  /** Starts the cold pool and resolves once it is full (or could not be filled). */
  async fill(): Promise<void> {
    this.#core.parts.coldPool.refill();
    await Promise.allSettled([...this.#core.tasks]);
  }

  /**
   * Gets a container of `fn` for one execution: warm, else cold (claims.ts). Fails with
   * RF_WORKER_DRAINING, RF_WORKER_FUNCTION_TOO_LARGE, RF_WORKER_AT_CAPACITY, or the start's
   * own error (RF_WORKER_CONTAINER_START_FAILED, RF_FUNCTION_LOAD_FAILED...).
   */
  acquire(fn: PoolFunction, options: AcquireOptions = {}): Promise<Lease> {
    const core = this.#core;
    if (core.state !== 'active') return Promise.reject(new RfError(WorkerErrors.DRAINING, 'the worker is draining'));
    if (fn.memoryMb > core.capacityMb) {
      return Promise.reject(
        new RfError(WorkerErrors.FUNCTION_TOO_LARGE, 'the function needs more memory than the worker has', {
          details: { memoryMb: fn.memoryMb, capacityMb: core.capacityMb },
        }),
      );
    }
    const slot = core.slotFor(fn);
    core.parts.expiry.onInvocationStart(slot);
    return core.parts.claims.claim(slot, options);
  }

  /**
   * Takes one particular idle container (the Redis design hands out container locations).
   * Undefined when it is not idle on this version's stack any more.
   */
  acquireInstance(fn: PoolFunction, instanceId: string): Lease | undefined {
    const core = this.#core;
    if (core.state !== 'active') return undefined;
    const c = core.containers.get(instanceId);
    if (c === undefined || c.state !== 'idle' || c.slot?.key !== slotKey(fn)) return undefined;
    const stack = c.slot.idle;
    stack.splice(stack.indexOf(c), 1);
    core.idleOrder.delete(c);
    core.events.onStart?.('warm');
    return core.hand(c, 'warm');
  }

  /** Gives a container back after a completed execution (it stays warm). */
  release(lease: Lease): void {
    const core = this.#core;
    const c = this.#unlease(lease);
    if (c === undefined) return;
    const slot = c.slot!;
    if (slot.retired || core.state !== 'active') {
      core.remove(c, slot.deleted ? 'deleted' : core.state === 'active' ? 'retired' : 'drained');
      return;
    }
    core.parts.claims.deliver(c, false);
  }

  /** Removes a container after a failed execution (timeout, crash): its memory is freed. */
  discard(lease: Lease, reason: RemoveReason): void {
    const c = this.#unlease(lease);
    if (c !== undefined) this.#core.remove(c, reason);
  }

  /** A new version of the function exists: retire the containers of older versions. */
  retire(functionId: string, currentVersion: number): number {
    return this.#retireWhere((fn) => fn.id === functionId && fn.version < currentVersion, undefined);
  }

  /** The function is gone: every container of it goes, waiting requests fail with 404. */
  removeFunction(functionId: string): number {
    return this.#retireWhere((fn) => fn.id === functionId, new RfError(WorkerErrors.FUNCTION_NOT_FOUND, 'the function was deleted'));
  }

  /** What GET /status reports of the pool. */
  status(): Pick<WorkerStatus, 'capacityMb' | 'reservedMb' | 'inFlight' | 'coldPool' | 'functions'> {
    const core = this.#core;
    return {
      capacityMb: core.capacityMb,
      reservedMb: core.reservedMb,
      inFlight: core.busy,
      coldPool: { idle: core.cold.length, target: this.coldPoolTarget },
      functions: [...core.slots.values()].map((s) => ({ functionId: s.fn.id, version: s.fn.version, idle: s.idle.length, busy: s.busy })),
    };
  }

  /**
   * The functions holding idle containers here (every version together): how many, and when the
   * most recently used of them went idle (the warm hand-off's older items, worker/handoff/).
   */
  idleFunctions(): Array<{ functionId: string; idle: number; lastIdleSince: number }> {
    const byId = new Map<string, { functionId: string; idle: number; lastIdleSince: number }>();
    for (const s of this.#core.slots.values()) {
      const top = s.idle.at(-1); // the LIFO stack's top: the most recently used
      if (top === undefined) continue;
      const e = byId.get(s.fn.id);
      if (e === undefined) byId.set(s.fn.id, { functionId: s.fn.id, idle: s.idle.length, lastIdleSince: top.idleSince });
      else {
        e.idle += s.idle.length;
        e.lastIdleSince = Math.max(e.lastIdleSince, top.idleSince);
      }
    }
    return [...byId.values()];
  }

  /** How many idle warm containers of this function version the worker holds (x-ringfaas-idle). */
  idleCount(fn: PoolFunction): number {
    return this.#core.slots.get(slotKey(fn))?.idle.length ?? 0;
  }

  /** Idle containers of one function version, most recently used first (for tests and /status). */
  idleInstances(functionId: string, version: number): string[] {
    const slot = this.#core.slots.get(`${functionId}@${version}`);
    return slot === undefined ? [] : slot.idle.map((c) => c.instanceId).reverse();
  }

  /** Stops taking work and resolves when nothing runs and every container is removed (drain.ts). */
  drain(): Promise<void> {
    return this.#core.parts.drain.drain();
  }

  /** Drains, then marks the pool closed. */
  async close(): Promise<void> {
    await this.drain();
    this.#core.state = 'closed';
  }

  /**
   * Loads containers of `fn` without a request until `count` are idle or starting (a pre-warm
   * of the keep-alive policy, or a warm hand-off); they stay `keepAliveMs` once ready. Only
   * free memory or evictable idle memory is used; answers how many starts began.
   */
  prewarm(fn: PoolFunction, keepAliveMs: number, count = 1): number {
    return this.#core.parts.expiry.prewarm(fn, keepAliveMs, count);
  }

  /**
   * Loads containers ahead of traffic (the warm hand-off; warm-ups.ts: spare memory above a
   * headroom, or for a drain's hand-off the place of containers idle since before it was asked;
   * a bound on starts at once; plain warm-ups dropped or evicted first when traffic needs the
   * memory, a hand-off's held for its grace). The batch tells when its starts are over.
   */
  warmUp(items: readonly WarmUpItem[]): WarmUpBatch {
    return this.#core.parts.warmUps.request(items);
  }

  /** A hand-off's grace, ms (PoolOptions.handOffGraceMs): its warm-ups are held this long, and it is the hand-off's window of recent use. */
  get handOffGraceMs(): number {
    return this.#core.parts.warmUps.graceMs;
  }

  /** Warm-up starts running now, and queued. */
  get warmUps(): { running: number; queued: number } {
    const w = this.#core.parts.warmUps;
    return { running: w.running, queued: w.queued };
  }

  /** The busy container of a lease, no longer busy (undefined when the lease is stale). */
  #unlease(lease: Lease): PooledContainer | undefined {
    const core = this.#core;
    const c = core.containers.get(lease.instanceId);
    if (c === undefined || c.state !== 'busy' || c.lease !== lease) return undefined;
    c.lease = undefined;
    c.slot!.busy--;
    core.busy--;
    return c;
  }

  /** Retires the matching versions' slots; with `gone`, deletes them and fails their waiting requests. */
  #retireWhere(match: (fn: PoolFunction) => boolean, gone: RfError | undefined): number {
    const core = this.#core;
    let removed = 0;
    for (const slot of [...core.slots.values()]) {
      if (!match(slot.fn)) continue;
      slot.retired = true;
      if (gone !== undefined) slot.deleted = true;
      for (const c of [...slot.idle]) {
        core.remove(c, gone === undefined ? 'retired' : 'deleted');
        removed++;
      }
      if (gone !== undefined) for (const claim of [...slot.waiting]) core.parts.claims.settle(claim, undefined, gone);
      core.dropSlotIfEmpty(slot);
    }
    return removed;
  }
}
