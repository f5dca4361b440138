/**
 * `ringfaas bench async`: durable asynchronous invocations (docs/async.md) against the
 * synchronous path of the same function on the same platform.
 *
 * The ringfaas target is started with its router's own dispatcher off; for each dispatcher
 * concurrency a standalone dispatcher process (router/async-dispatcher-main.ts) is started,
 * `count` invocations are submitted with `Prefer: respond-async` by `submitters` concurrent
 * clients, and the run waits until the queue is empty. Reported per concurrency:
 *  - acceptance: 202 answers / requests, and the accept rate (req/s) and latency;
 *  - completion throughput: invocations / (last finishedAt − first acceptedAt), platform clock;
 *  - end-to-end latency accepted → finished from the platform's own timestamps (every
 *    invocation), and from the client's clock (request sent → the client saw it finished) for a
 *    sample polled every `pollMs` (so that measure is quantised by the poll interval);
 *  - the peak resident memory of every process (router, workers, dispatcher) during the drain.
 * The synchronous throughput of the same function at the same numbers of closed-loop callers
 * is measured first, on the same target.
 *
 * Caveats: all processes share the machine with Azurite, which serves the queue, the records
 * and the functions; the async figures include its cost. Accepted-before-drain means the
 * first invocations wait for the later ones' acceptance to share the CPU.
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { percentile } from '../load/stats.ts';
import type { Progress } from '../report/progress.ts';
import type { ReportTable, ScenarioOutput } from '../report/result.ts';
import type { RunningTarget, TargetLauncher } from '../platform/targets.ts';
import { loadTarget } from './concurrency.ts';

export interface AsyncBenchOptions {
  launcher: TargetLauncher;
  concurrencies: readonly number[];
  count: number;
  submitters: number;
  /** Client-clock sample size per run. */
  sampleSize: number;
  pollMs: number;
  syncStageMs: number;
  /** Longest wait for one run to drain. */
  drainTimeoutMs: number;
  /**
   * Queue every invocation before the dispatcher starts (a backlog), then time the drain
   * alone: `drainOnlyMs`, from the dispatcher's start to an empty queue.
   */
  queueFirst?: boolean;
  progress: Progress;
}

interface RunFigures {
  dispatcherConcurrency: number;
  count: number;
  accepted: number;
  acceptRps: number;
  acceptP50Ms: number;
  acceptP99Ms: number;
  completionRps: number;
  platformE2eP50Ms: number;
  platformE2eP99Ms: number;
  clientE2eP50Ms: number;
  clientE2eP99Ms: number;
  succeeded: number;
  drainMs: number;
  /** With queueFirst: dispatcher started → queue empty. */
  drainOnlyMs?: number;
  peakRssMb: Record<string, number>;
}

/** Resident set size of a process, MB (Linux /proc), or undefined. */
function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]) / 1024;
  } catch {
    return undefined;
  }
}

function sampleRss(processes: Array<{ name: string; pid: number }>, everyMs: number): { stop(): Record<string, number> } {
  const peak: Record<string, number> = {};
  const take = (): void => {
    for (const p of processes) {
      const mb = rssMb(p.pid);
      if (mb !== undefined) peak[p.name] = Math.max(peak[p.name] ?? 0, mb);
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, Math.round(v)]));
    },
  };
}

async function json(pool: Pool, path: string, init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: any }> {
  const res = await pool.request({ path, method: init.method ?? 'GET', ...(init.headers === undefined ? {} : { headers: init.headers }), ...(init.body === undefined ? {} : { body: init.body }) });
  const text = await res.body.text();
  return { status: res.statusCode, body: text.length > 0 ? JSON.parse(text) : undefined };
}

async function queueDepth(pool: Pool): Promise<number> {
  const res = await pool.request({ path: '/metrics', method: 'GET' });
  const text = await res.body.text();
  const m = /^ringfaas_async_queue_depth (\d+)/m.exec(text);
  // Invocations parked beyond the queue's window (router/async-window.ts) are queued too.
  const parked = /^ringfaas_async_parked (\d+)/m.exec(text);
  return m === null ? Number.NaN : Number(m[1]) + Number(parked?.[1] ?? 0);
}

async function runOnce(target: RunningTarget, launcher: TargetLauncher, concurrency: number, options: AsyncBenchOptions, runIndex: number): Promise<RunFigures> {
  const base = target.baseUrl as string;
  const fnId = target.functionId as string;
  const pool = new Pool(base, { connections: options.submitters + 4 });
  const processes = (target.processes ?? []).map((p) => ({ name: p.name, pid: p.pid }));
  let dispatcher: Awaited<ReturnType<TargetLauncher['startDispatcher']>> | undefined;
  let dispatcherStartedAt = 0;
  const startDispatcher = async (): Promise<void> => {
    dispatcher = await launcher.startDispatcher(concurrency);
    dispatcherStartedAt = Date.now();
    processes.push({ name: 'dispatcher', pid: dispatcher.pid });
  };
  if (options.queueFirst !== true) await startDispatcher();
  const rss = sampleRss(processes, 500);
  try {
    const sentAt = new Map<string, number>();
    const acceptMs: number[] = [];
    let accepted = 0;
    let next = 0;
    let sampled = 0;
    const pending = new Set<string>();
    const firstSend = Date.now();
    const submit = async (): Promise<void> => {
      while (next < options.count) {
        const i = next++;
        const t0 = Date.now();
        const started = performance.now();
        try {
          const res = await json(pool, `/functions/${fnId}/invoke`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async' }, body: JSON.stringify({ run: runIndex, i }) });
          acceptMs.push(performance.now() - started);
          if (res.status === 202) {
            accepted++;
            sentAt.set(res.body.invocationId as string, t0);
            if (sampled < options.sampleSize) {
              sampled++;
              pending.add(res.body.invocationId as string);
            }
          }
        } catch {
          // a refused request: counted as not accepted
        }
        if (i % 200 === 0) options.progress.note(`async c=${concurrency}: submitted ${i}/${options.count}`);
      }
    };
    // The client-clock sample: the first sampleSize accepted ones, polled until finished.
    const clientE2e: number[] = [];
    let submitted = false;
    const sampler = (async () => {
      const deadline = Date.now() + options.drainTimeoutMs;
      while ((!submitted || pending.size > 0) && Date.now() < deadline) {
        await Promise.all(
          [...pending].map(async (id) => {
            const res = await json(pool, `/invocations/${id}`);
            if (res.status === 200 && ['succeeded', 'failed', 'dead'].includes(res.body.status as string)) {
              pending.delete(id);
              clientE2e.push(Date.now() - (sentAt.get(id) as number));
            }
          }),
        );
        await new Promise((r) => setTimeout(r, options.pollMs));
      }
    })();
    await Promise.all(Array.from({ length: options.submitters }, submit));
    submitted = true;
    const acceptedAllAt = Date.now();
    if (dispatcher === undefined) {
      options.progress.note(`async c=${concurrency}: ${accepted} queued; starting the dispatcher`);
      await startDispatcher();
    }
    const deadline = Date.now() + options.drainTimeoutMs;
    for (;;) {
      const depth = await queueDepth(pool);
      options.progress.note(`async c=${concurrency}: queue depth ${depth}`);
      if (depth === 0) break;
      if (Date.now() > deadline) throw new Error(`the queue did not drain within ${options.drainTimeoutMs} ms (depth ${depth})`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const drainedAt = Date.now();
    await sampler;
    const peakRssMb = rss.stop();
    // Every record of this run, from the platform's timestamps.
    const e2e: number[] = [];
    let firstAccepted = Number.POSITIVE_INFINITY;
    let lastFinished = 0;
    let succeeded = 0;
    let token: string | undefined;
    do {
      const page = await json(pool, `/invocations?functionId=${fnId}&limit=1000${token === undefined ? '' : `&continuationToken=${token}`}`);
      for (const item of page.body.items as Array<{ invocationId: string; status: string; acceptedAt: string; finishedAt?: string }>) {
        if (!sentAt.has(item.invocationId) || item.finishedAt === undefined) continue;
        const a = Date.parse(item.acceptedAt);
        const f = Date.parse(item.finishedAt);
        firstAccepted = Math.min(firstAccepted, a);
        lastFinished = Math.max(lastFinished, f);
        e2e.push(f - a);
        if (item.status === 'succeeded') succeeded++;
      }
      token = page.body.nextToken as string | undefined;
    } while (token !== undefined);
    e2e.sort((a, b) => a - b);
    clientE2e.sort((a, b) => a - b);
    acceptMs.sort((a, b) => a - b);
    return {
      dispatcherConcurrency: concurrency,
      count: options.count,
      accepted,
      acceptRps: accepted / ((acceptedAllAt - firstSend) / 1000),
      acceptP50Ms: percentile(acceptMs, 50),
      acceptP99Ms: percentile(acceptMs, 99),
      completionRps: e2e.length / Math.max(0.001, (lastFinished - firstAccepted) / 1000),
      platformE2eP50Ms: percentile(e2e, 50),
      platformE2eP99Ms: percentile(e2e, 99),
      clientE2eP50Ms: percentile(clientE2e, 50),
      clientE2eP99Ms: percentile(clientE2e, 99),
      succeeded,
      drainMs: drainedAt - firstSend,
      ...(options.queueFirst === true ? { drainOnlyMs: drainedAt - dispatcherStartedAt } : {}),
      peakRssMb,
    };
  } finally {
    rss.stop();
    await dispatcher?.stop();
    await pool.close();
  }
}

/** The async scenario. */
export async function runAsyncBench(options: AsyncBenchOptions): Promise<ScenarioOutput> {
  options.progress.note('starting ringfaas (router dispatcher off)');
  const target = await options.launcher.start({ kind: 'ringfaas' });
  const runs: RunFigures[] = [];
  let sync: Array<{ callers: number; rps: number; p50Ms: number; p99Ms: number }> = [];
  try {
    const stages = await loadTarget(target, options.concurrencies, options.syncStageMs, options.progress, 0, 'sync');
    sync = stages.map((s) => ({ callers: s.stats.concurrency, rps: s.stats.throughputRps, p50Ms: s.stats.p50Ms, p99Ms: s.stats.p99Ms }));
    for (const [i, c] of options.concurrencies.entries()) runs.push(await runOnce(target, options.launcher, c, options, i));
  } finally {
    await target.stop();
  }
  const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d;
  const table: ReportTable = {
    title: 'Asynchronous invocations by dispatcher concurrency (sync: the same function, closed-loop callers = concurrency)',
    columns: ['concurrency', 'accepted', 'accept req/s', 'accept p99 ms', 'completed/s', 'sync req/s', 'e2e p50 ms (platform)', 'e2e p99 ms (platform)', 'e2e p50 ms (client)', 'e2e p99 ms (client)', 'drain s', 'backlog drain s'],
    rows: runs.map((r, i) => [
      r.dispatcherConcurrency,
      `${r.accepted}/${r.count}`,
      round(r.acceptRps),
      round(r.acceptP99Ms),
      round(r.completionRps),
      round(sync[i]?.rps ?? Number.NaN),
      round(r.platformE2eP50Ms, 0),
      round(r.platformE2eP99Ms, 0),
      round(r.clientE2eP50Ms, 0),
      round(r.clientE2eP99Ms, 0),
      round(r.drainMs / 1000),
      r.drainOnlyMs === undefined ? null : round(r.drainOnlyMs / 1000),
    ]),
    note: `Platform e2e: accepted → finished from the records' own timestamps (all ${options.count} per run); client e2e: request sent → seen finished, ${options.sampleSize} sampled invocations polled every ${options.pollMs} ms. Completed/s: invocations / (last finished − first accepted). Backlog drain (--drain): every invocation queued before the dispatcher started, then dispatcher start → empty queue.`,
  };
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.peakRssMb)))];
  const memory: ReportTable = {
    title: 'Peak resident memory (MB) of each process while submitting and draining',
    columns: ['concurrency', ...names],
    rows: runs.map((r) => [r.dispatcherConcurrency, ...names.map((n) => r.peakRssMb[n] ?? null)]),
  };
  const best = runs.reduce((a, b) => (b.completionRps > a.completionRps ? b : a), runs[0] as RunFigures);
  const bestSync = sync.reduce((a, b) => (b.rps > a.rps ? b : a), sync[0] ?? { callers: 0, rps: 0, p50Ms: 0, p99Ms: 0 });
  return {
    title: 'Asynchronous invocations',
    settings: { concurrencies: options.concurrencies, count: options.count, queueFirst: options.queueFirst === true, submitters: options.submitters, sampleSize: options.sampleSize, pollMs: options.pollMs, syncStageMs: options.syncStageMs },
    summary: [
      `acceptance ${runs.map((r) => `${r.accepted}/${r.count}`).join(', ')}`,
      `best completion ${best.completionRps.toFixed(1)} invocations/s at dispatcher concurrency ${best.dispatcherConcurrency} vs sync ${bestSync.rps.toFixed(1)} req/s at ${bestSync.callers} callers (ratio ${(best.completionRps / bestSync.rps).toFixed(2)})`,
      `e2e at concurrency ${best.dispatcherConcurrency}: platform p50 ${best.platformE2eP50Ms.toFixed(0)} ms / p99 ${best.platformE2eP99Ms.toFixed(0)} ms; client p50 ${best.clientE2eP50Ms.toFixed(0)} ms / p99 ${best.clientE2eP99Ms.toFixed(0)} ms`,
      `peak RSS (MB) during the largest drain: ${Object.entries(runs.at(-1)?.peakRssMb ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    ],
    tables: [table, memory],
    charts: [
      {
        title: 'Completion throughput vs dispatcher concurrency (sync throughput at the same callers)',
        kind: 'line',
        xLabel: 'dispatcher concurrency / callers',
        yLabel: 'invocations / s',
        series: [
          { name: 'async completed/s', points: runs.map((r) => [r.dispatcherConcurrency, round(r.completionRps)] as [number, number]) },
          { name: 'sync req/s', points: sync.map((s) => [s.callers, round(s.rps)] as [number, number]) },
        ],
      },
    ],
    raw: { runs, sync },
  };
}
