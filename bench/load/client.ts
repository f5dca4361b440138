/**
 * The HTTP side of the load generator: one undici Pool with keep-alive connections to the
 * target's invoke URL, and the parsing of each answer into a Sample (instance id, worker,
 * start kind, function time), lenient enough for any seed-compatible platform.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { Sample } from './stats.ts';

/** Issues invocations against one invoke URL. */
export interface LoadClient {
  readonly invokeUrl: string;
  /** One invocation; never throws (failures become samples with an error). `t0` is the stage start. */
  invoke(t0: number): Promise<Sample>;
  close(): Promise<void>;
}

export interface LoadClientOptions {
  /** Keep-alive connections to open at most (one per concurrent caller is enough). */
  connections: number;
  /** Request body (JSON). */
  body?: string;
  /** Per-request timeout, ms. */
  timeoutMs?: number;
  /** Extra request headers (e.g. an API key). */
  headers?: Record<string, string>;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Extracts the instance id and the function's own duration from an answer body. */
export function parseInvokeBody(text: string): { instanceId?: string; durationMs?: number; start?: string; errorCode?: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  const top = asRecord(parsed);
  if (top === undefined) return {};
  const error = asRecord(top.error);
  if (error !== undefined && typeof error.code === 'string') return { errorCode: error.code };
  // The seed's answer is {output, logs}; other platforms answer the function's output directly.
  const output = asRecord(top.output) ?? top;
  const logs = asRecord(top.logs);
  const result: { instanceId?: string; durationMs?: number; start?: string } = {};
  // The container: as the function reports it, else as the platform does (ringfaas: logs.instanceId).
  if (typeof output.instanceId === 'string') result.instanceId = output.instanceId;
  else if (typeof logs?.instanceId === 'string') result.instanceId = logs.instanceId;
  // How it started (ringfaas: logs.start; the header only comes with x-ringfaas-details).
  if (typeof logs?.start === 'string') result.start = logs.start;
  // The function's duration: as the platform measured it (ringfaas: logs.functionMs), else
  // as the function reports it.
  const functionMs = logs?.functionMs;
  if (typeof functionMs === 'number') result.durationMs = functionMs;
  else if (typeof output.durationMs === 'number') result.durationMs = output.durationMs;
  return result;
}

/** Opens a keep-alive pool to `invokeUrl`. */
export function createLoadClient(invokeUrl: string, options: LoadClientOptions): LoadClient {
  const url = new URL(invokeUrl);
  const path = `${url.pathname}${url.search}`;
  const pool = new Pool(url.origin, {
    connections: Math.max(1, options.connections),
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: options.timeoutMs ?? 60_000,
    bodyTimeout: options.timeoutMs ?? 60_000,
  });
  const body = options.body ?? '{}';
  const headers = { 'content-type': 'application/json', ...options.headers };

  return {
    invokeUrl,
    async invoke(t0: number): Promise<Sample> {
      const started = performance.now();
      try {
        const res = await pool.request({ method: 'POST', path, headers, body });
        const text = await res.body.text();
        const latencyMs = performance.now() - started;
        const parsed = parseInvokeBody(text);
        const sample: Sample = { atMs: started - t0, latencyMs, status: res.statusCode };
        const functionMs = parsed.durationMs;
        if (functionMs !== undefined && Number.isFinite(functionMs)) sample.functionMs = functionMs;
        const instanceId = parsed.instanceId ?? header(res.headers, 'x-ringfaas-instance');
        if (instanceId !== undefined) sample.instanceId = instanceId;
        const worker = header(res.headers, 'x-ringfaas-worker');
        if (worker !== undefined) sample.worker = worker;
        const start = parsed.start ?? header(res.headers, 'x-ringfaas-start');
        if (start !== undefined) sample.start = start;
        if (res.statusCode !== 200) sample.error = parsed.errorCode ?? `HTTP_${res.statusCode}`;
        return sample;
      } catch (err: unknown) {
        const code = typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
          ? (err as { code: string }).code
          : 'REQUEST_FAILED';
        return { atMs: started - t0, latencyMs: performance.now() - started, status: 0, error: code };
      }
    },
    async close(): Promise<void> {
      await pool.close();
    },
  };
}
