/**
 * Which functions this worker ran recently: the warm hand-off's "hot" set. Filled by a
 * keep-alive policy decorator (every invocation start passes through the policy), bounded
 * (least recently started dropped).
 */
import type { InvocationInfo, KeepAlivePolicy, KeepAliveWindows } from '../keepalive/index.ts';

/** Last invocation start per function, bounded. */
export class RecentInvocations {
  readonly #max: number;
  /** Insertion order = start order (an entry is re-inserted on every start). */
  readonly #last = new Map<string, number>();

  constructor(maxFunctions = 10_000) {
    this.#max = maxFunctions;
  }

  /** An invocation of `functionId` started at `nowMs`. */
  record(functionId: string, nowMs: number): void {
    this.#last.delete(functionId);
    this.#last.set(functionId, nowMs);
    if (this.#last.size > this.#max) this.#last.delete(this.#last.keys().next().value as string);
  }

  /** When `functionId` last started (undefined: not recently). */
  lastStart(functionId: string): number | undefined {
    return this.#last.get(functionId);
  }

  /** Functions started at or after `sinceMs`, most recent first. */
  since(sinceMs: number): string[] {
    const out: string[] = [];
    for (const [id, at] of [...this.#last].reverse()) {
      if (at < sinceMs) break;
      out.push(id);
    }
    return out;
  }
}

/** `inner` unchanged, with every invocation start also recorded in `recent`. */
export function recordingPolicy(inner: KeepAlivePolicy, recent: RecentInvocations): KeepAlivePolicy {
  return {
    name: inner.name,
    onInvocationStart(functionId: string, nowMs: number, info: InvocationInfo): void {
      recent.record(functionId, nowMs);
      inner.onInvocationStart(functionId, nowMs, info);
    },
    onIdle: (functionId: string, nowMs: number, defaultKeepAliveMs?: number, othersLoaded?: number): KeepAliveWindows => inner.onIdle(functionId, nowMs, defaultKeepAliveMs, othersLoaded),
    evictionPriority: (functionId, idleSinceMs, nowMs) => inner.evictionPriority(functionId, idleSinceMs, nowMs),
    onEvict: (functionId, priority) => inner.onEvict(functionId, priority),
    forget: (functionId) => inner.forget(functionId),
  };
}
