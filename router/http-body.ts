/** The router's request bodies: the one reader (contract/request-body.ts) with the router's codes. */
import type { IncomingMessage } from 'node:http';
import { readRequestBody, type RequestBodyErrors } from '../contract/index.ts';
import { RouterErrors } from './errors.ts';

const ROUTER_BODY_ERRORS: RequestBodyErrors = {
  tooLarge: RouterErrors.BODY_TOO_LARGE,
  timeout: RouterErrors.BODY_TIMEOUT,
  cancelled: RouterErrors.REQUEST_CANCELLED,
};

/**
 * Reads the whole body within `limitBytes` and the time bound. On a refusal the caller answers
 * and closes the connection rather than draining the rest.
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return readRequestBody(req, { limitBytes, errors: ROUTER_BODY_ERRORS });
}
