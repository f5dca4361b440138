/**
 * Which functions this worker ran recently, and at what concurrency: the warm hand-off's "hot"
 * set. Filled by a keep-alive policy decorator (every invocation start and every container
 * going idle pass through the policy), bounded (least recently started dropped).
 *
 * Concurrency
 * -----------
 * An invocation start adds one to the function's in-flight count; a container of it going
 * idle takes one off. A container handed straight to a waiting request (no idle step), or
 * one removed after a failure, is not seen ending, so the count can only drift upwards; it is
 * corrected at every idle step, where the pool tells how many other containers of the
 * function are still loaded: the requests in flight cannot be more (when a container goes
 * idle, no request of its function waits). The peak is kept per window of `windowMs`, and
 * `concurrency()` answers the larger of the current and the previous window's: the peak over
 * the last one to two windows.
 *
 * Example (window 60 s): f starts at t = 0 and t = 1 s (in flight 2, peak 2); both end (0);
 * at t = 70 s f starts again: a new window begins (previous peak 2, current 1) and
 * concurrency is 2; at t = 130 s with no start in between, the previous window is the one
 * from 70 s (peak 1): concurrency 1.
 */
import type { InvocationInfo, KeepAlivePolicy, KeepAliveWindows } from '../keepalive/index.ts';

interface Entry {
  lastStartMs: number;
  inFlight: number;
  /** Peak in flight in the window that began at `windowStartMs`. */
  peak: number;
  /** Peak of the window before it (0 when that one is not the adjacent window). */
  previousPeak: number;
  windowStartMs: number;
}

export interface RecentInvocationsOptions {
  /** Functions remembered at most (least recently started dropped). Default 10 000. */
  maxFunctions?: number;
  /** Length of a concurrency window, ms. Default 60 000. */
  windowMs?: number;
}

/** Last invocation start and recent peak concurrency per function, bounded. */
export class RecentInvocations {
  readonly #max: number;
  readonly #windowMs: number;
  /** Insertion order = start order (an entry is re-inserted on every start). */
  readonly #entries = new Map<string, Entry>();

  constructor(options: RecentInvocationsOptions = {}) {
    this.#max = options.maxFunctions ?? 10_000;
    this.#windowMs = options.windowMs ?? 60_000;
  }

  /** An invocation of `functionId` started at `nowMs`. */
  record(functionId: string, nowMs: number): void {
    const e = this.#entries.get(functionId) ?? { lastStartMs: nowMs, inFlight: 0, peak: 0, previousPeak: 0, windowStartMs: nowMs };
    this.#entries.delete(functionId);
    this.#entries.set(functionId, e);
    this.#roll(e, nowMs);
    e.lastStartMs = nowMs;
    e.inFlight++;
    e.peak = Math.max(e.peak, e.inFlight);
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  /** A container of `functionId` went idle; `othersLoaded` other containers of it are loaded (busy or idle). */
  ended(functionId: string, othersLoaded: number): void {
    const e = this.#entries.get(functionId);
    if (e !== undefined) e.inFlight = Math.max(0, Math.min(e.inFlight - 1, othersLoaded));
  }

  /** When `functionId` last started (undefined: not recently). */
  lastStart(functionId: string): number | undefined {
    return this.#entries.get(functionId)?.lastStartMs;
  }

  /** Peak invocations of `functionId` in flight over the last one to two windows (0: none). */
  concurrency(functionId: string, nowMs: number): number {
    const e = this.#entries.get(functionId);
    if (e === undefined) return 0;
    this.#roll(e, nowMs);
    return Math.max(e.peak, e.previousPeak, e.inFlight);
  }

  /** Functions started at or after `sinceMs`, most recent first. */
  since(sinceMs: number): string[] {
    const out: string[] = [];
    for (const [id, e] of [...this.#entries].reverse()) {
      if (e.lastStartMs < sinceMs) break;
      out.push(id);
    }
    return out;
  }

  #roll(e: Entry, nowMs: number): void {
    const elapsed = nowMs - e.windowStartMs;
    if (elapsed < this.#windowMs) return;
    e.previousPeak = elapsed < 2 * this.#windowMs ? e.peak : e.inFlight;
    e.peak = e.inFlight;
    e.windowStartMs = nowMs;
  }
}

/** `inner` unchanged, with every invocation start and every container going idle also recorded in `recent`. */
export function recordingPolicy(inner: KeepAlivePolicy, recent: RecentInvocations): KeepAlivePolicy {
  return {
    name: inner.name,
    onInvocationStart(functionId: string, nowMs: number, info: InvocationInfo): void {
      recent.record(functionId, nowMs);
      inner.onInvocationStart(functionId, nowMs, info);
    },
    onIdle(functionId: string, nowMs: number, defaultKeepAliveMs?: number, othersLoaded?: number, busy?: number): KeepAliveWindows {
      recent.ended(functionId, othersLoaded ?? 0);
      return inner.onIdle(functionId, nowMs, defaultKeepAliveMs, othersLoaded, busy);
    },
    evictionPriority: (functionId, idleSinceMs, nowMs) => inner.evictionPriority(functionId, idleSinceMs, nowMs),
    onEvict: (functionId, priority) => inner.onEvict(functionId, priority),
    forget: (functionId) => inner.forget(functionId),
  };
}
