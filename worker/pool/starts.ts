/**
 * Start paths: a container specialised to one function version, from the cold pool or new.
 *
 * Algorithm
 * ---------
 * `tryStart(slot, for)`, for one request (claims.ts), a pre-warm (idle-expiry.ts) or a
 * warm-up (warm-ups.ts, which checks its own memory rule first):
 *   0. a request that finds too little memory free (it would have to evict, wait or be
 *      refused) first drops the warm-up starts not yet begun: traffic comes first (a hand-off's
 *      stay queued: they may begin only in the place of containers idle since before the
 *      hand-off was asked, warm-ups.ts);
 *   1. cold-pool: take the last pooled container (cold-pool.ts) if the extra memory
 *      (fn.memoryMb − poolMemoryMb) fits, evicting if need be (eviction.ts); resize it to
 *      fn.memoryMb, unpack the code into its code folder, load; the cold pool refills;
 *   2. cold-create: otherwise, while fewer than `maxCreating` containers are being created
 *      (requests, pre-warms, warm-ups and cold-pool refills together), create and start a
 *      container if fn.memoryMb fits (again after eviction), then unpack and load the same way;
 *   3. otherwise false: nothing started (the caller queues or answers 429).
 * The bound on creations comes before eviction: a start that cannot begin costs no warm
 * container. A request it refuses waits in the claims queue, where a released container of its
 * function serves it first (claims.ts `deliver`), or the next creation that may begin (every
 * creation's end pumps the queue, then warm-ups, then the cold pool's refill).
 * The load is bounded by the function's timeoutMs on the injected scheduler (a module whose
 * top level never finishes fails 504 RF_WORKER_INVOKE_TIMEOUT) and its duration counts
 * against the first execution's timeout. A ready container is delivered (claims.ts); a
 * failed start fails the request counting on it and frees the memory.
 *
 * Example: capacity 1024, one pooled 128 MB container, a 256 MB function: the pooled one is
 * taken (+128 reserved: 256 for it), resized, loaded; meanwhile the refill starts another.
 *
 * Caveats: a container removed while it starts (a forced drain, an eviction) is removed
 * once its start returns; the request counting on it gets RF_WORKER_CONTAINER_START_FAILED.
 */
import { randomBytes } from 'node:crypto';
import { RfError } from '../../errors/index.ts';
import { WorkerErrors } from '../errors.ts';
import { writeCode } from '../code.ts';
import type { ContainerHandle } from '../runtime.ts';
import type { PoolCore } from './core.ts';
import type { PoolFunction, PooledContainer, Slot, StartFor } from './types.ts';

/** Longest a creation counts against the bound on creations at once (a hung engine call gives its place up). */
export const CREATION_PLACE_MS = 30_000;

export class Starts {
  readonly #core: PoolCore;
  #seq = 0;

  constructor(core: PoolCore) {
    this.#core = core;
  }

  /** Starts a container for slot (pooled, else created) when memory allows: the container, or undefined. */
  tryStart(slot: Slot, startFor: StartFor = { kind: 'request' }): PooledContainer | undefined {
    const core = this.#core;
    if (core.state !== 'active') return undefined;
    const fn = slot.fn;
    const { eviction, coldPool, warmUps } = core.parts;
    const pooled = core.cold.at(-1);
    if (startFor.kind === 'request' && fn.memoryMb - (pooled?.memoryMb ?? 0) > core.freeMb) warmUps.dropQueued('traffic needs the memory', true);
    const keepMs = startFor.kind === 'warm-up' ? startFor.keepMs : undefined;
    const heldUntil = startFor.kind === 'warm-up' ? startFor.heldUntil : undefined;
    if (pooled !== undefined && eviction.makeRoom(fn.memoryMb - pooled.memoryMb, slot, pooled, startFor.kind === 'request')) {
      core.cold.pop();
      core.reservedMb += fn.memoryMb - pooled.memoryMb;
      pooled.memoryMb = fn.memoryMb;
      pooled.state = 'starting';
      pooled.slot = slot;
      pooled.warmUpKeepMs = keepMs;
      pooled.handOffHeldUntil = heldUntil;
      slot.starting++;
      core.track(this.#specialise(pooled, 'cold-pool'));
      coldPool.refill();
      return pooled;
    }
    if (!core.mayCreate || !eviction.makeRoom(fn.memoryMb, slot, undefined, startFor.kind === 'request')) return undefined;
    const c = this.newContainer(fn.memoryMb);
    c.slot = slot;
    c.warmUpKeepMs = keepMs;
    c.handOffHeldUntil = heldUntil;
    slot.starting++;
    core.track(this.#specialise(c, 'cold-create'));
    return c;
  }

  /**
   * Gives up a start in progress (a warm-up's, for traffic: eviction.ts): its memory is free
   * at once and it no longer counts as starting, so no request can count on it; the container
   * goes when its start returns.
   */
  cancel(c: PooledContainer): void {
    const slot = c.slot!;
    c.startCancelled = true;
    slot.starting--;
    this.#core.log.info({ instanceId: c.instanceId, functionId: slot.fn.id }, 'warm-up start given up for traffic');
    this.#core.remove(c, 'evicted', false);
    this.#core.dropSlotIfEmpty(slot);
  }

  /** A container record reserving `memoryMb`, not started yet. */
  newContainer(memoryMb: number): PooledContainer {
    const instanceId = `${(this.#seq++).toString(36)}${randomBytes(3).toString('hex')}`;
    const c: PooledContainer = { instanceId, handle: undefined, state: 'starting', memoryMb, slot: undefined, idleSince: 0, expiresAt: Infinity, lease: undefined, exit: undefined };
    this.#core.containers.set(instanceId, c);
    this.#core.reservedMb += memoryMb;
    return c;
  }

  /**
   * Creates the container through the runtime; an idle or pooled one that exits is removed.
   * Counted in `creating` from the call (synchronously, so the caller's bound check holds) to
   * the engine's answer, or for at most CREATION_PLACE_MS: an engine call that hangs does not
   * keep the worker from creating. Its end lets waiting work create.
   */
  async startHandle(c: PooledContainer): Promise<void> {
    const core = this.#core;
    core.creating++;
    let placeHeld = true;
    const freePlace = (): void => {
      if (!placeHeld) return;
      placeHeld = false;
      core.creating--;
      this.#creationEnded();
    };
    const placeBound = core.scheduler.setTimer(CREATION_PLACE_MS, freePlace);
    let handle: ContainerHandle;
    try {
      handle = await core.opts.runtime.start({ instanceId: c.instanceId, workerId: core.opts.workerId, memoryMb: c.memoryMb, network: core.opts.network ?? false });
    } finally {
      placeBound.cancel();
      freePlace();
    }
    c.handle = handle;
    if (c.state === 'removed') {
      // Removed while it was being created (a forced drain, an eviction): it goes now.
      core.track(handle.remove());
      throw new RfError(WorkerErrors.CONTAINER_START_FAILED, 'the container was removed while starting');
    }
    handle.exited.then(
      (exit) => {
        c.exit = exit;
        if (c.state === 'idle' || c.state === 'pooled') {
          core.log.warn({ instanceId: c.instanceId, exitCode: exit.exitCode, oomKilled: exit.oomKilled }, 'idle container exited');
          core.remove(c, 'exited');
        }
      },
      () => undefined,
    );
  }

  /** A creation ended: requests waiting for capacity first, then warm-ups, then the cold pool. */
  #creationEnded(): void {
    const { claims, warmUps, coldPool } = this.#core.parts;
    claims.pump();
    warmUps.pump();
    coldPool.refill();
  }

  async #specialise(c: PooledContainer, kind: 'cold-pool' | 'cold-create'): Promise<void> {
    try {
      await this.#specialiseOnce(c, kind);
    } finally {
      this.#core.parts.warmUps.ended(c);
    }
  }

  async #specialiseOnce(c: PooledContainer, kind: 'cold-pool' | 'cold-create'): Promise<void> {
    const core = this.#core;
    const slot = c.slot!;
    const fn = slot.fn;
    try {
      if (kind === 'cold-create') await this.startHandle(c);
      else await c.handle!.setMemoryLimit(fn.memoryMb);
      await writeCode(c.handle!.codeDir, fn.files);
      const loadStartedAt = core.clock.now();
      await this.#loadWithin(c.handle!, fn);
      c.loadMs = core.clock.now() - loadStartedAt;
    } catch (raw) {
      if (c.startCancelled !== true) slot.starting--;
      const err = toStartError(raw);
      if (c.startCancelled !== true) core.log.warn({ err: raw, functionId: fn.id, version: fn.version, instanceId: c.instanceId, kind }, 'container start failed');
      this.#startFailed(slot, err);
      core.remove(c, err.code === WorkerErrors.INVOKE_TIMEOUT.code ? 'load-timeout' : err.code === 'RF_FUNCTION_LOAD_FAILED' ? 'load-failed' : 'start-failed');
      return;
    }
    if (c.startCancelled !== true) slot.starting--;
    if (c.state === 'removed') {
      if (c.handle !== undefined) core.track(c.handle.remove());
      this.#startFailed(slot, new RfError(WorkerErrors.CONTAINER_START_FAILED, 'the container was removed while starting'));
      return;
    }
    core.parts.claims.deliver(c, true, kind);
  }

  /** Loads the function, bounded by its timeoutMs (504 RF_WORKER_INVOKE_TIMEOUT past it). */
  #loadWithin(handle: ContainerHandle, fn: PoolFunction): Promise<void> {
    const load = handle.load({ functionId: fn.id, version: fn.version, memoryMb: fn.memoryMb, timeoutMs: fn.timeoutMs, env: fn.env, maxOutputBytes: this.#core.maxOutputBytes });
    return new Promise<void>((resolve, reject) => {
      const timer = this.#core.scheduler.setTimer(fn.timeoutMs, () =>
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
    const core = this.#core;
    if (slot.backed > slot.starting) {
      const claim = slot.waiting.find((w) => w.backed);
      if (claim !== undefined) core.parts.claims.settle(claim, undefined, err);
    }
    core.dropSlotIfEmpty(slot);
    core.notifySettled();
  }
}

function toStartError(err: unknown): RfError {
  if (err instanceof RfError) return err;
  return new RfError(WorkerErrors.CONTAINER_START_FAILED, 'the container could not be started', { cause: err });
}
