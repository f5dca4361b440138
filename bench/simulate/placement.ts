/**
 * Placement policies compared by the simulator. Each answers, for one invocation, the workers
 * to try in order (the engine runs it on the first one with a warm container or memory, the
 * worker's 429 otherwise) and where it waits when all are full.
 *
 * - ringfaas: the project's real ring/ code: `Ring.preferenceList(fnId, 16)` ordered by
 *   `planSpill` (bounded loads, c = 1.25) on the workers' loads. When none of the 16 is under
 *   the bound, or every one under it is at capacity, the walk goes on around the whole ring
 *   (Mirrokni et al.'s rule: the next worker clockwise under the bound), so the bound holds
 *   by construction whenever some worker has room; the over-bound ones of the 16 come last;
 *   all full: wait at the home. With a sustained-load bound (ring/sustained-load.ts, an
 *   option) the held workers are passed over the same way: the 16 that accept, the rest of the
 *   ring that accepts, the held ones, the over-bound ones. Warm first when spilling, as the
 *   router (router/warm-hints.ts):
 *   when the bound moves a call off its home, among the workers under the bound (the home: at
 *   most one over it unless held on its average, ring/'s HOME_WARM_SLACK) one holding an idle
 *   warm container of the function goes first (the simulator knows the idle counts
 *   exactly; a router knows them from its workers' last answers, so the model is the ideal of
 *   the router's estimate). On in every simulation, as the routers' default (ROUTERS_WARM_FIRST,
 *   `--warm-first`); the class alone defaults to off.
 * - openwhisk: a model of ShardingContainerPoolBalancer.schedule (Apache OpenWhisk):
 *   hash = |javaHash(app) ^ javaHash(fn)|, home = hash mod N over every invoker ever seen
 *   (unhealthy ones keep their index), step = the (hash mod |steps|)-th of the pairwise coprime
 *   numbers up to N; probe home, home + step, … for the first healthy invoker whose free
 *   memory slots (capacity minus the memory of its running activations) fit the function;
 *   none: a random healthy invoker (forced). It then waits there for memory.
 * - least-loaded: the worker with the fewest requests (ties: the lowest index).
 * - random: a uniformly random worker.
 * - ch-rlu: consistent hashing with random load updates (Fuerst and Sharma, HPDC 2022), as
 *   we read the abstract: the real ring's preference list, a load bound on a *stale* load view
 *   (each worker's load refreshed every ~1 s, at random moments), and popular functions
 *   (> 60 invocations in the last minute) sent to the less loaded of their first two ring
 *   workers. Our model of it, not their code.
 *
 * One file over 350 lines: five policies of 20–80 lines behind one interface, meant to be read
 * side by side.
 */
import { ExecutionTimes, planSpill, Ring, SustainedLoad, warmAccepts, type BoundRule, type RingMemberRow, type SustainedLoadOptions } from '../../ring/index.ts';
import { VARIABLES } from '../../config/index.ts';
import type { Prng } from './prng.ts';
import type { SimWorker } from './sim-worker.ts';
import type { SimFunction } from './workload.ts';

/**
 * ringfaas's sustained-load bound in the simulator (ring/sustained-load.ts): c, window, floor,
 * and by default the whole rule: the worker's current load counts (`withCurrent`) and the
 * request being placed counts with its expected share of the window (the function's mean
 * execution time learned from its completed executions, ring/execution-times.ts; a function
 * not yet seen to complete counts as a whole request). `plain`: the average alone.
 */
export interface SustainedSpec extends Omit<SustainedLoadOptions, 'withCurrent'> {
  plain?: boolean;
}

/**
 * The routers' sustained-load bound: RINGFAAS_SUSTAINED_LOAD's default, read from the
 * configuration table (so the simulated ringfaas is the platform's rule), or undefined when
 * that default is off.
 */
export const ROUTERS_SUSTAINED: SustainedSpec | undefined = VARIABLES.RINGFAAS_SUSTAINED_LOAD.schema.parse(VARIABLES.RINGFAAS_SUSTAINED_LOAD.default);

/** The routers' default of warm first when spilling (RINGFAAS_WARM_FIRST's default): the simulated ringfaas uses it. */
export const ROUTERS_WARM_FIRST: boolean = VARIABLES.RINGFAAS_WARM_FIRST.schema.parse(VARIABLES.RINGFAAS_WARM_FIRST.default);

export type PlacementName = 'ringfaas' | 'openwhisk' | 'least-loaded' | 'random' | 'ch-rlu';
export const PLACEMENT_NAMES: readonly PlacementName[] = ['ringfaas', 'openwhisk', 'least-loaded', 'random', 'ch-rlu'];

/** The decision for one invocation. */
export interface PlacementChoice {
  /** Workers to try in order (may be produced lazily: the engine stops at the first that runs it). */
  candidates: Iterable<SimWorker>;
  /** Where the request waits when every candidate is full. */
  waitAt: SimWorker;
}

export interface Placement {
  readonly name: PlacementName;
  /** The workers changed (joined, drained, died) at `now`: `active` are the ones taking work. */
  membership(active: readonly SimWorker[], all: readonly SimWorker[], now: number): void;
  choose(fn: number, now: number): PlacementChoice;
  /** A worker's load changed at `now` (policies that index or average workers by load listen). */
  loadChanged?(w: SimWorker, before: number, now: number): void;
  /** An execution of `fn` finished after `execMs` (policies that learn execution times listen). */
  completed?(fn: number, execMs: number): void;
  /** The function's home worker id (where its containers gather), or undefined when the policy has none. */
  home(fn: number): string | undefined;
}

const MAX_CANDIDATES = 16;

function row(id: string): RingMemberRow {
  return { id, address: '', capacityMb: 0, state: 'active', heartbeatAt: 0 };
}

/** ringfaas: see the file header. */
export class RingfaasPlacement implements Placement {
  readonly name: PlacementName = 'ringfaas';
  #ring: Ring = new Ring([]);
  #byId = new Map<string, SimWorker>();
  #active: readonly SimWorker[] = [];
  /** Preference lists are a pure function of (ring, fn): cached per ring. */
  #lists = new Map<number, { workers: SimWorker[]; ids: string[] }>();
  /** Whole-ring walks of the functions that overflowed their 16 candidates (bounded cache). */
  #walks = new Map<number, SimWorker[]>();
  readonly #fns: readonly SimFunction[];
  readonly #c: number;
  readonly #totalLoad: () => number;

  readonly #warmFirst: boolean;
  readonly #rule: BoundRule;
  /** The sustained-load bound's averages (ring/sustained-load.ts), when it is on. */
  readonly #sustained: SustainedLoad | undefined;
  /** Learned execution times (the sustained bound's request share; none when `plain`). */
  readonly #times: ExecutionTimes | undefined;

  constructor(fns: readonly SimFunction[], totalLoad: () => number, loadFactor = 1.25, warmFirst = false, rule: BoundRule = 'ceil', sustained?: SustainedSpec) {
    this.#fns = fns;
    this.#c = loadFactor;
    this.#totalLoad = totalLoad;
    this.#warmFirst = warmFirst;
    this.#rule = rule;
    this.#sustained = sustained === undefined ? undefined : new SustainedLoad({ ...sustained, withCurrent: sustained.plain !== true });
    this.#times = sustained === undefined || sustained.plain === true ? undefined : new ExecutionTimes();
  }

  membership(active: readonly SimWorker[], _all: readonly SimWorker[] = active, now = 0): void {
    this.#sustained?.membership(active, now);
    this.#active = active;
    this.#byId = new Map(active.map((w) => [w.id, w]));
    this.#ring = new Ring(active.map((w) => row(w.id)));
    this.#lists.clear();
    this.#walks.clear();
  }

  /** The real Ring over the active workers (tests compare homes with it). */
  get ring(): Ring {
    return this.#ring;
  }

  list(fn: number): SimWorker[] {
    return this.#entry(fn).workers;
  }

  #entry(fn: number): { workers: SimWorker[]; ids: string[] } {
    let l = this.#lists.get(fn);
    if (l === undefined) {
      const ids = this.#ring.preferenceList((this.#fns[fn] as SimFunction).id, MAX_CANDIDATES);
      l = { ids, workers: ids.map((id) => this.#byId.get(id) as SimWorker) };
      this.#lists.set(fn, l);
    }
    return l;
  }

  /** A worker's load changed: the sustained-load averages follow. */
  loadChanged(w: SimWorker, _before: number, now: number): void {
    this.#sustained?.changed(w.id, w.load, now);
  }

  completed(fn: number, execMs: number): void {
    this.#times?.observe((this.#fns[fn] as SimFunction).id, execMs);
  }

  choose(fn: number, now = 0): PlacementChoice {
    const { workers: list, ids } = this.#entry(fn);
    const byId = this.#byId;
    const s = this.#sustained;
    const share = s === undefined || this.#times === undefined ? 0 : s.requestShare(this.#times.expectedMs((this.#fns[fn] as SimFunction).id));
    const held = s?.heldAt(now, share);
    const plan = planSpill({ candidates: ids, loadOf: (id) => (byId.get(id) as SimWorker).load, totalLoad: this.#totalLoad(), workerCount: this.#active.length, c: this.#c, rule: this.#rule, ...(held === undefined ? {} : { held }) });
    const order = plan.order.map((id) => byId.get(id) as SimWorker);
    // Warm first when spilling, as the router (router/ring-invoker.ts): among the workers under
    // the bound, held ones included, and the home one over it unless held on its average
    // (HOME_WARM_SLACK), the first holding an idle container runs the call, so it is tried
    // before the rest (which may name it again, never reached).
    let warm: SimWorker | undefined;
    if (this.#warmFirst && plan.skipped > 0) {
      const home = list[0] as SimWorker;
      // the home's held-test on its average only when it holds an idle container, as the router
      warm = order.find((w) => w.idleOf(fn) > 0 && warmAccepts(w.load, plan.bound, w === home && s?.heldAt(now, share, false)(w.id) !== true));
    }
    if (list.length >= this.#active.length) return { candidates: warm === undefined ? order : [warm, ...order], waitAt: list[0] as SimWorker };
    const accepting = order.slice(0, plan.accepting);
    const under = order.filter((w) => w.load < plan.bound);
    const heldUnder = under.slice(plan.accepting);
    const over = order.slice(under.length);
    return { candidates: this.#walk(fn, accepting, heldUnder, over, plan.bound, held, warm), waitAt: list[0] as SimWorker };
  }

  /**
   * The warm one, the 16 that accept, the rest of the ring that accepts (lazily), the held ones
   * of the 16 (under the bound, sustained-load.ts), the held ones of the rest, then the 16 over
   * the bound: a held worker is passed over as long as any worker of the ring accepts.
   */
  *#walk(fn: number, accepting: SimWorker[], heldUnder: SimWorker[], over: SimWorker[], bound: number, held: ((id: string) => boolean) | undefined, warm: SimWorker | undefined): Generator<SimWorker> {
    if (warm !== undefined) yield warm;
    yield* accepting;
    let walk = this.#walks.get(fn);
    if (walk === undefined) {
      if (this.#walks.size >= 4096) this.#walks.clear();
      walk = this.#ring.preferenceList((this.#fns[fn] as SimFunction).id).slice(MAX_CANDIDATES).map((id) => this.#byId.get(id) as SimWorker);
      this.#walks.set(fn, walk);
    }
    for (const w of walk) if (w.load < bound && held?.(w.id) !== true) yield w;
    yield* heldUnder;
    if (held !== undefined) for (const w of walk) if (w.load < bound && held(w.id)) yield w;
    yield* over;
  }

  home(fn: number): string | undefined {
    return this.#ring.home((this.#fns[fn] as SimFunction).id);
  }
}

/** Java's String.hashCode (OpenWhisk hashes namespace and action names with it). */
export function javaHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** OpenWhisk's pairwise coprime step sizes up to n. */
export function pairwiseCoprimeNumbersUntil(n: number): number[] {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const out: number[] = [];
  for (let cur = 1; cur <= n; cur++) if (gcd(cur, n) === 1 && out.every((p) => gcd(p, cur) === 1)) out.push(cur);
  return out;
}

/** openwhisk: see the file header. */
export class OpenWhiskPlacement implements Placement {
  readonly name: PlacementName = 'openwhisk';
  #invokers: readonly SimWorker[] = [];
  #steps: number[] = [1];
  readonly #fns: readonly SimFunction[];
  readonly #hashes: Int32Array;
  readonly #rng: Prng;

  constructor(fns: readonly SimFunction[], rng: Prng) {
    this.#fns = fns;
    this.#rng = rng;
    // Math.abs of Int.MinValue stays negative in Scala; >>> 0 keeps it usable as an index
    this.#hashes = Int32Array.from(fns.map((f) => Math.abs(javaHash(f.app) ^ javaHash(f.id))));
  }

  membership(_active: readonly SimWorker[], all: readonly SimWorker[]): void {
    this.#invokers = all; // every invoker ever seen keeps its index (unhealthy ones are skipped)
    this.#steps = pairwiseCoprimeNumbersUntil(this.#invokers.length);
  }

  #healthy(w: SimWorker): boolean {
    return w.state === 'active';
  }

  #probe(fn: number, fits: (w: SimWorker) => boolean): SimWorker | undefined {
    const n = this.#invokers.length;
    const hash = (this.#hashes[fn] as number) >>> 0;
    const step = this.#steps[hash % this.#steps.length] as number;
    let index = hash % n;
    for (let i = 0; i < n; i++) {
      const w = this.#invokers[index] as SimWorker;
      if (this.#healthy(w) && fits(w)) return w;
      index = (index + step) % n;
    }
    return undefined;
  }

  choose(fn: number): PlacementChoice {
    const mem = (this.#fns[fn] as SimFunction).memoryMb;
    let w = this.#probe(fn, (x) => x.capacityMb - x.busyMb >= mem);
    if (w === undefined) {
      const healthy = this.#invokers.filter((x) => this.#healthy(x));
      w = healthy[this.#rng.int(healthy.length)] as SimWorker;
    }
    return { candidates: [w], waitAt: w };
  }

  home(fn: number): string | undefined {
    return this.#probe(fn, () => true)?.id;
  }
}

/**
 * least-loaded: see the file header. Workers sit in buckets by load (loads are small integers),
 * so a choice costs O(1) amortised instead of a scan of every worker.
 */
export class LeastLoadedPlacement implements Placement {
  readonly name: PlacementName = 'least-loaded';
  #buckets: Array<Set<SimWorker>> = [];
  #min = 0;
  membership(active: readonly SimWorker[]): void {
    this.#buckets = [];
    for (const w of active) this.#bucket(w.load).add(w);
    this.#min = 0;
  }
  #bucket(load: number): Set<SimWorker> {
    while (this.#buckets.length <= load) this.#buckets.push(new Set());
    return this.#buckets[load] as Set<SimWorker>;
  }
  /** A worker's load moved from `before` to its current value. */
  loadChanged(w: SimWorker, before: number): void {
    const from = this.#buckets[before];
    if (from === undefined || !from.delete(w)) return; // not an active worker
    this.#bucket(w.load).add(w);
    if (w.load < this.#min) this.#min = w.load;
  }
  choose(): PlacementChoice {
    while (this.#min < this.#buckets.length && (this.#buckets[this.#min] as Set<SimWorker>).size === 0) this.#min++;
    const best = (this.#buckets[this.#min] as Set<SimWorker>).values().next().value as SimWorker;
    return { candidates: [best], waitAt: best };
  }
  home(): string | undefined {
    return undefined;
  }
}

/** random: see the file header. */
export class RandomPlacement implements Placement {
  readonly name: PlacementName = 'random';
  #active: readonly SimWorker[] = [];
  readonly #rng: Prng;
  constructor(rng: Prng) {
    this.#rng = rng;
  }
  membership(active: readonly SimWorker[]): void {
    this.#active = active;
  }
  choose(): PlacementChoice {
    const w = this.#active[this.#rng.int(this.#active.length)] as SimWorker;
    return { candidates: [w], waitAt: w };
  }
  home(): string | undefined {
    return undefined;
  }
}

/** ch-rlu: see the file header. */
export class ChRluPlacement implements Placement {
  readonly name: PlacementName = 'ch-rlu';
  readonly #inner: RingfaasPlacement;
  readonly #rng: Prng;
  #active: readonly SimWorker[] = [];
  /** Stale load view and when each entry is refreshed next. */
  #view = new Map<SimWorker, { load: number; refreshAt: number }>();
  /** Invocations per function in the current and the previous minute (popularity). */
  readonly #count: Uint32Array;
  readonly #prev: Uint32Array;
  #minute = 0;
  readonly #c: number;

  #total = 0;
  #totalAt = -Infinity;
  readonly #totalLoad: () => number;

  constructor(fns: readonly SimFunction[], rng: Prng, totalLoad: () => number, loadFactor = 1.25) {
    this.#inner = new RingfaasPlacement(fns, totalLoad, Number.POSITIVE_INFINITY);
    this.#totalLoad = totalLoad;
    this.#rng = rng;
    this.#count = new Uint32Array(fns.length);
    this.#prev = new Uint32Array(fns.length);
    this.#c = loadFactor;
  }

  membership(active: readonly SimWorker[]): void {
    this.#inner.membership(active);
    this.#active = active;
    const view = new Map<SimWorker, { load: number; refreshAt: number }>();
    for (const w of active) view.set(w, this.#view.get(w) ?? { load: w.load, refreshAt: 0 });
    this.#view = view;
  }

  #load(w: SimWorker, now: number): number {
    const v = this.#view.get(w) as { load: number; refreshAt: number };
    if (now >= v.refreshAt) {
      v.load = w.load;
      v.refreshAt = now + 500 + this.#rng.next() * 1000;
    }
    return v.load;
  }

  choose(fn: number, now: number): PlacementChoice {
    const minute = Math.floor(now / 60_000);
    if (minute !== this.#minute) {
      if (minute === this.#minute + 1) this.#prev.set(this.#count);
      else this.#prev.fill(0);
      this.#count.fill(0);
      this.#minute = minute;
    }
    this.#count[fn] = (this.#count[fn] as number) + 1;
    const list = this.#inner.list(fn);
    if (now - this.#totalAt >= 1000) {
      this.#total = this.#totalLoad(); // the cluster's average, also ~1 s stale
      this.#totalAt = now;
    }
    const bound = (this.#c * (this.#total + 1)) / this.#active.length;
    let order: SimWorker[];
    if ((this.#prev[fn] as number) > 60 && list.length > 1) {
      const [a, b] = list as [SimWorker, SimWorker];
      order = this.#load(a, now) <= this.#load(b, now) ? [a, b] : [b, a];
      order = order.concat(list.slice(2));
    } else {
      const under = list.filter((w) => this.#load(w, now) < bound);
      order = under.concat(list.filter((w) => this.#load(w, now) >= bound));
    }
    return { candidates: order, waitAt: list[0] as SimWorker };
  }

  home(fn: number): string | undefined {
    return this.#inner.home(fn);
  }
}

/** A placement policy by name. */
export function createPlacement(name: PlacementName, fns: readonly SimFunction[], rng: Prng, totalLoad: () => number, rule: BoundRule = 'ceil', sustained?: SustainedSpec, warmFirst = ROUTERS_WARM_FIRST): Placement {
  switch (name) {
    case 'ringfaas':
      return new RingfaasPlacement(fns, totalLoad, 1.25, warmFirst, rule, sustained);
    case 'openwhisk':
      return new OpenWhiskPlacement(fns, rng);
    case 'least-loaded':
      return new LeastLoadedPlacement();
    case 'random':
      return new RandomPlacement(rng);
    case 'ch-rlu':
      return new ChRluPlacement(fns, rng, totalLoad);
  }
}
