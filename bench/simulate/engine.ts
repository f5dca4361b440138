/**
 * The discrete-event simulator: virtual time, one event loop, deterministic by seed.
 *
 * Algorithm
 * ---------
 * Time advances minute by minute: the workload appends the minute's arrivals (sorted), and the
 * loop merges them with a heap of timed events (ends of executions, pre-warms, membership
 * changes), always taking the earliest (ties: arrivals first, then heap insertion order). An
 * arrival asks the placement policy for its candidate workers and runs on the first one with
 * a warm container or memory for a cold start (bench/simulate/sim-worker.ts, a model of
 * worker/pool/); when all are full it waits in the FIFO queue of the policy's `waitAt`
 * worker. Keep-alive is the worker's real policy module, fed with virtual time. Membership
 * events (a worker joining, draining, dying) change the placement's worker set; for each,
 * the functions whose home moved and those it affected (membership-impact.ts) are recorded,
 * and every function's cold starts in the next `windowMin` minutes counted. Random streams are separate for arrivals, execution times
 * (one per function) and placement, so a policy that draws more numbers does not change the
 * workload.
 *
 * Worked example
 * --------------
 * 10 workers, function f (256 MB, cold start 500 ms, 1 s executions) invoked at t = 0 and
 * t = 5 min, fixed 15 min keep-alive, ringfaas placement: at 0 its home w3 has no container,
 * cold start (done at 1.5 s), idle from 1.5 s; at 5 min warm on w3, idle again from 5 min 1 s;
 * no more calls: it expires at 20 min 1 s. Cold-start ratio 1/2; idle memory-time
 * (298.5 s + 900 s) × 0.25 GB ≈ 300 GB·s.
 *
 * Known caveats
 * -------------
 * - One logical router with exact loads (ringfaas's bounded-load check sees every worker's
 *   current load); real routers see their own in-flight plus reports up to 3 s old.
 * - No network latency and no CPU contention: an execution takes its drawn time wherever it
 *   runs; memory is the only resource.
 * - A dying worker is routed around at once (real routers: on the first refused connection).
 *
 * One unit (over 350 lines): the event loop and the handlers of its event kinds share one
 * run's state (workers, queues, heap, metrics).
 */
import { FixedKeepAlive, GreedyDualKeepAlive, HazardKeepAlive, HybridHistogramKeepAlive, type KeepAlivePolicy } from '../../worker/keepalive/index.ts';
import { EventHeap, type Timed } from './event-heap.ts';
import { SimMetrics, type EventWindow, type IdlePeriodHook } from './metrics.ts';
import { createPlacement, ROUTERS_SUSTAINED, ROUTERS_WARM_FIRST, type Placement, type PlacementName, type SustainedSpec } from './placement.ts';
import { Prng } from './prng.ts';
import { SimWorker, type SimContainer, type WorkerHost } from './sim-worker.ts';
import { LoadTracker } from './load-tracker.ts';
import { DEFAULT_LOAD_FACTOR, loadBound, type BoundRule } from '../../ring/index.ts';
import { successorTargets } from './handoff-targets.ts';
import type { Arrival, SimFunction, Workload } from './workload.ts';

/** A keep-alive policy of the simulator, by name and parameters. */
export type KeepAliveSpec =
  | { name: 'fixed'; keepAliveMin: number }
  | { name: 'hybrid'; fallbackMin: number }
  | { name: 'hazard'; keepAliveMin: number }
  | { name: 'greedy-dual' };

/** The label of a keep-alive spec in reports. */
export function keepAliveLabel(k: KeepAliveSpec): string {
  if (k.name === 'fixed') return `fixed ${k.keepAliveMin} min`;
  if (k.name === 'hybrid') return `hybrid (fallback ${k.fallbackMin} min)`;
  if (k.name === 'hazard') return `hazard (priced at ${k.keepAliveMin} min)`;
  return 'greedy-dual';
}

function policyOf(k: KeepAliveSpec, maxFunctions: number): KeepAlivePolicy {
  if (k.name === 'fixed') return new FixedKeepAlive({ keepAliveMs: k.keepAliveMin * 60_000 });
  if (k.name === 'hybrid') return new HybridHistogramKeepAlive({ fallbackKeepAliveMs: k.fallbackMin * 60_000, maxFunctions });
  if (k.name === 'hazard') return new HazardKeepAlive({ keepAliveMs: k.keepAliveMin * 60_000, maxFunctions });
  return new GreedyDualKeepAlive({ maxFunctions });
}

/**
 * How long a hand-off's pre-warmed container stays idle: the function's idleTimeoutMs, as
 * worker/handoff does (the fixed window, the hybrid policy's fallback, 15 min for Greedy-Dual);
 * asking the policy (onIdle) would count a false idle time in its histogram.
 */
function handoffKeepAliveMs(k: KeepAliveSpec): number {
  if (k.name === 'fixed') return k.keepAliveMin * 60_000;
  if (k.name === 'hybrid') return k.fallbackMin * 60_000;
  if (k.name === 'hazard') return k.keepAliveMin * 60_000;
  return 15 * 60_000;
}

export type MembershipKind = 'join' | 'drain' | 'die';

export interface SimulationOptions {
  workload: Workload;
  workers: number;
  workerMemoryMb: number;
  placement: PlacementName;
  keepAlive: KeepAliveSpec;
  seed: number;
  /** Simulated minutes (at most the workload's). */
  durationMin: number;
  /** Minutes left out of the headline figures. */
  warmupMin: number;
  /** Membership changes. */
  events?: ReadonlyArray<{ atMin: number; kind: MembershipKind }>;
  /** Minutes after an event in which its cold starts are counted. Default 10. */
  windowMin?: number;
  /** Windows to count without an event (the control run of an event run). */
  observe?: ReadonlyArray<Pick<EventWindow, 'label' | 'fromMs' | 'toMs' | 'moved'>>;
  /** Warm hand-off on joins and drains (see docs/ring.md). */
  handoff?: boolean;
  /**
   * Where the hand-off warms (ring placements): 'successor' (the default, as worker/handoff
   * does since it was measured here: a drain warms each function on the worker after the
   * leaving one in its preference list, the one that takes its place, home or spill target; a
   * join warms the functions whose home moved to the new worker and also the functions it now
   * precedes a worker holding their containers in the first 16 of their list) or 'home' (the
   * worker's earlier rule and this option's default before; the runs recorded before it
   * changed, A–J2 and H's 'home' column among them, used it: a join warms the functions whose
   * home moved to the new worker, a drain warms the leaving worker's functions on their next
   * home).
   */
  handoffTarget?: 'home' | 'successor';
  /**
   * What the hand-off warms: 'warm' (the default, as worker/handoff since 2026-12-04: the
   * functions invoked in the last minute and those holding a container on the worker they come
   * from, the leaving worker for a drain, the old home or the displaced spill target for a join;
   * an older one's count is its containers there, and on a full target it takes the place of
   * containers idle longer only) or 'recent' (the earlier rule, runs before H2: the last minute only).
   */
  handoffScope?: 'recent' | 'warm';
  /** Called on every start after the warm-up (analyses: cold starts per function). */
  onStart?: (fn: number, cold: boolean) => void;
  /** Called on every start, warm-up included (analyses: hand-off-misses.ts). */
  onAnyStart?: (fn: number, now: number, cold: boolean, worker: string) => void;
  /** Called for each idle period, warm-up included (the keep-alive bounds: keepalive-bounds.ts). */
  onIdlePeriod?: IdlePeriodHook;
  /** ringfaas's bound rounding (ring/'s BoundRule; default 'ceil', the platform's). */
  boundRule?: BoundRule;
  /**
   * ringfaas's sustained-load bound (ring/sustained-load.ts); default: the routers'
   * (RINGFAAS_SUSTAINED_LOAD's default, ROUTERS_SUSTAINED); 'off': the instantaneous bound alone.
   */
  sustained?: SustainedSpec | 'off';
  /** ringfaas's warm first when spilling (docs/ring.md); default: the routers' (RINGFAAS_WARM_FIRST's default, ROUTERS_WARM_FIRST). */
  warmFirst?: boolean | undefined;
}

/** One membership event's figures. */
export interface EventResult {
  kind: MembershipKind;
  atMin: number;
  worker: string;
  /** Share of all functions whose home worker changed (null: the policy has no homes). */
  homesMoved: number | null;
  /** Functions invoked in the minute before the event whose home moved. */
  recentMoved: number;
  window: EventWindow;
  /** Requests that failed (died with the worker). */
  failed: number;
}

export interface SimulationResult {
  placement: PlacementName;
  keepAlive: string;
  handoff: boolean;
  workers: number;
  functions: number;
  simulatedMin: number;
  invocations: number;
  coldStarts: number;
  coldStartRatio: number;
  idleGbS: number;
  /** max / mean over workers of their time-averaged load (busy + queued), after the warm-up. */
  loadMaxOverAvg: number;
  meanLoad: number;
  /** Instantaneous: the busiest worker's load / the mean load, both integrated over time (load-tracker.ts). */
  peakOverMean: number;
  /** The bounded-load rule's integer bound ceil(1.25 × L / n) / the mean load, integrated over time: the most the rule allows. */
  boundOverMean: number;
  /** ceil(L / n) / the mean load, integrated over time: the floor under peakOverMean (load-tracker.ts). */
  floorOverMean: number;
  /**
   * Share of placements after the warm-up that started a container on a worker at or over
   * ring/'s bound at that moment (the rule's exceptions: it decides where containers start).
   */
  overBoundShare: number;
  /** Share of placements after the warm-up that reused an idle container on a worker at or over the bound (warm first). */
  warmOverBoundShare: number;
  /** Share of placements after the warm-up that started off the placement's `waitAt` worker (ringfaas, CH-RLU: the ring home): the spills. */
  offHomeShare: number;
  /** The bound rounding used (ringfaas; the figures' bound/mean and over-bound use it too). */
  boundRule: BoundRule;
  /** The sustained-load bound used (ringfaas), or undefined. */
  sustained: SustainedSpec | undefined;
  queueP50Ms: number;
  queueP99Ms: number;
  startDelayP99Ms: number;
  failed: number;
  rejected: number;
  prewarms: number;
  evicted: number;
  events: EventResult[];
  /** The `observe` windows' counts (a control run). */
  observed: EventWindow[];
  wallMs: number;
  /** Simulated seconds per wall-clock second. */
  speed: number;
}

type SimEvent = Timed &
  ({ kind: 'done'; c: SimContainer; execMs: number } | { kind: 'snapshot'; window: EventWindow } | { kind: 'prewarm'; w: SimWorker; fn: number; token: number; keepAliveMs: number } | { kind: 'member'; what: MembershipKind });

/** Runs one simulation (see the file header). */
export function simulate(o: SimulationOptions): SimulationResult {
  const wall0 = performance.now();
  const workload = o.workload.fresh();
  const fns = workload.functions;
  const root = new Prng(o.seed);
  const durRng = root.fork('durations');
  const durRngs: Array<Prng | undefined> = new Array(fns.length);
  const placeRng = root.fork('placement');
  const metrics = new SimMetrics(o.warmupMin * 60_000);
  metrics.onStart = o.onStart;
  metrics.onAnyStart = o.onAnyStart;
  metrics.onIdlePeriod = o.onIdlePeriod;
  const heap = new EventHeap<SimEvent>();
  const lastInvoked = new Float64Array(fns.length).fill(-Infinity);
  let totalLoad = 0;
  let placement: Placement | undefined;
  const rule = o.boundRule ?? 'ceil';
  const loads = new LoadTracker({ c: DEFAULT_LOAD_FACTOR, fromMs: o.warmupMin * 60_000, rule });
  let placed = 0;
  let offHome = 0;
  let overBound = 0;
  let warmOverBound = 0;
  let activeCount = o.workers;
  /** The execution time just drawn (a worker draws it, then schedules the completion). */
  let lastExecMs = 0;
  const host: WorkerHost = {
    functions: fns,
    metrics,
    loadChanged(w, before, now) {
      totalLoad += w.load - before;
      loads.changed(w, before, w.load, totalLoad, now);
      placement?.loadChanged?.(w, before, now);
    },
    complete(at, c) {
      heap.push({ at, seq: 0, kind: 'done', c, execMs: lastExecMs });
    },
    duration(fn) {
      // one stream per function (common random numbers): a run with events and its control
      // draw the same k-th execution time of a function, so their difference is the event's
      lastExecMs = (fns[fn] as SimFunction).duration((durRngs[fn] ??= durRng.fork(String(fn))));
      return lastExecMs;
    },
    prewarmLater(w, fn, at, keepAliveMs, token) {
      heap.push({ at, seq: 0, kind: 'prewarm', w, fn, token, keepAliveMs });
    },
  };
  const perWorkerFns = Math.max(1000, Math.ceil((8 * fns.length) / o.workers));
  const all: SimWorker[] = [];
  const newWorker = (id: string, now: number): SimWorker => {
    const w = new SimWorker(id, o.workerMemoryMb, policyOf(o.keepAlive, perWorkerFns), host, now);
    all.push(w);
    return w;
  };
  for (let i = 0; i < o.workers; i++) newWorker(`w${i}`, 0);
  const active = (): SimWorker[] => all.filter((w) => w.state === 'active');
  const sustained = o.sustained === 'off' ? undefined : (o.sustained ?? ROUTERS_SUSTAINED);
  placement = createPlacement(o.placement, fns, placeRng, () => totalLoad, rule, sustained, o.warmFirst ?? ROUTERS_WARM_FIRST);
  placement.membership(active(), all, 0);
  loads.membership(active(), totalLoad, 0);

  const windowMs = (o.windowMin ?? 10) * 60_000;
  for (const w of o.observe ?? []) {
    const window: EventWindow = { label: w.label, fromMs: w.fromMs, toMs: w.toMs, moved: w.moved, invocations: 0, coldStarts: 0, movedInvocations: 0, movedColdStarts: 0, recentWarm: undefined, firstCalls: 0, firstCallsCold: 0, coldByFn: new Uint16Array(fns.length), firstByFn: new Uint8Array(fns.length), affected: undefined, joinedWorker: undefined };
    metrics.windows.push(window);
    heap.push({ at: w.fromMs, seq: 0, kind: 'snapshot', window });
  }
  for (const e of o.events ?? []) heap.push({ at: e.atMin * 60_000, seq: 0, kind: 'member', what: e.kind });
  const events: EventResult[] = [];

  const dispatch = (fn: number, now: number, arrivedAt: number): void => {
    const p = placement as Placement;
    const choice = p.choose(fn, now);
    // the rule's check, as a router makes it: the bound with this request counted
    const counted = now >= o.warmupMin * 60_000;
    const bound = counted ? loadBound(totalLoad, activeCount, DEFAULT_LOAD_FACTOR, rule) : 0;
    const placedOn = (load: number, warm: boolean, w: SimWorker): void => {
      if (!counted) return;
      placed++;
      if (w !== choice.waitAt) offHome++;
      if (load >= bound) {
        if (warm) warmOverBound++;
        else overBound++;
      }
    };
    for (const w of choice.candidates) {
      const load = w.load;
      const warm = w.idleOf(fn) > 0;
      if (w.tryRun(fn, now, arrivedAt)) return placedOn(load, warm, w);
    }
    placedOn(choice.waitAt.load, false, choice.waitAt);
    choice.waitAt.enqueue(fn, now, arrivedAt);
  };

  /** Recently invoked functions with a container somewhere now (see EventWindow.recentWarm). */
  const recentWarm = (now: number): Uint8Array => {
    const flags = new Uint8Array(fns.length);
    for (const w of all) {
      if (w.state === 'dead') continue;
      for (const [fn, n] of w.functionsHere()) if (n > 0 && now - (lastInvoked[fn] as number) <= 60_000) flags[fn] = 1;
    }
    return flags;
  };

  /** Invoked within the hand-off's window (the last minute, as the worker's RecentInvocations). */
  const handoffRecent = (fn: number, now: number): boolean => now - (lastInvoked[fn] as number) <= 60_000;
  const scopeWarm = (o.handoffScope ?? 'warm') === 'warm';

  const homes = (): Array<string | undefined> => fns.map((_, i) => (placement as Placement).home(i));

  const membership = (what: MembershipKind, now: number): void => {
    const p = placement as Placement;
    const before = homes();
    const warmBefore = recentWarm(now);
    const live = active();
    let worker: SimWorker;
    let failed = 0;
    let requeue: Array<{ fn: number; arrivedAt: number }> = [];
    let handoffFrom: Array<[number, number]> = [];
    const affected = new Uint8Array(fns.length);
    if (what === 'join') {
      worker = newWorker(`w-join-${events.length}`, now);
    } else {
      worker = live[what === 'drain' ? Math.floor(live.length / 2) : Math.floor((2 * live.length) / 3)] as SimWorker;
      // functions with a container on the leaving worker: the event takes their warm state
      for (const [fn, n] of worker.functionsHere()) if (n > 0) affected[fn] = 1;
      if (what === 'drain') {
        handoffFrom = [...worker.functionsHere()].filter(([fn, n]) => handoffRecent(fn, now) || (scopeWarm && n > 0));
        requeue = worker.drain(now);
      } else {
        failed = worker.die(now);
        metrics.failed += failed;
      }
    }
    const nowActive = active();
    p.membership(nowActive, all, now);
    activeCount = nowActive.length;
    loads.membership(nowActive, totalLoad, now);
    const after = homes();
    const moved = new Uint8Array(fns.length);
    let movedCount = 0;
    let recentMoved = 0;
    const hasHomes = before.some((h) => h !== undefined);
    for (let i = 0; i < fns.length; i++) {
      if (before[i] !== after[i]) {
        moved[i] = 1;
        affected[i] = 1;
        movedCount++;
        if (now - (lastInvoked[i] as number) <= 60_000) recentMoved++;
      }
    }
    const handedOff = o.handoff === true ? new Uint8Array(fns.length) : undefined;
    if (handedOff !== undefined) {
      // warm the moved, recently invoked functions on their new home, to their recent concurrency
      const byId = new Map(all.map((w) => [w.id, w]));
      const targets: Array<[number, number]> =
        what === 'join'
          ? fns
              .map((_, i): [number, number] => [i, before[i] === undefined ? 0 : (byId.get(before[i] as string)?.containersOf(i) ?? 0)])
              .filter(([i, held]) => moved[i] === 1 && (handoffRecent(i, now) || (scopeWarm && held > 0)))
              .map(([i, held]) => [i, Math.max(1, held)])
          : handoffFrom;
      const successor = o.handoffTarget !== 'home' && hasHomes ? successorTargets({ what, worker, drainFns: handoffFrom.map(([fn]) => fn), before: live, after: nowActive, byId, functions: fns, recent: (fn) => handoffRecent(fn, now) || scopeWarm }) : undefined;
      for (const [fn, count] of targets) {
        const target = successor?.drain.get(fn) ?? (after[fn] === undefined ? undefined : byId.get(after[fn] as string));
        if (target === undefined) continue;
        // an old call (warm scope) takes the place of containers idle longer only (warm-ups.ts)
        target.prewarm(fn, now, handoffKeepAliveMs(o.keepAlive), count, handoffRecent(fn, now) ? undefined : (lastInvoked[fn] as number));
        handedOff[fn] = 1 + Math.min(254, target.idleOf(fn));
      }
      for (const [fn, count] of successor?.join ?? []) {
        if (moved[fn] === 1) continue; // warmed above
        worker.prewarm(fn, now, handoffKeepAliveMs(o.keepAlive), count);
        handedOff[fn] = 1 + Math.min(254, worker.idleOf(fn));
      }
    }
    const window: EventWindow = { label: `${what}@${now / 60_000}m`, fromMs: now, toMs: now + windowMs, moved, invocations: 0, coldStarts: 0, movedInvocations: 0, movedColdStarts: 0, recentWarm: warmBefore, firstCalls: 0, firstCallsCold: 0, coldByFn: new Uint16Array(fns.length), firstByFn: new Uint8Array(fns.length), affected, joinedWorker: what === 'join' ? worker.id : undefined, ...(handedOff === undefined ? {} : { handedOff }) };
    metrics.windows.push(window);
    events.push({ kind: what, atMin: now / 60_000, worker: worker.id, homesMoved: hasHomes ? movedCount / fns.length : null, recentMoved, window, failed });
    for (const r of requeue) dispatch(r.fn, now, r.arrivedAt);
  };

  const runEvent = (e: SimEvent): void => {
    if (e.kind === 'done') {
      if (e.c.worker.state !== 'dead') {
        e.c.worker.release(e.c, e.at);
        placement?.completed?.(e.c.fn, e.execMs); // as a router learns it from the answer
      }
    } else if (e.kind === 'snapshot') {
      e.window.recentWarm = recentWarm(e.at);
    } else if (e.kind === 'prewarm') {
      // on the worker that unloaded the container, as the real worker's pre-warm timer
      e.w.prewarmDue(e.fn, e.at, e.keepAliveMs, e.token);
    } else {
      membership(e.what, e.at);
    }
  };

  const minutes = Math.min(o.durationMin, workload.minutes);
  const arrivals: Arrival[] = [];
  for (let m = 0; m < minutes; m++) {
    if (m === o.warmupMin) for (const w of all) w.resetLoad(m * 60_000);
    arrivals.length = 0;
    workload.arrivals(m, arrivals);
    arrivals.sort((a, b) => a.at - b.at || a.fn - b.fn);
    const end = (m + 1) * 60_000;
    let i = 0;
    for (;;) {
      const next = heap.peek();
      const a = arrivals[i];
      if (a !== undefined && (next === undefined || a.at <= next.at)) {
        i++;
        lastInvoked[a.fn] = a.at;
        dispatch(a.fn, a.at, a.at);
      } else if (next !== undefined && next.at < end) {
        runEvent(heap.pop() as SimEvent);
      } else {
        break;
      }
    }
  }
  const endMs = minutes * 60_000;
  for (const w of all) w.finish(endMs);
  const measuredFrom = o.warmupMin * 60_000;
  const steady = all.filter((w) => w.state === 'active' && w.joinedAt <= measuredFrom);
  const avgLoads = steady.map((w) => w.loadIntegral / Math.max(1, endMs - measuredFrom));
  const meanLoad = avgLoads.reduce((a, b) => a + b, 0) / Math.max(1, avgLoads.length);
  const wallMs = performance.now() - wall0;
  const instant = loads.figures(endMs);
  return {
    placement: o.placement,
    keepAlive: keepAliveLabel(o.keepAlive),
    handoff: o.handoff === true,
    workers: o.workers,
    functions: fns.length,
    simulatedMin: minutes,
    invocations: metrics.invocations,
    coldStarts: metrics.coldStarts,
    coldStartRatio: metrics.invocations === 0 ? 0 : metrics.coldStarts / metrics.invocations,
    idleGbS: metrics.idleGbS,
    loadMaxOverAvg: meanLoad === 0 ? 0 : Math.max(...avgLoads) / meanLoad,
    meanLoad,
    peakOverMean: instant.peakOverMean,
    boundOverMean: instant.boundOverMean,
    floorOverMean: instant.floorOverMean,
    overBoundShare: placed === 0 ? 0 : overBound / placed,
    warmOverBoundShare: placed === 0 ? 0 : warmOverBound / placed,
    offHomeShare: placed === 0 ? 0 : offHome / placed,
    boundRule: rule,
    sustained: o.placement === 'ringfaas' ? sustained : undefined,
    queueP50Ms: metrics.queueWait.percentile(50),
    queueP99Ms: metrics.queueWait.percentile(99),
    startDelayP99Ms: metrics.startDelay.percentile(99),
    failed: metrics.failed,
    rejected: metrics.rejected,
    prewarms: metrics.prewarms,
    evicted: metrics.evicted,
    events,
    observed: metrics.windows.slice(0, o.observe?.length ?? 0),
    wallMs,
    speed: (minutes * 60) / Math.max(0.001, wallMs / 1000),
  };
}
