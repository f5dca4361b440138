/**
 * The shared state of one container pool, and the few steps every part takes on it: find a
 * function version's slot, hand a container to a request, remove a container (freeing its
 * memory), track background work and wake whoever waits for the pool to settle.
 *
 * The parts (claims, eviction, starts, cold pool, idle expiry, drain, warm-ups) are small classes over
 * this one state, as undici's dispatchers share their base: each owns one job and reaches the
 * others through `parts`, wired once by ContainerPool.
 */
import type { Logger } from 'pino';
import { RfError } from '../../errors/index.ts';
import { DEFAULT_MAX_OUTPUT_BYTES, INVOKE_ENVELOPE_BYTES, type StartKind } from '../../contract/index.ts';
import { systemClock, systemScheduler, type Clock, type Scheduler } from '../../clock/index.ts';
import { WorkerErrors } from '../errors.ts';
import type { Claims } from './claims.ts';
import type { ColdPool } from './cold-pool.ts';
import type { DrainTracker } from './drain.ts';
import type { Eviction } from './eviction.ts';
import type { IdleExpiry } from './idle-expiry.ts';
import type { Starts } from './starts.ts';
import type { WarmUps } from './warm-ups.ts';
import { DEFAULT_MAX_CREATING, type Lease, type PoolEvents, type PoolFunction, type PoolOptions, type PooledContainer, type PoolState, type RemoveReason, type Slot } from './types.ts';

/** The pool's parts, each one job (see their headers). */
export interface PoolParts {
  readonly claims: Claims;
  readonly eviction: Eviction;
  readonly starts: Starts;
  readonly coldPool: ColdPool;
  readonly expiry: IdleExpiry;
  readonly drain: DrainTracker;
  readonly warmUps: WarmUps;
}

/** The state the parts share. */
export class PoolCore {
  readonly opts: PoolOptions;
  readonly capacityMb: number;
  readonly poolMemoryMb: number;
  readonly maxOutputBytes: number;
  readonly maxAnswerBytes: number;
  readonly log: Logger;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly events: PoolEvents;
  /** Every container by instance id, whatever its state. */
  readonly containers = new Map<string, PooledContainer>();
  /** Warm stacks and waiting requests, by function version (`id@version`). */
  readonly slots = new Map<string, Slot>();
  /** Idle containers, oldest idle first (a Set keeps insertion order). */
  readonly idleOrder = new Set<PooledContainer>();
  /** The cold pool: started, unassigned containers (the last one is taken first). */
  readonly cold: PooledContainer[] = [];
  /** Background starts and removals in progress. */
  readonly tasks = new Set<Promise<unknown>>();
  state: PoolState = 'active';
  reservedMb = 0;
  /** Executions running now. */
  busy = 0;
  /** Requests waiting for a container (all slots). */
  waiting = 0;
  /** Containers being created on the engine now (starts.ts `startHandle`). */
  creating = 0;
  readonly maxCreating: number;
  parts!: PoolParts;
  #settledWaiters: Array<() => void> = [];

  constructor(options: PoolOptions) {
    this.opts = options;
    this.capacityMb = options.capacityMb;
    this.poolMemoryMb = options.poolMemoryMb ?? 128;
    this.maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    this.maxAnswerBytes = this.maxOutputBytes + INVOKE_ENVELOPE_BYTES;
    this.log = options.logger;
    this.clock = options.clock ?? systemClock;
    this.scheduler = options.scheduler ?? systemScheduler;
    this.events = options.events ?? {};
    this.maxCreating = Math.max(1, options.maxCreating ?? DEFAULT_MAX_CREATING);
  }

  /** Whether another container may be created now (the bound of starts.ts). */
  get mayCreate(): boolean {
    return this.creating < this.maxCreating;
  }

  /** Whether a container may be created ahead of traffic (warm-ups): one place is kept for requests when the bound is 2 or more. */
  get mayCreateAhead(): boolean {
    return this.creating < Math.max(1, this.maxCreating - 1);
  }

  get freeMb(): number {
    return this.capacityMb - this.reservedMb;
  }

  slotFor(fn: PoolFunction): Slot {
    const key = slotKey(fn);
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = { key, fn, idle: [], waiting: [], busy: 0, starting: 0, backed: 0, retired: false, deleted: false };
      this.slots.set(key, slot);
    }
    return slot;
  }

  dropSlotIfEmpty(slot: Slot): void {
    if (slot.idle.length === 0 && slot.waiting.length === 0 && slot.busy === 0 && slot.starting === 0) {
      if (this.slots.get(slot.key) === slot) this.slots.delete(slot.key);
    }
  }

  /** Marks a container busy under a new lease (a cold start's load counts against its timeout). */
  hand(c: PooledContainer, start: StartKind): Lease {
    const slot = c.slot!;
    const loadMs = start === 'warm' ? 0 : (c.loadMs ?? 0);
    const lease: Lease = { instanceId: c.instanceId, handle: c.handle!, start, fn: slot.fn, timeoutMs: Math.max(1, slot.fn.timeoutMs - loadMs) };
    c.state = 'busy';
    c.lease = lease;
    c.warmUpKeepMs = undefined; // used: no longer a warm-up's speculative container
    c.handOffHeldUntil = undefined;
    slot.busy++;
    this.busy++;
    return lease;
  }

  atCapacity(): RfError {
    const why = this.mayCreate ? 'no memory to start one' : `${this.creating} containers being created already`;
    return new RfError(WorkerErrors.AT_CAPACITY, `no idle container and ${why}`, {
      details: { capacityMb: this.capacityMb, reservedMb: this.reservedMb, creating: this.creating },
    });
  }

  /** Removes a container and frees its memory; with `pump`, freed memory goes to waiting requests, then the cold pool, then warm-ups. */
  remove(c: PooledContainer, reason: RemoveReason, pump = true): void {
    if (c.state === 'removed') return;
    const previous = c.state;
    c.state = 'removed';
    this.reservedMb -= c.memoryMb;
    this.containers.delete(c.instanceId);
    if (previous === 'idle') {
      const stack = c.slot!.idle;
      stack.splice(stack.indexOf(c), 1);
      this.idleOrder.delete(c);
    } else if (previous === 'pooled') {
      this.cold.splice(this.cold.indexOf(c), 1);
    }
    if (c.slot !== undefined && previous !== 'starting') this.dropSlotIfEmpty(c.slot);
    this.events.onRemove?.(reason);
    this.log.debug({ instanceId: c.instanceId, reason, functionId: c.slot?.fn.id }, 'container removed');
    if (c.handle !== undefined) this.track(c.handle.remove());
    if (pump) {
      this.parts.claims.pump();
      this.parts.coldPool.refill();
      this.parts.warmUps.pump();
    }
    this.notifySettled();
  }

  /** Background work (starts, removals) that drain() waits for; its failure is logged. */
  track(promise: Promise<unknown>): void {
    const tracked = promise.catch((err: unknown) => this.log.error({ err }, 'pool task failed'));
    this.tasks.add(tracked);
    void tracked.finally(() => {
      this.tasks.delete(tracked);
      this.notifySettled();
    });
  }

  /** Resolves at the next change that may let a drain finish. */
  nextSettle(): Promise<void> {
    return new Promise<void>((resolve) => this.#settledWaiters.push(resolve));
  }

  notifySettled(): void {
    if (this.#settledWaiters.length === 0) return;
    const waiters = this.#settledWaiters;
    this.#settledWaiters = [];
    for (const wake of waiters) wake();
  }
}

export function slotKey(fn: PoolFunction): string {
  return `${fn.id}@${fn.version}`;
}
