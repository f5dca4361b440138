/**
 * Where a warm hand-off warms (handoff.ts): the 'successor' targets, measured first in the
 * simulator (bench/simulate/handoff-targets.ts, which calls these functions; docs/simulation.md,
 * run H). Pure: a `Ring` of ring/ and ids in, ids and counts out.
 *
 * Algorithm
 * ---------
 * With bounded loads a function runs on its home and, when the home is at the bound, on the
 * next workers of its preference list (ring.preferenceList: the routers' spill order).
 * - **Drain** (`drainTarget`): a hot function of the leaving worker, found at position k of
 *   its preference list (first DRAIN_LIST_LENGTH = 17) on the ring *before* the drain, is
 *   warmed on the worker at k + 1, the one that takes the leaving worker's place: its next
 *   home when k = 0 (the earlier rule), its next spill target when k ≥ 1. A function whose
 *   list does not hold the leaving worker there (or holds it last) keeps the earlier target,
 *   its home on the ring without the leaving worker.
 * - **Join** (`joinTargets`): a function a peer p reports hot with count c, whose preference
 *   list (first JOIN_LIST_LENGTH = 16) on the ring *with* the new worker puts the new worker at
 *   k, is warmed on the new worker to c when k = 0 (its home moved: the earlier rule) or when
 *   k ≥ 1 and p is at k + 1 (its spills, which reached p, reach the new worker first now).
 *   Where several reports apply, the largest count.
 *
 * Worked example
 * --------------
 * (Real ids on the real ring: worker/test/handoff-targets.test.ts checks it.)
 * Ring {a, b, c}: f4's list is [a, b, c], f6's [b, a, c]. b drains: f6 (k = 0) is warmed on a,
 * its next home, as before; f4 (k = 1: it ran on b because a was at the bound) is warmed on c,
 * where its next spill goes (the earlier rule warmed it on a, which already runs it).
 * d joins {a, b, c}; a reports f5 with count 3 and f7 with 1, b reports f5 with 2 and f7 with
 * 2. f5's list becomes [a, d, b, c] (k = 1, b at k + 1): d warms 2 containers of f5 (a's
 * report does not count: a stays before d). f7's becomes [d, a, b, c] (k = 0): d warms 2, the
 * larger count, as before.
 *
 * Known caveats
 * -------------
 * - Lists are taken from the ring this worker builds from the rows it reads: a router whose
 *   ring differs (a row not yet seen, a worker it suspects) may spill elsewhere.
 * - A join counts only the peer right after the new worker: a function whose spills went
 *   further down its list (k + 2 and on) is not warmed on the new worker, though its spills
 *   may reach it first now too.
 * - A join warms more functions than the home rule (in the simulator's 100-worker runs the
 *   new worker enters the first 16 of about 16 % of the lists at k ≥ 1): they load only in
 *   spare memory (worker/pool/warm-ups.ts), so on a full worker they are dropped, evicting
 *   nothing.
 * - A drain no longer warms a spilled function (k ≥ 1) on its home: the home was running it
 *   (that is why it spilled), so only a home that kept no container of it starts one cold.
 * - The lengths (17, 16) are the simulator's, after the routers' 16 candidates per request
 *   (RingInvoker.maxCandidates, docs/ring.md, "Knobs"): a function goes past them only when
 *   none of the 16 accepts.
 */
import type { Ring } from '../../ring/index.ts';

/** Positions of a function's preference list a drain looks at. */
export const DRAIN_LIST_LENGTH = 17;
/** Positions of a function's preference list a join looks at. */
export const JOIN_LIST_LENGTH = 16;

/** What one peer reported hot (its `GET /cluster/handoff/hot` answer). */
export interface PeerHot {
  peerId: string;
  functions: ReadonlyArray<{ functionId: string; count: number }>;
}

/** Where `workerId` stands in `functionId`'s preference list on `ring` (first `length`; k = -1: not there), and the worker right after it. */
export function placeIn(ring: Ring, workerId: string, functionId: string, length: number): { k: number; next: string | undefined } {
  const list = ring.preferenceList(functionId, length);
  const k = list.indexOf(workerId);
  return { k, next: k < 0 ? undefined : list[k + 1] };
}

/**
 * Drain: the worker to warm `functionId` on when `leavingId` leaves `before` (the ring with
 * it); undefined when no other worker is on it. See the file header.
 */
export function drainTarget(before: Ring, leavingId: string, functionId: string): string | undefined {
  const { k, next } = placeIn(before, leavingId, functionId, DRAIN_LIST_LENGTH);
  if (next !== undefined) return next;
  // Not in the list, or last in it: the home on the ring without the leaving worker, which is
  // the home on this one (the other workers' points do not move when one worker's go).
  return k === 0 ? undefined : before.home(functionId);
}

/**
 * Join: the functions to warm on `joiningId` and to how many containers, from the peers'
 * reports, on `after` (the ring with the joining worker); see the file header. Ordered by the
 * joining worker's position in their lists (moved homes first): the warm-ups start them in
 * this order, so a bound reached cuts the functions it would serve least.
 */
export function joinTargets(after: Ring, joiningId: string, reports: readonly PeerHot[]): Array<{ functionId: string; count: number }> {
  const places = new Map<string, { k: number; next: string | undefined }>();
  const best = new Map<string, { k: number; count: number }>();
  for (const { peerId, functions } of reports) {
    for (const { functionId, count } of functions) {
      const { k, next } = places.get(functionId) ?? places.set(functionId, placeIn(after, joiningId, functionId, JOIN_LIST_LENGTH)).get(functionId)!;
      if (k === 0 || (k >= 1 && next === peerId)) best.set(functionId, { k, count: Math.max(best.get(functionId)?.count ?? 0, count) });
    }
  }
  return [...best].sort(([, x], [, y]) => x.k - y.k).map(([functionId, { count }]) => ({ functionId, count }));
}
