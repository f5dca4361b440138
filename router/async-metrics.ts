/**
 * Prometheus metrics of asynchronous invocations (router /metrics, and a standalone
 * dispatcher's): accepted, attempts by outcome, retries, capacity returns, dead letters, the
 * end-to-end latency (accepted → finished, from the platform's own timestamps), and the queue's
 * depth, oldest message age and dead-letter depth, read from the queue at scrape time.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { InvocationQueue, InvocationStore } from '../storage/index.ts';

/** The parked gauge counts up to this many (one bounded query per scrape); this value means at least as many. */
export const PARKED_COUNT_CAP = 1000;

export interface AsyncMetrics {
  accepted: Counter<'result'>;
  attempts: Counter<'outcome'>;
  retries: Counter;
  requeued: Counter;
  deadLetters: Counter;
  reconciled: Counter<'status'>;
  leaseRenewals: Counter;
  parked: Counter;
  unparked: Counter;
  endToEnd: Histogram<'status'>;
}

/**
 * Registers the metrics; `queue` (when given) is read at scrape time, bounded by its own
 * timeout, and so is `invocations` for the count of parked invocations (up to PARKED_COUNT_CAP).
 */
export function createAsyncMetrics(registry: Registry, queue?: InvocationQueue, clock: () => number = Date.now, invocations?: Pick<InvocationStore, 'countParked'>): AsyncMetrics {
  const metrics: AsyncMetrics = {
    accepted: new Counter({ name: 'ringfaas_async_accepted_total', help: 'Asynchronous invocations accepted (202), by result (new, replayed)', labelNames: ['result'], registers: [registry] }),
    attempts: new Counter({ name: 'ringfaas_async_attempts_total', help: 'Attempts at running asynchronous invocations, by outcome', labelNames: ['outcome'], registers: [registry] }),
    retries: new Counter({ name: 'ringfaas_async_retries_total', help: 'Failed attempts scheduled to run again (backoff)', registers: [registry] }),
    requeued: new Counter({ name: 'ringfaas_async_capacity_requeued_total', help: 'Messages put back because the ring was at capacity (not counted as attempts)', registers: [registry] }),
    deadLetters: new Counter({ name: 'ringfaas_async_dead_letters_total', help: 'Invocations moved to the dead-letter queue', registers: [registry] }),
    reconciled: new Counter({ name: 'ringfaas_async_reconciled_total', help: 'Messages re-sent by the reconciler for records past due with no message, by the status found (queued, running)', labelNames: ['status'], registers: [registry] }),
    leaseRenewals: new Counter({ name: 'ringfaas_async_lease_renewals_total', help: 'Visibility renewals of messages whose attempts outlived a third of the lease', registers: [registry] }),
    parked: new Counter({ name: 'ringfaas_async_parked_total', help: 'Invocations accepted parked: stored with no message because the queue held a full window', registers: [registry] }),
    unparked: new Counter({ name: 'ringfaas_async_unparked_total', help: 'Parked invocations whose message this process sent once the queue had room', registers: [registry] }),
    endToEnd: new Histogram({
      name: 'ringfaas_async_end_to_end_seconds',
      help: 'Accepted to finished, from the platform timestamps, by final status',
      labelNames: ['status'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
      registers: [registry],
    }),
  };
  if (queue !== undefined) {
    let last: Promise<Awaited<ReturnType<InvocationQueue['stats']>> | undefined> | undefined;
    // One queue read serves the three gauges of a scrape.
    const stats = (): Promise<Awaited<ReturnType<InvocationQueue['stats']>> | undefined> => {
      last ??= queue
        .stats(clock())
        .catch(() => undefined)
        .finally(() => setTimeout(() => (last = undefined), 100).unref());
      return last;
    };
    new Gauge({
      name: 'ringfaas_async_queue_depth',
      help: 'Approximate messages in the invocation queue',
      registers: [registry],
      async collect() {
        const s = await stats();
        if (s !== undefined) this.set(s.depth);
      },
    });
    new Gauge({
      name: 'ringfaas_async_oldest_message_age_seconds',
      help: 'Age of the oldest visible message of the invocation queue (peek)',
      registers: [registry],
      async collect() {
        const s = await stats();
        if (s !== undefined) this.set(s.oldestAgeMs / 1000);
      },
    });
    new Gauge({
      name: 'ringfaas_async_dead_letter_depth',
      help: 'Approximate messages in the dead-letter queue',
      registers: [registry],
      async collect() {
        const s = await stats();
        if (s !== undefined) this.set(s.deadLetters);
      },
    });
  }
  if (invocations !== undefined) {
    new Gauge({
      name: 'ringfaas_async_parked',
      help: `Invocations accepted and parked (no message yet: the queue held a full window), counted up to ${PARKED_COUNT_CAP}`,
      registers: [registry],
      async collect() {
        const count = await invocations.countParked(PARKED_COUNT_CAP).catch(() => undefined);
        if (count !== undefined) this.set(count);
      },
    });
  }
  return metrics;
}
