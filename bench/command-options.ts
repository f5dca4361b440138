/**
 * The flags of `ringfaas bench <scenario>`: the common ones (platform size, runtime, layout,
 * results) and the parsers every scenario's own flags use; each bad value is RF_BENCH_OPTION_INVALID.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { RfError } from '../errors/index.ts';
import { BenchErrors } from './errors.ts';
import { repositoryRoot } from './platform/children.ts';
import type { PlatformSettings } from './platform/targets.ts';
import type { RuntimeKind } from './platform/runtime.ts';

/** The flags every platform scenario takes. */
export interface CommonFlags {
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

/** A positive integer flag. */
export function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new RfError(BenchErrors.OPTION_INVALID, `${name} must be a positive integer, got '${text}'`);
  return n;
}

/** A non-negative integer flag. */
export function nonNegativeInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new RfError(BenchErrors.OPTION_INVALID, `${name} must be an integer >= 0, got '${text}'`);
  return n;
}

/** A positive number flag. */
export function positiveNumber(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new RfError(BenchErrors.OPTION_INVALID, `${name} must be a positive number, got '${text}'`);
  return n;
}

/** An on/off flag. */
export function onOff(name: string, text: string): 'on' | 'off' {
  if (text !== 'on' && text !== 'off') throw new RfError(BenchErrors.OPTION_INVALID, `${name} must be on or off, got '${text}'`);
  return text;
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

/** The platform settings of a run, from the common flags (RINGFAAS_REDIS_URL when no --redis-url). */
export function settingsOf(flags: CommonFlags, extra: Partial<PlatformSettings> = {}): PlatformSettings {
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

/** Adds the common flags to a scenario's command. */
export function common(cmd: Command): Command {
  return cmd
    .option('--runtime <kind>', 'docker or process (default: docker when the engine answers)')
    .option('--workers <n>', 'workers per platform', '2')
    .option('--worker-memory-mb <mb>', 'memory each worker may reserve', '2048')
    .option('--cold-pool <n>', 'pre-started containers per worker', '2')
    .option('--function-memory-mb <mb>', 'memory of the benchmark function', '128')
    .option('--redis-url <url>', 'Redis of the Redis design (default RINGFAAS_REDIS_URL, else a redis-server started on a free port)')
    .option('--results-dir <dir>', 'where result files go', join(repositoryRoot, 'bench', 'results'))
    .option('--no-docs', 'do not regenerate docs/benchmarks.md')
    .option('--log-level <level>', 'log level of the started components', 'warn')
    .option('--layout <layout>', 'processes (each component its own process, Azurite) or shared (each platform in one process, in-memory stores)', 'processes')
    .option('--cpu-prof', 'run every Node process of the targets under node --cpu-prof (profiles in <results>/profiles)');
}
