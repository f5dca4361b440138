/** The router error registry (see errors/index.ts and docs/errors.md). */
import type { ErrorSpec } from '../errors/index.ts';

export const RouterErrors = {
  /** The request body is not valid JSON. */
  BAD_JSON: { code: 'RF_ROUTER_BAD_JSON', status: 400 },
  /** The JSON body has a missing, unknown or mistyped field, or a value out of range. */
  INVALID_BODY: { code: 'RF_ROUTER_INVALID_BODY', status: 400 },
  /** `zipFile` is not base64 of a readable zip archive. */
  INVALID_ZIP: { code: 'RF_ROUTER_INVALID_ZIP', status: 400 },
  /**
   * The zip could be read two ways (several end records, local and central headers that
   * disagree, overlapping or duplicate entries): refused so no reader can disagree with it.
   */
  ZIP_AMBIGUOUS: { code: 'RF_ROUTER_ZIP_AMBIGUOUS', status: 400 },
  /** The zip has no `index.js` (or `index.mjs`) at its root. */
  ZIP_NO_INDEX: { code: 'RF_ROUTER_ZIP_NO_INDEX', status: 400 },
  /** The zip unpacks to more than the limit (250 MB, real inflated bytes) or holds more than 10 000 entries. */
  ZIP_TOO_LARGE: { code: 'RF_ROUTER_ZIP_TOO_LARGE', status: 413 },
  /** A path in the zip is absolute, holds `..` or a backslash: it would escape the code folder. */
  ZIP_UNSAFE_PATH: { code: 'RF_ROUTER_ZIP_UNSAFE_PATH', status: 400 },
  /** The request body is over the route's limit. */
  BODY_TOO_LARGE: { code: 'RF_ROUTER_BODY_TOO_LARGE', status: 413 },
  /** The request body did not arrive whole within the time bound (contract/request-body.ts). */
  BODY_TIMEOUT: { code: 'RF_ROUTER_BODY_TIMEOUT', status: 408 },
  /** No function has this id. */
  FUNCTION_NOT_FOUND: { code: 'RF_ROUTER_FUNCTION_NOT_FOUND', status: 404 },
  /** `If-Match` names a version that is no longer current. */
  PRECONDITION_FAILED: { code: 'RF_ROUTER_PRECONDITION_FAILED', status: 412 },
  /** Concurrent updates kept conflicting; nothing was changed. */
  CONFLICT: { code: 'RF_ROUTER_CONFLICT', status: 409 },
  /** A query parameter is malformed or out of range (e.g. `limit` of GET /functions). */
  INVALID_QUERY: { code: 'RF_ROUTER_INVALID_QUERY', status: 400 },
  /** No route has this path. */
  ROUTE_NOT_FOUND: { code: 'RF_ROUTER_ROUTE_NOT_FOUND', status: 404 },
  /** The path exists but not with this method (see the Allow header). */
  METHOD_NOT_ALLOWED: { code: 'RF_ROUTER_METHOD_NOT_ALLOWED', status: 405 },
  /** API keys are configured and the request has no valid `Authorization: Bearer <key>`. */
  UNAUTHORIZED: { code: 'RF_ROUTER_UNAUTHORIZED', status: 401 },
  /** The router already streams live data to as many dashboard pages as it allows. */
  UI_STREAMS_FULL: { code: 'RF_ROUTER_UI_STREAMS_FULL', status: 503 },
  /** No asynchronous invocation has this id (never accepted, or its record expired). */
  INVOCATION_NOT_FOUND: { code: 'RF_ROUTER_INVOCATION_NOT_FOUND', status: 404 },
  /** An `Idempotency-Key` already named an invocation of this function with another input. */
  IDEMPOTENCY_CONFLICT: { code: 'RF_ROUTER_IDEMPOTENCY_CONFLICT', status: 409 },
  /** POST /invocations/{iid}/retry on an invocation that is not `dead` or `failed`. */
  INVOCATION_NOT_RETRYABLE: { code: 'RF_ROUTER_INVOCATION_NOT_RETRYABLE', status: 409 },
  /** This router has no asynchronous invocation stores (no Queue endpoint in its storage). */
  ASYNC_UNAVAILABLE: { code: 'RF_ROUTER_ASYNC_UNAVAILABLE', status: 503 },
  /** Recorded on a dead invocation whose every attempt was abandoned (its dispatcher died mid-run). */
  ASYNC_ABANDONED: { code: 'RF_ROUTER_ASYNC_ABANDONED', status: 500 },
  /** The client left before its invocation was answered (logged and counted, never answered). */
  REQUEST_CANCELLED: { code: 'RF_ROUTER_REQUEST_CANCELLED', status: 499 },
  /** An unexpected failure; the router's log holds the details under the request id. */
  INTERNAL: { code: 'RF_ROUTER_INTERNAL', status: 500 },
} as const satisfies Record<string, ErrorSpec>;

/**
 * The client authorization registry (area AUTH): checked by routers only (router/auth.ts).
 * A missing or unknown key stays RF_ROUTER_UNAUTHORIZED (401, published before scopes).
 */
export const AuthErrors = {
  /** The API key is valid but its scope (`invoke` < `deploy` < `admin`) is below what the route needs. */
  FORBIDDEN: { code: 'RF_AUTH_FORBIDDEN', status: 403 },
} as const satisfies Record<string, ErrorSpec>;
