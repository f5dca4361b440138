/**
 * What ring-change measures from the client's samples (bench/ring-scenarios.ts): which
 * functions ran where, and the first call of moved functions on their new home. Pure: samples
 * in, figures out.
 */

/** One answered (or failed) invocation as the client saw it. */
export interface Sample {
  latencyMs: number;
  ok: boolean;
  code: string;
  /** x-ringfaas-start: `warm`, or how the container was started. */
  start: string | undefined;
  /** x-ringfaas-worker: who served it. */
  worker: string | undefined;
  functionId: string;
  /** When it was answered, epoch ms. */
  at: number;
}

/** Moved functions and their first calls on their new home. */
export interface MovedFirstCalls {
  functions: number;
  coldFirstCalls: number;
  /** Every cold answer of these functions there (a rise in concurrency after the change included). */
  coldStarts: number;
  /** Each function's first successful call there: x-ringfaas-start, the worker, when (epoch ms). */
  firstCalls: Array<{ functionId: string; worker: string; start: string; at: number }>;
}

/** Whether `fn` had a successful call on `workerId` in `on` and none on another worker in `notElsewhere`. */
export function ranOnlyOn(fn: string, workerId: string, on: readonly Sample[], notElsewhere: readonly Sample[]): boolean {
  return on.some((x) => x.ok && x.functionId === fn && x.worker === workerId) && !notElsewhere.some((x) => x.ok && x.functionId === fn && x.worker !== workerId);
}

/** Of `fns`, the first successful call (in time order) of each on a worker `where` accepts, and how many were cold. */
export function coldFirstCalls(samples: readonly Sample[], fns: ReadonlySet<string>, where: (workerId: string) => boolean): MovedFirstCalls {
  const firstCalls: MovedFirstCalls['firstCalls'] = [];
  for (const x of [...samples].sort((a, b) => a.at - b.at)) {
    if (!x.ok || x.worker === undefined || !fns.has(x.functionId) || !where(x.worker) || firstCalls.some((c) => c.functionId === x.functionId)) continue;
    firstCalls.push({ functionId: x.functionId, worker: x.worker, start: x.start ?? 'unknown', at: x.at });
  }
  const coldStarts = samples.filter((x) => x.ok && x.worker !== undefined && fns.has(x.functionId) && where(x.worker) && x.start !== 'warm').length;
  return { functions: fns.size, coldFirstCalls: firstCalls.filter((c) => c.start !== 'warm').length, coldStarts, firstCalls };
}

/** The worker that served most of each function's requests (spills aside). */
export function servingWorker(samples: readonly Sample[] | undefined): Map<string, string> {
  const counts = new Map<string, Map<string, number>>();
  for (const s of samples ?? []) {
    if (!s.ok || s.worker === undefined) continue;
    let perWorker = counts.get(s.functionId);
    if (perWorker === undefined) counts.set(s.functionId, (perWorker = new Map()));
    perWorker.set(s.worker, (perWorker.get(s.worker) ?? 0) + 1);
  }
  const byFn = new Map<string, string>();
  for (const [fn, perWorker] of counts) {
    const top = [...perWorker].sort((a, b) => b[1] - a[1])[0];
    if (top !== undefined) byFn.set(fn, top[0]);
  }
  return byFn;
}

/** The drain's measure: functions that ran only on the drained worker, and their first calls after its drain. */
export interface DrainFirstCalls extends MovedFirstCalls {
  /** Functions called on the drained worker before its drain (all were candidates). */
  called: number;
  /** Of the first calls, how many were served by the function's next home (the rest spilled elsewhere). */
  onNextHome: number;
}

/**
 * The drain side of ring-change. `called`: functions called, one at a time, on the worker about
 * to be drained; `beforeDrain`: every sample before the drain; `afterDrain`: every sample from
 * the drain on; `nextHome`: a function's home on the ring without the drained worker. A
 * function counts when it ran on the drained worker and nowhere else before the drain (a
 * spill would have left a container on another worker: not the hand-off's doing); its first
 * call elsewhere after the drain is cold unless something warmed it there.
 */
export function drainFirstCalls(
  called: readonly string[],
  drainedId: string,
  beforeDrain: readonly Sample[],
  afterDrain: readonly Sample[],
  nextHome: (functionId: string) => string | undefined,
): DrainFirstCalls {
  const only = new Set(called.filter((fn) => ranOnlyOn(fn, drainedId, beforeDrain, beforeDrain)));
  const first = coldFirstCalls(afterDrain, only, (w) => w !== drainedId);
  return { ...first, called: called.length, onNextHome: first.firstCalls.filter((c) => c.worker === nextHome(c.functionId)).length };
}
