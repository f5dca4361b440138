/**
 * Greedy-Dual keep-alive, after FaaSCache (Fuerst and Sharma, "FaasCache: Keeping Serverless
 * Computing Alive with Greedy-Dual Caching", ASPLOS 2021): keep-alive as caching.
 *
 * Algorithm
 * ---------
 * Containers stay loaded until memory is needed (no time-based expiry, up to an optional
 * `maxKeepAliveMs`). Each function has a priority set when it is invoked:
 *
 *     priority = clock + frequency × coldStartCost / memorySize
 *
 * where frequency counts its invocations, coldStartCost is what a cold start of it costs
 * (ms) and memorySize its container's memory (MB). Under memory pressure the idle container
 * with the lowest priority goes first, and the clock becomes that container's priority
 * (inflation: functions not used since then age relative to new ones).
 *
 * Worked example
 * --------------
 * clock 0. f (256 MB, cold 500 ms) invoked 4 times: priority 0 + 4 × 500 / 256 = 7.8.
 * g (128 MB, cold 500 ms) invoked once: 0 + 500 / 128 = 3.9. Memory is needed: g's idle
 * container goes (3.9 < 7.8) and the clock becomes 3.9; g's next invocation gives it
 * 3.9 + 2 × 500 / 128 = 11.7: it now outranks f until f is invoked again.
 *
 * Known caveats
 * -------------
 * - Without memory pressure nothing expires: idle memory-time is the whole free memory.
 *   `maxKeepAliveMs` bounds that (default Infinity, as in the paper).
 * - Frequency never decays (FaaSCache resets it when every container of the function is
 *   evicted; a worker-side policy does not see that moment cheaply, so it does not).
 */
import { BoundedMap } from './bounded-map.ts';
import type { InvocationInfo, KeepAlivePolicy, KeepAliveWindows } from './policy.ts';

export interface GreedyDualOptions {
  /** Longest an idle container stays without memory pressure, ms. Default Infinity. */
  maxKeepAliveMs?: number;
  /** Functions tracked at once. Default 10 000. */
  maxFunctions?: number;
}

interface GdState {
  frequency: number;
  priority: number;
}

/** Greedy-Dual keep-alive: see the file header. */
export class GreedyDualKeepAlive implements KeepAlivePolicy {
  readonly name = 'greedy-dual';
  #clock = 0;
  readonly #windows: KeepAliveWindows;
  readonly #fns: BoundedMap<GdState>;

  constructor(options: GreedyDualOptions = {}) {
    this.#windows = Object.freeze({ prewarmMs: 0, keepAliveMs: options.maxKeepAliveMs ?? Number.POSITIVE_INFINITY });
    this.#fns = new BoundedMap(options.maxFunctions ?? 10_000);
  }

  /** The current clock (inflation value). */
  get clock(): number {
    return this.#clock;
  }

  onInvocationStart(functionId: string, _nowMs: number, info: InvocationInfo): void {
    const s = this.#fns.upsert(functionId, () => ({ frequency: 0, priority: 0 }));
    s.frequency++;
    s.priority = this.#clock + (s.frequency * Math.max(1, info.coldStartMs)) / Math.max(1, info.memoryMb);
  }

  onIdle(_functionId: string, _nowMs: number, _defaultKeepAliveMs?: number): KeepAliveWindows {
    return this.#windows;
  }

  evictionPriority(functionId: string, _idleSinceMs: number, _nowMs: number): number {
    return this.#fns.peek(functionId)?.priority ?? this.#clock;
  }

  onEvict(_functionId: string, priority: number): void {
    if (priority > this.#clock) this.#clock = priority;
  }

  forget(functionId: string): void {
    this.#fns.delete(functionId);
  }
}
