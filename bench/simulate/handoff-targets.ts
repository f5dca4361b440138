/**
 * The 'successor' hand-off's targets (SimulationOptions.handoffTarget, the default since the
 * worker's hand-off does the same: worker/handoff/targets.ts, whose rules this calls).
 *
 * Algorithm
 * ---------
 * With bounded loads a function runs on its home and on the next workers of its preference
 * list (its spill targets). Drain: each function handed over by the leaving worker, found at
 * position k of its preference list (first 17) on the ring before the drain, is warmed on the
 * worker at k + 1: the one that takes the leaving worker's place (its next home when k = 0, as
 * with 'home'; its next spill target otherwise). Join: each recently invoked function whose
 * preference list (first 16) on the new ring puts the new worker at k ≥ 1, right before a
 * worker holding containers of it, is warmed on the new worker to that worker's count: its
 * spills reach the new worker first now. (Functions whose home moved, k = 0, are warmed by the
 * engine, as with 'home'.) The worker's join uses the counts its peers report instead of
 * the containers a worker holds.
 *
 * Worked example
 * --------------
 * f's list is [a, b, c]: home a at the bound, spills on b. b drains: 'home' warms f on its
 * home a (where it already runs); this warms it on c, where its next spill goes. d joins
 * with f's list now [a, d, b, c] and 2 containers of f on b: d warms 2 containers of f.
 *
 * Known caveats
 * -------------
 * - The new worker warms more functions than with 'home'; in the simulator loading may
 *   evict idle containers (SimWorker.prewarm), the worker warms only in spare memory.
 */
import { Ring } from '../../ring/index.ts';
import { drainTarget, placeIn, JOIN_LIST_LENGTH } from '../../worker/handoff/index.ts';
import type { SimWorker } from './sim-worker.ts';
import type { SimFunction } from './workload.ts';

export interface SuccessorInput {
  what: 'join' | 'drain' | 'die';
  /** The joining or leaving worker. */
  worker: SimWorker;
  /** Drain: the functions the leaving worker hands over. */
  drainFns: readonly number[];
  /** Active workers before and after the event. */
  before: readonly SimWorker[];
  after: readonly SimWorker[];
  byId: ReadonlyMap<string, SimWorker>;
  functions: readonly SimFunction[];
  /** In the hand-off's scope: invoked within its window (the last minute), or, with the 'warm' scope, any function (a join then warms those the displaced worker holds containers of). */
  recent: (fn: number) => boolean;
}

function ringOf(ws: readonly SimWorker[]): Ring {
  return new Ring(ws.map((w) => ({ id: w.id, address: '', capacityMb: 0, state: 'active', heartbeatAt: 0 })));
}

/** Drain: function → the worker to warm it on; join: [function, count] to warm on the new worker (see the header). */
export function successorTargets(i: SuccessorInput): { drain: Map<number, SimWorker>; join: Array<[number, number]> } {
  const drain = new Map<number, SimWorker>();
  const join: Array<[number, number]> = [];
  if (i.what === 'drain') {
    const ring = ringOf(i.before);
    for (const fn of i.drainFns) {
      const next = i.byId.get(drainTarget(ring, i.worker.id, (i.functions[fn] as SimFunction).id) ?? '');
      if (next !== undefined) drain.set(fn, next);
    }
  } else if (i.what === 'join') {
    const ring = ringOf(i.after);
    for (let fn = 0; fn < i.functions.length; fn++) {
      if (!i.recent(fn)) continue;
      const { k, next } = placeIn(ring, i.worker.id, (i.functions[fn] as SimFunction).id, JOIN_LIST_LENGTH);
      if (k < 1 || next === undefined) continue;
      const displaced = i.byId.get(next)?.containersOf(fn) ?? 0;
      if (displaced > 0) join.push([fn, displaced]);
    }
  }
  return { drain, join };
}
