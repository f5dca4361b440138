/**
 * The one reader of an HTTP request body, used by routers (their public API) and workers
 * (their internal API), with one behaviour:
 *
 * - size: refused at once when Content-Length is over `limitBytes`, or as soon as more than
 *   `limitBytes` arrived: at most `limitBytes` are ever buffered;
 * - time: the whole body must arrive within `timeoutMs` of the call;
 * - client abort: a client that leaves mid-body ends the read at once.
 *
 * Each ends the read with a coded error of the caller's registry (`errors`). The rest of a body
 * not read whole is never drained: the caller answers with `connection: close`
 * (`bodyLeftUnread`) so the connection does not carry it into the next request.
 */
import type { IncomingMessage } from 'node:http';
import { RfError, type ErrorSpec } from '../errors/index.ts';

/** How long a body may take to arrive by default, ms (6 MB at 50 KB/s; 50 MB at 420 KB/s). */
export const DEFAULT_BODY_TIMEOUT_MS = 120_000;

/** The caller's codes for the three ways a read ends early. */
export interface RequestBodyErrors {
  /** Over the size bound (status 413). */
  tooLarge: ErrorSpec;
  /** Not whole within the time bound (status 408). */
  timeout: ErrorSpec;
  /** The client left mid-body (status 499: nobody reads the answer). */
  cancelled: ErrorSpec;
}

export interface ReadRequestBodyOptions {
  limitBytes: number;
  errors: RequestBodyErrors;
  /** Default DEFAULT_BODY_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** Reads the whole body within its size and time bounds. */
export function readRequestBody(req: IncomingMessage, options: ReadRequestBodyOptions): Promise<Buffer> {
  const { limitBytes, errors } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const tooLarge = (): RfError =>
    new RfError(errors.tooLarge, `the request body is larger than the limit of ${limitBytes} bytes`, { details: { limitBytes } });
  if (Number(req.headers['content-length']) > limitBytes) return Promise.reject(tooLarge());
  // A client that left before the read began: its events have been emitted already.
  if (req.destroyed && !req.complete) return Promise.reject(cancelled(errors));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const fail = (err: Error): void => {
      cleanup();
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limitBytes) fail(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received));
    };
    const onError = (err: Error): void => fail(req.complete ? err : cancelled(errors, err));
    const onAborted = (): void => fail(cancelled(errors));
    const onClose = (): void => {
      if (!req.complete) fail(cancelled(errors));
    };
    const timer = setTimeout(() => {
      fail(new RfError(errors.timeout, `the request body did not arrive within ${timeoutMs} ms`, { details: { timeoutMs } }));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('aborted', onAborted);
    req.once('close', onClose);
  });
}

/** Whether part of the request body is still unread: answer it with `connection: close`. */
export function bodyLeftUnread(req: IncomingMessage): boolean {
  return !req.complete;
}

function cancelled(errors: RequestBodyErrors, cause?: Error): RfError {
  return new RfError(errors.cancelled, 'the client left before its request body arrived', cause === undefined ? {} : { cause });
}
