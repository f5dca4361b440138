/**
 * The one error type of ringfaas. Every area (router, ring, worker, storage, bench) keeps its
 * own registry of codes in its `errors.ts`; this module only gives them a common shape so
 * that callers branch on `err.code` and the HTTP layer knows the status to send.
 *
 * Codes are `RF_<AREA>_<REASON>`; a code once published is never reused. docs/errors.md lists
 * every code, and a test checks the docs and the code agree in both directions.
 */

/** A code and the HTTP status it is answered with. */
export interface ErrorSpec {
  readonly code: string;
  readonly status: number;
}

/** An error with a stable code. Adapter failures keep the driver error as `cause`. */
export class RfError extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra, client-safe fields sent under `error.details` (never secrets). */
  readonly details: Record<string, unknown> | undefined;

  constructor(spec: ErrorSpec, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RfError';
    this.code = spec.code;
    this.status = spec.status;
    this.details = options.details;
  }
}

export function isRfError(err: unknown): err is RfError {
  return err instanceof RfError;
}

/** True when `err` carries the given code (an RfError, or any error with a `code`). */
export function hasCode(err: unknown, spec: ErrorSpec): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === spec.code;
}

/** The JSON body every ringfaas error is answered with. */
export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export function errorBody(err: RfError): ErrorBody {
  return err.details === undefined
    ? { error: { code: err.code, message: err.message } }
    : { error: { code: err.code, message: err.message, details: err.details } };
}
export { ConfigErrors } from './config-errors.ts';
