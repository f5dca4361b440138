/**
 * ring-change and failover (bench/ring-scenarios.ts, by the ring's author) wired to a ringfaas
 * platform started by the bench: routers from the launcher, workers as child processes of
 * worker/main.ts that join the ring by themselves.
 */
import { runFailover, runRingChange, type PhaseStats, type RingScenarioOptions } from '../ring-scenarios.ts';
import type { ReportTable, ScenarioOutput } from '../report/result.ts';
import type { Progress } from '../report/progress.ts';
import { deployFunction, type TargetLauncher } from '../platform/targets.ts';

export interface RingBenchOptions {
  scenario: 'ring-change' | 'failover';
  launcher: TargetLauncher;
  functions: number;
  concurrency: number;
  phaseMs: number;
  functionMemoryMb: number;
  /** The workers' warm hand-off (RINGFAAS_WARM_HANDOFF), as set for this run; shown in the summary. */
  warmHandoff: 'on' | 'off';
  progress: Progress;
}

function phaseTable(phases: readonly PhaseStats[]): ReportTable {
  return {
    title: 'Phases',
    columns: ['phase', 'ms', 'requests', 'errors', 'cold starts', 'p50 ms', 'p99 ms', 'served by'],
    rows: phases.map((p) => [
      p.phase,
      Math.round(p.durationMs),
      p.requests,
      p.errors,
      p.coldStarts,
      Math.round(p.p50Ms * 1000) / 1000,
      Math.round(p.p99Ms * 1000) / 1000,
      Object.entries(p.servedBy).map(([w, n]) => `${w}: ${n}`).join(', '),
    ]),
  };
}

export async function runRingBench(options: RingBenchOptions): Promise<ScenarioOutput> {
  options.progress.note('starting ringfaas');
  const target = await options.launcher.start({ kind: 'ringfaas' });
  try {
    const base = target.baseUrl as string;
    const functionIds = [target.functionId as string];
    for (let i = 1; i < options.functions; i++) functionIds.push(await deployFunction(base, { functionMemoryMb: options.functionMemoryMb }));
    const scenarioOptions: RingScenarioOptions = {
      routerUrls: [base],
      functionIds,
      concurrency: options.concurrency,
      phaseMs: options.phaseMs,
      startWorker: () => options.launcher.startRingfaasWorker(),
      deployFunction: () => deployFunction(base, { functionMemoryMb: options.functionMemoryMb }),
    };
    options.progress.note(`${options.scenario} under load`);
    if (options.scenario === 'ring-change') {
      const r = await runRingChange(scenarioOptions);
      return {
        title: 'Ring change: add then drain a worker under load',
        settings: { functions: options.functions, concurrency: options.concurrency, phaseMs: options.phaseMs, warmHandoff: options.warmHandoff },
        summary: [
          `warm hand-off ${options.warmHandoff} (RINGFAAS_WARM_HANDOFF=${options.warmHandoff === 'on' ? 1 : 0} on every worker); target with it on: 0 cold first calls of moved functions invoked in the last minute, no failed request`,
          `join, hand-off ${options.warmHandoff}: cold first calls on the new worker of the functions whose home moved to it and that ran just before: ${r.movedAfterAdd.coldFirstCalls} of ${r.movedAfterAdd.functions} (${r.movedAfterAdd.coldStarts} cold starts of them there in all)`,
          `drain, hand-off ${options.warmHandoff}: cold first calls after the drain of the functions that ran only on the drained worker, one at a time, in the seconds before it: ${r.onlyNewAfterDrain.coldFirstCalls} of ${r.onlyNewAfterDrain.firstCalls.length} (${r.onlyNewAfterDrain.onNextHome} served by their next home; ${r.onlyNewAfterDrain.functions} such functions, ${r.onlyNewAfterDrain.functions - r.onlyNewAfterDrain.firstCalls.length} of them not served elsewhere after the drain; ${r.onlyNewAfterDrain.called - r.onlyNewAfterDrain.functions} of the ${r.onlyNewAfterDrain.called} called left out: they also ran elsewhere before it)`,
          `the new worker ${r.workerId} was in the router's ring ${r.joinSettleMs} ms after it started`,
          `${(r.homesMovedOnAdd * 100).toFixed(0)} % of the ${options.functions} functions got a new home on the ring with the add (about 1/(N+1) expected, N workers before); ${(r.movedOnAdd * 100).toFixed(0)} % were served mostly by another worker afterwards (bounded-load spills and cold starts blur this)`,
          `draining it took ${r.drainMs} ms; errors in all phases: ${r.phases.reduce((n, p) => n + p.errors, 0)}`,
          `the functions the drain moved back under load (they ran on their old homes before the add; on one machine only their overflow spills there, and the drain's hand-off keeps or warms one container each): ${r.movedAfterDrain.coldFirstCalls} of ${r.movedAfterDrain.functions} cold first calls on their next home (${r.movedAfterDrain.coldStarts} cold starts in all)`,
        ],
        tables: [phaseTable(r.phases)],
        charts: [
          { title: 'p50 latency per phase', kind: 'bar', xLabel: 'phase', yLabel: 'p50 ms', xLabels: r.phases.map((p) => p.phase), series: [{ name: 'p50 ms', points: r.phases.map((p, i) => [i, p.p50Ms] as [number, number]) }] },
        ],
        raw: r,
      };
    }
    const r = await runFailover(scenarioOptions);
    return {
      title: 'Failover: kill a worker under load',
      settings: { functions: options.functions, concurrency: options.concurrency, phaseMs: options.phaseMs },
      summary: [
        `${r.failedRequests} requests failed after the kill of ${r.workerId}; ${r.failedAfterSettle} after the ring settled`,
        `the ring dropped the worker ${r.settleMs} ms after the kill`,
      ],
      tables: [phaseTable(r.phases)],
      charts: [
        { title: 'Errors per phase', kind: 'bar', xLabel: 'phase', yLabel: 'errors', xLabels: r.phases.map((p) => p.phase), series: [{ name: 'errors', points: r.phases.map((p, i) => [i, p.errors] as [number, number]) }] },
      ],
      raw: r,
    };
  } finally {
    await target.stop();
  }
}
