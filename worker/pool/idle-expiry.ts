/**
 * Idle expiry: how long an idle container stays warm, one sweep timer, and pre-warms.
 *
 * Algorithm
 * ---------
 * When a container becomes idle (claims.ts), its expiry is set: a warm-up's container
 * (warm-ups.ts) stays its warm-up's keep; a container loaded by `prewarm()` with no request
 * stays the pre-warm's keep-alive; otherwise, with no keep-alive
 * policy, its function's idleTimeoutMs; with a policy (worker/keepalive), the policy's
 * window — or, when the policy prefers unloading now and loading again just before the next
 * expected call, expiry now and a pre-warm timer at `prewarmMs` (one per function version,
 * cancelled when a call comes first).
 *
 * One timer on the injected scheduler is set at the earliest expiry; the sweep removes every
 * idle container past its expiry and sets the timer at the next one. Infinity (Greedy-Dual:
 * kept until evicted) sets no timer.
 *
 * Example: idleTimeoutMs 60 000; A idle at t=0, B idle at t=10 s. The timer is set for 60 s;
 * at 60 s the sweep removes A and sets the timer for 70 s, when B goes (unless used).
 *
 * Caveats: a container that expires while the timer is late (a busy event loop) goes at the
 * next sweep; memory pressure evicts before expiry (eviction.ts).
 */
import type { TimerHandle } from '../../clock/index.ts';
import type { PoolCore } from './core.ts';
import type { PoolFunction, PooledContainer, Slot } from './types.ts';

export class IdleExpiry {
  readonly #core: PoolCore;
  #sweep: TimerHandle | undefined;
  #sweepAt = Infinity;
  /** Pending pre-warms by function version (one each). */
  readonly #prewarms = new Map<string, TimerHandle>();

  constructor(core: PoolCore) {
    this.#core = core;
  }

  /** An invocation of slot's function starts: the policy learns; a pending pre-warm is moot. */
  onInvocationStart(slot: Slot): void {
    const core = this.#core;
    const policy = core.opts.keepAlive;
    if (policy === undefined) return;
    this.#prewarms.get(slot.key)?.cancel();
    this.#prewarms.delete(slot.key);
    policy.onInvocationStart(slot.fn.id, core.clock.now(), { memoryMb: slot.fn.memoryMb, cold: slot.idle.length === 0, coldStartMs: core.opts.coldStartEstimateMs ?? 500, running: slot.busy + slot.waiting.length + 1 });
  }

  /** The container just went idle on its stack: its expiry, and the sweep timer if earlier. */
  onIdle(c: PooledContainer, fresh: boolean): void {
    // a warm-up's container (warm-ups.ts): its keep, and no idle time for the policy to learn
    c.expiresAt = fresh && c.warmUpKeepMs !== undefined ? c.idleSince + c.warmUpKeepMs : this.#expiry(c.slot!, c.idleSince, fresh);
    if (c.expiresAt < this.#sweepAt) this.#schedule(c.expiresAt);
  }

  /**
   * Loads containers of `fn` without a request until `count` are idle or starting; they stay
   * `keepAliveMs` once ready. Only free or evictable memory is used; answers how many began.
   */
  prewarm(fn: PoolFunction, keepAliveMs: number, count: number): number {
    const core = this.#core;
    if (core.state !== 'active' || fn.memoryMb > core.capacityMb || keepAliveMs <= 0) return 0;
    const slot = core.slotFor(fn);
    slot.prewarmKeepMs = keepAliveMs;
    let started = 0;
    while (slot.idle.length + slot.starting - slot.backed < count && core.parts.starts.tryStart(slot, { kind: 'prewarm' }) !== undefined) started++;
    core.dropSlotIfEmpty(slot);
    return started;
  }

  /** Cancels the sweep and every pending pre-warm (a drain). */
  stop(): void {
    this.#sweep?.cancel();
    this.#sweep = undefined;
    for (const t of this.#prewarms.values()) t.cancel();
    this.#prewarms.clear();
  }

  #expiry(slot: Slot, now: number, fresh: boolean): number {
    const core = this.#core;
    const policy = core.opts.keepAlive;
    if (fresh && slot.prewarmKeepMs !== undefined && slot.busy === 0) {
      const keep = slot.prewarmKeepMs;
      slot.prewarmKeepMs = undefined;
      return now + keep; // loaded by prewarm(): not an idle time of the function
    }
    if (policy === undefined) return now + slot.fn.idleTimeoutMs;
    const w = policy.onIdle(slot.fn.id, now, slot.fn.idleTimeoutMs, slot.busy + Math.max(0, slot.idle.length - 1), slot.busy);
    if (w.prewarmMs > 0 && slot.busy === 0 && slot.idle.length <= 1) {
      const fn = slot.fn;
      this.#prewarms.get(slot.key)?.cancel();
      this.#prewarms.set(
        slot.key,
        core.scheduler.setTimer(w.prewarmMs, () => {
          this.#prewarms.delete(slot.key);
          this.prewarm(fn, w.keepAliveMs, 1);
        }),
      );
      return now; // unloaded at once, loaded again before the next call is expected
    }
    return now + w.keepAliveMs;
  }

  #schedule(at: number): void {
    if (!Number.isFinite(at)) return; // kept until evicted (Greedy-Dual)
    this.#sweep?.cancel();
    this.#sweepAt = at;
    this.#sweep = this.#core.scheduler.setTimer(at - this.#core.clock.now(), () => this.#run());
  }

  #run(): void {
    const core = this.#core;
    this.#sweep = undefined;
    this.#sweepAt = Infinity;
    if (core.state !== 'active') return;
    const now = core.clock.now();
    let next = Infinity;
    const expired: PooledContainer[] = [];
    for (const c of core.idleOrder) {
      const at = c.expiresAt;
      if (at <= now) expired.push(c);
      else if (at < next) next = at;
    }
    for (const c of expired) core.remove(c, 'expired');
    if (expired.length > 0) core.log.debug({ count: expired.length }, 'idle containers expired');
    if (next < this.#sweepAt) this.#schedule(next);
  }
}
