/**
 * `ringfaas bench simulate`: options, wiring and recording of the simulation bench
 * (bench/simulate/scenario.ts). Registered by bench/cli.ts; loads the simulator only when run.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { RfError } from '../../errors/index.ts';
import { BenchErrors } from '../errors.ts';
import { repositoryRoot } from '../platform/children.ts';
import { runScenarioCommand } from '../scenario-command.ts';
import { IAT_COV } from './generator.ts';
import type { SustainedSpec } from './placement.ts';

interface SimulateFlags {
  seed: string;
  scales: string;
  functionsPerWorker: string;
  minutes: string;
  keepaliveMinutes: string;
  keepaliveWorkers: string;
  keepaliveWarmupMinutes?: string;
  windowMinutes: string;
  workerMemoryMb?: string;
  traceInvocations?: string;
  traceDurations?: string;
  traceMemory?: string;
  maxFunctions?: string;
  seeds?: string;
  loadLevels?: string;
  loadLevelMinutes: string;
  loadLevelWarmupMinutes?: string;
  iatCovMedian?: string;
  iatCovSigma?: string;
  keepaliveFunctionsPerWorker?: string;
  boundRules: string;
  sustained?: string;
  warmFirst?: string;
  matrix: boolean;
  placement: boolean;
  keepalive: boolean;
  resultsDir: string;
  docs: boolean;
}

function positive(name: string, text: string): number {
  const x = Number(text);
  if (!Number.isFinite(x) || x < 0) throw new RfError(BenchErrors.OPTION_INVALID, `${name} must be a number >= 0, got '${text}'`);
  return x;
}

function int(name: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new RfError(BenchErrors.OPTION_INVALID, `${name} must be an integer >= ${min}, got '${text}'`);
  return n;
}

/** A run's warm-up (when given) must leave minutes to measure: RF_BENCH_OPTION_INVALID otherwise. */
function warmupUnderRun(name: string, text: string | undefined, min: number, runName: string, runMinutes: number): void {
  if (text !== undefined && int(name, text, min) >= runMinutes) throw new RfError(BenchErrors.OPTION_INVALID, `${name} must be under ${runName}, got ${text} of ${runMinutes}`);
}

function boundRule(text: string): 'ceil' | 'floor' {
  if (text === 'ceil' || text === 'floor') return text;
  throw new RfError(BenchErrors.OPTION_INVALID, `--bound-rules takes ceil and/or floor, got '${text}'`);
}

function onOff(name: string, text: string): boolean {
  if (text === 'on' || text === 'off') return text === 'on';
  throw new RfError(BenchErrors.OPTION_INVALID, `${name} takes on or off, got '${text}'`);
}

/** One `--sustained` entry: `c/windowSeconds`, optionally `/plain` (the average alone: no current load, no request share). */
function sustainedSpec(text: string): SustainedSpec {
  const [c, windowS, plain, ...rest] = text.split('/');
  const spec = { c: Number(c), windowMs: Number(windowS) * 1000, ...(plain === 'plain' ? { plain: true } : {}) };
  if (!(spec.c >= 1) || !(spec.windowMs > 0) || (plain !== undefined && plain !== 'plain') || rest.length > 0) {
    throw new RfError(BenchErrors.OPTION_INVALID, `--sustained takes c/windowSeconds[/plain] entries with c >= 1 and a window > 0, got '${text}'`);
  }
  return spec;
}

/** The options of `bench simulate`: flags, description, default (none: unset). */
const OPTIONS: ReadonlyArray<readonly [flags: string, description: string, defaultValue?: string]> = [
  ['--seed <n>', 'random seed (same seed, same result)', '1'],
  ['--scales <list>', 'worker counts of the placement runs', '10,100,1000'],
  ['--functions-per-worker <n>', 'generated functions per worker', '20'],
  ['--minutes <n>', 'simulated minutes of each placement run', '60'],
  ['--keepalive-minutes <n>', 'simulated minutes of each keep-alive run', '360'],
  ['--keepalive-workers <n>', 'workers of the keep-alive runs', '100'],
  ['--keepalive-warmup-minutes <n>', "minutes of each keep-alive run left out of its figures, the policies' history (default: a quarter of the run)"],
  ['--window-minutes <n>', 'minutes after a membership event in which its cold starts count', '5'],
  ['--worker-memory-mb <mb>', 'memory per worker (default: sized so executions hold ~40 % of it)'],
  ['--trace-invocations <file>', 'Azure Functions 2019 invocations_per_function_md.anon.dNN.csv (instead of the generator)'],
  ['--trace-durations <file>', 'function_durations_percentiles.anon.dNN.csv'],
  ['--trace-memory <file>', 'app_memory_percentiles.anon.dNN.csv'],
  ['--max-functions <n>', 'keep at most this many functions of a trace (every k-th)'],
  ['--seeds <list>', 'more seeds for the placement runs: membership impact as mean ± s.d. over --seed and these'],
  ['--load-levels <list>', 'functions per worker of extra runs at the largest scale, no event: max/avg load by load level (generator only)'],
  ['--load-level-minutes <n>', 'simulated minutes of each load-level run', '6'],
  ['--load-level-warmup-minutes <n>', 'minutes of each load-level run left out of its figures (default: a sixth of the run, at least 1)'],
  ['--iat-cov-median <x>', 'generator: median of the non-timer functions\' inter-arrival-time CoV (default 1.15: 40 % of applications above 1, as in the trace)'],
  ['--iat-cov-sigma <x>', 'generator: log-sigma of that CoV across functions (default 1; 0 with median 1: Poisson arrivals)'],
  ['--keepalive-functions-per-worker <n>', 'generated functions per worker of the keep-alive runs (default --functions-per-worker)'],
  ['--bound-rules <list>', "ringfaas's bound rounding, ring/'s rule: ceil (the platform's) and/or floor (max(ceil(avg), floor(1.25 × avg))); load levels run each, placement runs the first", 'ceil'],
  ['--sustained <list>', "ringfaas's sustained-load bound (ring/sustained-load.ts): c/windowSeconds[/plain] entries, e.g. 1.25/30 (plain: the average alone), or off; the load levels run ringfaas without and with each, the placement runs use the first (off: none). Default: the routers' (RINGFAAS_SUSTAINED_LOAD's default)"],
  ['--warm-first <on|off>', "ringfaas's warm first when spilling (docs/ring.md) in every run. Default: the routers' (RINGFAAS_WARM_FIRST's default)"],
  ['--no-placement', 'skip the placement runs (tables, membership impact) at --scales'],
  ['--no-keepalive', 'skip the keep-alive runs'],
  ['--no-matrix', 'skip the placement × keep-alive matrix at the smallest scale'],
  ['--results-dir <dir>', 'where result files go', join(repositoryRoot, 'bench', 'results')],
  ['--no-docs', 'do not regenerate docs/benchmarks.md'],
];

/** Adds `simulate` to the `bench` command. */
export function registerSimulateCommand(bench: Command): void {
  const command = bench
    .command('simulate')
    .description('discrete-event simulation at 10/100/1000 workers: placement (ringfaas, OpenWhisk, least-loaded, random, CH-RLU) × keep-alive (fixed, hybrid histogram, hazard, Greedy-Dual), on the real ring and keep-alive code');
  for (const [flags, description, defaultValue] of OPTIONS) command.option(flags, description, defaultValue);
  command
    .action(async (flags: SimulateFlags) => {
      await runScenarioCommand({ scenario: 'simulate', resultsDir: flags.resultsDir, docs: flags.docs, progressSeconds: 1 }, async ({ progress }) => {
        const { runSimulateBench } = await import('./scenario.ts');
        const scales = flags.scales.split(',').map((s) => int('--scales', s.trim()));
        warmupUnderRun('--keepalive-warmup-minutes', flags.keepaliveWarmupMinutes, 0, '--keepalive-minutes', int('--keepalive-minutes', flags.keepaliveMinutes, 8));
        warmupUnderRun('--load-level-warmup-minutes', flags.loadLevelWarmupMinutes, 1, '--load-level-minutes', int('--load-level-minutes', flags.loadLevelMinutes, 2));
        const trace =
          flags.traceInvocations === undefined
            ? undefined
            : {
                invocations: flags.traceInvocations,
                ...(flags.traceDurations === undefined ? {} : { durations: flags.traceDurations }),
                ...(flags.traceMemory === undefined ? {} : { memory: flags.traceMemory }),
              };
        return runSimulateBench({
          seed: int('--seed', flags.seed, 0),
          scales,
          functionsPerWorker: int('--functions-per-worker', flags.functionsPerWorker),
          minutes: int('--minutes', flags.minutes, 6),
          keepAliveMinutes: int('--keepalive-minutes', flags.keepaliveMinutes, 8),
          keepAliveWorkers: int('--keepalive-workers', flags.keepaliveWorkers),
          ...(flags.keepaliveWarmupMinutes === undefined ? {} : { keepAliveWarmupMin: int('--keepalive-warmup-minutes', flags.keepaliveWarmupMinutes, 0) }),
          windowMin: int('--window-minutes', flags.windowMinutes),
          ...(flags.workerMemoryMb === undefined ? {} : { workerMemoryMb: int('--worker-memory-mb', flags.workerMemoryMb, 128) }),
          ...(trace === undefined ? {} : { trace }),
          ...(flags.maxFunctions === undefined ? {} : { maxFunctions: int('--max-functions', flags.maxFunctions) }),
          ...(flags.seeds === undefined ? {} : { extraSeeds: flags.seeds.split(',').map((x) => int('--seeds', x.trim(), 0)) }),
          ...(flags.loadLevels === undefined ? {} : { loadLevels: flags.loadLevels.split(',').map((x) => int('--load-levels', x.trim())) }),
          loadLevelMinutes: int('--load-level-minutes', flags.loadLevelMinutes, 2),
          ...(flags.loadLevelWarmupMinutes === undefined ? {} : { loadLevelWarmupMin: int('--load-level-warmup-minutes', flags.loadLevelWarmupMinutes) }),
          ...(flags.iatCovMedian === undefined && flags.iatCovSigma === undefined
            ? {}
            : { iatCov: { median: positive('--iat-cov-median', flags.iatCovMedian ?? String(IAT_COV.median)), sigma: positive('--iat-cov-sigma', flags.iatCovSigma ?? String(IAT_COV.sigma)) } }),
          ...(flags.keepaliveFunctionsPerWorker === undefined ? {} : { keepAliveFunctionsPerWorker: int('--keepalive-functions-per-worker', flags.keepaliveFunctionsPerWorker) }),
          boundRules: flags.boundRules.split(',').map((x) => boundRule(x.trim())),
          ...(flags.sustained === undefined ? {} : { sustained: flags.sustained.trim() === 'off' ? [] : flags.sustained.split(',').map((x) => sustainedSpec(x.trim())) }),
          ...(flags.warmFirst === undefined ? {} : { warmFirst: onOff('--warm-first', flags.warmFirst) }),
          skipMatrix: !flags.matrix,
          skipPlacement: !flags.placement,
          skipKeepAlive: !flags.keepalive,
          progress,
        });
      });
    });
}
