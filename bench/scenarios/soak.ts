/**
 * The soak: a mixed workload for N minutes at about half the measured capacity, watching every
 * process of the platform for leaks.
 *
 * Workload: `functions` functions with Zipf-skewed popularity (s = 1.1), of which a few throw
 * on every call and one runs past its 1 s timeout (both asked-for errors, rare by popularity);
 * every `updateEveryS` one function gets a new version (PUT), every `replaceEveryS` one is
 * taken out of the mix, deleted and replaced by a fresh one; at 40 % of the run a new worker
 * joins and then one of the first is drained (DELETE /workers/{id}). Open loop: requests are
 * issued at a fixed rate (half of what 8 closed-loop callers reached on the same mix in a
 * short measurement) whatever the latency, capped at `maxOutstanding` in flight.
 *
 * Observed every `sampleS`: each router's and worker's /metrics (RSS, heap used, open fds,
 * event-loop p99), containers alive (/status of each worker), requests, errors by code and
 * cold starts. Verdicts after warm-up (the first 20 % of the run, at most 5 min): RSS growth
 * ≤ 10 % in every process, open fds flat, no container left once the platform stopped, and
 * no error other than the workload's own (RF_FUNCTION_ERROR from a throwing function,
 * RF_WORKER_INVOKE_TIMEOUT from the slow one; the same code from another function counts).
 *
 * One unit (over 350 lines): one scenario whose workload, per-process sampling and verdict
 * read the same run's state.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import type { ReportChart, ReportTable, ScenarioOutput } from '../report/result.ts';
import type { Progress } from '../report/progress.ts';
import type { TargetLauncher } from '../platform/targets.ts';
import { judgeProcess, scrapeProcess, type ProcessSample, type ProcessVerdict } from '../load/process-samples.ts';

export interface SoakOptions {
  launcher: TargetLauncher;
  minutes: number;
  functions: number;
  progress: Progress;
  runtime: 'docker' | 'process';
  /** Requests per second; default half the measured capacity. */
  rate?: number;
  updateEveryS?: number;
  replaceEveryS?: number;
  maxOutstanding?: number;
}

/** How long the engine gets to remove the containers of stopped workers before a leak is counted. */
const LEAK_SETTLE_MS = 60_000;

/**
 * Timeouts: the slow function (3 s) is asked to time out at 1 s; the others answer in
 * milliseconds, and 10 s keeps a machine's bad minute (load 10 on 2 cores) from passing for
 * an error they were asked for.
 */
const SLOW_TIMEOUT_MS = 1000;
const TIMEOUT_MS = 10_000;

/** Longest wait for a replaced function's requests in flight before it is deleted. */
const DELETE_WAIT_MS = 60_000;

/** Errors the workload asks for, each from its own kind of function only. */
const EXPECTED_ERRORS = new Set(['RF_FUNCTION_ERROR', 'RF_WORKER_INVOKE_TIMEOUT']);
const ASKED_FOR: Readonly<Record<string, string>> = { throws: 'RF_FUNCTION_ERROR', slow: 'RF_WORKER_INVOKE_TIMEOUT' };

/**
 * How an error is counted: its code if the function's kind asks for it, else code and kind
 * (an error nobody asked for says which kind of function met it: an overloaded slow function
 * is not a failing ok one).
 */
function errorLabel(code: string, kind: Kind): string {
  return ASKED_FOR[kind] === code ? code : `${code} (${kind} function)`;
}

const CODE = {
  ok: (v: number) => `module.exports = async (input) => ({ ok: true, v: ${v}, n: (input && input.n) || 0 });`,
  throws: () => `module.exports = () => { throw new Error('soak: asked to throw'); };`,
  slow: () => `module.exports = () => new Promise((r) => setTimeout(() => r('late'), 3000));`,
};

type Kind = 'ok' | 'throws' | 'slow';
interface SoakFunction {
  id: string;
  kind: Kind;
  version: number;
}

interface Interval {
  atS: number;
  requests: number;
  errors: number;
  coldStarts: number;
  containers: number;
}

/** Zipf weights 1/rank^s, cumulative, for picking ranks. */
function zipfCumulative(n: number, s: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let r = 1; r <= n; r++) out.push((sum += 1 / r ** s));
  return out.map((w) => w / sum);
}

function pick(cumulative: readonly number[]): number {
  const u = Math.random();
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cumulative[mid] as number) < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export async function runSoak(options: SoakOptions): Promise<ScenarioOutput> {
  const durationS = options.minutes * 60;
  const sampleS = Math.min(30, Math.max(3, Math.round(durationS / 100)));
  const warmupS = Math.min(300, durationS * 0.2);
  const updateEveryS = options.updateEveryS ?? Math.max(10, Math.round(durationS / 60));
  const replaceEveryS = options.replaceEveryS ?? Math.max(20, Math.round(durationS / 20));
  const maxOutstanding = options.maxOutstanding ?? 128;
  const clusterKey = process.env.RINGFAAS_CLUSTER_KEY;
  const workerHeaders: Record<string, string> = clusterKey === undefined ? {} : { 'x-ringfaas-cluster-key': clusterKey };

  options.progress.note('starting ringfaas');
  const target = await options.launcher.start({ kind: 'ringfaas' });
  const base = target.baseUrl as string;
  const agent = new Agent({ connections: maxOutstanding, keepAliveTimeout: 30_000, headersTimeout: 60_000, bodyTimeout: 60_000 });
  const workerIdsSeen = new Set<string>();
  let leaked = 0;
  let leakedBy: Record<string, number> = {};
  try {
    const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
      const res = await request(`${base}${path}`, {
        method: method as 'GET',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.body.text();
      let json: unknown;
      try {
        json = text.length === 0 ? undefined : JSON.parse(text);
      } catch {
        json = text;
      }
      return { status: res.statusCode, json };
    };
    const deploy = async (kind: Kind, version = 1): Promise<SoakFunction> => {
      const code = kind === 'ok' ? CODE.ok(version) : kind === 'throws' ? CODE.throws() : CODE.slow();
      const timeoutMs = kind === 'slow' ? SLOW_TIMEOUT_MS : TIMEOUT_MS;
      const r = await api('POST', '/functions', { name: `soak-${kind}-${randomBytes(3).toString('hex')}`, memorySize: 128, timeoutMs, code });
      const id = (r.json as { id?: unknown } | undefined)?.id;
      if (r.status !== 201 || typeof id !== 'string') throw new Error(`deploy answered ${r.status}: ${JSON.stringify(r.json).slice(0, 200)}`);
      return { id, kind, version };
    };

    // The mix, most popular first: ok functions, with the asked-for failures at ranks where
    // they stay rare (a throwing one at rank 5, the slow one near the tail).
    options.progress.note(`deploying ${options.functions} functions`);
    const mix: SoakFunction[] = [];
    for (let i = 0; i < options.functions; i++) {
      const kind: Kind = i === 4 || i === Math.floor(options.functions / 2) ? 'throws' : i === options.functions - 2 ? 'slow' : 'ok';
      mix.push(await deploy(kind));
    }
    const cumulative = zipfCumulative(mix.length, 1.1);

    // Counters of the whole run and of the current interval.
    const errorsByCode = new Map<string, number>();
    let requests = 0;
    let coldStarts = 0;
    let skipped = 0;
    let outstanding = 0;
    let intervalRequests = 0;
    let intervalErrors = 0;
    let intervalCold = 0;
    const inFlightById = new Map<string, number>();
    const invoke = async (fn: SoakFunction): Promise<void> => {
      outstanding++;
      inFlightById.set(fn.id, (inFlightById.get(fn.id) ?? 0) + 1);
      try {
        const res = await request(`${base}/functions/${fn.id}/invoke`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json', 'x-ringfaas-details': '1' }, body: '{"n":1}' });
        const text = await res.body.text();
        requests++;
        intervalRequests++;
        const start = res.headers['x-ringfaas-start'];
        if (typeof start === 'string' && start !== 'warm') {
          coldStarts++;
          intervalCold++;
        }
        if (res.statusCode !== 200) {
          let code = `HTTP_${res.statusCode}`;
          try {
            const parsed = JSON.parse(text) as { error?: { code?: unknown } };
            if (typeof parsed.error?.code === 'string') code = parsed.error.code;
          } catch {
            // not JSON: the status is the code
          }
          const label = errorLabel(code, fn.kind);
          errorsByCode.set(label, (errorsByCode.get(label) ?? 0) + 1);
          if (!EXPECTED_ERRORS.has(label)) intervalErrors++;
        }
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        const name = typeof code === 'string' ? code : 'REQUEST_FAILED';
        errorsByCode.set(name, (errorsByCode.get(name) ?? 0) + 1);
        intervalErrors++;
      } finally {
        outstanding--;
        const left = (inFlightById.get(fn.id) ?? 1) - 1;
        if (left === 0) inFlightById.delete(fn.id);
        else inFlightById.set(fn.id, left);
      }
    };

    // Every function once (cold starts out of the way), then capacity: 8 closed-loop callers
    // for a few seconds on the mix itself. Measured on the ok functions alone it overstated
    // what the mix sustains: the slow and timing-out functions hold containers for their whole
    // timeout, and at half that figure the ring answered RF_RING_AT_CAPACITY.
    options.progress.note('warming up and measuring capacity');
    const queue = [...mix];
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let fn = queue.shift(); fn !== undefined; fn = queue.shift()) await invoke(fn);
    }));
    const measureMs = Math.min(10_000, Math.max(4000, durationS * 1000 * 0.05));
    const measureEnd = performance.now() + measureMs;
    let measured = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (performance.now() < measureEnd) {
          await invoke(mix[pick(cumulative)] as SoakFunction);
          measured++;
        }
      }),
    );
    const capacityRps = measured / (measureMs / 1000);
    const rate = options.rate ?? Math.max(1, Math.round(capacityRps / 2));
    errorsByCode.clear();
    requests = 0;
    coldStarts = 0;
    intervalRequests = intervalErrors = intervalCold = 0;

    // The run.
    const series = new Map<string, ProcessSample[]>();
    const intervals: Interval[] = [];
    const events: Array<{ atS: number; event: string }> = [];
    const t0 = performance.now();
    const elapsedS = (): number => (performance.now() - t0) / 1000;
    let stopped = false;
    let credit = 0;
    let lastTick = performance.now();
    const inflight = new Set<Promise<void>>();
    const tick = setInterval(() => {
      const now = performance.now();
      credit += ((now - lastTick) / 1000) * rate;
      lastTick = now;
      for (; credit >= 1; credit--) {
        if (outstanding >= maxOutstanding) {
          skipped++;
          continue;
        }
        const p = invoke(mix[pick(cumulative)] as SoakFunction);
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
    }, 10);

    const sampleAll = async (): Promise<void> => {
      const atS = Math.round(elapsedS() * 10) / 10;
      const workers = await api('GET', '/workers').catch(() => ({ status: 0, json: [] }));
      const list = (Array.isArray(workers.json) ? workers.json : ((workers.json as { workers?: unknown[] })?.workers ?? [])) as Array<{ id: string; address: string }>;
      let containers = 0;
      const held = new Map<string, number>();
      const scrapes: Array<Promise<[string, ProcessSample | undefined]>> = [scrapeProcess(`${base}/metrics`, atS).then((s) => ['router', s])];
      for (const w of list) {
        workerIdsSeen.add(w.id);
        scrapes.push(scrapeProcess(`${w.address}/metrics`, atS, workerHeaders).then((s) => [`worker ${w.id}`, s]));
        try {
          const res = await request(`${w.address}/status`, { headers: workerHeaders, headersTimeout: 5000, bodyTimeout: 5000 });
          const status = (await res.body.json()) as { coldPool?: { idle?: number }; functions?: Array<{ idle: number; busy: number }> };
          const n = (status.coldPool?.idle ?? 0) + (status.functions ?? []).reduce((k, f) => k + f.idle + f.busy, 0);
          held.set(`worker ${w.id}`, n);
          containers += n;
        } catch {
          // a worker that just left
        }
      }
      for (const [name, sample] of await Promise.all(scrapes)) {
        if (sample === undefined) continue;
        const n = held.get(name);
        if (n !== undefined) sample.containers = n;
        const s = series.get(name) ?? [];
        s.push(sample);
        series.set(name, s);
      }
      intervals.push({ atS, requests: intervalRequests, errors: intervalErrors, coldStarts: intervalCold, containers });
      intervalRequests = intervalErrors = intervalCold = 0;
    };

    let updates = 0;
    let replaced = 0;
    let drained: string | undefined;
    let added: string | undefined;
    let stopExtra: (() => Promise<void>) | undefined;
    const churn = async (): Promise<void> => {
      let nextUpdate = updateEveryS;
      let nextReplace = replaceEveryS;
      let nextSample = 0;
      while (!stopped) {
        const at = elapsedS();
        if (at >= durationS) break;
        if (at >= nextSample) {
          await sampleAll();
          nextSample += sampleS;
          options.progress.update(at, `soak: ${requests} requests, ${rate} req/s`);
        }
        if (at >= nextUpdate) {
          nextUpdate += updateEveryS;
          const okOnes = mix.filter((f) => f.kind === 'ok');
          const fn = okOnes[Math.floor(Math.random() * okOnes.length)] as SoakFunction;
          const r = await api('PUT', `/functions/${fn.id}`, { code: CODE.ok(fn.version + 1) });
          if (r.status === 200) {
            fn.version = (r.json as { version: number }).version;
            updates++;
          } else events.push({ atS: at, event: `update answered ${r.status}` });
        }
        if (at >= nextReplace) {
          nextReplace += replaceEveryS;
          // Out of the mix first, so no new request targets it; deleted once its requests in
          // flight have answered (a request still queued on a loaded machine would otherwise
          // meet the delete: RF_WORKER_FUNCTION_NOT_FOUND, the harness's race, not the platform's).
          const index = 1 + Math.floor(Math.random() * (mix.length - 1));
          const old = mix[index] as SoakFunction;
          const fresh = await deploy(old.kind);
          mix[index] = fresh;
          for (const end = performance.now() + DELETE_WAIT_MS; inFlightById.has(old.id) && performance.now() < end; ) {
            await new Promise((r) => setTimeout(r, 100));
          }
          const r = await api('DELETE', `/functions/${old.id}`);
          if (r.status === 204) replaced++;
          else events.push({ atS: at, event: `delete answered ${r.status}` });
        }
        if (added === undefined && at >= durationS * 0.4) {
          // A worker replaced as an operator would: the new one joins, then an old one drains
          // (the ring never has fewer workers than at the start).
          const extra = await options.launcher.startRingfaasWorker();
          added = extra.id;
          stopExtra = extra.stop;
          workerIdsSeen.add(extra.id);
          events.push({ atS: elapsedS(), event: `added ${extra.id}` });
          const workers = await api('GET', '/workers');
          const list = (Array.isArray(workers.json) ? workers.json : ((workers.json as { workers?: unknown[] })?.workers ?? [])) as Array<{ id: string; inRing?: boolean }>;
          const victim = list.find((w) => w.inRing !== false && w.id !== extra.id);
          if (victim !== undefined) {
            drained = victim.id;
            const r = await api('DELETE', `/workers/${encodeURIComponent(victim.id)}`);
            events.push({ atS: elapsedS(), event: `drained ${victim.id} (${r.status})` });
          }
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    await churn().finally(() => {
      stopped = true;
      clearInterval(tick);
    });
    await Promise.allSettled([...inflight]);
    await sampleAll();

    // Leftover functions go; then the platform stops and no container may remain.
    for (const fn of mix) await api('DELETE', `/functions/${fn.id}`).catch(() => undefined);
    await Promise.all([target.stop(), stopExtra?.()]);
    // A loaded Docker engine removes containers seconds after the worker asked (a kill it has
    // not yet seen exit); a leak is a container still there once the engine caught up, so the
    // count is retried for up to LEAK_SETTLE_MS, and the count right at stop is reported too.
    let leakedAtStop = 0;
    if (options.runtime === 'docker') {
      ({ total: leaked, byWorker: leakedBy } = await countContainers([...workerIdsSeen]));
      leakedAtStop = leaked;
      const settleEnd = performance.now() + LEAK_SETTLE_MS;
      while (leaked > 0 && performance.now() < settleEnd) {
        await new Promise((r) => setTimeout(r, 5000));
        ({ total: leaked, byWorker: leakedBy } = await countContainers([...workerIdsSeen]));
      }
    }

    // Growth over less than 5 minutes says nothing about leaks (the smoke checks errors and containers).
    const verdicts: ProcessVerdict[] = [...series].map(([name, s]) => {
      const v = judgeProcess(name, s, warmupS);
      return durationS >= 300 ? v : { ...v, judged: false, ok: true };
    });
    const unexpected = [...errorsByCode].filter(([code]) => !EXPECTED_ERRORS.has(code));
    const growthOk = verdicts.every((v) => v.ok);
    const judgedCount = verdicts.filter((v) => v.judged).length;
    const summary = [
      `${options.minutes} min at ${rate} req/s (capacity measured ${capacityRps.toFixed(0)} req/s with 8 callers), ${requests} requests, ${coldStarts} cold starts, ${updates} updates, ${replaced} delete+replace, ${skipped} requests not sent (over ${maxOutstanding} in flight)`,
      `memory and fds after ${Math.round(warmupS)} s warm-up: ${growthOk ? 'PASS' : 'FAIL'} (${judgedCount} processes judged): ${verdicts
        .filter((v) => v.judged)
        .map((v) => `${v.name} RSS ${v.rssStartMb.toFixed(0)}→${v.rssEndMb.toFixed(0)} MB (${(v.rssGrowth * 100).toFixed(1)} %), fds ${v.fdsStart}→${v.fdsEnd}${v.fdsPerContainer > 0 ? ` (not held by containers ${v.baseFdsStart.toFixed(0)}→${v.baseFdsEnd.toFixed(0)}, ${v.fdsPerContainer.toFixed(1)} per container)` : ''}`)
        .join('; ')}`,
      `containers left after stop: ${options.runtime === 'docker' ? `${leaked} ${JSON.stringify(leakedBy)} ${LEAK_SETTLE_MS / 1000} s after (${leakedAtStop} right at stop)` : 'n/a (process runtime: containers are child processes of the workers)'} (${leaked === 0 ? 'PASS' : 'FAIL'})`,
      `errors: ${unexpected.length === 0 ? 'PASS' : 'FAIL'}: ${[...errorsByCode].map(([c, n]) => `${c} ${n}`).join(', ') || 'none'} (asked for: ${Object.entries(ASKED_FOR).map(([kind, code]) => `${code} from the ${kind} functions`).join(', ')})`,
      `worker drained: ${drained ?? 'none'}, added: ${added ?? 'none'}`,
    ];

    const byProcess = (title: string, yLabel: string, value: (s: ProcessSample) => number): ReportChart => ({
      title,
      kind: 'line',
      xLabel: 's',
      yLabel,
      series: [...series].map(([name, s]) => ({ name, points: s.filter((p) => Number.isFinite(value(p))).map((p) => [p.atS, Math.round(value(p) * 100) / 100] as [number, number]) })),
      marker: { value: Math.round(warmupS), label: 'warm-up end', axis: 'x' },
    });
    const tables: ReportTable[] = [
      {
        title: 'Processes',
        columns: ['process', 'samples', 'RSS first MB', 'RSS after warm-up MB', 'RSS end MB', 'growth %', 'heap used end MB', 'fds after warm-up', 'fds end', 'fds min', 'fds max', 'fds not held by containers (after warm-up → end)', 'event-loop p99 max ms', 'verdict'],
        rows: verdicts.map((v) => {
          const s = series.get(v.name) ?? [];
          return [
            v.name,
            v.samples,
            round1(s[0]?.rssMb ?? NaN),
            round1(v.rssStartMb),
            round1(v.rssEndMb),
            round1(v.rssGrowth * 100),
            round1(s[s.length - 1]?.heapUsedMb ?? NaN),
            v.fdsStart,
            v.fdsEnd,
            v.fdsMin,
            v.fdsMax,
            v.fdsPerContainer > 0 ? `${round1(v.baseFdsStart)} → ${round1(v.baseFdsEnd)} (${round1(v.fdsPerContainer)}/container)` : '-',
            round1(Math.max(...s.filter((p) => p.atS >= warmupS).map((p) => p.eventLoopP99Ms).filter(Number.isFinite))),
            !v.judged ? 'too short to judge' : v.ok ? 'pass' : 'FAIL',
          ];
        }),
      },
      { title: 'Errors by code', columns: ['code', 'count', 'asked for'], rows: [...errorsByCode].map(([c, n]) => [c, n, EXPECTED_ERRORS.has(c) ? 'yes' : 'NO']) },
      { title: 'Events', columns: ['s', 'event'], rows: events.map((e) => [Math.round(e.atS), e.event]) },
    ];
    const charts: ReportChart[] = [
      byProcess('Resident memory per process', 'RSS MB', (s) => s.rssMb),
      byProcess('Heap used per process', 'heap MB', (s) => s.heapUsedMb),
      byProcess('Heap reserved (total) per process', 'heap MB', (s) => s.heapTotalMb),
      byProcess('External memory (buffers, native objects) per process', 'MB', (s) => s.externalMb),
      byProcess('Open file descriptors per process', 'fds', (s) => s.openFds),
      byProcess('Event-loop delay p99 per process', 'ms', (s) => s.eventLoopP99Ms),
      {
        title: 'Requests, unexpected errors, cold starts and containers alive per sample',
        kind: 'line',
        xLabel: 's',
        yLabel: 'count',
        series: [
          { name: 'requests', points: intervals.map((i) => [i.atS, i.requests] as [number, number]) },
          { name: 'unexpected errors', points: intervals.map((i) => [i.atS, i.errors] as [number, number]) },
          { name: 'cold starts', points: intervals.map((i) => [i.atS, i.coldStarts] as [number, number]) },
          { name: 'containers alive', points: intervals.map((i) => [i.atS, i.containers] as [number, number]) },
        ],
      },
    ];
    return {
      title: 'Soak: mixed workload at half capacity, leaks watched per process',
      settings: { minutes: options.minutes, functions: options.functions, rate, capacityRps: Math.round(capacityRps), sampleS, warmupS, updateEveryS, replaceEveryS, maxOutstanding },
      summary,
      tables,
      charts,
      raw: {
        verdicts,
        errorsByCode: Object.fromEntries(errorsByCode),
        requests,
        coldStarts,
        updates,
        replaced,
        skipped,
        leakedContainers: leaked,
        leakedContainersAtStop: leakedAtStop,
        pass: growthOk && leaked === 0 && unexpected.length === 0,
        series: Object.fromEntries(series),
        intervals,
        events,
      },
    };
  } finally {
    await agent.close().catch(() => undefined);
    await target.stop().catch(() => undefined);
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Containers (running or not) labelled with one of the worker ids. */
async function countContainers(workerIds: readonly string[]): Promise<{ total: number; byWorker: Record<string, number> }> {
  let total = 0;
  const byWorker: Record<string, number> = {};
  for (const id of workerIds) {
    try {
      const { stdout } = await promisify(execFile)('docker', ['ps', '-aq', '--filter', `label=ringfaas.worker=${id}`], { timeout: 15_000 });
      const n = stdout.split('\n').filter((l) => l.trim().length > 0).length;
      total += n;
      if (n > 0) byWorker[id] = n;
    } catch {
      // no docker CLI: counted as none, the process runtime has no containers to leak
    }
  }
  return { total, byWorker };
}
