/**
 * The worker's request-body reader: the one reader (contract/request-body.ts: size bound, time
 * bound, client abort) with the worker's codes, for every worker route that reads a body
 * (invoke, invalidate, cluster proof, hand-off).
 */
import type { IncomingMessage } from 'node:http';
import { readRequestBody, type RequestBodyErrors } from '../contract/index.ts';
import { WorkerErrors } from './errors.ts';

/** The worker's codes for a body read that ends early (413 keeps the code RF_WORKER_BAD_INPUT). */
const WORKER_BODY_ERRORS: RequestBodyErrors = {
  tooLarge: { ...WorkerErrors.BAD_INPUT, status: 413 },
  timeout: WorkerErrors.BODY_TIMEOUT,
  cancelled: WorkerErrors.REQUEST_CANCELLED,
};

/** Reads a request body up to `limit` bytes: the one reader (contract/request-body.ts) with the worker's codes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return readRequestBody(req, { limitBytes: limit, errors: WORKER_BODY_ERRORS });
}
