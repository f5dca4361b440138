/**
 * The worker's request-body reader: the one reader (contract/request-body.ts: size bound, time
 * bound, client abort) with the worker's codes, for every worker route that reads a body
 * (invoke, invalidate, cluster proof, hand-off).
 */
import type { IncomingMessage } from 'node:http';
import { readRequestBody, type RequestBodyErrors } from '../contract/index.ts';
import { WorkerErrors } from './errors.ts';

/** The worker's codes for a body read that ends early (413 keeps the code RF_WORKER_BAD_INPUT). */
/** An input over the worker's bound: RF_WORKER_BAD_INPUT with status 413 (HTTP body and invoke-channel frame alike). */
export const INPUT_TOO_LARGE = { ...WorkerErrors.BAD_INPUT, status: 413 } as const;

const WORKER_BODY_ERRORS: RequestBodyErrors = {
  tooLarge: INPUT_TOO_LARGE,
  timeout: WorkerErrors.BODY_TIMEOUT,
  cancelled: WorkerErrors.REQUEST_CANCELLED,
};

/** Reads a request body up to `limit` bytes: the one reader (contract/request-body.ts) with the worker's codes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return readRequestBody(req, { limitBytes: limit, errors: WORKER_BODY_ERRORS });
}
