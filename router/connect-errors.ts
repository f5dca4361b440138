/**
 * Error codes of a call to a worker that failed before the connection carried the request: the
 * worker cannot have run it, so a router marks the worker suspect and may send the request
 * elsewhere. One list for every caller of workers (the invoke path, change notices).
 */
export const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'UND_ERR_CLOSED',
]);
