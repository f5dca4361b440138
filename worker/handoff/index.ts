/** worker/handoff/: warm hand-off of hot functions when the ring changes (docs/ring.md, "Warm hand-off"). */
export { WarmHandoff, type WarmHandoffOptions, type WarmItem } from './handoff.ts';
export { RecentInvocations, recordingPolicy } from './recent.ts';
export { drainTarget, joinTargets, placeIn, DRAIN_LIST_LENGTH, JOIN_LIST_LENGTH, type PeerHot } from './targets.ts';
