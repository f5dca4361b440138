/**
 * `ringfaas bench keepalive-replay`: options and wiring of the keep-alive replay
 * (bench/scenarios/keepalive-replay.ts). Registered by bench/cli.ts; loads the platform and
 * the workload only when run.
 */
import type { Command } from 'commander';
import { RfError } from '../../errors/index.ts';
import { KEEPALIVE_POLICIES } from '../../config/index.ts';
import type { keepalive } from '../../worker/index.ts';
import { BenchErrors } from '../errors.ts';
import { common, nonNegativeInt, positiveInt, positiveNumber, settingsOf, type CommonFlags } from '../command-options.ts';
import { runScenarioCommand } from '../scenario-command.ts';

interface ReplayFlags extends CommonFlags {
  seed: string;
  candidates: string;
  traceInvocations?: string;
  traceDurations?: string;
  traceMemory?: string;
  fromMinute: string;
  minutes: string;
  warmupMinutes: string;
  functions: string;
  maxInvocationsPerFunction: string;
  timeScale: string;
  policies: string;
  fixedWindows: string;
  maxInFlight: string;
  requestTimeoutSeconds: string;
  sampleMs: string;
  maxFunctionMemoryMb: string;
}

/** This command's default --worker-memory-mb. */
const REPLAY_WORKER_MEMORY_MB = 4096;

/** The longest compression at which 15 min still makes a valid idleTimeoutMs (≥ 1000 ms). */
const MAX_TIME_SCALE = 900;

function policiesOf(text: string): keepalive.KeepAlivePolicyName[] {
  const names = text.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  const known: readonly string[] = KEEPALIVE_POLICIES;
  const bad = names.filter((n) => !known.includes(n));
  if (names.length === 0 || bad.length > 0) throw new RfError(BenchErrors.OPTION_INVALID, `--policies must list some of ${known.join(', ')}; got '${text}'`);
  return names as keepalive.KeepAlivePolicyName[];
}

/** The extra fixed windows, trace minutes: each scaled must be a valid idleTimeoutMs (≥ 1 s). */
function windowsOf(text: string, timeScale: number): number[] {
  const parts = text.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  const windows = parts.map(Number);
  const bad = parts.filter((_, i) => !(Number.isFinite(windows[i]) && (windows[i] as number) * 60_000 >= timeScale * 1000 && (windows[i] as number) <= 7 * 24 * 60));
  if (bad.length > 0) throw new RfError(BenchErrors.OPTION_INVALID, `--fixed-windows must list trace minutes from ${timeScale / 60} (1 s at --time-scale ${timeScale}) to a week; got '${text}'`);
  return [...new Set(windows)];
}

/** Adds `keepalive-replay` to the `bench` command. */
export function registerKeepAliveReplayCommand(bench: Command): void {
  const command = common(bench.command('keepalive-replay'));
  // Memory must not bind, as in the simulator's keep-alive runs: 12 functions of up to 512 MB,
  // a few containers each at once, on 2 workers (reservations: idle containers use far less).
  command.options.find((o) => o.long === '--worker-memory-mb')?.default(String(REPLAY_WORKER_MEMORY_MB));
  command.setOptionValueWithSource('workerMemoryMb', String(REPLAY_WORKER_MEMORY_MB), 'default');
  command
    .description('a time-compressed trace slice replayed against a fresh real platform per keep-alive policy: cold starts and idle memory-time')
    .option('--trace-invocations <file>', 'Azure Functions 2019 invocations_per_function_md.anon.dNN.csv (default: the generator)')
    .option('--trace-durations <file>', 'function_durations_percentiles.anon.dNN.csv (read for the workload; executions are not replayed)')
    .option('--trace-memory <file>', 'app_memory_percentiles.anon.dNN.csv (function memory)')
    .option('--seed <n>', 'generator seed (and the trace arrivals\' spread within a minute)', '1')
    .option('--candidates <n>', 'generated functions the slice picks from', '400')
    .option('--from-minute <n>', 'first trace minute of the slice', '0')
    .option('--minutes <n>', 'trace minutes in the slice', '100')
    .option('--warmup-minutes <n>', 'slice minutes replayed but not counted', '20')
    .option('--functions <n>', 'functions kept (with 2.. --max-invocations-per-function calls in the slice)', '12')
    .option('--max-invocations-per-function <n>', 'busier functions are left out', '200')
    .option('--time-scale <k>', 'trace minutes per real minute (the workers divide their windows by k)', '60')
    .option('--policies <list>', 'keep-alive policies, one fresh platform each', 'fixed,hybrid,greedy-dual')
    .option('--fixed-windows <list>', 'extra runs of the fixed policy at these windows (trace minutes, e.g. 5,30,60): its trade-off curve, against which the other policies are read', '')
    .option('--max-in-flight <n>', 'requests in flight at most (later arrivals wait)', '16')
    .option('--request-timeout-seconds <s>', 'per-request timeout', '30')
    .option('--sample-ms <ms>', 'interval of the idle-memory samples (real time)', '250')
    .option('--max-function-memory-mb <mb>', 'function memory is the workload\'s, clamped to [128, this]', '512')
    .action(async (flags: ReplayFlags) => {
      const timeScale = positiveNumber('--time-scale', flags.timeScale);
      if (timeScale > MAX_TIME_SCALE) throw new RfError(BenchErrors.OPTION_INVALID, `--time-scale must be at most ${MAX_TIME_SCALE} (15 min / k must be ≥ 1 s), got ${timeScale}`);
      const minutes = positiveInt('--minutes', flags.minutes);
      const warmupMinutes = nonNegativeInt('--warmup-minutes', flags.warmupMinutes);
      if (warmupMinutes >= minutes) throw new RfError(BenchErrors.OPTION_INVALID, `--warmup-minutes (${warmupMinutes}) must be below --minutes (${minutes})`);
      const policies = policiesOf(flags.policies);
      const fixedWindowsMinutes = windowsOf(flags.fixedWindows, timeScale);
      const fromMinute = nonNegativeInt('--from-minute', flags.fromMinute);
      const seed = nonNegativeInt('--seed', flags.seed);
      const settings = settingsOf({ ...flags, layout: 'processes' });
      const progressSeconds = (policies.length + fixedWindowsMinutes.length) * ((minutes * 60) / timeScale + 30);
      await runScenarioCommand({ scenario: 'keepalive-replay', resultsDir: flags.resultsDir, docs: flags.docs, settings, progressSeconds }, async ({ progress }) => {
        const { takeSlice } = await import('./slice.ts');
        const { runKeepAliveReplay } = await import('../scenarios/keepalive-replay.ts');
        let workload;
        if (flags.traceInvocations === undefined) {
          const { GeneratedWorkload } = await import('../simulate/generator.ts');
          workload = new GeneratedWorkload({ seed, functions: positiveInt('--candidates', flags.candidates), minutes: fromMinute + minutes });
        } else {
          const { TraceWorkload } = await import('../simulate/azure-trace.ts');
          workload = await TraceWorkload.read({
            seed,
            files: {
              invocations: flags.traceInvocations,
              ...(flags.traceDurations === undefined ? {} : { durations: flags.traceDurations }),
              ...(flags.traceMemory === undefined ? {} : { memory: flags.traceMemory }),
            },
          });
        }
        const maxFunctions = positiveInt('--functions', flags.functions);
        const maxInvocationsPerFunction = positiveInt('--max-invocations-per-function', flags.maxInvocationsPerFunction);
        if (fromMinute + minutes > workload.minutes) throw new RfError(BenchErrors.OPTION_INVALID, `--from-minute + --minutes (${fromMinute + minutes}) is past the workload's ${workload.minutes} minutes`);
        const slice = takeSlice(workload, { fromMinute, minutes, maxFunctions, maxInvocationsPerFunction });
        if (slice.functions.length === 0) throw new RfError(BenchErrors.OPTION_INVALID, `no function of ${workload.name} has 2..${flags.maxInvocationsPerFunction} invocations in minutes ${fromMinute}..${fromMinute + minutes}`);
        return runKeepAliveReplay({
          slice,
          source: workload.name,
          policies,
          fixedWindowsMinutes,
          timeScale,
          warmupMinutes,
          maxFunctionMemoryMb: positiveInt('--max-function-memory-mb', flags.maxFunctionMemoryMb),
          maxInFlight: positiveInt('--max-in-flight', flags.maxInFlight),
          requestTimeoutMs: positiveNumber('--request-timeout-seconds', flags.requestTimeoutSeconds) * 1000,
          sampleIntervalMs: positiveInt('--sample-ms', flags.sampleMs),
          platform: settings,
          progress,
        });
      });
    });
}
