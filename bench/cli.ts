/**
 * `ringfaas bench <scenario>`: concurrency, backoff, compare, micro, worker, ring-change,
 * failover, soak, catalogue, async, and `report` (regenerate docs/benchmarks.md). The action functions here are the
 * bench's main: they read the environment (RINGFAAS_REDIS_URL) and wire the parts.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { RfError, isRfError } from '../errors/index.ts';
import { BenchErrors } from './errors.ts';
import { projectRoot } from './platform/children.ts';
import type { PlatformSettings, TargetLauncher, TargetSpec } from './platform/targets.ts';
import type { RuntimeKind } from './platform/runtime.ts';
import { createProgress } from './report/progress.ts';
import { recordRun, regenerateDocs } from './run.ts';
import type { ScenarioOutput } from './report/result.ts';
import { registerSimulateCommand } from './simulate/command.ts';

interface CommonFlags {
  runtime?: string;
  workers: string;
  workerMemoryMb: string;
  coldPool: string;
  functionMemoryMb: string;
  redisUrl?: string;
  resultsDir: string;
  docs: boolean;
  logLevel: string;
  cpuProf?: boolean;
  layout: string;
}

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new RfError(BenchErrors.OPTION_INVALID, `${name} must be a positive integer, got '${text}'`);
  return n;
}

function positiveNumber(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new RfError(BenchErrors.OPTION_INVALID, `${name} must be a positive number, got '${text}'`);
  return n;
}

/** Parses "1,2,4" or "1-15" (or a mix: "1-4,8,15"). */
export function parseList(name: string, text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range !== null) {
      const from = Number(range[1]);
      const to = Number(range[2]);
      if (from < 1 || to < from) throw new RfError(BenchErrors.OPTION_INVALID, `${name}: bad range '${part}'`);
      for (let i = from; i <= to; i++) out.push(i);
    } else {
      out.push(positiveNumber(name, part));
    }
  }
  if (out.length === 0) throw new RfError(BenchErrors.OPTION_INVALID, `${name} must list at least one value`);
  return out;
}

function dockerAnswers(): boolean {
  const host = process.env.DOCKER_HOST;
  return existsSync(host?.startsWith('unix://') === true ? host.slice('unix://'.length) : '/var/run/docker.sock');
}

function runtimeOf(flags: CommonFlags): RuntimeKind {
  const r = flags.runtime ?? (dockerAnswers() ? 'docker' : 'process');
  if (r !== 'docker' && r !== 'process') throw new RfError(BenchErrors.OPTION_INVALID, `--runtime must be docker or process, got '${r}'`);
  if (flags.runtime === undefined && r === 'process') process.stderr.write('bench: no Docker engine answers; using the process runtime\n');
  return r;
}

function layoutOf(text: string): 'processes' | 'shared' {
  if (text !== 'processes' && text !== 'shared') throw new RfError(BenchErrors.OPTION_INVALID, `--layout must be processes or shared, got '${text}'`);
  return text;
}

function settingsOf(flags: CommonFlags, extra: Partial<PlatformSettings> = {}): PlatformSettings {
  const redisUrl = flags.redisUrl ?? process.env.RINGFAAS_REDIS_URL;
  return {
    workers: positiveInt('--workers', flags.workers),
    workerMemoryMb: positiveInt('--worker-memory-mb', flags.workerMemoryMb),
    coldPoolSize: Number(flags.coldPool),
    runtime: runtimeOf(flags),
    functionMemoryMb: positiveInt('--function-memory-mb', flags.functionMemoryMb),
    limitContainers: 15,
    ...(redisUrl === undefined ? {} : { redisUrl }),
    logDir: join(tmpdir(), 'ringfaas-bench-logs', new Date().toISOString().replace(/[:.]/g, '-')),
    logLevel: flags.logLevel,
    readyTimeoutMs: 180_000,
    layout: layoutOf(flags.layout),
    ...(flags.cpuProf === true ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${join(flags.resultsDir, 'profiles')}`] } : {}),
    ...extra,
  };
}

function common(cmd: Command): Command {
  return cmd
    .option('--runtime <kind>', 'docker or process (default: docker when the engine answers)')
    .option('--workers <n>', 'workers per platform', '2')
    .option('--worker-memory-mb <mb>', 'memory each worker may reserve', '2048')
    .option('--cold-pool <n>', 'pre-started containers per worker', '2')
    .option('--function-memory-mb <mb>', 'memory of the benchmark function', '128')
    .option('--redis-url <url>', 'Redis of the Redis design (default RINGFAAS_REDIS_URL, else a redis-server started on a free port)')
    .option('--results-dir <dir>', 'where result files go', join(projectRoot, 'bench', 'results'))
    .option('--no-docs', 'do not regenerate docs/benchmarks.md')
    .option('--log-level <level>', 'log level of the started components', 'warn')
    .option('--layout <layout>', 'processes (each component its own process, Azurite) or shared (each platform in one process, in-memory stores)', 'processes')
    .option('--cpu-prof', 'run every Node process of the targets under node --cpu-prof (profiles in <results>/profiles)');
}

async function execute(
  scenario: string,
  flags: CommonFlags,
  settings: PlatformSettings,
  body: (launcher: TargetLauncher | undefined) => Promise<ScenarioOutput>,
  needsLauncher = true,
): Promise<void> {
  // Platform code is loaded only when a scenario runs, so `ringfaas --help` stays light.
  const launcher = needsLauncher ? new (await import('./platform/targets.ts')).TargetLauncher(settings) : undefined;
  const stopOnSignal = (): void => {
    void launcher?.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  try {
    const { files, result } = await recordRun(
      {
        scenario,
        reproduce: `ringfaas ${process.argv.slice(process.argv.indexOf('bench')).join(' ')}`,
        resultsDir: flags.resultsDir,
        ...(flags.docs ? { docPath: join(projectRoot, 'docs', 'benchmarks.md') } : {}),
      },
      async () => {
        const output = await body(launcher);
        const { workers, workerMemoryMb, coldPoolSize, runtime, functionMemoryMb, layout } = settings;
        return { ...output, settings: { ...output.settings, platform: { layout: layout ?? 'processes', runtime, workers, workerMemoryMb, coldPoolSize, functionMemoryMb } } };
      },
    );
    process.stdout.write(`${result.summary.map((s) => `  ${s}`).join('\n')}\n`);
    process.stdout.write(`results: ${files.json}\n         ${files.markdown}\n         ${files.html}\n`);
    process.stdout.write(`component logs: ${settings.logDir}\n`);
  } catch (err: unknown) {
    process.stderr.write(`bench ${scenario} failed: ${isRfError(err) ? `${err.code}: ` : ''}${err instanceof Error ? err.message : String(err)}\n`);
    process.stderr.write(`component logs: ${settings.logDir}\n`);
    process.exitCode = 1;
  } finally {
    process.off('SIGINT', stopOnSignal);
    await launcher?.close();
  }
}

/** Adds `ringfaas bench …` to the program. */
export function registerBenchCommands(program: Command): void {
  const bench = program.command('bench').description('benchmarks: the seed\'s concurrency and backoff tests, ringfaas vs the Redis design, micro-benchmarks');

  common(bench.command('concurrency'))
    .description('closed-loop stages of concurrent callers against each target (the seed\'s concurrency test)')
    .option('--target <target...>', 'ringfaas, redis-design, limit, url=<base>, invoke=<url> (repeatable)', ['ringfaas'])
    .option('--stages <list>', 'concurrency per stage, e.g. 1-15 or 1,2,4,8,16,32,64', '1-15')
    .option('--stage-seconds <s>', 'duration of each stage', '10')
    .action(async (flags: CommonFlags & { target: string[]; stages: string; stageSeconds: string }) => {
      const { parseTarget } = await import('./platform/targets.ts');
      const targets = flags.target.map(parseTarget);
      const stages = parseList('--stages', flags.stages);
      const stageMs = positiveNumber('--stage-seconds', flags.stageSeconds) * 1000;
      const settings = settingsOf(flags, { limitContainers: Math.max(...stages) });
      const progress = createProgress((targets.length * stages.length * stageMs) / 1000);
      await execute('concurrency', flags, settings, async (launcher) => {
        const { runConcurrency } = await import('./scenarios/concurrency.ts');
        try {
          return await runConcurrency({ targets, stages, stageMs, launcher: launcher as TargetLauncher, progress });
        } finally {
          progress.stop();
        }
      });
    });

  common(bench.command('backoff'))
    .description('single requests after growing idle gaps, 1..30 min divided by --time-scale (the seed\'s backoff test)')
    .option('--target <target>', 'ringfaas, redis-design, url=<base>', 'ringfaas')
    .option('--time-scale <k>', 'divide the gaps and the idle timeout (15 min) by k', '60')
    .option('--gaps <list>', 'idle gaps in seed minutes', '1,2,3,4,5,7,9,11,13,15,18,21,24,27,30')
    .action(async (flags: CommonFlags & { target: string; timeScale: string; gaps: string }) => {
      const { runBackoff, scaledIdleTimeoutMs } = await import('./scenarios/backoff.ts');
      const { parseTarget } = await import('./platform/targets.ts');
      const timeScale = positiveNumber('--time-scale', flags.timeScale);
      const gapsMinutes = parseList('--gaps', flags.gaps);
      const target = parseTarget(flags.target);
      const settings = settingsOf(flags, { idleTimeoutMs: scaledIdleTimeoutMs(timeScale) });
      const progress = createProgress(gapsMinutes.reduce((n, g) => n + (g * 60) / timeScale, 0));
      await execute('backoff', flags, settings, async (launcher) => {
        try {
          return await runBackoff({ target, gapsMinutes, timeScale, launcher: launcher as TargetLauncher, progress });
        } finally {
          progress.stop();
        }
      });
    });

  common(bench.command('compare'))
    .description('ringfaas vs the Redis design vs the bare forwarding chain, alternated rounds, ratios')
    .option('--rounds <n>', 'rounds (medians are reported)', '3')
    .option('--stages <list>', 'stages of each run; the first warms up', '15,15,15')
    .option('--stage-seconds <s>', 'duration of each stage', '8')
    .option('--targets <list>', 'comma-separated subset of ringfaas,redis-design,limit', 'ringfaas,redis-design,limit')
    .action(async (flags: CommonFlags & { rounds: string; stages: string; stageSeconds: string; targets: string }) => {
      const { runCompare } = await import('./scenarios/compare.ts');
      const { parseTarget } = await import('./platform/targets.ts');
      const targets: TargetSpec[] = flags.targets.split(',').map((t) => parseTarget(t.trim()));
      const rounds = positiveInt('--rounds', flags.rounds);
      const stages = parseList('--stages', flags.stages);
      const stageMs = positiveNumber('--stage-seconds', flags.stageSeconds) * 1000;
      const settings = settingsOf(flags, { limitContainers: Math.max(...stages) });
      const progress = createProgress((rounds * targets.length * stages.length * stageMs) / 1000);
      await execute('compare', flags, settings, async (launcher) => {
        try {
          return await runCompare({ targets, rounds, stages, stageMs, launcher: launcher as TargetLauncher, progress });
        } finally {
          progress.stop();
        }
      });
    });

  common(bench.command('micro'))
    .description('tinybench: warm-stack pop/push, Redis acquire, ring lookup and spill decision')
    .option('--time-ms <ms>', 'time per task', '500')
    .option('--ring-sizes <list>', 'ring sizes', '10,100,1000')
    .action(async (flags: CommonFlags & { timeMs: string; ringSizes: string }) => {
      const { runMicro } = await import('./scenarios/micro.ts');
      const settings = settingsOf(flags);
      const { startRedisServer } = await import('./redis-design/redis-server.ts');
      await execute(
        'micro',
        flags,
        settings,
        async () => {
          const server = settings.redisUrl === undefined ? await startRedisServer() : undefined;
          try {
            return await runMicro({
              redisUrl: settings.redisUrl ?? (server as { url: string }).url,
              timeMs: positiveInt('--time-ms', flags.timeMs),
              ringSizes: parseList('--ring-sizes', flags.ringSizes),
            });
          } finally {
            await server?.stop();
          }
        },
        false,
      );
    });

  common(bench.command('worker'))
    .description('cold start from the pool vs create, warm overhead of the worker, throughput through one worker')
    .option('--cold-starts <n>', 'cold starts measured per kind', '15')
    .option('--warm-calls <n>', 'warm calls measured per path', '1000')
    .option('--stages <list>', 'throughput stages', '1,4,15')
    .option('--stage-seconds <s>', 'duration of each throughput stage', '5')
    .action(async (flags: CommonFlags & { coldStarts: string; warmCalls: string; stages: string; stageSeconds: string }) => {
      const { runWorkerBench } = await import('./scenarios/worker.ts');
      const { createBenchRuntime } = await import('./platform/runtime.ts');
      const settings = settingsOf(flags);
      const progress = createProgress(1);
      await execute('worker', flags, settings, async () => {
        const runtime = await createBenchRuntime(settings.runtime);
        try {
          await runtime.prepare();
          return await runWorkerBench({
            runtime,
            coldStarts: positiveInt('--cold-starts', flags.coldStarts),
            warmCalls: positiveInt('--warm-calls', flags.warmCalls),
            throughputStages: parseList('--stages', flags.stages),
            stageMs: positiveNumber('--stage-seconds', flags.stageSeconds) * 1000,
            logDir: settings.logDir,
            logLevel: settings.logLevel,
            progress,
          });
        } finally {
          progress.stop();
          await runtime.close();
        }
      }, false);
    });

  for (const scenario of ['ring-change', 'failover'] as const) {
    common(bench.command(scenario))
      .description(scenario === 'ring-change' ? 'add then drain a worker under steady load' : 'kill a worker under load')
      .option('--functions <n>', 'functions the load cycles over', '8')
      .option('--concurrency <n>', 'concurrent callers', '8')
      .option('--phase-seconds <s>', 'steady load before and after each change', '5')
      .action(async (flags: CommonFlags & { functions: string; concurrency: string; phaseSeconds: string }) => {
        const { runRingBench } = await import('./scenarios/ring.ts');
        const settings = settingsOf(flags);
        const progress = createProgress(1);
        await execute(scenario, flags, settings, async (launcher) => {
          try {
            return await runRingBench({
              scenario,
              launcher: launcher as TargetLauncher,
              functions: positiveInt('--functions', flags.functions),
              concurrency: positiveInt('--concurrency', flags.concurrency),
              phaseMs: positiveNumber('--phase-seconds', flags.phaseSeconds) * 1000,
              functionMemoryMb: settings.functionMemoryMb,
              progress,
            });
          } finally {
            progress.stop();
          }
        });
      });
  }

  common(bench.command('soak'))
    .description('a mixed workload at half capacity for N minutes: RSS, heap, fds, event-loop delay per process, errors, cold starts, containers')
    .option('--minutes <n>', 'duration of the run', '30')
    .option('--functions <n>', 'functions in the mix (Zipf popularity; a few throw, one times out)', '24')
    .option('--rate <rps>', 'requests per second (default: half the measured capacity)')
    .action(async (flags: CommonFlags & { minutes: string; functions: string; rate?: string }) => {
      const { runSoak } = await import('./scenarios/soak.ts');
      const settings = settingsOf(flags);
      const minutes = positiveNumber('--minutes', flags.minutes);
      const progress = createProgress(minutes * 60);
      let pass = true;
      await execute('soak', flags, settings, async (launcher) => {
        try {
          const output = await runSoak({
            launcher: launcher as TargetLauncher,
            minutes,
            functions: Math.max(6, positiveInt('--functions', flags.functions)),
            runtime: settings.runtime,
            progress,
            ...(flags.rate === undefined ? {} : { rate: positiveNumber('--rate', flags.rate) }),
          });
          pass = (output.raw as { pass: boolean }).pass;
          return output;
        } finally {
          progress.stop();
        }
      });
      // A failed verdict fails the command (CI runs a one-minute smoke of it).
      if (!pass) process.exitCode = 1;
    });

  common(bench.command('catalogue'))
    .description('10,000 functions paged through GET /functions; 2,000 loaded through a worker cache under its byte bound')
    .option('--functions <n>', 'functions written', '10000')
    .option('--cached <n>', 'distinct functions loaded through the cache', '2000')
    .option('--cache-mb <mb>', 'the cache bound (RINGFAAS_WORKER_CODE_CACHE_MB)', '4')
    .action(async (flags: CommonFlags & { functions: string; cached: string; cacheMb: string }) => {
      const { runCatalogue } = await import('./scenarios/catalogue.ts');
      const settings = settingsOf(flags);
      const progress = createProgress(1);
      await execute('catalogue', flags, settings, async () => {
        try {
          return await runCatalogue({ functions: positiveInt('--functions', flags.functions), cached: positiveInt('--cached', flags.cached), cacheMb: positiveInt('--cache-mb', flags.cacheMb), progress });
        } finally {
          progress.stop();
        }
      }, false);
    });

  common(bench.command('async'))
    .description('asynchronous invocations: acceptance, completion throughput and end-to-end latency by dispatcher concurrency, next to sync')
    .option('--concurrencies <list>', 'dispatcher concurrencies (one standalone dispatcher process each)', '1,4,8')
    .option('--count <n>', 'invocations submitted per concurrency', '1000')
    .option('--submitters <n>', 'concurrent submitting clients', '16')
    .option('--sample <n>', 'invocations whose client-clock latency is polled', '50')
    .option('--poll-ms <ms>', 'poll interval of the client-clock sample', '100')
    .option('--sync-stage-seconds <s>', 'duration of each sync stage', '5')
    .option('--drain-timeout-seconds <s>', 'longest wait for one run to drain', '1800')
    .option('--drain', 'queue all --count invocations before the dispatcher starts, then time the backlog drain alone')
    .action(async (flags: CommonFlags & { concurrencies: string; count: string; submitters: string; sample: string; pollMs: string; syncStageSeconds: string; drainTimeoutSeconds: string; drain?: boolean }) => {
      const { runAsyncBench } = await import('./scenarios/async.ts');
      const concurrencies = parseList('--concurrencies', flags.concurrencies);
      // The router's own dispatcher is off: each run's standalone dispatcher is the only one.
      const settings = settingsOf(flags, { limitContainers: Math.max(...concurrencies), routerEnv: { RINGFAAS_ASYNC_CONCURRENCY: '0' } });
      const progress = createProgress(1);
      await execute('async', flags, settings, async (launcher) => {
        try {
          return await runAsyncBench({
            launcher: launcher as TargetLauncher,
            concurrencies,
            count: positiveInt('--count', flags.count),
            submitters: positiveInt('--submitters', flags.submitters),
            sampleSize: positiveInt('--sample', flags.sample),
            pollMs: positiveInt('--poll-ms', flags.pollMs),
            syncStageMs: positiveNumber('--sync-stage-seconds', flags.syncStageSeconds) * 1000,
            drainTimeoutMs: positiveNumber('--drain-timeout-seconds', flags.drainTimeoutSeconds) * 1000,
            queueFirst: flags.drain === true,
            progress,
          });
        } finally {
          progress.stop();
        }
      });
    });

  registerSimulateCommand(bench);

  bench
    .command('report')
    .description('regenerate docs/benchmarks.md from the latest result of each scenario')
    .option('--results-dir <dir>', 'where result files are', join(projectRoot, 'bench', 'results'))
    .action(async (flags: { resultsDir: string }) => {
      const doc = join(projectRoot, 'docs', 'benchmarks.md');
      await regenerateDocs(flags.resultsDir, doc);
      process.stdout.write(`wrote ${doc}\n`);
    });
}
