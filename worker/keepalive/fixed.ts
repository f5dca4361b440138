/**
 * The fixed keep-alive policy (the seed's, and AWS Lambda's / Azure Functions' before 2020):
 * every idle container stays loaded `keepAliveMs` after its last execution, nothing is
 * pre-warmed, and under memory pressure the container idle longest goes first.
 */
import type { InvocationInfo, KeepAlivePolicy, KeepAliveWindows } from './policy.ts';

export interface FixedPolicyOptions {
  /** How long an idle container stays loaded, ms (the seed: 15 minutes). */
  keepAliveMs: number;
}

/** Fixed keep-alive: see the file header. */
export class FixedKeepAlive implements KeepAlivePolicy {
  readonly name: string;
  readonly #windows: KeepAliveWindows;

  constructor(options: FixedPolicyOptions) {
    if (!(options.keepAliveMs >= 0)) throw new RangeError(`keepAliveMs must be >= 0, got ${options.keepAliveMs}`);
    this.#windows = Object.freeze({ prewarmMs: 0, keepAliveMs: options.keepAliveMs });
    this.name = `fixed-${Math.round(options.keepAliveMs / 60_000)}m`;
  }

  onInvocationStart(_functionId: string, _nowMs: number, _info: InvocationInfo): void {}

  onIdle(_functionId: string, _nowMs: number, defaultKeepAliveMs?: number): KeepAliveWindows {
    return defaultKeepAliveMs === undefined ? this.#windows : { prewarmMs: 0, keepAliveMs: defaultKeepAliveMs };
  }

  evictionPriority(_functionId: string, idleSinceMs: number, _nowMs: number): number {
    return idleSinceMs;
  }

  onEvict(_functionId: string, _priority: number): void {}

  forget(_functionId: string): void {}
}
