/**
 * The environment of a benchmark's components: the caller's, minus the settings of the
 * caller's own platform (the components listen on loopback without keys, whatever the shell
 * says), plus the run's log level and each component's own variables.
 */
import type { RuntimeKind } from './runtime.ts';

/** Settings of the caller's own platform that must not leak into the benchmark's components. */
export const BENCH_UNSET_VARIABLES = ['RINGFAAS_API_KEYS', 'RINGFAAS_HOST', 'RINGFAAS_WORKER_HOST', 'RINGFAAS_WORKER_ADDRESS', 'RINGFAAS_WORKER_PORT', 'RINGFAAS_PORT', 'RINGFAAS_MEMBERSHIP_TTL_MS', 'RINGFAAS_HEARTBEAT_MS'];

/** A component's environment: `base` without BENCH_UNSET_VARIABLES (unless `extra` sets them). */
export function componentEnv(base: NodeJS.ProcessEnv, logLevel: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, RINGFAAS_LOG_LEVEL: logLevel, ...extra };
  for (const name of BENCH_UNSET_VARIABLES) if (!(name in extra)) delete env[name];
  return env;
}

/** What makes the worker sets of two targets identical. */
export interface WorkerSetSettings {
  workerMemoryMb: number;
  coldPoolSize: number;
  runtime: RuntimeKind;
}

/** The variables of one worker (any design's): its memory, cold pool and runtime. */
export function workerSettingsEnv(s: WorkerSetSettings): Record<string, string> {
  return {
    RINGFAAS_WORKER_MEMORY_MB: String(s.workerMemoryMb),
    RINGFAAS_COLD_POOL_SIZE: String(s.coldPoolSize),
    RINGFAAS_RUNTIME: s.runtime,
  };
}
