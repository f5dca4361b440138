/**
 * HTTP metrics of the router on a prom-client Registry: request count and latency histogram
 * by method, route template (never the raw path, which would make one series per function id)
 * and status.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

export interface HttpMetrics {
  observe(method: string, route: string, status: number, durationSeconds: number): void;
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'ringfaas_router_http_requests_total',
    help: 'HTTP requests answered by the router',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'ringfaas_router_http_request_duration_seconds',
    help: 'Time from request start to the end of the response',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  // The label children of each (method, route, status), made once: prom-client hashes a label
  // object on every call otherwise, which the invoke path would pay per request.
  const series = new Map<string, { requests: { inc(): void }; duration: { observe(value: number): void } }>();
  return {
    observe(method, route, status, durationSeconds) {
      const key = `${method} ${route} ${status}`;
      let child = series.get(key);
      if (child === undefined) {
        const labels = { method, route, status: String(status) };
        child = { requests: requests.labels(labels), duration: duration.labels(labels) };
        series.set(key, child);
      }
      child.requests.inc();
      child.duration.observe(durationSeconds);
    },
  };
}
