/**
<<<<<<< HEAD
 * `ringfaas bench <scenario>`: concurrency, backoff, compare, micro, worker, ring-change, burst,
 * failover, soak, catalogue, async, simulate, and `report` (regenerate docs/benchmarks.md).
=======
 * `ringfaas bench <scenario>`: concurrency, backoff, compare, micro, worker, ring-change,
 * failover, soak, catalogue, async, simulate, keepalive-replay, and `report` (regenerate docs/benchmarks.md).
>>>>>>> replay
 * This file declares the commands and wires each to its scenario; the flags are parsed by
 * command-options.ts and the run recorded by scenario-command.ts (the bench's main: they read
 * the environment, RINGFAAS_REDIS_URL and DOCKER_HOST).
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { repositoryRoot } from './platform/children.ts';
import type { PlatformSettings, TargetLauncher, TargetSpec } from './platform/targets.ts';
import type { Progress } from './report/progress.ts';
import type { ScenarioOutput } from './report/result.ts';
import { regenerateDocs } from './run.ts';
import { common, nonNegativeInt, onOff, parseList, positiveInt, positiveNumber, settingsOf, type CommonFlags } from './command-options.ts';
import { runScenarioCommand } from './scenario-command.ts';
import { registerSimulateCommand } from './simulate/command.ts';
import { registerKeepAliveReplayCommand } from './replay/command.ts';

/** Runs a scenario on the run's platform (a target launcher), with `progressSeconds` of progress. */
function onPlatform(
  scenario: string,
  flags: CommonFlags,
  settings: PlatformSettings,
  progressSeconds: number,
  body: (launcher: TargetLauncher, progress: Progress) => Promise<ScenarioOutput>,
): Promise<void> {
  return runScenarioCommand({ scenario, resultsDir: flags.resultsDir, docs: flags.docs, settings, launcher: true, progressSeconds }, ({ launcher, progress }) =>
    body(launcher as TargetLauncher, progress),
  );
}

/** Runs a scenario that starts what it needs itself (no target launcher). */
function standalone(scenario: string, flags: CommonFlags, settings: PlatformSettings, progressSeconds: number | undefined, body: (progress: Progress) => Promise<ScenarioOutput>): Promise<void> {
  return runScenarioCommand(
    { scenario, resultsDir: flags.resultsDir, docs: flags.docs, settings, ...(progressSeconds === undefined ? {} : { progressSeconds }) },
    ({ progress }) => body(progress),
  );
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
      await onPlatform('concurrency', flags, settings, (targets.length * stages.length * stageMs) / 1000, async (launcher, progress) => {
        const { runConcurrency } = await import('./scenarios/concurrency.ts');
        return runConcurrency({ targets, stages, stageMs, launcher, progress });
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
      const seconds = gapsMinutes.reduce((n, g) => n + (g * 60) / timeScale, 0);
      await onPlatform('backoff', flags, settings, seconds, (launcher, progress) => runBackoff({ target, gapsMinutes, timeScale, launcher, progress }));
    });

  common(bench.command('compare'))
    .description('ringfaas vs the Redis design vs the bare forwarding chain, alternated rounds, ratios')
    .option('--rounds <n>', 'rounds (medians are reported)', '3')
    .option('--warmup-rounds <n>', 'whole rounds run first and not counted (processes still speeding up)', '1')
    .option('--stages <list>', 'stages of each run; the first warms up', '15,15,15')
    .option('--stage-seconds <s>', 'duration of each stage', '8')
    .option('--targets <list>', 'comma-separated subset of ringfaas,redis-design,limit', 'ringfaas,redis-design,limit')
    .option('--check', 'exit 3 when a ratio misses its target (a regression guard, run on demand)')
    .action(async (flags: CommonFlags & { rounds: string; warmupRounds: string; stages: string; stageSeconds: string; targets: string; check?: boolean }) => {
      const { runCompare } = await import('./scenarios/compare.ts');
      const { parseTarget } = await import('./platform/targets.ts');
      const targets: TargetSpec[] = flags.targets.split(',').map((t) => parseTarget(t.trim()));
      const rounds = positiveInt('--rounds', flags.rounds);
      const warmupRounds = nonNegativeInt('--warmup-rounds', flags.warmupRounds);
      const stages = parseList('--stages', flags.stages);
      const stageMs = positiveNumber('--stage-seconds', flags.stageSeconds) * 1000;
      const settings = settingsOf(flags, { limitContainers: Math.max(...stages) });
      const seconds = ((rounds + warmupRounds) * targets.length * stages.length * stageMs) / 1000;
      await onPlatform('compare', flags, settings, seconds, async (launcher, progress) => {
        const output = await runCompare({ targets, rounds, warmupRounds, stages, stageMs, launcher, progress });
        const missed = (output.raw as { missed: string[] }).missed;
        if (flags.check === true && missed.length > 0) {
          process.stderr.write(`compare --check: ${missed.length} target(s) missed: ${missed.join('; ')}\n`);
          process.exitCode = 3;
        }
        return output;
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
      await standalone('micro', flags, settings, undefined, async () => {
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
      });
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
      await standalone('worker', flags, settings, 1, async (progress) => {
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
          await runtime.close();
        }
      });
    });

  for (const scenario of ['ring-change', 'failover'] as const) {
    common(bench.command(scenario))
      .description(scenario === 'ring-change' ? 'add then drain a worker under steady load' : 'kill a worker under load')
      .option('--functions <n>', 'functions the load cycles over', '8')
      .option('--concurrency <n>', 'concurrent callers', '8')
      .option('--phase-seconds <s>', 'steady load before and after each change', '5')
      .option('--warm-handoff <on|off>', "the workers' warm hand-off (sets RINGFAAS_WARM_HANDOFF for them; default: off when RINGFAAS_WARM_HANDOFF=0, else on)")
      .action(async (flags: CommonFlags & { functions: string; concurrency: string; phaseSeconds: string; warmHandoff?: string }) => {
        const { runRingBench } = await import('./scenarios/ring.ts');
        const warmHandoff = onOff('--warm-handoff', flags.warmHandoff ?? (process.env.RINGFAAS_WARM_HANDOFF === '0' ? 'off' : 'on'));
        const settings = settingsOf(flags, { workerEnv: { RINGFAAS_WARM_HANDOFF: warmHandoff === 'on' ? '1' : '0' } });
        await onPlatform(scenario, flags, settings, 1, (launcher, progress) =>
          runRingBench({
            scenario,
            launcher,
            functions: positiveInt('--functions', flags.functions),
            concurrency: positiveInt('--concurrency', flags.concurrency),
            phaseMs: positiveNumber('--phase-seconds', flags.phaseSeconds) * 1000,
            functionMemoryMb: settings.functionMemoryMb,
            warmHandoff,
            progress,
          }),
        );
      });
  }

  common(bench.command('burst'))
    .description('repeated bursts of concurrent calls: containers started by a burst after a fully served one (target 0), workers used')
    .option('--callers <list>', 'burst sizes', '15,30')
    .option('--repeats <n>', 'repeats per burst size, each on a new function', '3')
    .option('--bursts <n>', 'bursts per repeat, each once the one before has answered', '3')
    .option('--function-ms <ms>', 'how long each call runs', '400')
    .action(async (flags: CommonFlags & { callers: string; repeats: string; bursts: string; functionMs: string }) => {
      const { runBurst } = await import('./scenarios/burst.ts');
      const settings = settingsOf(flags);
      await onPlatform('burst', flags, settings, 1, (launcher, progress) =>
        runBurst({
          launcher,
          callers: parseList('--callers', flags.callers),
          repeats: positiveInt('--repeats', flags.repeats),
          bursts: positiveInt('--bursts', flags.bursts),
          functionMs: positiveInt('--function-ms', flags.functionMs),
          functionMemoryMb: settings.functionMemoryMb,
          progress,
        }),
      );
    });

  common(bench.command('soak'))
    .description('a mixed workload at half capacity for N minutes: RSS, heap, fds, event-loop delay per process, errors, cold starts, containers')
    .option('--minutes <n>', 'duration of the run', '30')
    .option('--functions <n>', 'functions in the mix (Zipf popularity; a few throw, one times out)', '24')
    .option('--rate <rps>', 'requests per second (default: half the measured capacity)')
    .action(async (flags: CommonFlags & { minutes: string; functions: string; rate?: string }) => {
      const { runSoak } = await import('./scenarios/soak.ts');
      const settings = settingsOf(flags);
      const minutes = positiveNumber('--minutes', flags.minutes);
      let pass = true;
      await onPlatform('soak', flags, settings, minutes * 60, async (launcher, progress) => {
        const output = await runSoak({
          launcher,
          minutes,
          functions: Math.max(6, positiveInt('--functions', flags.functions)),
          runtime: settings.runtime,
          progress,
          ...(flags.rate === undefined ? {} : { rate: positiveNumber('--rate', flags.rate) }),
        });
        pass = (output.raw as { pass: boolean }).pass;
        return output;
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
      await standalone('catalogue', flags, settings, 1, (progress) =>
        runCatalogue({ functions: positiveInt('--functions', flags.functions), cached: positiveInt('--cached', flags.cached), cacheMb: positiveInt('--cache-mb', flags.cacheMb), progress }),
      );
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
      await onPlatform('async', flags, settings, 1, (launcher, progress) =>
        runAsyncBench({
          launcher,
          concurrencies,
          count: positiveInt('--count', flags.count),
          submitters: positiveInt('--submitters', flags.submitters),
          sampleSize: positiveInt('--sample', flags.sample),
          pollMs: positiveInt('--poll-ms', flags.pollMs),
          syncStageMs: positiveNumber('--sync-stage-seconds', flags.syncStageSeconds) * 1000,
          drainTimeoutMs: positiveNumber('--drain-timeout-seconds', flags.drainTimeoutSeconds) * 1000,
          queueFirst: flags.drain === true,
          progress,
        }),
      );
    });

  registerSimulateCommand(bench);
  registerKeepAliveReplayCommand(bench);

  bench
    .command('report')
    .description('regenerate docs/benchmarks.md from the latest result of each scenario')
    .option('--results-dir <dir>', 'where result files are', join(repositoryRoot, 'bench', 'results'))
    .action(async (flags: { resultsDir: string }) => {
      const doc = join(repositoryRoot, 'docs', 'benchmarks.md');
      await regenerateDocs(flags.resultsDir, doc);
      process.stdout.write(`wrote ${doc}\n`);
    });
}
