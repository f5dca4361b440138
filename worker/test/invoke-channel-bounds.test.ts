/**
 * The worker's end of the invoke channel (worker/invoke-channel.ts) on a bare node:http server,
 * with a handler that answers at once: a frame begun and never finished closes its connection
 * within the frame bound, while a connection that keeps completing frames is kept; an answer
 * queued in the turn the channels close still goes out; closing sends GOAWAY with the count of
 * requests read, answers those, and neither runs nor answers a request that comes after it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameReader, FrameType, INVOKE_CHANNEL_PATH, INVOKE_CHANNEL_PROTOCOL, decodeAnswer, decodeGoaway, encodeRequest } from '../../contract/index.ts';
import { InvokeChannels, type InvokeChannelsDeps } from '../invoke-channel.ts';
import { quietLogger } from './worker-fixtures.ts';

const FRAME_TIMEOUT_MS = 300;

/** A bare server with the worker's channel end; `run` answers at once by default (counted). */
async function channelServer(run?: InvokeChannelsDeps['run']): Promise<{ server: Server; port: number; channels: InvokeChannels; answered: () => number }> {
  let answered = 0;
  const channels = new InvokeChannels({
    workerId: 'w',
    run:
      run ??
      (async () => {
        answered++;
        return { status: 200, headers: {}, body: '{}' };
      }),
    load: () => 0,
    active: () => true,
    maxInputBytes: 1024,
    logger: quietLogger(),
    frameTimeoutMs: FRAME_TIMEOUT_MS,
  });
  const server = createServer((_req, res) => res.end());
  server.on('upgrade', (req, socket, head) => channels.upgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, channels, answered: () => answered };
}

async function upgraded(port: number): Promise<{ socket: Socket; closed: Promise<number> }> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  const started = performance.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - started)));
  await new Promise<void>((resolve) => {
    let seen = '';
    const onData = (d: Buffer): void => {
      seen += d.toString('latin1');
      if (!seen.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
    socket.write(`GET ${INVOKE_CHANNEL_PATH} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${INVOKE_CHANNEL_PROTOCOL}\r\n\r\n`);
  });
  return { socket, closed };
}

/** Resolves once `check()` holds; fails the test after 5 s (every wait has a bound). */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const frame = (stream: number): Buffer => encodeRequest(stream, { functionId: 'f', requestId: 'r', waitMs: 0, details: false, reportIdle: false, input: Buffer.from('{}') });

test('a frame begun and never finished closes its connection within the frame bound (every wait has a time bound)', async () => {
  const { server, port } = await channelServer();
  try {
    const { socket, closed } = await upgraded(port);
    socket.write(frame(1).subarray(0, 6));
    const outcome = await Promise.race([closed, sleep(FRAME_TIMEOUT_MS * 5, 'open')]);
    socket.destroy();
    assert.equal(typeof outcome, 'number', 'the worker still held the connection with its partial frame');
  } finally {
    server.close();
  }
});

test('a connection that keeps completing frames, each in pieces, is not closed by the frame bound', async () => {
  const { server, port, answered } = await channelServer();
  try {
    const { socket, closed } = await upgraded(port);
    let isClosed = false;
    void closed.then(() => (isClosed = true));
    // for 4 bounds, a frame in two pieces every bound/3: always a frame partial at some moment
    for (let stream = 1; stream <= 12; stream++) {
      const bytes = frame(stream);
      socket.write(bytes.subarray(0, 5));
      await sleep(FRAME_TIMEOUT_MS / 3);
      socket.write(bytes.subarray(5));
    }
    await sleep(50);
    assert.equal(isClosed, false);
    assert.equal(answered(), 12);
    socket.destroy();
  } finally {
    server.close();
  }
});

test('close() right after an invocation is answered (same turn of the event loop): the answer still reaches the router', async () => {
  let finish: (() => void) | undefined;
  const { server, port, channels } = await channelServer(() => new Promise((resolve) => (finish = () => resolve({ status: 200, headers: {}, body: '{"done":true}' }))));
  try {
    const { socket, closed } = await upgraded(port);
    let received = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    socket.write(frame(1));
    await until(() => finish !== undefined, 'the invocation running');
    // the drain's last execution ends and the channels close in the same turn
    finish!();
    await Promise.resolve();
    await channels.close();
    await closed;
    assert.ok(received.length > 9, 'the answer was dropped by the close');
    assert.equal(received.readUInt8(4), 3, 'an ANSWER frame');
  } finally {
    server.close();
  }
});

test('an input over the worker\'s input bound is answered 413 as over HTTP, not run, and the connection serves on', async () => {
  const { server, port, answered } = await channelServer();
  try {
    const { socket } = await upgraded(port);
    const answers: Array<{ stream: number; status: number }> = [];
    const reader = new FrameReader(1 << 20, (_type, stream, body) => answers.push({ stream, status: decodeAnswer(body).status }));
    socket.on('data', (d: Buffer) => reader.push(d));
    const big = encodeRequest(1, { functionId: 'f', requestId: 'r', waitMs: 0, details: false, reportIdle: false, input: Buffer.alloc(2000, 0x20) });
    socket.write(Buffer.concat([big, frame(2)]));
    const deadline = Date.now() + 2000;
    while (answers.length < 2 && Date.now() < deadline) await sleep(10);
    assert.deepEqual(answers, [{ stream: 1, status: 413 }, { stream: 2, status: 200 }]);
    assert.equal(answered(), 1, 'only the request within the bound ran');
    socket.destroy();
  } finally {
    server.close();
  }
});

test('a small input that came behind a large one in the same read does not keep the large frame\'s memory alive', async () => {
  const inputs: Buffer[] = [];
  const channels = new InvokeChannels({
    workerId: 'w',
    run: async (call) => {
      inputs.push(call.input);
      return { status: 200, headers: {}, body: '{}' };
    },
    load: () => 0,
    active: () => true,
    maxInputBytes: 4 * 1024 * 1024,
    logger: quietLogger(),
  });
  const server = createServer((_req, res) => res.end());
  server.on('upgrade', (req, socket, head) => channels.upgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { socket } = await upgraded((server.address() as { port: number }).port);
    const big = encodeRequest(1, { functionId: 'f', requestId: 'r', waitMs: 0, details: false, reportIdle: false, input: Buffer.alloc(3 * 1024 * 1024, 0x20) });
    socket.write(Buffer.concat([big, frame(2)]));
    const deadline = Date.now() + 3000;
    while (inputs.length < 2 && Date.now() < deadline) await sleep(10);
    const small = inputs[1] as Buffer;
    assert.equal(small.length, 2);
    // a queued or long-running invocation holds its input: it must not hold 3 MB with it
    assert.ok(small.buffer.byteLength <= 256 * 1024, `a 2-byte input keeps ${small.buffer.byteLength} bytes alive`);
    socket.destroy();
  } finally {
    server.close();
  }
});

test('close() sends GOAWAY with the requests read, answers them, then ends; a request written after it is neither run nor answered', async () => {
  const finishers: Array<() => void> = [];
  let ran = 0;
  const { server, port, channels } = await channelServer(() => {
    ran++;
    return new Promise((resolve) => finishers.push(() => resolve({ status: 200, headers: {}, body: '{}' })));
  });
  try {
    const { socket, closed } = await upgraded(port);
    const frames: Array<{ type: number; stream: number; body: Buffer }> = [];
    const reader = new FrameReader(1 << 20, (type, stream, body) => frames.push({ type, stream, body: Buffer.from(body) }));
    socket.on('data', (d: Buffer) => reader.push(d));
    socket.write(Buffer.concat([frame(1), frame(2)]));
    await until(() => finishers.length === 2, 'both requests running');
    const closing = channels.close();
    await until(() => frames.length > 0, 'a frame after close()');
    assert.equal(frames[0]?.type, FrameType.GOAWAY);
    assert.equal(decodeGoaway(frames[0]!.body), 2, 'two requests read');
    socket.write(frame(3));
    await sleep(50);
    for (const finish of finishers) finish();
    await closing;
    await closed;
    assert.equal(ran, 2, 'the request written after the GOAWAY did not run');
    assert.deepEqual(frames.slice(1).map((f) => [f.type, f.stream]), [[FrameType.ANSWER, 1], [FrameType.ANSWER, 2]], 'the two read are answered, the third is not');
  } finally {
    server.close();
  }
});
