/** Prometheus metrics of the ring side of a router (forwarding, spills, the ring view). */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Why a request went past a worker of its preference list. */
export type SpillReason = 'at_capacity' | 'draining' | 'bounded_load' | 'warm_elsewhere' | 'connect_error' | 'suspect' | 'code_unavailable';

/** The ring's metrics, registered on the router's registry. */
export class RingMetrics {
  /** Invocations forwarded, by result (`ok` = a worker answered, else the ring error code). */
  readonly forwards: Counter<'result'>;
  /** Workers passed over in a preference list, by reason. */
  readonly spills: Counter<'reason'>;
  /** Requests sent again to another worker after one could not take them. */
  readonly retries: Counter;
  /** Requests that waited for capacity at their home worker (every candidate was full). */
  readonly waits: Counter;
  /** Workers on this router's ring. */
  readonly ringSize: Gauge;
  /** Times this router's ring changed (a worker joined, left or moved). */
  readonly ringChanges: Counter;
  /** Workers this router currently routes around because they refused a connection. */
  readonly suspectWorkers: Gauge;
  /** Failed reads of the membership table. */
  readonly membershipErrors: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.forwards = new Counter({ name: 'ringfaas_ring_forwards_total', help: 'Invocations forwarded to workers, by result', labelNames: ['result'], registers });
    this.spills = new Counter({ name: 'ringfaas_ring_spills_total', help: 'Workers passed over in a preference list, by reason', labelNames: ['reason'], registers });
    this.retries = new Counter({ name: 'ringfaas_ring_retries_total', help: 'Requests re-sent to another worker before they could start', registers });
    this.waits = new Counter({ name: 'ringfaas_ring_waits_total', help: 'Requests that waited for capacity at their home worker', registers });
    this.ringSize = new Gauge({ name: 'ringfaas_ring_size', help: 'Workers on this router ring', registers });
    this.ringChanges = new Counter({ name: 'ringfaas_ring_changes_total', help: 'Changes of this router ring', registers });
    this.suspectWorkers = new Gauge({ name: 'ringfaas_ring_suspect_workers', help: 'Workers routed around after a refused connection', registers });
    this.membershipErrors = new Counter({ name: 'ringfaas_ring_membership_errors_total', help: 'Failed reads of the membership table', registers });
  }
}
