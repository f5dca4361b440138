/** Builds a keep-alive policy by name (RINGFAAS_KEEPALIVE_POLICY, the simulator's options). */
import type { KeepAlivePolicy, KeepAlivePolicyName } from './policy.ts';
import { FixedKeepAlive } from './fixed.ts';
import { HybridHistogramKeepAlive } from './hybrid-histogram.ts';
import { GreedyDualKeepAlive } from './greedy-dual.ts';
import { HazardKeepAlive } from './hazard.ts';

export const KEEPALIVE_POLICY_NAMES: readonly KeepAlivePolicyName[] = ['hybrid', 'hazard', 'fixed', 'greedy-dual'];

export interface CreateKeepAliveOptions {
  /** The fixed window, and the hybrid policy's fallback, ms (default 15 min). */
  idleTimeoutMs?: number;
  /**
   * Divides every time window of the histogram policies (bins and range) by this, so
   * a time-compressed trace replay sees the policy it would see in real time. Default 1.
   */
  timeScale?: number;
}

/** A new policy instance of the given name. */
export function createKeepAlivePolicy(name: KeepAlivePolicyName, options: CreateKeepAliveOptions = {}): KeepAlivePolicy {
  const scale = options.timeScale ?? 1;
  const idleTimeoutMs = options.idleTimeoutMs ?? 15 * 60_000;
  switch (name) {
    case 'fixed':
      return new FixedKeepAlive({ keepAliveMs: idleTimeoutMs });
    case 'hybrid':
      return new HybridHistogramKeepAlive({ binMs: 60_000 / scale, rangeMs: (4 * 3_600_000) / scale, fallbackKeepAliveMs: idleTimeoutMs });
    case 'hazard':
      return new HazardKeepAlive({ binMs: 60_000 / scale, rangeMs: (4 * 3_600_000) / scale, keepAliveMs: idleTimeoutMs });
    case 'greedy-dual':
      return new GreedyDualKeepAlive();
  }
}
