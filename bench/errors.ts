/** The bench error registry (see errors/index.ts and docs/errors.md, section "Bench"). */
import type { ErrorSpec } from '../errors/index.ts';

export const BenchErrors = {
  /** A `--target`, `--stages` or other benchmark option is malformed. */
  OPTION_INVALID: { code: 'RF_BENCH_OPTION_INVALID', status: 400 },
  /** Deploying the benchmark function to a target failed (the target answered an error). */
  DEPLOY_FAILED: { code: 'RF_BENCH_DEPLOY_FAILED', status: 502 },
  /** A component the benchmark starts (Azurite, a router, a worker, redis-server, a hop) did not come up. */
  COMPONENT_START_FAILED: { code: 'RF_BENCH_COMPONENT_START_FAILED', status: 500 },
  /** The Redis design cannot reach its Redis server. */
  REDIS_UNAVAILABLE: { code: 'RF_BENCH_REDIS_UNAVAILABLE', status: 503 },
  /** The Redis design found no warm container and no cold reservation within its wait. */
  REDIS_NO_CAPACITY: { code: 'RF_BENCH_REDIS_NO_CAPACITY', status: 503 },
  /** The Redis design could not reach the worker named by a cold reservation or warm location. */
  REDIS_WORKER_UNREACHABLE: { code: 'RF_BENCH_REDIS_WORKER_UNREACHABLE', status: 502 },
  /** The container instance named in a request no longer exists on this worker (Redis design). */
  INSTANCE_GONE: { code: 'RF_BENCH_INSTANCE_GONE', status: 410 },
  /** The operation exists in ringfaas but not in the Redis design (e.g. POST /workers). */
  NOT_SUPPORTED: { code: 'RF_BENCH_NOT_SUPPORTED', status: 501 },
  /** A results file could not be read or has an unknown shape. */
  RESULT_INVALID: { code: 'RF_BENCH_RESULT_INVALID', status: 500 },
  /** A trace file given to `ringfaas bench simulate` is missing columns or has a malformed row. */
  TRACE_INVALID: { code: 'RF_BENCH_TRACE_INVALID', status: 400 },
} as const satisfies Record<string, ErrorSpec>;
