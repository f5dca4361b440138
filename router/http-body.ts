/** Reading a request body with a hard size limit. */
import type { IncomingMessage } from 'node:http';
import { RfError } from '../errors/index.ts';
import { RouterErrors } from './errors.ts';

function tooLarge(limitBytes: number): RfError {
  return new RfError(RouterErrors.BODY_TOO_LARGE, `the request body is larger than the limit of ${limitBytes} bytes`, {
    details: { limitBytes },
  });
}

/**
 * Reads the whole body, refusing at once (from Content-Length) or as soon as more than
 * `limitBytes` arrived: at most `limitBytes` are ever buffered. On refusal the caller answers
 * 413 and closes the connection rather than draining the rest.
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) return Promise.reject(tooLarge(limitBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limitBytes) {
        cleanup();
        req.pause();
        reject(tooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onAborted = (): void => {
      cleanup();
      reject(new Error('request aborted by the client'));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('aborted', onAborted);
  });
}
