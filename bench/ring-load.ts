/**
 * The closed-loop load of the ring scenarios (bench/ring-scenarios.ts): callers over the
 * routers, each answer a sample filed under the phase it was sent in; callers can be paused
 * while single calls go out alone; per-phase figures.
 */
import { Pool } from 'undici';
import type { Sample } from './ring-change-measures.ts';

/** Where and how the load calls. */
export interface LoadOptions {
  /** Router base URLs; requests are spread round-robin over them. */
  routerUrls: string[];
  apiKey?: string;
  /** Ids of deployed functions the load cycles over. */
  functionIds: string[];
  /** Input of every invocation. Default {}. */
  input?: unknown;
  /** Concurrent closed-loop clients. Default 8. */
  concurrency?: number;
}

/** What one phase of load saw. */
export interface PhaseStats {
  phase: string;
  durationMs: number;
  requests: number;
  errors: number;
  errorCodes: Record<string, number>;
  /** Answers with x-ringfaas-start other than `warm`. */
  coldStarts: number;
  p50Ms: number;
  p99Ms: number;
  /** Requests served per worker. */
  servedBy: Record<string, number>;
}

/** Closed-loop load over the routers, with samples split into named phases. */
export class LoadRun {
  readonly #pools: Pool[];
  readonly #o: LoadOptions;
  /** The functions the load cycles over (more may be added during the run). */
  functionIds: string[];
  readonly #body: string;
  #phase = 'warmup';
  readonly samples = new Map<string, Sample[]>();
  #stopped = false;
  #done: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #n = 0;
  /** Set while the callers are paused: they wait on it before their next request. */
  #gate: { opened: Promise<void>; open: () => void } | undefined;
  /** Requests of the callers in flight (not those of callOnce). */
  #inFlight = 0;

  constructor(options: LoadOptions) {
    this.#o = options;
    this.functionIds = [...options.functionIds];
    this.#pools = options.routerUrls.map((url) => new Pool(url, { connections: options.concurrency ?? 8 }));
    this.#body = JSON.stringify(options.input ?? {});
  }

  start(): void {
    this.#done = Promise.all(Array.from({ length: this.#o.concurrency ?? 8 }, () => this.#loop())).then(() => undefined);
  }

  phase(name: string): void {
    this.#phase = name;
  }

  /** Pauses the callers (each finishes its request in flight); resolves once none is in flight. */
  async pause(): Promise<void> {
    if (this.#gate === undefined) {
      let open = (): void => undefined;
      const opened = new Promise<void>((resolve) => (open = resolve));
      this.#gate = { opened, open };
    }
    while (this.#inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  /** Lets paused callers go on. */
  resume(): void {
    this.#gate?.open();
    this.#gate = undefined;
  }

  /** One request of `functionId` outside the callers' loop, recorded in the current phase. */
  async callOnce(functionId: string): Promise<Sample> {
    const sample = await this.#invoke(this.#pools[0] as Pool, functionId);
    this.#record(this.#phase, sample);
    return sample;
  }

  /** Stops the clients and closes the connections (idempotent). */
  stop(): Promise<void> {
    this.#stopped = true;
    this.resume();
    this.#closing ??= (async () => {
      await this.#done;
      await Promise.all(this.#pools.map((p) => p.close()));
    })();
    return this.#closing;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      if (this.#gate !== undefined) {
        await this.#gate.opened;
        continue;
      }
      const i = this.#n++;
      const pool = this.#pools[i % this.#pools.length] as Pool;
      const ids = this.functionIds;
      const functionId = ids[i % ids.length] as string;
      const phase = this.#phase;
      this.#inFlight++;
      try {
        this.#record(phase, await this.#invoke(pool, functionId));
      } finally {
        this.#inFlight--;
      }
    }
  }

  #record(phase: string, sample: Sample): void {
    let list = this.samples.get(phase);
    if (list === undefined) this.samples.set(phase, (list = []));
    list.push(sample);
  }

  async #invoke(pool: Pool, functionId: string): Promise<Sample> {
    const t0 = performance.now();
    try {
      // The detail headers: the start kind and the worker without parsing the body.
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-ringfaas-details': '1' };
      if (this.#o.apiKey !== undefined) headers.authorization = `Bearer ${this.#o.apiKey}`;
      const res = await pool.request({ path: `/functions/${encodeURIComponent(functionId)}/invoke`, method: 'POST', headers, body: this.#body });
      const text = await res.body.text();
      const ok = res.statusCode === 200;
      let code = ok ? '' : `HTTP_${res.statusCode}`;
      if (!ok) {
        try {
          code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? code;
        } catch {
          // not JSON: the HTTP status is the code
        }
      }
      const header = (name: string): string | undefined => {
        const v = res.headers[name];
        return typeof v === 'string' ? v : undefined;
      };
      return { latencyMs: performance.now() - t0, ok, code, start: header('x-ringfaas-start'), worker: header('x-ringfaas-worker'), functionId, at: Date.now() };
    } catch (err) {
      return { latencyMs: performance.now() - t0, ok: false, code: String((err as { code?: unknown }).code ?? 'ERROR'), start: undefined, worker: undefined, functionId, at: Date.now() };
    }
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export function stats(phase: string, samples: Sample[], durationMs: number): PhaseStats {
  const latencies = samples.filter((s) => s.ok).map((s) => s.latencyMs).sort((a, b) => a - b);
  const errorCodes: Record<string, number> = {};
  const servedBy: Record<string, number> = {};
  for (const s of samples) {
    if (!s.ok) errorCodes[s.code] = (errorCodes[s.code] ?? 0) + 1;
    if (s.ok && s.worker !== undefined) servedBy[s.worker] = (servedBy[s.worker] ?? 0) + 1;
  }
  return {
    phase,
    durationMs,
    requests: samples.length,
    errors: samples.filter((s) => !s.ok).length,
    errorCodes,
    coldStarts: samples.filter((s) => s.ok && s.start !== undefined && s.start !== 'warm').length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    servedBy,
  };
}
