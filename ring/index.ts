/** ring/: the pure consistent-hashing library (no I/O, timers or logging). */
export { Ring, isLiveRow, DEFAULT_VNODES, DEFAULT_MEMBER_TTL_MS } from './ring.ts';
export type { RingMemberRow, RingHash, RingOptions, MembershipRingOptions } from './ring.ts';
export { planSpill, loadBound, warmAccepts, DEFAULT_LOAD_FACTOR, HOME_WARM_SLACK } from './bounded-load.ts';
export type { SpillPlan, SpillInput, BoundRule } from './bounded-load.ts';
export { SustainedLoad, smoothLoad, DEFAULT_SUSTAINED_WINDOW_MS, DEFAULT_SUSTAINED_FLOOR_LOAD } from './sustained-load.ts';
export type { SustainedLoadOptions, SustainedBound } from './sustained-load.ts';
export { ExecutionTimes, DEFAULT_EXECUTION_ALPHA } from './execution-times.ts';
export { RingErrors } from './errors.ts';
