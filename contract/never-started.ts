/**
 * The worker's refusals of a request that never started executing. A router may send such a
 * request elsewhere (spill, retry); it never re-sends one that may have run. The worker's
 * registry (worker/errors.ts) takes these two entries from here, so the codes the worker answers
 * and the codes a router retries on are one list.
 */
import type { ErrorSpec } from '../errors/index.ts';
import type { Refusal } from './protocol.ts';

/** The two never-started refusals, with their HTTP status (docs/errors.md, section "Worker"). */
export const NeverStartedErrors = {
  /** No idle warm container and no memory to start one (the router spills on this). */
  AT_CAPACITY: { code: 'RF_WORKER_AT_CAPACITY', status: 429 },
  /** The worker is draining and takes no new work (the router spills on this). */
  DRAINING: { code: 'RF_WORKER_DRAINING', status: 503 },
} as const satisfies Record<string, ErrorSpec>;

/** Codes a worker answers that mean the request never started executing: safe to send elsewhere. */
export const RETRYABLE_WORKER_CODES: ReadonlySet<string> = new Set(Object.values(NeverStartedErrors).map((spec) => spec.code));

/**
 * The code of a worker's `code-unavailable` refusal (503): the function's code could not be
 * loaded because storage is unreachable, so nothing started (storage is read before an
 * execution starts, never after). Routers try a worker that may hold the code (the function's
 * home first) a bounded number of times, else answer it as it is.
 */
export const CODE_UNAVAILABLE_CODE = 'RF_STORAGE_UNAVAILABLE';

/** The x-ringfaas-refusal value a worker sets beside each never-started code. */
export const REFUSAL_OF_CODE: ReadonlyMap<string, Refusal> = new Map<string, Refusal>([
  [NeverStartedErrors.AT_CAPACITY.code, 'at-capacity'],
  [NeverStartedErrors.DRAINING.code, 'draining'],
  [CODE_UNAVAILABLE_CODE, 'code-unavailable'],
]);
