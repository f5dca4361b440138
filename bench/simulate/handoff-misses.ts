/**
 * Why ringfaas + hand-off still has cold first calls after a membership event: each affected
 * function whose first call in an event's window was cold in the run and not in the control
 * (a cold first call the event caused), and each the other way round, sorted into causes.
 *
 * Algorithm
 * ---------
 * One run with events and warm hand-off and its control (scenario.ts's runPair), every start
 * recorded through `onAnyStart`: per event and function, the last start before the event and
 * the first start in its window (time, cold, worker). The homes after the event come from the
 * real `Ring` over the active workers (the run's event list says who joined, drained, died).
 * A function of `affected` (membership-impact.ts) whose first call was cold in the run and
 * not in the control is sorted, first match:
 *
 *   die                 the event was the death (no hand-off can help)
 *   not handed off      the hand-off did not pick it: its last start was over 60 s before the
 *                       event (the hand-off's window; `lastStartAgo` says how long), or (a
 *                       join) its home did not move: it was affected by a call on the new worker
 *   loaded nothing      picked, but no idle container of it on the new home after the
 *                       hand-off (memory)
 *   off the new home    picked and loaded, but the first call went to another worker (the
 *                       bound, or the home at capacity)
 *   on the new home     picked and loaded, first call on the home, yet cold (the loaded
 *                       containers were taken, expired or evicted first)
 *
 * The reverse (cold in the control, warm in the run) is sorted the same way: the figure the
 * bench reports (firstCaused) is the difference of the two counts.
 *
 * Worked example
 * --------------
 * A join moves f's home to the new worker and f last ran 3 min before: the hand-off skips it
 * (over 60 s), its next call goes to the new home, cold; in the control f's old home still had
 * it warm (15 min keep-alive): one cold first call caused, "not handed off".
 *
 * Known caveats
 * -------------
 * - "Last start" is the last execution start, not the last arrival (the engine's hand-off
 *   looks at arrivals): they differ by queueing only, rare in these runs.
 * - An analysis, not a bench section: run it with `--seeds` through bench/simulate/handoff-misses-cli.ts.
 */
import { Ring, type RingMemberRow } from '../../ring/index.ts';
import { simulate, type SimulationOptions, type SimulationResult } from './engine.ts';

export type MissCause = 'die' | 'not handed off (last call > 60 s before)' | 'not handed off (join: home not moved, a call on the new worker)' | 'not handed off (drain: not on the drained worker)' | 'loaded nothing' | 'off the new home' | 'on the new home';

export interface MissTally {
  /** Cold first calls in the run that were not cold in the control, by event kind and cause ("join: off the new home"). */
  caused: Map<string, number>;
  /** Cold first calls in the control that were warm in the run, by event kind and cause. */
  saved: Map<string, number>;
  /** For the "not handed off (> 60 s)" ones caused: seconds between the last start and the event. */
  lastStartAgoS: number[];
  /** For the "off the new home" ones caused: whether the worker it ran on had the function warm in the control's first call too (same worker). */
  offHomeOnControlWorker: number;
}

interface FirstStart {
  cold: boolean;
  worker: string;
}

/** Records per event window the last start before it and the first start inside it. */
class StartLog {
  readonly last: Array<Float64Array>;
  readonly first: Array<Array<FirstStart | undefined>>;
  constructor(readonly windows: ReadonlyArray<{ fromMs: number; toMs: number }>, functions: number) {
    this.last = windows.map(() => new Float64Array(functions).fill(-Infinity));
    this.first = windows.map(() => new Array<FirstStart | undefined>(functions));
  }
  start = (fn: number, now: number, cold: boolean, worker: string): void => {
    this.windows.forEach((w, i) => {
      if (now < w.fromMs) (this.last[i] as Float64Array)[fn] = now;
      else if (now < w.toMs && (this.first[i] as Array<FirstStart | undefined>)[fn] === undefined) (this.first[i] as Array<FirstStart | undefined>)[fn] = { cold, worker };
    });
  };
}

function row(id: string): RingMemberRow {
  return { id, address: '', capacityMb: 0, state: 'active', heartbeatAt: 0 };
}

/** Active worker ids after each event of a run (the engine's order: w0.., joined ones appended). */
function activeAfter(r: SimulationResult): string[][] {
  let ids = Array.from({ length: r.workers }, (_, i) => `w${i}`);
  return r.events.map((e) => {
    ids = e.kind === 'join' ? [...ids, e.worker] : ids.filter((id) => id !== e.worker);
    return ids;
  });
}

/** Runs one pair (events + hand-off, and its control) and sorts the cold first calls (see the header). */
export function handoffMisses(base: SimulationOptions, tally: MissTally = { caused: new Map(), saved: new Map(), lastStartAgoS: [], offHomeOnControlWorker: 0 }): MissTally {
  const fns = base.workload.functions;
  const events = base.events ?? [];
  const windowMs = (base.windowMin ?? 10) * 60_000;
  const windows = events.map((e) => ({ fromMs: e.atMin * 60_000, toMs: e.atMin * 60_000 + windowMs }));
  const runLog = new StartLog(windows, fns.length);
  const run = simulate({ ...base, handoff: true, onAnyStart: runLog.start });
  const controlLog = new StartLog(windows, fns.length);
  simulate({ ...base, handoff: true, events: [], observe: run.events.map((e) => e.window), onAnyStart: controlLog.start });
  const after = activeAfter(run);
  run.events.forEach((e, i) => {
    const w = e.window;
    const ring = new Ring((after[i] as string[]).map(row));
    const firstRun = runLog.first[i] as Array<FirstStart | undefined>;
    const firstControl = controlLog.first[i] as Array<FirstStart | undefined>;
    for (let fn = 0; fn < fns.length; fn++) {
      if (w.affected?.[fn] !== 1) continue;
      const r = firstRun[fn];
      const c = firstControl[fn];
      const runCold = r?.cold === true;
      const controlCold = c?.cold === true;
      if (runCold === controlCold) continue;
      const handed = w.handedOff?.[fn] ?? 0;
      const ago = (w.fromMs - (runLog.last[i] as Float64Array)[fn]!) / 1000;
      let cause: MissCause;
      if (e.kind === 'die') cause = 'die';
      else if (handed === 0) {
        if (ago > 60) cause = 'not handed off (last call > 60 s before)';
        else cause = e.kind === 'join' ? 'not handed off (join: home not moved, a call on the new worker)' : 'not handed off (drain: not on the drained worker)';
      } else if (handed === 1) cause = 'loaded nothing';
      else if (r?.worker !== ring.home((fns[fn] as { id: string }).id)) cause = 'off the new home';
      else cause = 'on the new home';
      const into = runCold ? tally.caused : tally.saved;
      const key = `${e.kind}: ${cause}` as const;
      into.set(key, (into.get(key) ?? 0) + 1);
      if (runCold && cause === 'not handed off (last call > 60 s before)') tally.lastStartAgoS.push(Math.round(ago));
      if (runCold && cause === 'off the new home' && r?.worker === c?.worker) tally.offHomeOnControlWorker++;
    }
  });
  return tally;
}
