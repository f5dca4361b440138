/**
 * The simulator's model of one worker, mirroring worker/pool/: per function a LIFO stack of
 * idle containers, memory reservations against a capacity, cold starts that reserve memory
 * for the function, eviction of idle containers (by the keep-alive policy's priority, lowest
 * first) when a cold start needs memory, a FIFO queue of requests waiting for capacity, and
 * idle expiry from the policy's windows. The policy is the worker's real module
 * (worker/keepalive), one instance per simulated worker, fed with virtual time.
 *
 * One unit (over 350 lines): one state machine mirroring worker/pool.ts, kept in one file so
 * that it can be read against the pool line by line.
 */
import type { KeepAlivePolicy } from '../../worker/keepalive/index.ts';
import type { SimFunction } from './workload.ts';
import type { SimMetrics } from './metrics.ts';

export type SimWorkerState = 'active' | 'draining' | 'dead';

/** One container. */
export interface SimContainer {
  readonly fn: number;
  readonly memoryMb: number;
  state: 'busy' | 'idle' | 'gone';
  idleSince: number;
  expiresAt: number;
  readonly worker: SimWorker;
}

/** A request waiting at a worker for capacity. */
export interface Waiting {
  fn: number;
  arrivedAt: number;
}

/** What the worker needs from the engine. */
export interface WorkerHost {
  readonly functions: readonly SimFunction[];
  readonly metrics: SimMetrics;
  /** The load (busy + queued) of `w` changed from `before` at `now`. */
  loadChanged(w: SimWorker, before: number, now: number): void;
  /** Schedules the end of an execution. */
  complete(at: number, c: SimContainer): void;
  /** Draws an execution time of a function. */
  duration(fn: number): number;
  /**
   * A container became idle with a pre-warm window: the engine schedules the pre-warm on this
   * worker (as worker/pool/idle-expiry.ts's timer), cancelled by a start of the function here.
   */
  prewarmLater(w: SimWorker, fn: number, at: number, keepAliveMs: number, token: number): void;
}

interface FnState {
  idle: SimContainer[];
  busy: number;
}

const MAX_PUMP_SCAN = 64;
/** How long a request waits for capacity before it is rejected (ringfaas's homeWaitMs). */
export const MAX_WAIT_MS = 10_000;

/** One simulated worker: see the file header. */
export class SimWorker {
  readonly id: string;
  readonly capacityMb: number;
  readonly policy: KeepAlivePolicy;
  state: SimWorkerState = 'active';
  reservedMb = 0;
  /** Memory of busy containers (what OpenWhisk's slot semaphore counts). */
  busyMb = 0;
  busy = 0;
  readonly queue: Waiting[] = [];
  readonly #fns = new Map<number, FnState>();
  /** Pending pre-warms by function: the token the engine's event carries (one per function, as the pool's timers). */
  readonly #prewarms = new Map<number, number>();
  #prewarmSeq = 0;
  /**
   * Idle containers by expiry, lazily cleaned: a min-heap of (expiry, container) entries. The
   * expiry is copied into the entry: a container reused and idle again gets a new entry, and
   * the old one (its key unchanged, so the heap stays ordered) is skipped when popped.
   */
  readonly #expiry: ExpiryEntry[] = [];
  #idleCount = 0;
  readonly #host: WorkerHost;
  /** Time integral of the load (busy + queued), and when it last changed. */
  loadIntegral = 0;
  #loadSince: number;
  readonly joinedAt: number;

  constructor(id: string, capacityMb: number, policy: KeepAlivePolicy, host: WorkerHost, now: number) {
    this.id = id;
    this.capacityMb = capacityMb;
    this.policy = policy;
    this.#host = host;
    this.#loadSince = now;
    this.joinedAt = now;
  }

  /** Requests held or waiting: what a router's bounded-load check reads. */
  get load(): number {
    return this.busy + this.queue.length;
  }

  get idleContainers(): number {
    return this.#idleCount;
  }

  /** Functions with a container here and how many (busy + idle): what a hand-off warms elsewhere. */
  *functionsHere(): Generator<[fn: number, containers: number]> {
    for (const [fn, st] of this.#fns) yield [fn, st.busy + st.idle.length];
  }

  /** Containers (busy + idle) of a function here. */
  containersOf(fn: number): number {
    const st = this.#fns.get(fn);
    return st === undefined ? 0 : st.busy + st.idle.length;
  }

  /** Resets the load integral (the end of the warm-up). */
  resetLoad(now: number): void {
    this.#touch(now);
    this.loadIntegral = 0;
  }

  /** Idle containers of a function here (for tests and hand-off). */
  idleOf(fn: number): number {
    return this.#fns.get(fn)?.idle.length ?? 0;
  }

  /** Moves the load integral to `now` with the load it had until then. */
  #touch(now: number, load = this.load): void {
    this.loadIntegral += load * (now - this.#loadSince);
    this.#loadSince = now;
  }

  /** The load changed from `before` at `now`. */
  #changed(now: number, before: number): void {
    this.#touch(now, before);
    this.#host.loadChanged(this, before, now);
  }

  /**
   * Runs one invocation now if a warm container or memory for a cold one is there (evicting
   * idle containers by priority); false means "at capacity" (HTTP 429 in the real worker).
   */
  tryRun(fn: number, now: number, arrivedAt: number): boolean {
    if (this.state !== 'active') return false;
    this.expire(now);
    const f = this.#host.functions[fn] as SimFunction;
    const st = this.#fnState(fn);
    const warm = st.idle.pop();
    if (warm !== undefined) {
      this.#idleCount--;
      this.#host.metrics.reused(this.id, fn, st.busy + 1, warm.idleSince, now, warm.memoryMb);
      this.#start(warm, st, f, now, arrivedAt, false);
      return true;
    }
    if (!this.#makeRoom(f.memoryMb, now, fn)) return false;
    const c: SimContainer = { fn, memoryMb: f.memoryMb, state: 'busy', idleSince: 0, expiresAt: 0, worker: this };
    this.reservedMb += f.memoryMb;
    this.#start(c, st, f, now, arrivedAt, true);
    return true;
  }

  /** Queues a request for capacity (every candidate was full). */
  enqueue(fn: number, now: number, arrivedAt: number): void {
    this.#rejectStale(now);
    const before = this.load;
    this.queue.push({ fn, arrivedAt });
    this.#changed(now, before);
  }

  /** An execution ended. */
  release(c: SimContainer, now: number): void {
    const before = this.load;
    const st = this.#fnState(c.fn);
    st.busy--;
    this.busy--;
    this.busyMb -= c.memoryMb;
    this.#changed(now, before);
    if (this.state !== 'active') {
      this.#remove(c);
      return;
    }
    // a request of the same function waiting here takes the container warm
    const i = this.queue.findIndex((w) => w.fn === c.fn);
    if (i >= 0) {
      const queuedBefore = this.load;
      const [w] = this.queue.splice(i, 1) as [Waiting];
      this.#changed(now, queuedBefore);
      this.#start(c, st, this.#host.functions[c.fn] as SimFunction, now, w.arrivedAt, false);
      return;
    }
    const f = this.#host.functions[c.fn] as SimFunction;
    const windows = this.policy.onIdle(f.id, now, undefined, st.busy + st.idle.length, st.busy);
    // as worker/pool/idle-expiry.ts: only the function's last container is unloaded for a pre-warm later;
    // the others stay the keep-alive window
    if (windows.prewarmMs > 0 && st.busy === 0 && st.idle.length === 0) {
      this.#remove(c);
      const token = ++this.#prewarmSeq;
      this.#prewarms.set(c.fn, token);
      this.#host.prewarmLater(this, c.fn, now + windows.prewarmMs, windows.keepAliveMs, token);
    } else if (windows.keepAliveMs <= 0) {
      this.#remove(c);
    } else {
      this.#makeIdle(c, st, now, now + windows.keepAliveMs);
    }
    this.pump(now);
  }

  /**
   * Loads containers of `fn` without a request (pre-warm, hand-off) until `count` are idle;
   * answers how many were loaded (fewer when memory runs out). With `idleBefore`, only idle
   * containers that went idle before it may give way (a hand-off of a function last called
   * `now − idleBefore` ago takes the place of containers idle longer, as the worker's
   * warm-ups do: worker/pool/warm-ups.ts).
   */
  prewarm(fn: number, now: number, keepAliveMs: number, count = 1, idleBefore?: number): number {
    if (this.state !== 'active' || keepAliveMs <= 0) return 0;
    this.expire(now);
    const st = this.#fnState(fn);
    const f = this.#host.functions[fn] as SimFunction;
    let loaded = 0;
    while (st.idle.length < count && this.#makeRoom(f.memoryMb, now, fn, idleBefore)) {
      const c: SimContainer = { fn, memoryMb: f.memoryMb, state: 'idle', idleSince: now, expiresAt: 0, worker: this };
      this.reservedMb += f.memoryMb;
      this.#makeIdle(c, st, now, now + keepAliveMs);
      this.#host.metrics.prewarms++;
      loaded++;
    }
    this.#gc(fn);
    return loaded;
  }

  /** A pre-warm scheduled by this worker is due: loads one container unless a call came first. */
  prewarmDue(fn: number, now: number, keepAliveMs: number, token: number): void {
    if (this.#prewarms.get(fn) !== token) return; // invoked here before the pre-warm, or replaced
    this.#prewarms.delete(fn);
    this.prewarm(fn, now, keepAliveMs);
  }

  /** Serves queued requests that fit now, oldest first (a bounded scan). */
  pump(now: number): void {
    if (this.queue.length === 0 || this.state !== 'active') return;
    this.#rejectStale(now);
    let scanned = 0;
    for (let i = 0; i < this.queue.length && scanned < MAX_PUMP_SCAN; scanned++) {
      const w = this.queue[i] as Waiting;
      if (this.tryRun(w.fn, now, w.arrivedAt)) {
        const before = this.load;
        this.queue.splice(i, 1);
        this.#changed(now, before);
      } else {
        i++;
      }
    }
  }

  /** Removes idle containers whose keep-alive has passed (their idle time ends at expiry). */
  expire(now: number): void {
    const h = this.#expiry;
    while (h.length > 0 && (h[0] as ExpiryEntry).at <= now) {
      const { c, at } = heapPop(h);
      if (c.state !== 'idle' || c.expiresAt !== at) continue;
      this.#dropIdle(c);
      this.#host.metrics.idle(c.idleSince, c.expiresAt, c.memoryMb);
      this.#remove(c);
      this.#host.metrics.expired++;
    }
  }

  /** Drain: idle containers go, queued requests are answered "draining" (returned for re-routing). */
  drain(now: number): Waiting[] {
    const before = this.load;
    this.state = 'draining';
    this.#dropAllIdle(now);
    const out = this.queue.splice(0);
    this.#prewarms.clear();
    this.#changed(now, before);
    return out;
  }

  /** Death: everything is lost; answers the requests that fail (running and queued). */
  die(now: number): number {
    const before = this.load;
    this.state = 'dead';
    this.#dropAllIdle(now);
    const failed = this.busy + this.queue.length;
    this.queue.length = 0;
    this.#prewarms.clear();
    this.busy = 0;
    this.busyMb = 0;
    this.#changed(now, before);
    return failed;
  }

  /** At the end of a run: the idle time of containers still idle counts up to `end`. */
  finish(end: number): void {
    this.#touch(end);
    this.#loadSince = end;
    // the top of a LIFO stack is the function's lowest idle rank: busy + 1
    for (const [fn, st] of this.#fns) st.idle.forEach((c, i) => this.#host.metrics.endedIdle(this.id, fn, st.busy + st.idle.length - i, c.idleSince, Math.min(end, c.expiresAt), c.memoryMb));
  }

  // ---- internals ----

  /** Requests that waited longer than MAX_WAIT_MS are answered "at capacity" (503 RF_RING_AT_CAPACITY). */
  #rejectStale(now: number): void {
    let n = 0;
    while (n < this.queue.length && (this.queue[n] as Waiting).arrivedAt < now - MAX_WAIT_MS) n++;
    if (n === 0) return;
    const before = this.load;
    this.queue.splice(0, n);
    this.#host.metrics.rejected += n;
    this.#changed(now, before);
  }

  #fnState(fn: number): FnState {
    let st = this.#fns.get(fn);
    if (st === undefined) this.#fns.set(fn, (st = { idle: [], busy: 0 }));
    return st;
  }

  #start(c: SimContainer, st: FnState, f: SimFunction, now: number, arrivedAt: number, cold: boolean): void {
    const before = this.load;
    c.state = 'busy';
    st.busy++;
    this.busy++;
    this.busyMb += c.memoryMb;
    this.#changed(now, before);
    this.#prewarms.delete(c.fn);
    this.policy.onInvocationStart(f.id, now, { memoryMb: f.memoryMb, cold, coldStartMs: f.coldStartMs, running: st.busy });
    this.#host.metrics.started(c.fn, now, now - arrivedAt, cold, cold ? f.coldStartMs : 0, this.id);
    this.#host.complete(now + (cold ? f.coldStartMs : 0) + this.#host.duration(c.fn), c);
  }

  #makeIdle(c: SimContainer, st: FnState, now: number, expiresAt: number): void {
    c.state = 'idle';
    c.idleSince = now;
    c.expiresAt = expiresAt;
    st.idle.push(c);
    this.#idleCount++;
    if (Number.isFinite(expiresAt)) heapPush(this.#expiry, { at: expiresAt, c });
  }

  #dropIdle(c: SimContainer): void {
    const st = this.#fnState(c.fn);
    const i = st.idle.indexOf(c);
    if (i >= 0) {
      st.idle.splice(i, 1);
      this.#idleCount--;
    }
  }

  #dropAllIdle(now: number): void {
    for (const st of this.#fns.values()) {
      for (const c of st.idle) {
        this.#host.metrics.idle(c.idleSince, Math.min(now, c.expiresAt), c.memoryMb);
        c.state = 'gone';
        this.reservedMb -= c.memoryMb;
      }
      this.#idleCount -= st.idle.length;
      st.idle.length = 0;
    }
    for (const [fn, st] of [...this.#fns]) if (st.busy === 0) this.#fns.delete(fn);
    this.#expiry.length = 0;
  }

  #remove(c: SimContainer): void {
    if (c.state === 'gone') return;
    c.state = 'gone';
    this.reservedMb -= c.memoryMb;
    this.#gc(c.fn);
  }

  /** Forgets a function's state once it has no container here (bounded memory). */
  #gc(fn: number): void {
    const st = this.#fns.get(fn);
    if (st !== undefined && st.busy === 0 && st.idle.length === 0) this.#fns.delete(fn);
  }

  /** Frees memory for `needMb` by evicting idle containers, lowest policy priority first. */
  #makeRoom(needMb: number, now: number, except: number, idleBefore = Number.POSITIVE_INFINITY): boolean {
    if (this.capacityMb - this.reservedMb >= needMb) return true;
    let idleMb = 0;
    for (const [fn, st] of this.#fns) if (fn !== except) for (const c of st.idle) if (c.idleSince < idleBefore) idleMb += c.memoryMb;
    if (this.capacityMb - this.reservedMb + idleMb < needMb) return false;
    while (this.capacityMb - this.reservedMb < needMb) {
      let victim: SimContainer | undefined;
      let best = Number.POSITIVE_INFINITY;
      for (const [fn, st] of this.#fns) {
        if (fn === except) continue;
        const c = st.idle[0]; // the bottom of the LIFO stack: the longest idle of the function
        if (c === undefined || c.idleSince >= idleBefore) continue;
        const p = this.policy.evictionPriority((this.#host.functions[c.fn] as SimFunction).id, c.idleSince, now);
        if (p < best) {
          best = p;
          victim = c;
        }
      }
      if (victim === undefined) return false;
      this.#dropIdle(victim);
      this.#host.metrics.idle(victim.idleSince, now, victim.memoryMb);
      this.#remove(victim);
      this.policy.onEvict((this.#host.functions[victim.fn] as SimFunction).id, best);
      this.#host.metrics.evicted++;
    }
    return true;
  }
}

interface ExpiryEntry {
  readonly at: number;
  readonly c: SimContainer;
}

function heapPush(h: ExpiryEntry[], e: ExpiryEntry): void {
  h.push(e);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if ((h[p] as ExpiryEntry).at <= e.at) break;
    h[i] = h[p] as ExpiryEntry;
    i = p;
  }
  h[i] = e;
}

function heapPop(h: ExpiryEntry[]): ExpiryEntry {
  const top = h[0] as ExpiryEntry;
  const last = h.pop() as ExpiryEntry;
  if (h.length === 0) return top;
  h[0] = last;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < h.length && (h[l] as ExpiryEntry).at < (h[m] as ExpiryEntry).at) m = l;
    if (r < h.length && (h[r] as ExpiryEntry).at < (h[m] as ExpiryEntry).at) m = r;
    if (m === i) break;
    [h[i], h[m]] = [h[m] as ExpiryEntry, h[i] as ExpiryEntry];
    i = m;
  }
  return top;
}
