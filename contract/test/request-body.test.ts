/** The one request-body reader: size bound, time bound, client abort, over a real server on port 0. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { isRfError } from '../../errors/index.ts';
import { readRequestBody, bodyLeftUnread } from '../index.ts';

const errors = {
  tooLarge: { code: 'RF_TEST_TOO_LARGE', status: 413 },
  timeout: { code: 'RF_TEST_TIMEOUT', status: 408 },
  cancelled: { code: 'RF_TEST_CANCELLED', status: 499 },
};

/** What the server's read of each request ended with: `ok:<body>`, or the error code. */
const outcomes: Array<(outcome: string) => void> = [];
/** Resolved when the server starts reading the next request (a client leaves only after that). */
const reading: Array<() => void> = [];
const server = createServer((req: IncomingMessage, res) => {
  const report = outcomes.shift() ?? (() => undefined);
  reading.shift()?.();
  readRequestBody(req, { limitBytes: 10, errors, timeoutMs: Number(req.headers['x-timeout-ms'] ?? 5000) }).then(
    (body) => {
      report(`ok:${body.toString()}`);
      res.end('ok');
    },
    (err: unknown) => {
      report(isRfError(err) ? err.code : String(err));
      if (bodyLeftUnread(req)) res.setHeader('connection', 'close');
      res.statusCode = isRfError(err) ? err.status : 500;
      res.end();
    },
  );
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const port = (server.address() as AddressInfo).port;
after(() => server.close());

function outcome(): Promise<string> {
  return new Promise((resolve) => outcomes.push(resolve));
}

/** Sends the head and `chunks`, then ends, holds (x-hold), or destroys the socket `abortAfterMs` after the server began reading. */
function send(chunks: string[], headers: Record<string, string> = {}, abortAfterMs?: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err) => resolve(`client: ${(err as NodeJS.ErrnoException).code}`));
    for (const chunk of chunks) req.write(chunk);
    if (abortAfterMs !== undefined) reading.push(() => setTimeout(() => req.destroy(), abortAfterMs));
    else if (headers['x-hold'] === undefined) req.end();
  });
}

test('a body within the bound is read whole', async () => {
  const got = outcome();
  assert.equal(await send(['hello', 'json']), 200);
  assert.equal(await got, 'ok:hellojson');
});

test('size: refused from Content-Length at once, and as soon as more than the limit arrived', async () => {
  let got = outcome();
  assert.equal(await send(['x'.repeat(11)], { 'content-length': '11' }), 413);
  assert.equal(await got, 'RF_TEST_TOO_LARGE');
  got = outcome();
  assert.equal(await send(['x'.repeat(6), 'x'.repeat(6)]), 413);
  assert.equal(await got, 'RF_TEST_TOO_LARGE');
});

test('time: a body that stalls ends the read with the timeout code', async () => {
  const got = outcome();
  assert.equal(await send(['abc'], { 'x-timeout-ms': '200', 'x-hold': '1' }), 408);
  assert.equal(await got, 'RF_TEST_TIMEOUT');
});

test('client abort: a client that leaves mid-body ends the read at once', async () => {
  const got = outcome();
  await send(['abc'], { 'content-length': '9' }, 100);
  assert.equal(await got, 'RF_TEST_CANCELLED');
});
