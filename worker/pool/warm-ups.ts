/**
 * Warm-ups: containers loaded ahead of traffic (the warm hand-off, worker/handoff/), in spare
 * memory, or for a hand-off in the place of idle containers its function's calls would evict.
 *
 * Algorithm
 * ---------
 * `request(items)` queues one container start per container wanted: for each function, until
 * its idle plus unclaimed starting containers reach `count`; the first container of every
 * function that has none here first, then second containers, and so on (a function already
 * loaded here waits behind those that are not), so a warm-up cut short leaves as many functions
 * as it can with one container; a hand-off's older items (below) after every other item's starts.
 * Queued starts are taken in order (`pump`) while fewer than `concurrency` warm-up starts
 * run (default 2: an engine is not flooded with starts while it also serves traffic) and the
 * pool's bound on creations at once leaves room, one place kept for traffic when the bound is
 * 2 or more (starts.ts; a creation's end pumps again). One
 * taken begins only if the function still needs it (a request may have started one
 * meanwhile) and the memory free after it is still at least the headroom, a share of the
 * worker's memory kept for traffic (default 25 %).
 * **A hand-off's items** (`idleForMs` given, at most the hand-off grace, 60 s: a function a
 * draining peer ran in the last minute, whose calls come here now) count as a use of the
 * function when asked: failing the headroom rule, a start may evict idle containers that went
 * idle before the batch was asked, in the order a request would evict them, as much memory as
 * it starts (the memory free stays as it was; eviction.ts `makeRoomFromOlder`: never a
 * container used since, never one a hand-off holds); a request short of memory does not drop
 * its starts; and the containers it loads are held (evicted after every other idle container)
 * until used or for the grace, kept for the calls they are there for. **One warm container per
 * function first**, on both sides of a hand-off's eviction: a hand-off's start never takes the
 * place of the last idle container of another function of the same hand-off (a function whose
 * home had moved away and now comes back still has containers on its old home, the least
 * recently used there: they went first); and the start of a hand-off function's first container
 * here, failing both rules, may take the place of the least recently used idle container not
 * held or so kept, one for one (a full successor whose load uses every container within seconds
 * has none idle since the ask; the first call would evict that container anyway). Any other start failing
 * the headroom rule is dropped, not waited for (a warm-up ending frees no memory), but for
 * **an older hand-off item** (`idleForMs` over the grace: a function the draining peer still
 * held warm, last used that long ago): failing the headroom rule, it may take the place of idle
 * containers that went idle before it did (idle longer than `idleForMs`), as much memory as it
 * starts: the two workers' warm containers merged by recency. It is not held, and a request
 * short of memory drops it as any warm-up.
 * While requests wait for capacity in the pool's queue, queued warm-ups are dropped.
 * Traffic first: a request that finds too little memory free drops every start not yet begun
 * but a hand-off's (starts.ts); an idle warm-up container that no request has used is evicted
 * before any other container but a hand-off's, and as a last resort a warm-up start in
 * progress that no request counts on is
 * given up (eviction.ts); a request of a function whose warm-up start runs counts on that
 * start instead of starting another (claims.ts). `pump` runs when a warm-up start ends and
 * when memory is freed. `WarmUpBatch.cancel()` drops a batch's starts not yet begun (the
 * caller's time bound passed); a drain drops them all.
 *
 * Worked example: capacity 2048 MB (headroom 512), 1280 reserved by traffic, a batch of f ×2
 * and g ×1, 128 MB each. Queue: f, g, f. f and g begin (free 768 → 512); the second f waits
 * for one of them to end (2 run), then is dropped: 512 − 128 < 512. Requests of new functions h
 * and i meanwhile find 512 free and start (256 free). A request of j once 128 is free has to
 * evict: f and g, idle and unused, go first. Had the batch come from a drain (f and g last run
 * on the peer 2 s ago, `idleForMs` 2000) to a worker whose 1280 MB of traffic are idle, the
 * second f would evict the least recently used idle 128 MB container and begin (free stays 512),
 * and j's request would evict idle containers of traffic first: f's and g's only once none is
 * left, or a minute after the hand-off.
 *
 * Known caveats
 * -------------
 * - A warm-up start given up for traffic frees its memory in the pool's account at once, while
 *   the engine may hold it until the start returns (at most `concurrency` such starts).
 * - A worker whose free memory is below the headroom (full of idle containers) warms a
 *   hand-off's functions in the place of its least recently used idle containers: the memory in
 *   use stays the same, and the functions of those containers start cold on their next call
 *   (the cost moves, it does not vanish; a plain warm-up there is dropped).
 * - A function the hand-off finds already loaded here gets no start and no hold: its idle
 *   containers but the last (above), if they went idle before the ask, may give way to the
 *   hand-off's other starts. Holding them was tried: a drain's hot list also holds the
 *   functions of the running load, so it held most of a full worker, other starts found nothing
 *   to take the place of, and bench ring-change went from 0 of 30 to 3 of 13 cold first calls.
 *   Holding only the last idle container of such a function when none of its containers had
 *   been used here for 10 s was tried too (2026-12-05): in ten runs of bench ring-change it
 *   never applied (the functions a drain moves back had been used on their old homes seconds
 *   before, their overflow spilling there), so it was not kept.
 * - Nothing but the hand-off's own bounds (at most 256 functions × 8 containers, 2 starts at
 *   once, its 10 s deadline) limits how much memory a drain's hand-off holds for its grace; the
 *   counts are the peer's recent peak, which may overstate what the calls need here.
 */
import { slotKey, type PoolCore } from './core.ts';
import { HAND_OFF_GRACE_MS } from './eviction.ts';
import type { PoolFunction, PooledContainer, Slot } from './types.ts';

/** One function to warm, and how many containers of it. */
export interface WarmUpItem {
  fn: PoolFunction;
  count: number;
  /**
   * How long ago the function was last used on the peer that hands it over: at most the
   * hand-off grace (60 s), the item is a hand-off's (see the header: its starts may evict, and
   * are kept); older, an older hand-off item (it may take the place of containers idle longer,
   * not held). Absent: a plain warm-up, in spare memory only.
   */
  idleForMs?: number;
}

interface QueuedStart {
  fn: PoolFunction;
  /** A hand-off's: when it was asked (containers idle since before may give way). */
  handOffAt: number | undefined;
  /** An older hand-off item's: containers idle since before this may give way (not held). */
  idleBefore: number | undefined;
  /** Idle plus unclaimed starting containers of fn wanted. */
  target: number;
  batch: WarmUpBatch;
}

/** What became of one `request()`: its starts queued, running, begun and dropped. */
export class WarmUpBatch {
  /** The slots of the hand-off's functions (items with `idleForMs` within the grace): their last idle containers are kept for it. */
  readonly handOffSlots = new Set<string>();
  queued = 0;
  starting = 0;
  begun = 0;
  dropped = 0;
  readonly #owner: WarmUps;

  constructor(owner: WarmUps) {
    this.#owner = owner;
  }

  /** Nothing queued and nothing starting any more. */
  get done(): boolean {
    return this.queued === 0 && this.starting === 0;
  }

  /** Drops this batch's starts not yet begun (those running go on). */
  cancel(): void {
    this.#owner.drop(this);
  }
}

export class WarmUps {
  readonly concurrency: number;
  readonly headroomMb: number;
  /** A hand-off's grace, ms (PoolOptions.handOffGraceMs). */
  readonly graceMs: number;
  readonly #core: PoolCore;
  #queue: QueuedStart[] = [];
  /** Warm-up starts running, by container. */
  readonly #running = new Map<PooledContainer, WarmUpBatch>();
  #pumping = false;

  constructor(core: PoolCore) {
    this.#core = core;
    this.concurrency = Math.max(1, core.opts.warmUpConcurrency ?? 2);
    this.graceMs = core.opts.handOffGraceMs ?? HAND_OFF_GRACE_MS;
    this.headroomMb = Math.ceil(core.capacityMb * Math.min(1, Math.max(0, core.opts.warmUpHeadroomShare ?? 0.25)));
  }

  get queued(): number {
    return this.#queue.length;
  }
  get running(): number {
    return this.#running.size;
  }

  /** Queues the starts `items` need (see the header) and begins what may begin now. */
  request(items: readonly WarmUpItem[]): WarmUpBatch {
    const core = this.#core;
    const batch = new WarmUpBatch(this);
    if (core.state !== 'active') return batch;
    const now = core.clock.now();
    // one start per container wanted, ranked by which of its function's containers it makes
    // here: every function's first before any second (stable: in the items' order)
    const starts: Array<{ rank: number; start: QueuedStart }> = [];
    for (const item of items) {
      if (item.fn.memoryMb > core.capacityMb - this.headroomMb) continue;
      const handOffAt = item.idleForMs !== undefined && item.idleForMs <= this.graceMs ? now : undefined;
      if (handOffAt !== undefined) batch.handOffSlots.add(slotKey(item.fn));
      const idleBefore = item.idleForMs !== undefined && item.idleForMs > this.graceMs ? now - item.idleForMs : undefined;
      const had = this.#have(item.fn) + this.#queuedOf(item.fn);
      for (let rank = had + 1; rank <= item.count; rank++) starts.push({ rank, start: { fn: item.fn, handOffAt, idleBefore, target: item.count, batch } });
    }
    // older hand-off items after every other item's starts
    const older = (s: QueuedStart): number => (s.idleBefore === undefined ? 0 : 1);
    starts.sort((a, b) => older(a.start) - older(b.start) || a.rank - b.rank);
    for (const { start } of starts) this.#queue.push(start);
    batch.queued += starts.length;
    this.pump();
    return batch;
  }

  /** Begins queued starts while the rules of the header allow. */
  pump(): void {
    const core = this.#core;
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      if (core.parts.claims.queued > 0) this.dropQueued('requests wait for memory');
      while (this.#queue.length > 0 && core.state === 'active' && this.#running.size < this.concurrency && core.mayCreateAhead) {
        const next = this.#queue.shift()!;
        next.batch.queued--;
        if (this.#have(next.fn) >= next.target) continue;
        const slot = core.slotFor(next.fn);
        if (slot.retired) {
          this.#dropOne(next, slot, 'the function changed');
          continue;
        }
        const spare = core.freeMb - next.fn.memoryMb >= this.headroomMb;
        // No spare memory: for a hand-off, containers idle since before it was asked (an older
        // item: since before its function went idle on the peer) may give way, as much as the
        // start takes, so the memory free stays as it was (a request of the function would evict
        // them); ending warm-ups free none, so nothing is waited for.
        const idleBefore = next.handOffAt ?? next.idleBefore;
        const needMb = core.freeMb + next.fn.memoryMb;
        // one warm container per function first: the hand-off's functions keep their last idle
        // container, and a hand-off's first here may take the least recently used idle place
        const keep = (c: PooledContainer): boolean => next.batch.handOffSlots.has(c.slot!.key) && c.slot!.idle.at(-1) === c;
        const made = spare || (idleBefore !== undefined && core.parts.eviction.makeRoomFromOlder(needMb, slot, idleBefore, keep));
        const first = !made && next.handOffAt !== undefined && this.#have(next.fn) === 0;
        if (!made && !(first && core.parts.eviction.makeRoomFromOlder(needMb, slot, Number.POSITIVE_INFINITY, keep))) {
          this.#dropOne(next, slot, idleBefore === undefined ? 'no spare memory' : 'no spare memory, too few containers idle for longer');
          continue;
        }
        if (!made) core.log.debug({ functionId: next.fn.id }, "a hand-off's first container takes the least recently used idle place");
        const heldUntil = next.handOffAt === undefined ? undefined : next.handOffAt + this.graceMs;
        const c = core.parts.starts.tryStart(slot, { kind: 'warm-up', keepMs: next.fn.idleTimeoutMs, heldUntil });
        if (c === undefined) {
          this.#dropOne(next, slot, 'the start could not begin');
          continue;
        }
        core.log.debug({ functionId: next.fn.id, instanceId: c.instanceId, freeMb: core.freeMb }, 'warm-up start begun');
        this.#running.set(c, next.batch);
        next.batch.starting++;
        next.batch.begun++;
      }
    } finally {
      this.#pumping = false;
    }
  }

  #dropOne(next: QueuedStart, slot: Slot, reason: string): void {
    next.batch.dropped++;
    this.#core.dropSlotIfEmpty(slot);
    this.#core.log.debug({ functionId: next.fn.id, freeMb: this.#core.freeMb, reason }, 'warm-up start dropped');
  }

  /** Warm-up starts in progress, not of `forSlot`, that no request counts on (traffic may give them up: eviction.ts). */
  starting(forSlot: Slot): PooledContainer[] {
    return [...this.#running.keys()].filter((c) => c.state === 'starting' && c.startCancelled !== true && c.slot !== forSlot && c.slot!.starting > c.slot!.backed);
  }

  /** A container start ended (ready, failed or removed): if it was a warm-up's, the next may begin. */
  ended(c: PooledContainer): void {
    const batch = this.#running.get(c);
    if (batch === undefined) return;
    this.#running.delete(c);
    batch.starting--;
    this.#core.notifySettled();
    this.pump();
  }

  /**
   * Drops every start not yet begun (requests wait for memory, or a drain); with
   * `speculativeOnly` (a request found too little memory free), only those that are not a
   * hand-off's: a hand-off's stay queued and, when their turn comes, begin only under their own
   * rule (the header).
   */
  dropQueued(reason: string, speculativeOnly = false): void {
    const dropped = speculativeOnly ? this.#queue.filter((q) => q.handOffAt === undefined) : this.#queue;
    if (dropped.length === 0) return;
    this.#core.log.info({ dropped: dropped.length, reason }, 'warm-up starts dropped');
    for (const q of dropped) {
      q.batch.queued--;
      q.batch.dropped++;
    }
    this.#queue = speculativeOnly ? this.#queue.filter((q) => q.handOffAt !== undefined) : [];
  }

  /** Drops the starts of `batch` not yet begun. */
  drop(batch: WarmUpBatch): void {
    this.#queue = this.#queue.filter((q) => {
      if (q.batch !== batch) return true;
      batch.queued--;
      batch.dropped++;
      return false;
    });
  }

  /** Idle and unclaimed starting containers of fn's version. */
  #have(fn: PoolFunction): number {
    const slot = this.#core.slots.get(slotKey(fn));
    return slot === undefined ? 0 : slot.idle.length + slot.starting - slot.backed;
  }

  #queuedOf(fn: PoolFunction): number {
    const key = slotKey(fn);
    return this.#queue.filter((q) => slotKey(q.fn) === key).length;
  }
}
