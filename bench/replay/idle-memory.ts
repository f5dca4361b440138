/**
 * Idle memory-time of a real platform during a replay: every `intervalMs` each worker's
 * `GET /status` is read (per function version, its idle warm containers), the idle memory is
 * the sum of idle containers × their function's memory, and it is integrated over time (left
 * rectangles: the memory read at one sample holds until the next). Cold-pool containers are
 * not counted: they belong to no function and are the same for every policy.
 *
 * Caveat: a container that goes idle and expires between two samples is missed, and one read
 * idle is counted until the next sample; at 250 ms and a 60× compression a sample stands for
 * 15 s of trace time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkerStatus } from '../../contract/index.ts';

/** The integral of a step function sampled at increasing times (ms, MB → MB·ms). */
export class IdleMemoryIntegral {
  #lastMs: number | undefined;
  #lastMb = 0;
  #mbMs = 0;
  #peakMb = 0;

  /** The idle memory read at `atMs` (times must not go back). */
  add(atMs: number, idleMb: number): void {
    if (this.#lastMs !== undefined) {
      if (atMs < this.#lastMs) throw new RangeError(`samples must not go back in time (${atMs} < ${this.#lastMs})`);
      this.#mbMs += this.#lastMb * (atMs - this.#lastMs);
    }
    this.#lastMs = atMs;
    this.#lastMb = idleMb;
    this.#peakMb = Math.max(this.#peakMb, idleMb);
  }

  /** MB × ms up to the last sample. */
  get mbMs(): number {
    return this.#mbMs;
  }

  get peakMb(): number {
    return this.#peakMb;
  }
}

/** The idle memory, MB, of one worker's status, with `memoryOf` for each function id. */
export function idleMbOf(status: Pick<WorkerStatus, 'functions'>, memoryOf: (functionId: string) => number): number {
  let mb = 0;
  for (const f of status.functions) mb += f.idle * memoryOf(f.functionId);
  return mb;
}

export interface IdleSamplerOptions {
  /** Worker base URLs (GET /workers' addresses). */
  workers: readonly string[];
  memoryOf: (functionId: string) => number;
  intervalMs: number;
  /** Bound on each status read, ms. */
  readTimeoutMs: number;
  /** Samples before this (ms since the sampler started, real) are not integrated (warm-up). */
  fromMs?: number;
}

/** A running sampler; `stop()` takes a last sample and answers the integral. */
export interface IdleSampler {
  stop(): Promise<{ integral: IdleMemoryIntegral; samples: number; failedReads: number }>;
}

/** Starts sampling the workers' idle memory (see the file header). */
export function startIdleSampler(options: IdleSamplerOptions): IdleSampler {
  const integral = new IdleMemoryIntegral();
  const t0 = performance.now();
  const fromMs = options.fromMs ?? 0;
  let samples = 0;
  let failedReads = 0;
  let stopping = false;
  const lastMb = options.workers.map(() => 0);
  const readAll = async (): Promise<void> => {
    const at = performance.now() - t0;
    const mbs = await Promise.all(
      options.workers.map(async (base, i) => {
        try {
          const res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(options.readTimeoutMs) });
          if (res.ok) return (lastMb[i] = idleMbOf((await res.json()) as WorkerStatus, options.memoryOf));
          await res.body?.cancel();
        } catch {
          // counted below
        }
        // a missed read: the worker's last reading holds
        failedReads++;
        return lastMb[i] as number;
      }),
    );
    if (at < fromMs) return;
    samples++;
    integral.add(at, mbs.reduce((sum, mb) => sum + mb, 0));
  };
  const loop = (async () => {
    while (!stopping) {
      await readAll();
      await sleep(options.intervalMs);
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      await readAll();
      return { integral, samples, failedReads };
    },
  };
}
