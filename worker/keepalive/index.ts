/**
 * worker/keepalive/: keep-alive policies (pure, clock passed in): the worker pool's idle
 * expiry and eviction order, and the same code in `ringfaas bench simulate`.
 */
export type { KeepAlivePolicy, KeepAliveWindows, InvocationInfo, KeepAlivePolicyName } from './policy.ts';
export { FixedKeepAlive, type FixedPolicyOptions } from './fixed.ts';
export { HybridHistogramKeepAlive, type HybridPolicyOptions } from './hybrid-histogram.ts';
export { HazardKeepAlive, type HazardPolicyOptions } from './hazard.ts';
export { GreedyDualKeepAlive, type GreedyDualOptions } from './greedy-dual.ts';
export { createKeepAlivePolicy, KEEPALIVE_POLICY_NAMES, type CreateKeepAliveOptions } from './create.ts';
