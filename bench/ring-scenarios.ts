/**
 * Ring scenarios over running routers (HTTP), measured from the client side:
 *
 * - ring-change: steady load; a worker is added (it joins the ring of every router), then
 *   drained through one router's DELETE /workers/{id}; per phase: requests, errors, cold
 *   starts, latency, and how long until every router's ring showed the change. The drain's
 *   warm hand-off is measured on functions deployed after the join with their home on the new
 *   worker and called one at a time, with the load paused, just before the drain (so that no
 *   bounded-load spill warms them elsewhere) and once each just after it (so that none is
 *   spilled past its next home): without a hand-off each first call is a cold start.
 * - failover: steady load; a worker is killed (SIGKILL); failed requests, and time until every
 *   router's ring dropped it (its heartbeat lapsed), and errors after that.
 *
 * The caller supplies running routers, deployed functions and a way to start a worker (the
 * bench wiring in bench/cli.ts starts real workers; tests can use any protocol-speaking one).
 *
 * The load and its phases are bench/ring-load.ts; what is measured from the samples,
 * bench/ring-change-measures.ts.
 */
import { Ring, type RingMemberRow } from '../ring/index.ts';
import { RfError } from '../errors/index.ts';
import { BenchErrors } from './errors.ts';
import { coldFirstCalls, drainFirstCalls, servingWorker, type DrainFirstCalls, type MovedFirstCalls } from './ring-change-measures.ts';
import { LoadRun, stats, type LoadOptions, type PhaseStats } from './ring-load.ts';

export type { DrainFirstCalls, MovedFirstCalls } from './ring-change-measures.ts';
export type { PhaseStats } from './ring-load.ts';

/** A worker the scenario started and may kill. */
export interface ScenarioWorker {
  id: string;
  address: string;
  /** Kills the worker without warning (SIGKILL of its process). */
  kill(): Promise<void>;
}

export interface RingScenarioOptions extends LoadOptions {
  /** Steady load before and after each change, ms. Default 5000. */
  phaseMs?: number;
  /** Starts one more worker. */
  startWorker(): Promise<ScenarioWorker>;
  /** Register the started worker through POST /workers (when it does not join by itself). */
  register?: boolean;
  /**
   * Deploys one more function (answers its id): after the join, functions whose home is the
   * new worker are deployed and called one at a time before its drain (the drain's measure).
   */
  deployFunction?: () => Promise<string>;
  /** Functions deployed for the drain's measure, at most. Default 4 (up to 4 × 4 deployed to find them). */
  drainFunctions?: number;
  /** Bound on waiting for every router to see a change, ms. Default 20 000. */
  settleTimeoutMs?: number;
}

export interface RingChangeResult {
  scenario: 'ring-change';
  workerId: string;
  /** ms from the worker being started until every router's ring had it. */
  joinSettleMs: number;
  /** ms the DELETE /workers call took (drain included). */
  drainMs: number;
  /** Share of functions whose home worker on the ring changed with the add (what routers compute). */
  homesMovedOnAdd: number;
  /** Share of functions whose most frequent serving worker changed after the add (spills blur it). */
  movedOnAdd: number;
  /**
   * Functions whose home moved to the new worker and ran in the phase before the add, and how
   * many of them had a cold first call on the new worker (0 with the warm hand-off).
   */
  movedAfterAdd: MovedFirstCalls;
  /**
   * The new worker's home functions that ran before its drain, and how many had a cold first
   * call elsewhere after it (they ran on their old homes before the add; with the workers on
   * one machine the bound over hosts sends only a full home's overflow there, so their old
   * homes' containers are the least recently used: the drain's hand-off keeps or warms one each).
   */
  movedAfterDrain: MovedFirstCalls;
  /**
   * The drain's measure: functions deployed after the join with their home on the new worker,
   * called there one at a time (the load paused) in the seconds before its drain, that ran
   * nowhere else: their first calls after the drain, one at a time (without a hand-off, each
   * is a cold start on its next home).
   */
  onlyNewAfterDrain: DrainFirstCalls;
  phases: PhaseStats[];
}

export interface FailoverResult {
  scenario: 'failover';
  workerId: string;
  /** Requests that failed from the kill until the end. */
  failedRequests: number;
  /** Failures after every router's ring dropped the worker. */
  failedAfterSettle: number;
  /** ms from the kill until every router's ring dropped the worker. */
  settleMs: number;
  phases: PhaseStats[];
}

/** Polls every router's GET /workers until `check` holds for all of them. Answers the ms waited. */
async function settle(options: RingScenarioOptions, check: (workers: Array<{ id: string; inRing: boolean }>) => boolean): Promise<number> {
  const t0 = Date.now();
  const deadline = t0 + (options.settleTimeoutMs ?? 20_000);
  const headers: Record<string, string> = options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` };
  for (;;) {
    const views = await Promise.all(
      options.routerUrls.map(async (url) => {
        try {
          const res = await fetch(`${url}/workers`, { headers });
          return ((await res.json()) as { workers?: Array<{ id: string; inRing: boolean }> }).workers ?? [];
        } catch {
          return undefined;
        }
      }),
    );
    if (views.every((w) => w !== undefined && check(w))) return Date.now() - t0;
    if (Date.now() > deadline) {
      throw new RfError(BenchErrors.COMPONENT_START_FAILED, `the routers' rings did not converge within ${options.settleTimeoutMs ?? 20_000} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The ids on the first router's ring. */
async function ringMembers(options: RingScenarioOptions): Promise<string[]> {
  const headers: Record<string, string> = options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` };
  const res = await fetch(`${options.routerUrls[0]}/workers`, { headers });
  const body = (await res.json()) as { workers?: Array<{ id: string; inRing: boolean }> };
  return (body.workers ?? []).filter((w) => w.inRing).map((w) => w.id);
}

/** A ring row for an id (routers build the same ring from the same ids, default vnodes and hash). */
function memberRow(id: string): RingMemberRow {
  return { id, address: '', capacityMb: 0, state: 'active', heartbeatAt: 0 };
}

async function timed(load: LoadRun, phase: string, ms: number, out: Array<[string, number]>): Promise<void> {
  load.phase(phase);
  const t0 = Date.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  out.push([phase, Date.now() - t0]);
}

/**
 * Waits (bounded by `settleTimeoutMs`) until every function answered once: on a loaded
 * machine the first calls (cold starts) can outlast the warm-up, and a function that has not
 * run before the change cannot show whether its hand-off was warm.
 */
async function everyFunctionAnswered(load: LoadRun, options: RingScenarioOptions): Promise<void> {
  const deadline = Date.now() + (options.settleTimeoutMs ?? 20_000);
  const answered = (): boolean => {
    const ok = new Set((load.samples.get('warmup') ?? []).filter((x) => x.ok).map((x) => x.functionId));
    return options.functionIds.every((id) => ok.has(id));
  };
  while (!answered() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
}

/** Up to `drainFunctions` new functions whose home on `ring` is `workerId` (at most 4 times as many deployed; none without `deployFunction`). */
async function deployHomedOn(options: RingScenarioOptions, ring: Ring<RingMemberRow>, workerId: string): Promise<string[]> {
  const want = options.drainFunctions ?? 4;
  const out: string[] = [];
  for (let i = 0; i < 4 * want && out.length < want && options.deployFunction !== undefined; i++) {
    const id = await options.deployFunction();
    if (ring.home(id) === workerId) out.push(id);
  }
  return out;
}

/**
 * Waits (bounded, 5 s; not an error when it passes) until every router counts no request in
 * flight and no recent reported load on any worker: the bounded-load rule then sends a lone
 * request to its home (ring/bounded-load.ts: with L = 0 every idle worker accepts).
 */
async function routersQuiet(options: RingScenarioOptions): Promise<void> {
  const deadline = Date.now() + 5000;
  const headers: Record<string, string> = options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` };
  while (Date.now() < deadline) {
    const quiet = await Promise.all(
      options.routerUrls.map(async (url) => {
        try {
          const res = await fetch(`${url}/workers`, { headers });
          const workers = ((await res.json()) as { workers?: Array<{ inFlight?: number; reportedLoad?: number | null }> }).workers ?? [];
          return workers.every((w) => (w.inFlight ?? 0) === 0 && (w.reportedLoad ?? 0) === 0);
        } catch {
          return false;
        }
      }),
    );
    if (quiet.every(Boolean)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A phase in which the load's callers pause and `fns` are called one at a time, `rounds`
 * times each, once the routers are quiet: each call goes to the function's home, none spills.
 */
async function callsOneAtATime(load: LoadRun, options: RingScenarioOptions, phase: string, fns: readonly string[], rounds: number, out: Array<[string, number]>): Promise<void> {
  load.phase(phase);
  const t0 = Date.now();
  await load.pause();
  try {
    await routersQuiet(options);
    for (let round = 0; round < rounds; round++) for (const fn of fns) await load.callOnce(fn);
  } finally {
    load.resume();
  }
  out.push([phase, Date.now() - t0]);
}

/** ring-change: add a worker under load, then drain it. */
export async function runRingChange(options: RingScenarioOptions): Promise<RingChangeResult> {
  const phaseMs = options.phaseMs ?? 5000;
  const load = new LoadRun(options);
  const durations: Array<[string, number]> = [];
  let worker: ScenarioWorker | undefined;
  load.start();
  try {
    await timed(load, 'warmup', Math.min(2000, phaseMs), []);
    await everyFunctionAnswered(load, options);
    await timed(load, 'before', phaseMs, durations);
    load.phase('adding');
    const t0 = Date.now();
    const membersBefore = await ringMembers(options);
    worker = await options.startWorker();
    if (options.register === true) await registerWorker(options, worker);
    const started = worker;
    await settle(options, (ws) => ws.some((w) => w.id === started.id && w.inRing));
    const joinSettleMs = Date.now() - t0;
    const ringAfter = new Ring([...membersBefore, started.id].map(memberRow));
    durations.push(['adding', joinSettleMs]);
    const onlyNew = await deployHomedOn(options, ringAfter, started.id);
    await timed(load, 'after-add', phaseMs, durations);
    // the drain's measure: functions only the new worker ran, invoked seconds before its drain
    await callsOneAtATime(load, options, 'one-at-a-time', onlyNew, 2, durations);
    load.phase('draining');
    const d0 = Date.now();
    await removeWorker(options, started.id);
    const drainMs = Date.now() - d0;
    durations.push(['draining', drainMs]);
    await callsOneAtATime(load, options, 'first-after-drain', onlyNew, 1, durations);
    await timed(load, 'after-drain', phaseMs, durations);
    await load.stop();
    const before = servingWorker(load.samples.get('before'));
    const after = servingWorker(load.samples.get('after-add'));
    const common = [...before.keys()].filter((fn) => after.has(fn));
    const moved = common.filter((fn) => before.get(fn) !== after.get(fn)).length;
    const ringBefore = new Ring(membersBefore.map(memberRow));
    const homesMoved = options.functionIds.filter((fn) => ringBefore.home(fn) !== ringAfter.home(fn)).length;
    const movedHere = new Set(options.functionIds.filter((fn) => ringAfter.home(fn) === started.id));
    const ranBefore = new Set((load.samples.get('before') ?? []).filter((x) => x.ok).map((x) => x.functionId));
    const recentMoved = new Set([...movedHere].filter((fn) => ranBefore.has(fn)));
    const afterAdd = [...(load.samples.get('adding') ?? []), ...(load.samples.get('after-add') ?? [])];
    const afterDrain = ['draining', 'first-after-drain', 'after-drain'].flatMap((phase) => load.samples.get(phase) ?? []);
    const beforeDrain = ['warmup', 'before', 'adding', 'after-add', 'one-at-a-time'].flatMap((phase) => load.samples.get(phase) ?? []);
    const ranAfterAdd = new Set(afterAdd.filter((x) => x.ok).map((x) => x.functionId));
    return {
      movedAfterAdd: coldFirstCalls(afterAdd, recentMoved, (w) => w === started.id),
      movedAfterDrain: coldFirstCalls(afterDrain, new Set([...movedHere].filter((fn) => ranAfterAdd.has(fn))), (w) => w !== started.id),
      onlyNewAfterDrain: drainFirstCalls(onlyNew, started.id, beforeDrain, afterDrain, (fn) => ringBefore.home(fn)),
      scenario: 'ring-change',
      workerId: started.id,
      joinSettleMs,
      drainMs,
      homesMovedOnAdd: homesMoved / options.functionIds.length,
      movedOnAdd: common.length === 0 ? 0 : moved / common.length,
      phases: durations.map(([phase, ms]) => stats(phase, load.samples.get(phase) ?? [], ms)),
    };
  } finally {
    await load.stop();
    await worker?.kill();
  }
}

/** failover: kill a worker under load. */
export async function runFailover(options: RingScenarioOptions): Promise<FailoverResult> {
  const phaseMs = options.phaseMs ?? 5000;
  const worker = await options.startWorker();
  if (options.register === true) await registerWorker(options, worker);
  await settle(options, (ws) => ws.some((w) => w.id === worker.id && w.inRing));
  const load = new LoadRun(options);
  const durations: Array<[string, number]> = [];
  load.start();
  try {
    await timed(load, 'warmup', Math.min(2000, phaseMs), []);
    await timed(load, 'before', phaseMs, durations);
    load.phase('failing');
    const killedAt = Date.now();
    await worker.kill();
    const settleMs = await settle(options, (ws) => !ws.some((w) => w.id === worker.id && w.inRing));
    durations.push(['failing', Date.now() - killedAt]);
    await timed(load, 'after', phaseMs, durations);
    await load.stop();
    const phases = durations.map(([phase, ms]) => stats(phase, load.samples.get(phase) ?? [], ms));
    // by time, not phase: the requests in flight at the kill were sent in the phase before
    const failures = [...load.samples.values()].flat().filter((x) => !x.ok);
    return {
      scenario: 'failover',
      workerId: worker.id,
      failedRequests: failures.filter((x) => x.at >= killedAt).length,
      failedAfterSettle: failures.filter((x) => x.at >= killedAt + settleMs).length,
      settleMs,
      phases,
    };
  } finally {
    await load.stop();
  }
}

async function registerWorker(options: RingScenarioOptions, worker: ScenarioWorker): Promise<void> {
  const res = await fetch(`${options.routerUrls[0]}/workers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` }) },
    body: JSON.stringify({ id: worker.id, address: worker.address }),
  });
  if (res.status >= 300) throw new RfError(BenchErrors.COMPONENT_START_FAILED, `POST /workers answered ${res.status}: ${await res.text()}`);
}

async function removeWorker(options: RingScenarioOptions, id: string): Promise<void> {
  const res = await fetch(`${options.routerUrls[0]}/workers/${encodeURIComponent(id)}`, {
    method: 'DELETE',
    headers: options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` },
  });
  if (res.status >= 300) throw new RfError(BenchErrors.COMPONENT_START_FAILED, `DELETE /workers/${id} answered ${res.status}: ${await res.text()}`);
}
