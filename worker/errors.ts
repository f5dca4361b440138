/** The worker error registry (see errors/index.ts and docs/errors.md). */
import type { ErrorSpec } from '../errors/index.ts';
import { NeverStartedErrors } from '../contract/index.ts';

export const WorkerErrors = {
  /** AT_CAPACITY and DRAINING: the refusals of a request that never started (contract/never-started.ts). */
  ...NeverStartedErrors,
  /** The function ran past its timeoutMs; its container was killed. */
  INVOKE_TIMEOUT: { code: 'RF_WORKER_INVOKE_TIMEOUT', status: 504 },
  /** The function's memory is larger than the worker's whole capacity. */
  FUNCTION_TOO_LARGE: { code: 'RF_WORKER_FUNCTION_TOO_LARGE', status: 507 },
  /** The container could not be created or started. */
  CONTAINER_START_FAILED: { code: 'RF_WORKER_CONTAINER_START_FAILED', status: 502 },
  /** The function does not exist (or was deleted). */
  FUNCTION_NOT_FOUND: { code: 'RF_WORKER_FUNCTION_NOT_FOUND', status: 404 },
  /** A request body over its limit (the input, 413) or a malformed control request (400). */
  BAD_INPUT: { code: 'RF_WORKER_BAD_INPUT', status: 400 },
  /** The runtime image is missing and could not be built. */
  IMAGE_UNAVAILABLE: { code: 'RF_WORKER_IMAGE_UNAVAILABLE', status: 503 },
  /** The runtime (Docker engine) failed. */
  RUNTIME_UNAVAILABLE: { code: 'RF_WORKER_RUNTIME_UNAVAILABLE', status: 503 },
  /**
   * A call to a worker route other than GET /healthz and POST /cluster/prove without the right
   * `x-ringfaas-cluster-key` header (or a proof asked of a worker without a cluster key).
   */
  UNAUTHORIZED: { code: 'RF_WORKER_UNAUTHORIZED', status: 401 },
  /** No route of the worker's internal API has this method and path. */
  ROUTE_NOT_FOUND: { code: 'RF_WORKER_ROUTE_NOT_FOUND', status: 404 },
  /** The caller left while the request waited for a container (never answered to anyone). */
  REQUEST_CANCELLED: { code: 'RF_WORKER_REQUEST_CANCELLED', status: 499 },
  /** The request body did not arrive whole within the time bound (contract/request-body.ts). */
  BODY_TIMEOUT: { code: 'RF_WORKER_BODY_TIMEOUT', status: 408 },
  /** An unexpected failure inside the worker; its log holds the details. */
  INTERNAL: { code: 'RF_WORKER_INTERNAL', status: 500 },
} as const satisfies Record<string, ErrorSpec>;

/** Errors caused by the function itself (answered to clients as is). */
export const FunctionErrors = {
  /** The function threw or its promise rejected; the message is the function's. */
  ERROR: { code: 'RF_FUNCTION_ERROR', status: 500 },
  /** The function's process exited or was killed (e.g. out of memory); the container is replaced. */
  CRASHED: { code: 'RF_FUNCTION_CRASHED', status: 502 },
  /** index.js could not be loaded or exports no function. */
  LOAD_FAILED: { code: 'RF_FUNCTION_LOAD_FAILED', status: 502 },
  /** The function's output is not JSON-serialisable or larger than the output limit. */
  BAD_OUTPUT: { code: 'RF_FUNCTION_BAD_OUTPUT', status: 502 },
  /**
   * The function's container answered more than the output limit (RINGFAAS_MAX_OUTPUT_BYTES
   * plus the logs' room): the worker stopped reading and destroyed the container.
   */
  OUTPUT_TOO_LARGE: { code: 'RF_FUNCTION_OUTPUT_TOO_LARGE', status: 502 },
  /**
   * The shim could not parse the input as JSON. Routers check the input before any worker
   * (RF_ROUTER_BAD_JSON), so only a peer that skipped the check meets this.
   */
  BAD_INPUT: { code: 'RF_FUNCTION_BAD_INPUT', status: 400 },
} as const satisfies Record<string, ErrorSpec>;

/**
 * The codes a container's answer may carry, as they are: a function's own failures. Anything
 * else a container answers becomes RF_FUNCTION_ERROR (a function that patches the shim could
 * write any code, never a worker's).
 */
export const CONTAINER_ERRORS: ReadonlyMap<string, ErrorSpec> = new Map(
  [FunctionErrors.ERROR, FunctionErrors.BAD_OUTPUT, FunctionErrors.BAD_INPUT].map((spec) => [spec.code, spec]),
);
