/**
 * The router's WorkerChannel against a scripted worker (a raw TCP server speaking the upgrade
 * and the frames by hand): an upgrade answer in pieces or too long, answers for unknown streams,
 * a worker that never answers (the deadline sweep and its CANCEL), one that closes mid-frame or
 * sends a frame type it may not, one that sends GOAWAY with requests written after the ones it read.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameReader, FrameType, decodeRequest, encodeAnswer, encodeGoaway } from '../../contract/index.ts';
import { ChannelError, WorkerChannel } from '../worker-channel.ts';

const SWITCH = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: ringfaas-invoke/1\r\nConnection: Upgrade\r\n\r\n';

interface Seen {
  type: number;
  stream: number;
  functionId?: string;
}

/** A scripted worker: `script` gets each upgraded socket and the frames it receives. */
async function scripted(onUpgraded: (socket: Socket, frames: Seen[], onFrame: (cb: (f: Seen) => void) => void) => void): Promise<{ server: Server; address: string }> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    let head = '';
    const onHead = (d: Buffer): void => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onHead);
      const frames: Seen[] = [];
      const listeners: Array<(f: Seen) => void> = [];
      const reader = new FrameReader(1 << 20, (type, stream, body) => {
        const f: Seen = type === FrameType.REQUEST ? { type, stream, functionId: decodeRequest(body).functionId } : { type, stream };
        frames.push(f);
        for (const l of listeners) l(f);
      });
      socket.on('data', (c: Buffer) => reader.push(c));
      onUpgraded(socket, frames, (cb) => listeners.push(cb));
    };
    socket.on('data', onHead);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { server, address: `http://127.0.0.1:${port}` };
}

const req = (functionId: string) => ({ functionId, requestId: 'r', waitMs: 0, details: false, reportIdle: false, input: Buffer.from('{}') });
const answerOf = (stream: number, body: string) => encodeAnswer(stream, { status: 200, load: 3, headers: { 'x-ringfaas-worker': 'fake' }, body });

describe('WorkerChannel against a scripted worker', () => {
  const servers: Server[] = [];
  const channels: WorkerChannel[] = [];
  const open = (address: string, connectTimeoutMs = 2000): WorkerChannel => {
    const c = new WorkerChannel({ address, connectTimeoutMs, maxAnswerBytes: 64 * 1024 });
    channels.push(c);
    return c;
  };
  after(async () => {
    for (const c of channels) void c.close();
    await Promise.all(servers.map((s) => new Promise((resolve) => { s.close(resolve); })));
  });

  test('an upgrade answer that arrives a byte at a time with a stray frame glued to it: the stray is ignored, the channel serves', async () => {
    let trickled: Promise<void> = Promise.resolve();
    // the real answer only once the stray is all written (the two must not interleave)
    const fake = await scripted((socket, _frames, onFrame) => onFrame((f) => void trickled.then(() => socket.write(answerOf(f.stream, 'real')))));
    fake.server.prependListener('connection', (socket: Socket) => {
      socket.once('data', () => {
        const bytes = Buffer.concat([Buffer.from(SWITCH), answerOf(999, 'stray')]);
        trickled = (async () => {
          for (const b of bytes) {
            socket.write(Buffer.from([b]));
            await sleep(0);
          }
        })();
      });
    });
    servers.push(fake.server);
    const c = open(fake.address);
    const a = await c.request(req('f'), 5000);
    assert.equal(a.body.toString(), 'real');
  });

  test('an upgrade answer in pieces, then answers for an unknown stream and the real one: the real answer is delivered', async () => {
    const fake = await scripted((socket, _frames, onFrame) => {
      onFrame((f) => {
        socket.write(answerOf(f.stream + 1000, 'stray'));
        socket.write(answerOf(f.stream, 'real'));
      });
    });
    // wrap: send the 101 in pieces as soon as the head arrives
    fake.server.prependListener('connection', (socket: Socket) => {
      socket.once('data', () => {
        void (async () => {
          for (let i = 0; i < SWITCH.length; i += 7) {
            socket.write(SWITCH.slice(i, i + 7));
            await sleep(2);
          }
        })();
      });
    });
    servers.push(fake.server);
    const c = open(fake.address);
    const a = await c.request(req('f'), 5000);
    assert.equal(a.body.toString(), 'real');
    assert.equal(a.load, 3);
  });

  test('an upgrade answer over 8 KiB without its end fails the opening as not sent (connect), quickly', async () => {
    const fake = await scripted(() => undefined);
    fake.server.prependListener('connection', (socket: Socket) => {
      socket.once('data', () => socket.write(`HTTP/1.1 101 Switching Protocols\r\nx-pad: ${'a'.repeat(20_000)}`));
    });
    servers.push(fake.server);
    const c = open(fake.address, 10_000);
    const started = performance.now();
    await assert.rejects(c.request(req('f'), 5000), (err) => err instanceof ChannelError && err.reason === 'connect');
    assert.ok(performance.now() - started < 2000);
  });

  test('a worker that never answers: the request times out and the worker gets a CANCEL for its stream', async () => {
    let seen: Seen[] = [];
    const fake = await scripted((_socket, frames) => {
      seen = frames;
    });
    fake.server.prependListener('connection', (socket: Socket) => socket.once('data', () => socket.write(SWITCH)));
    servers.push(fake.server);
    const c = open(fake.address);
    await assert.rejects(c.request(req('f'), 300), (err) => err instanceof ChannelError && err.reason === 'timeout');
    await sleep(100);
    assert.deepEqual(seen.map((f) => f.type), [FrameType.REQUEST, FrameType.CANCEL]);
    assert.equal(seen[0]?.stream, seen[1]?.stream);
  });

  test('a worker that closes mid-frame or sends a REQUEST frame: every open request fails as broken (never re-sent)', async () => {
    for (const misbehave of ['mid-frame', 'wrong-type'] as const) {
      let requests = 0;
      const fake = await scripted((socket, _frames, onFrame) => {
        onFrame(() => {
          if (++requests < 2) return;
          if (misbehave === 'mid-frame') socket.end(answerOf(1, 'cut').subarray(0, 12));
          else socket.write(Buffer.from('000000060100000001ff', 'hex'));
        });
      });
      fake.server.prependListener('connection', (socket: Socket) => socket.once('data', () => socket.write(SWITCH)));
      servers.push(fake.server);
      const c = open(fake.address);
      const outcomes = await Promise.all([c.request(req('a'), 5000), c.request(req('b'), 5000)].map((p) => p.then(() => 'answered', (err: unknown) => (err instanceof ChannelError ? err.reason : String(err)))));
      assert.deepEqual(outcomes, ['broken', 'broken'], misbehave);
      assert.equal(requests, 2, 'nothing was sent again');
    }
  });

  test('GOAWAY: the requests the worker read are answered, the ones written after fail as closing (never ran), the next request opens a new connection', async () => {
    let connections = 0;
    const fake = await scripted((socket, _frames, onFrame) => {
      const connection = ++connections;
      const held: number[] = [];
      onFrame((f) => {
        if (connection > 1) return void socket.write(answerOf(f.stream, `new-${f.functionId}`));
        held.push(f.stream);
        if (held.length !== 3) return;
        // read two, then go away: the third was written but is not read; a second GOAWAY (a lower
        // count) is ignored; then answer the two and end
        socket.write(Buffer.concat([encodeGoaway(2), encodeGoaway(0)]));
        setTimeout(() => socket.end(Buffer.concat([answerOf(held[1] as number, 'b'), answerOf(held[0] as number, 'a')])), 50);
      });
    });
    fake.server.prependListener('connection', (socket: Socket) => socket.once('data', () => socket.write(SWITCH)));
    servers.push(fake.server);
    let goaways = 0;
    const c = new WorkerChannel({ address: fake.address, connectTimeoutMs: 2000, maxAnswerBytes: 64 * 1024, onGoaway: () => goaways++ });
    channels.push(c);
    const outcome = (p: Promise<{ body: Buffer }>) => p.then((a) => a.body.toString(), (err: unknown) => (err instanceof ChannelError ? err.reason : String(err)));
    const first = [c.request(req('a'), 5000), c.request(req('b'), 5000), c.request(req('c'), 5000)].map(outcome);
    assert.equal(await first[2], 'closing');
    const after = await outcome(c.request(req('d'), 5000));
    assert.deepEqual(await Promise.all(first), ['a', 'b', 'closing']);
    assert.equal(after, 'new-d');
    assert.equal(connections, 2, 'the request after the GOAWAY went on a new connection');
    assert.equal(goaways, 1, 'the router heard it once (it takes the worker off its ring)');
  });
});
