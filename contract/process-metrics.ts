/**
 * The process metrics every component serves on /metrics: prom-client's defaults (CPU, memory,
 * heap, open fds, GC, event-loop delay), with the event loop sampled every
 * `EVENT_LOOP_SAMPLE_MS` instead of prom-client's 10 ms.
 *
 * Why: the event-loop delay monitor (`perf_hooks.monitorEventLoopDelay`) is a timer at its
 * resolution that wakes the process even when it has nothing to do. At 10 ms that is 100
 * wake-ups a second: 7 ms of CPU a second in a bare Node 20 process on the 2-core test machine.
 * Idle workers and routers of `npm start` used 8 to 23 ms a second each (5 processes: 4 to 9 %
 * of the machine doing nothing), 4 to 12 since. At 100 ms the monitor costs under 1 ms a second. The delays are still
 * measured to the nanosecond; a stall shorter than the sample period shows only when a sample
 * falls due during it (a 30 ms stall: 3 times in 10), which the p99 between two scrapes still
 * catches when stalls repeat.
 */
import { collectDefaultMetrics, type Registry } from 'prom-client';

/** How often the event-loop delay is sampled, ms (prom-client's `eventLoopMonitoringPrecision`). */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** Registers the default process metrics on `registry` (see the header). */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
}
