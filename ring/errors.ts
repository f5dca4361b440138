/** The ring error registry (see errors/index.ts and docs/errors.md, section "Ring"). */
import type { ErrorSpec } from '../errors/index.ts';

export const RingErrors = {
  /** No active worker with a fresh heartbeat: the ring has no node to send work to. */
  EMPTY: { code: 'RF_RING_EMPTY', status: 503 },
  /** Every candidate worker was full, and the request also waited at its home worker in vain. */
  AT_CAPACITY: { code: 'RF_RING_AT_CAPACITY', status: 503 },
  /** Every candidate refused the connection or was draining: nothing could take the request. */
  NO_WORKER_AVAILABLE: { code: 'RF_RING_NO_WORKER_AVAILABLE', status: 503 },
  /**
   * The connection to the worker broke after the request was sent (reset, worker died): the
   * function may have run, so the request is not re-sent.
   */
  WORKER_UNREACHABLE: { code: 'RF_RING_WORKER_UNREACHABLE', status: 502 },
  /** The worker did not answer within the router's request timeout (not re-sent either). */
  WORKER_TIMEOUT: { code: 'RF_RING_WORKER_TIMEOUT', status: 504 },
  /**
   * The worker's answer was larger than the output bound (RINGFAAS_MAX_OUTPUT_BYTES plus the
   * envelope): the router stopped reading it (not re-sent: the function ran).
   */
  WORKER_ANSWER_TOO_LARGE: { code: 'RF_RING_WORKER_ANSWER_TOO_LARGE', status: 502 },
  /** DELETE /workers/{id} or a lookup named a worker that has no membership row. */
  WORKER_NOT_FOUND: { code: 'RF_RING_WORKER_NOT_FOUND', status: 404 },
  /** POST /workers had an invalid body, or the worker at the address has another id. */
  BAD_WORKER: { code: 'RF_RING_BAD_WORKER', status: 400 },
  /**
   * POST /workers: the address did not prove that it holds the cluster key (no answer to the
   * challenge, a wrong HMAC, or this router has no cluster key). Nothing was registered.
   */
  WORKER_UNPROVEN: { code: 'RF_RING_WORKER_UNPROVEN', status: 403 },
  /** POST /workers: a worker heartbeats under this id at another address; its address is kept. */
  WORKER_ID_TAKEN: { code: 'RF_RING_WORKER_ID_TAKEN', status: 409 },
} as const satisfies Record<string, ErrorSpec>;
