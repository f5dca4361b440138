/**
 * The invoke channel's frames (contract/invoke-channel.ts): round trips, the worked example of
 * the module header byte for byte, a reader fed one byte at a time, and the bounds that close a
 * connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ChannelProtocolError,
  FrameReader,
  FrameType,
  FrameWriter,
  decodeAnswer,
  decodeGoaway,
  decodeRequest,
  encodeAnswer,
  encodeCancel,
  encodeGoaway,
  encodeRequest,
  type ChannelRequest,
} from '../index.ts';

const hello: ChannelRequest = { functionId: 'hello', requestId: 'r-1', waitMs: 0, details: false, reportIdle: false, input: Buffer.from('{}') };

function collect(maxFrameBytes: number): { reader: FrameReader; frames: Array<{ type: number; stream: number; body: Buffer }> } {
  const frames: Array<{ type: number; stream: number; body: Buffer }> = [];
  return { reader: new FrameReader(maxFrameBytes, (type, stream, body) => frames.push({ type, stream, body: Buffer.from(body) })), frames };
}

test('the worked example of the module header, byte for byte (27 bytes on the wire)', () => {
  const wire = encodeRequest(1, hello);
  assert.equal(wire.toString('hex'), '00000017' + '01' + '00000001' + '0005' + Buffer.from('hello').toString('hex') + '03' + Buffer.from('r-1').toString('hex') + '00000000' + '00' + Buffer.from('{}').toString('hex'));
  assert.equal(wire.length, 27);
  const header = readFileSync(new URL('../invoke-channel.ts', import.meta.url), 'utf8');
  assert.match(header, /frame `00 00 00 17 \| 01 \| 00 00 00 01 \| body` \(length 5 \+ 18 = 23\): 27 bytes/);
});

test('REQUEST and ANSWER round-trip every field; a reader fed one byte at a time gives the same frames', () => {
  const request: ChannelRequest = { functionId: 'fn-é', requestId: 'req-42', waitMs: 10_000, details: true, reportIdle: true, input: Buffer.from('{"x":[1,2,3]}') };
  const answer = { status: 429, load: 7, headers: { 'x-ringfaas-worker': 'w1', 'x-ringfaas-refusal': 'at-capacity', 'content-type': 'application/json' }, body: '{"error":{"code":"RF_WORKER_AT_CAPACITY","message":"full"}}' };
  const wire = Buffer.concat([encodeRequest(5, request), encodeCancel(5), encodeAnswer(6, answer)]);
  const { reader, frames } = collect(1024);
  for (const byte of wire) reader.push(Buffer.from([byte]));
  assert.deepEqual(frames.map((f) => [f.type, f.stream]), [[FrameType.REQUEST, 5], [FrameType.CANCEL, 5], [FrameType.ANSWER, 6]]);
  const back = decodeRequest((frames[0] as { body: Buffer }).body);
  assert.deepEqual({ ...back, input: back.input.toString() }, { ...request, input: request.input.toString() });
  assert.equal((frames[1] as { body: Buffer }).body.length, 0);
  const a = decodeAnswer((frames[2] as { body: Buffer }).body);
  assert.deepEqual({ ...a, body: a.body.toString() }, answer);
  // all at once, and split mid-length-field
  const whole = collect(1024);
  whole.reader.push(wire.subarray(0, 2));
  whole.reader.push(wire.subarray(2, 40));
  whole.reader.push(wire.subarray(40));
  assert.equal(whole.frames.length, 3);
});

test('bounds: a frame over the reader\'s limit, an unknown type and truncated fields are protocol errors', () => {
  const big = encodeRequest(1, { ...hello, input: Buffer.alloc(2000, 0x20) });
  const { reader, frames } = collect(1000);
  // refused from its length field alone, before the body is buffered
  assert.throws(() => reader.push(big.subarray(0, 4)), ChannelProtocolError);
  assert.equal(frames.length, 0);
  const unknown = Buffer.from('000000050900000001', 'hex');
  assert.throws(() => collect(100).reader.push(unknown), /unknown frame type 9/);
  assert.throws(() => decodeRequest(Buffer.from('00ff6162', 'hex')), /truncated REQUEST/);
  assert.throws(() => decodeAnswer(Buffer.from('00c8000000', 'hex')), /truncated ANSWER/);
  assert.throws(() => decodeAnswer(Buffer.from('0009' + '00000000' + '00', 'hex')), /status 9 out of range/);
  assert.throws(() => encodeRequest(1, { ...hello, requestId: 'x'.repeat(256) }), RangeError);
});

test('the writer sends the frames queued in one turn of the event loop in one write', async () => {
  const writes: Buffer[] = [];
  const writer = new FrameWriter((buf) => writes.push(buf));
  writer.send(encodeCancel(1));
  writer.send(encodeCancel(2));
  writer.send(encodeCancel(3));
  assert.equal(writes.length, 0);
  await new Promise((resolve) => process.nextTick(resolve));
  assert.equal(writes.length, 0, 'not after each callback: after the poll phase');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(writes.length, 1);
  const { reader, frames } = collect(100);
  reader.push(writes[0] as Buffer);
  assert.deepEqual(frames.map((f) => f.stream), [1, 2, 3]);
});

test('GOAWAY carries the requests read as a u64 on stream 0; a body of another size is a protocol error; docs/worker-protocol.md lists every frame type', () => {
  const { reader, frames } = collect(1024);
  reader.push(encodeGoaway(2 ** 40 + 3));
  assert.equal(frames[0]?.type, FrameType.GOAWAY);
  assert.equal(frames[0]?.stream, 0);
  assert.equal(decodeGoaway(frames[0]!.body), 2 ** 40 + 3);
  assert.throws(() => decodeGoaway(Buffer.alloc(4)), ChannelProtocolError);
  const doc = readFileSync(new URL('../../docs/worker-protocol.md', import.meta.url), 'utf8');
  for (const [name, type] of Object.entries(FrameType)) assert.match(doc, new RegExp(`^\\| ${type} ${name} \\|`, 'm'), `${type} ${name} in the frames table`);
});
