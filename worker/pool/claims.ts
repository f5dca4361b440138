/**
 * Claims: how a request gets a container, and where a ready container goes.
 *
 * Algorithm
 * ---------
 * Per function version a LIFO warm stack of idle containers (`Slot.idle`). `claim(slot)`:
 *   1. warm: pop the most recently released idle container of this version;
 *   2. a start already in progress that no waiting request counts on (an "orphan", left when
 *      a released container served the request that caused it): count on it ("backed");
 *   3. a new start (starts.ts: cold pool, else created, evicting if need be);
 *   4. else, with waitMs > 0 and fewer than maxQueue waiting, wait in a FIFO queue for
 *      capacity until waitMs passes (a timer on the injected scheduler); otherwise fail at
 *      once with 429 RF_WORKER_AT_CAPACITY (the router spills on it). A request held only by
 *      the bound on creations at once (memory is there, or evictable) waits at least
 *      CREATION_WAIT_MS whatever its waitMs: the worker is busy, not full, and a spill would
 *      start the container on a worker the router's bounds did not choose.
 *
 * A start is made for exactly one request, so N concurrent cold requests start at most N
 * containers (no thundering herd). `deliver(c)`: a released container goes to a queued
 * request first, then to the oldest request whose cold start is still in progress (it gets
 * a warm start sooner; its start, now an orphan, serves the next request or lands on the
 * stack). A fresh container goes to a request counting on a start first. With nobody
 * waiting it is pushed on the stack, with its idle expiry (idle-expiry.ts).
 *
 * Worked example: one idle container A of f; three concurrent calls. The first pops A
 * (warm); the second and third each start a container (B and C, both backed). A is released
 * before either start ends: it goes to the second call (the oldest backed one, warm), and
 * B's start becomes an orphan. B is ready first and serves the third call (fresh to a backed
 * claim); C, ready later, finds nobody waiting and lands on the stack. When A is released it
 * lands on top of C, so the next call takes A (LIFO) and C sinks towards expiry.
 *
 * Caveats: the queue is FIFO but skips a request whose function does not fit yet (a big
 * function at the head does not block small ones, and may wait longer).
 */
import { RfError } from '../../errors/index.ts';
import type { StartKind } from '../../contract/index.ts';
import { WorkerErrors } from '../errors.ts';
import type { PoolCore } from './core.ts';
import type { AcquireOptions, Claim, Lease, PooledContainer, Slot } from './types.ts';

/**
 * Least wait of a request held only by the bound on creations at once (starts.ts): memory is
 * there, a place to create frees within a creation's time.
 */
export const CREATION_WAIT_MS = 10_000;

export class Claims {
  readonly #core: PoolCore;
  readonly #maxQueue: number;
  /** Requests waiting for capacity, oldest first. */
  readonly #queued: Claim[] = [];
  #pumping = false;

  constructor(core: PoolCore) {
    this.#core = core;
    this.#maxQueue = core.opts.maxQueue ?? 1000;
  }

  get queued(): number {
    return this.#queued.length;
  }

  /** Steps 1–4 of the header for one request of slot's function. */
  claim(slot: Slot, options: AcquireOptions): Promise<Lease> {
    const core = this.#core;
    const warm = slot.idle.pop();
    if (warm !== undefined) {
      core.idleOrder.delete(warm);
      core.events.onStart?.('warm');
      return Promise.resolve(core.hand(warm, 'warm'));
    }
    return new Promise<Lease>((resolve, reject) => {
      const claim: Claim = { slot, resolve, reject, settled: false, backed: false, queued: false, timer: undefined };
      slot.waiting.push(claim);
      core.waiting++;
      const signal = options.signal;
      if (signal !== undefined) {
        if (signal.aborted) {
          this.settle(claim, undefined, cancelled());
          return;
        }
        signal.addEventListener('abort', () => this.settle(claim, undefined, cancelled()), { once: true });
      }
      if (slot.starting > slot.backed || core.parts.starts.tryStart(slot) !== undefined) {
        claim.backed = true;
        slot.backed++;
        return;
      }
      // Memory for it but no creation place: the worker is busy creating, not full, so the
      // request waits for a place (or a release) at least CREATION_WAIT_MS instead of spilling.
      const onlyCreating = !core.mayCreate && core.parts.eviction.couldMakeRoom(slot.fn.memoryMb, slot, undefined, core.parts.warmUps.starting(slot));
      const waitMs = onlyCreating ? Math.max(options.waitMs ?? 0, CREATION_WAIT_MS) : (options.waitMs ?? 0);
      if (waitMs > 0 && this.#queued.length < this.#maxQueue) {
        claim.queued = true;
        this.#queued.push(claim);
        claim.timer = core.scheduler.setTimer(waitMs, () => this.settle(claim, undefined, core.atCapacity()));
        return;
      }
      this.settle(claim, undefined, core.atCapacity());
    });
  }


  /** Settles a claim with a container or an error and takes it off every list. */
  settle(claim: Claim, c: PooledContainer | undefined, err: Error | undefined, start: StartKind = 'warm'): void {
    if (claim.settled) return;
    const core = this.#core;
    claim.settled = true;
    const slot = claim.slot;
    slot.waiting.splice(slot.waiting.indexOf(claim), 1);
    core.waiting--;
    if (claim.backed) slot.backed--;
    if (claim.queued) this.#unqueue(claim);
    if (c !== undefined) {
      core.events.onStart?.(start);
      claim.resolve(core.hand(c, start));
    } else {
      claim.reject(err ?? core.atCapacity());
      core.dropSlotIfEmpty(slot);
      core.notifySettled();
    }
  }

  /** Fails every request queued for capacity (a drain). */
  failQueued(err: Error): void {
    for (const claim of [...this.#queued]) this.settle(claim, undefined, err);
  }

  /**
   * Hands a ready container of its slot to a waiting request, else pushes it on the warm
   * stack. A fresh container serves a request counting on a start first; a released one a
   * request queued for capacity first.
   */
  deliver(c: PooledContainer, fresh: boolean, start: StartKind = 'warm'): void {
    const core = this.#core;
    const slot = c.slot!;
    if (slot.waiting.length > 0) {
      const first = fresh ? slot.waiting.find((w) => w.backed) : slot.waiting.find((w) => w.queued);
      const claim = first ?? slot.waiting[0]!;
      this.settle(claim, c, undefined, fresh ? start : 'warm');
      return;
    }
    if (slot.retired) {
      core.remove(c, slot.deleted ? 'deleted' : 'retired');
      return;
    }
    c.state = 'idle';
    c.idleSince = core.clock.now();
    slot.idle.push(c);
    core.idleOrder.add(c);
    core.parts.expiry.onIdle(c, fresh);
    if (this.#queued.length > 0) this.pump();
    core.notifySettled();
  }

  /** Gives freed capacity to requests waiting for it, oldest first. */
  pump(): void {
    if (this.#pumping || this.#queued.length === 0 || this.#core.state !== 'active') return;
    this.#pumping = true;
    try {
      for (const claim of [...this.#queued]) {
        if (claim.settled) continue;
        const slot = claim.slot;
        if (slot.starting > slot.backed || this.#core.parts.starts.tryStart(slot) !== undefined) {
          this.#unqueue(claim);
          claim.backed = true;
          slot.backed++;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  #unqueue(claim: Claim): void {
    claim.timer?.cancel();
    claim.timer = undefined;
    claim.queued = false;
    this.#queued.splice(this.#queued.indexOf(claim), 1);
  }
}

function cancelled(): RfError {
  return new RfError(WorkerErrors.REQUEST_CANCELLED, 'the client left before a container was free');
}
