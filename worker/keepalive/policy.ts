/**
 * The keep-alive policy interface: how long an idle container of a function stays loaded,
 * when one is pre-warmed, and which idle container goes first when memory is needed.
 *
 * Policies are pure: no timers and no clock of their own. Every call carries `nowMs` (the
 * caller's clock: the worker pool's injected clock, or the simulator's virtual time), so the
 * same code runs in the worker and in `ringfaas bench simulate` and is tested without sleeping.
 */

/** What a policy is told about a function when one of its invocations starts. */
export interface InvocationInfo {
  /** Memory of one container of the function, MB. */
  memoryMb: number;
  /** True when no warm container was ready for this invocation. */
  cold: boolean;
  /** What a cold start of this function costs, ms (an estimate; Greedy-Dual weighs by it). */
  coldStartMs: number;
  /**
   * Executions of the function on this worker with this one: those running and those waiting
   * for a container (a start or a release) ahead of it. Default 1.
   */
  running?: number;
}

/**
 * The windows a policy answers when a function's container goes idle, relative to that moment
 * (the terms of Shahrad et al. 2020):
 * - `prewarmMs` = 0: the container stays loaded for `keepAliveMs` after it went idle;
 * - `prewarmMs` > 0: the container is unloaded at once, one is loaded again `prewarmMs` after
 *   the idle moment, and that one stays loaded for `keepAliveMs` after being loaded.
 * `keepAliveMs` = Infinity means "until memory is needed" (Greedy-Dual).
 */
export interface KeepAliveWindows {
  prewarmMs: number;
  keepAliveMs: number;
}

/** Names of the built-in policies (the values of RINGFAAS_KEEPALIVE_POLICY and the simulator's --keepalive). */
export type KeepAlivePolicyName = 'fixed' | 'hybrid' | 'hazard' | 'greedy-dual';

/** A keep-alive policy; one instance per worker (it keeps per-function state, bounded). */
export interface KeepAlivePolicy {
  readonly name: string;
  /** An invocation of `functionId` starts at `nowMs` (its idle time since the last end is learned). */
  onInvocationStart(functionId: string, nowMs: number, info: InvocationInfo): void;
  /**
   * A container of `functionId` was released at `nowMs`: the windows to apply.
   * `defaultKeepAliveMs` is the function's own configured keep-alive (its idleTimeoutMs), which
   * the fixed policy applies and the hybrid policy falls back to. `othersLoaded` is how many
   * other containers of the function are still loaded (busy or idle) on this worker: the
   * hybrid policy's learned windows are about the function going idle, so they apply to its
   * last container only (default 0). `busy` is how many executions of the function still run on
   * this worker (default 0): the container going idle is the (busy + 1)-th, the one a LIFO
   * stack gives out when the concurrency next reaches busy + 1 (the hazard policy learns per rank).
   */
  onIdle(functionId: string, nowMs: number, defaultKeepAliveMs?: number, othersLoaded?: number, busy?: number): KeepAliveWindows;
  /**
   * Eviction priority of an idle container of `functionId` that became idle at `idleSinceMs`;
   * under memory pressure the lowest goes first. Fixed and hybrid: the idle time (oldest first).
   */
  evictionPriority(functionId: string, idleSinceMs: number, nowMs: number): number;
  /** A container of `functionId` was evicted under memory pressure (Greedy-Dual inflates its clock). */
  onEvict(functionId: string, priority: number): void;
  /** The function is gone (deleted): its state goes. */
  forget(functionId: string): void;
}
