/**
 * The worker's Prometheus metrics, registered on a Registry the caller passes in (never the
 * global default). Pool sizes and memory are gauges read at scrape time; counters are bumped
 * through pre-bound label children so the invoke path pays a few nanoseconds.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ContainerPool, PoolEvents, RemoveReason } from './pool/index.ts';
import type { InvocationEvents } from './invoke.ts';
import type { StartKind } from '../contract/index.ts';

/** Result labels of ringfaas_worker_invocations_total. */
export type InvocationResultLabel =
  | 'ok'
  | 'function_error'
  | 'timeout'
  | 'crashed'
  | 'at_capacity'
  | 'draining'
  | 'not_found'
  | 'bad_input'
  | 'start_failed'
  | 'output_too_large'
  | 'cancelled'
  | 'error';

export interface WorkerMetrics {
  readonly poolEvents: PoolEvents;
  readonly invocationEvents: InvocationEvents;
  /** Counts one finished invocation and its duration in the worker. */
  invocation(result: InvocationResultLabel, workerMs: number): void;
}

/** Registers the worker's metrics on `registry`; `pool` is read at scrape time. */
export function createWorkerMetrics(registry: Registry, pool: () => ContainerPool | undefined): WorkerMetrics {
  const registers = [registry];
  const invocations = new Counter({
    name: 'ringfaas_worker_invocations_total',
    help: 'Invocations answered by this worker, by result',
    labelNames: ['result'],
    registers,
  });
  const starts = new Counter({
    name: 'ringfaas_worker_starts_total',
    help: 'Containers handed to invocations, by start kind (warm, cold-pool, cold-create)',
    labelNames: ['kind'],
    registers,
  });
  const removals = new Counter({
    name: 'ringfaas_worker_containers_removed_total',
    help: 'Containers removed, by reason (expired, evicted, retired, deleted, timeout, crashed, ...)',
    labelNames: ['reason'],
    registers,
  });
  const evictions = new Counter({ name: 'ringfaas_worker_evictions_total', help: 'Idle or pooled containers evicted to make room', registers });
  const expiries = new Counter({ name: 'ringfaas_worker_expiries_total', help: 'Idle containers removed after their idle timeout', registers });
  const timeouts = new Counter({ name: 'ringfaas_worker_timeouts_total', help: 'Invocations killed at their timeout', registers });
  const crashes = new Counter({ name: 'ringfaas_worker_crashes_total', help: 'Invocations whose container exited or was killed', registers });
  const duration = new Histogram({
    name: 'ringfaas_worker_invocation_duration_seconds',
    help: 'Time an invocation spent in the worker, start included',
    labelNames: ['result'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const gauge = (name: string, help: string, read: (p: ContainerPool) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const p = pool();
        this.set(p === undefined ? 0 : read(p));
      },
    });
  };
  gauge('ringfaas_worker_warm_idle', 'Idle warm containers on the LIFO stacks', (p) => p.warmIdle);
  gauge('ringfaas_worker_cold_pool_idle', 'Pre-started unassigned containers in the cold pool', (p) => p.coldPoolIdle);
  gauge('ringfaas_worker_cold_pool_target', 'Target size of the cold pool', (p) => p.coldPoolTarget);
  gauge('ringfaas_worker_busy', 'Containers running an execution', (p) => p.busy);
  gauge('ringfaas_worker_queued', 'Requests waiting for capacity', (p) => p.queued);
  gauge('ringfaas_worker_memory_reserved_mb', 'Memory reserved by containers, MB', (p) => p.reservedMb);
  gauge('ringfaas_worker_memory_capacity_mb', 'Memory the worker may reserve, MB', (p) => p.capacityMb);

  const startChildren = new Map<StartKind, Counter.Internal>(
    (['warm', 'cold-pool', 'cold-create'] as const).map((k) => [k, starts.labels(k)]),
  );
  const resultChildren = new Map<string, { count: Counter.Internal; seconds: Histogram.Internal<string> }>();
  const child = (result: string): { count: Counter.Internal; seconds: Histogram.Internal<string> } => {
    let c = resultChildren.get(result);
    if (c === undefined) {
      c = { count: invocations.labels(result), seconds: duration.labels(result) };
      resultChildren.set(result, c);
    }
    return c;
  };

  return {
    poolEvents: {
      onStart: (kind) => startChildren.get(kind)?.inc(),
      onRemove: (reason: RemoveReason) => {
        removals.labels(reason).inc();
        if (reason === 'evicted') evictions.inc();
        else if (reason === 'expired') expiries.inc();
      },
    },
    invocationEvents: {
      onTimeout: () => timeouts.inc(),
      onCrash: () => crashes.inc(),
    },
    invocation(result, workerMs) {
      const c = child(result);
      c.count.inc();
      c.seconds.observe(workerMs / 1000);
    },
  };
}
