/**
 * Eviction: making room for a start under memory pressure.
 *
 * Algorithm
 * ---------
 * Every container reserves memory against `capacityMb`: its function's memory, or
 * `poolMemoryMb` while it sits in the cold pool. A start that needs `needMb` more than is
 * free may evict, only if evicting everything evictable would free enough (otherwise nothing
 * is evicted: a start that cannot happen must not cost warm containers):
 *   1. idle containers of a warm-up that no request has used yet (warm-ups.ts: loaded ahead of
 *      traffic, they give way to it first), oldest idle first — except those a hand-off holds;
 *   2. other pooled containers (they are speculative), the one being specialised kept;
 *   3. then idle containers of other function versions, oldest idle first, or in the
 *      keep-alive policy's priority order (told of each eviction: Greedy-Dual ages its clock);
 *      the containers a hand-off holds last of all. A drain's hand-off (warm-ups.ts: the
 *      functions a leaving peer ran in the last minute, whose calls come here now) holds the
 *      containers it loads until a request uses them or `handOffGraceMs` passes (default 60 s,
 *      the hand-off's window of recent use): loaded for those calls, they are kept for them.
 *   4. for a request, last: warm-up starts in progress that no request counts on (warm-ups.ts;
 *      starts.ts `cancel`: the memory is free at once, the container goes when its start
 *      returns).
 * Idle containers of the requesting version are never evicted: they would serve it warm.
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
 * moment to stop it.
 */
import type { PoolCore } from './core.ts';
import type { PooledContainer, Slot } from './types.ts';

/** How long a hand-off's unused warm-up container goes after every other idle one, by default (PoolOptions.handOffGraceMs). */
export const HAND_OFF_GRACE_MS = 60_000;

export class Eviction {
  readonly #core: PoolCore;

  constructor(core: PoolCore) {
    this.#core = core;
  }

  /**
   * Frees `needMb` for `forSlot` if evicting can; false (and nothing evicted) otherwise. With
   * `forRequest`, warm-up starts no request counts on may be given up too (step 4).
   */
  makeRoom(needMb: number, forSlot: Slot, keep: PooledContainer | undefined, forRequest = false): boolean {
    const core = this.#core;
    if (needMb <= core.freeMb) return true;
    const warmUpStarts = forRequest ? core.parts.warmUps.starting(forSlot) : [];
    if (!this.couldMakeRoom(needMb, forSlot, keep, warmUpStarts)) return false;
    const now = core.clock.now();
    for (const c of [...core.idleOrder]) {
      if (core.freeMb >= needMb) return true;
      if (c.warmUpKeepMs !== undefined && !held(c, now) && c.slot !== forSlot) core.remove(c, 'evicted', false);
    }
    for (const c of [...core.cold]) {
      if (core.freeMb >= needMb) return true;
      if (c !== keep) core.remove(c, 'evicted', false);
    }
    for (const c of this.#order()) {
      if (core.freeMb >= needMb) return true;
      if (c.slot !== forSlot) this.#evictIdle(c);
    }
    for (const c of warmUpStarts) {
      if (core.freeMb >= needMb) return true;
      if (c.slot!.starting > c.slot!.backed) core.parts.starts.cancel(c);
    }
    return core.freeMb >= needMb;
  }

  /** Whether evicting everything evictable for `forSlot` (and giving up `warmUpStarts`) would free `needMb`; evicts nothing. */
  couldMakeRoom(needMb: number, forSlot: Slot, keep: PooledContainer | undefined, warmUpStarts: readonly PooledContainer[]): boolean {
    const core = this.#core;
    let evictable = 0;
    for (const c of core.cold) if (c !== keep) evictable += c.memoryMb;
    for (const c of core.idleOrder) if (c.slot !== forSlot) evictable += c.memoryMb;
    for (const c of warmUpStarts) evictable += c.memoryMb;
    return core.freeMb + evictable >= needMb;
  }

  /**
   * For a hand-off's warm-up (warm-ups.ts): frees `needMb` by evicting, in the order a request
   * would (unused warm-up containers, then the policy's order), idle containers that went idle
   * before `idleBefore` (when the hand-off was asked; for an older item, when its function went
   * idle on the peer; Infinity: any, for a hand-off function's first container here), none of
   * `forSlot`, none a hand-off holds and none `keep` keeps; only if they free enough, otherwise
   * nothing.
   */
  makeRoomFromOlder(needMb: number, forSlot: Slot, idleBefore: number, keep: (c: PooledContainer) => boolean = () => false): boolean {
    const core = this.#core;
    if (needMb <= core.freeMb) return true;
    const now = core.clock.now();
    const order = this.#order();
    const older = [...order.filter((c) => c.warmUpKeepMs !== undefined), ...order.filter((c) => c.warmUpKeepMs === undefined)].filter(
      (c) => c.slot !== forSlot && !held(c, now) && c.idleSince < idleBefore && !keep(c),
    );
    if (core.freeMb + older.reduce((mb, c) => mb + c.memoryMb, 0) < needMb) return false;
    for (const c of older) {
      if (core.freeMb >= needMb) break;
      if (c.warmUpKeepMs !== undefined) core.remove(c, 'evicted', false);
      else this.#evictIdle(c);
    }
    return core.freeMb >= needMb;
  }

  /** Evicts one idle container, telling the keep-alive policy (Greedy-Dual ages its clock). */
  #evictIdle(c: PooledContainer): void {
    const core = this.#core;
    const policy = core.opts.keepAlive;
    policy?.onEvict(c.slot!.fn.id, policy.evictionPriority(c.slot!.fn.id, c.idleSince, core.clock.now()));
    core.remove(c, 'evicted', false);
  }

  /** Idle containers in eviction order: oldest idle first, or by the policy's priority; those a hand-off holds last. */
  #order(): PooledContainer[] {
    const core = this.#core;
    const now = core.clock.now();
    const idle = [...core.idleOrder];
    const policy = core.opts.keepAlive;
    if (policy !== undefined) {
      const prio = new Map(idle.map((c) => [c, policy.evictionPriority(c.slot!.fn.id, c.idleSince, now)]));
      idle.sort((a, b) => (prio.get(a) as number) - (prio.get(b) as number));
    }
    return [...idle.filter((c) => !held(c, now)), ...idle.filter((c) => held(c, now))];
  }
}

/** Whether a hand-off holds `c` at `now` (warm-ups.ts): it goes after every other idle container. */
function held(c: PooledContainer, now: number): boolean {
  return c.handOffHeldUntil !== undefined && c.handOffHeldUntil > now;
}
