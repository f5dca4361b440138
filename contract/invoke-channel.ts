/**
 * The invoke channel: a framed, multiplexed router → worker connection for invocations
 * (docs/worker-protocol.md, "Invoke channel"). HTTP/1.1 costs each hop a request line, headers
 * to format and parse, and a write per request and per answer on a connection of its own; over
 * the channel a router sends every invocation to a worker on one connection, in binary frames,
 * and the frames written in one turn of the event loop go out in one write.
 *
 * Opening
 * -------
 * The router opens a TCP connection to the worker's address and sends
 *
 *     GET /invoke-channel HTTP/1.1
 *     Host: <worker host:port>
 *     Connection: Upgrade
 *     Upgrade: ringfaas-invoke/1
 *     x-ringfaas-cluster-key: <key>        (when the cluster has one)
 *
 * The worker checks the key once for the connection, as it checks it on every HTTP request, and
 * answers `101 Switching Protocols` (then frames), or an HTTP error (401 wrong key, 503
 * draining) and closes. A worker that does not know the channel answers 404: the router then
 * uses HTTP for that worker.
 *
 * Frames
 * ------
 *
 *     u32 length (of what follows) | u8 type | u32 stream | body
 *
 * big-endian; `stream` is the router's number for one invocation on this connection.
 *
 * - REQUEST (router → worker): `u16 function id length | function id (UTF-8) | u8 request id
 *   length | request id | u32 wait ms | u8 flags (1 details, 2 report idle) | input bytes`.
 *   The fields mean what the HTTP request's path and x-ringfaas-* headers mean.
 * - CANCEL (router → worker, empty body): the router's client left or its deadline passed; a
 *   request still waiting for a container is withdrawn (an execution, once started, finishes).
 * - ANSWER (worker → router): `u16 status | u32 load | u8 header count | (u8 name length | name |
 *   u16 value length | value) × count | body`: exactly the worker's HTTP answer (status, its
 *   x-ringfaas-* and content-type headers, body), with x-ringfaas-load as the `load` field.
 * - GOAWAY (worker → router, stream 0): `u64 requests read`: the worker is closing the
 *   connection. It answers the REQUESTs it had read before (the first `requests read` of the
 *   connection) and reads no other: the router writes no new REQUEST on it (CANCELs for the ones
 *   read may follow), and one it wrote after those never ran (it is tried on another worker).
 *   One per connection; a later one is ignored.
 *
 * Each side bounds what it reads: a frame longer than the reader's limit, an unknown type or a
 * malformed body closes the connection (the router then fails what it had in flight on it with
 * RF_RING_WORKER_UNREACHABLE, never re-sent).
 *
 * Worked example
 * --------------
 * Function `hello`, request id `r-1`, no wait, no flags, input `{}`, stream 1: the body is
 * `00 05 "hello" 03 "r-1" 00 00 00 00 | 00 | "{}"` (2 + 5 + 1 + 3 + 4 + 1 + 2 = 18 bytes), the
 * frame `00 00 00 17 | 01 | 00 00 00 01 | body` (length 5 + 18 = 23): 27 bytes on the wire,
 * where the same call over HTTP/1.1 took about 200.
 */

/** The Upgrade token of the channel (its version is in the name). */
export const INVOKE_CHANNEL_PROTOCOL = 'ringfaas-invoke/1';
/** The path of the upgrade request. */
export const INVOKE_CHANNEL_PATH = '/invoke-channel';

export const FrameType = {
  REQUEST: 1,
  CANCEL: 2,
  ANSWER: 3,
  GOAWAY: 4,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** u32 length + u8 type + u32 stream. */
export const FRAME_HEADER_BYTES = 9;
/** The most a REQUEST's fields (not its input) take: u16 + 65 535 + u8 + 255 + u32 + u8. */
export const REQUEST_FIELDS_MAX_BYTES = 2 + 0xffff + 1 + 0xff + 4 + 1;

const DETAILS_FLAG = 1;
const REPORT_IDLE_FLAG = 2;

/** One invocation, as a router sends it. */
export interface ChannelRequest {
  functionId: string;
  requestId: string;
  /** How long the request may wait for capacity at the worker (x-ringfaas-wait-ms). */
  waitMs: number;
  details: boolean;
  reportIdle: boolean;
  input: Buffer;
}

/** A worker's answer, as the channel carries it. */
export interface ChannelAnswer {
  status: number;
  /** The worker's in-flight executions (x-ringfaas-load). */
  load: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** A frame's bytes are malformed: the connection that carried it is closed. */
export class ChannelProtocolError extends Error {
  override readonly name = 'ChannelProtocolError';
}

function frame(type: FrameType, stream: number, bodyBytes: number): { buf: Buffer; at: number } {
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyBytes);
  buf.writeUInt32BE(5 + bodyBytes, 0);
  buf.writeUInt8(type, 4);
  buf.writeUInt32BE(stream, 5);
  return { buf, at: FRAME_HEADER_BYTES };
}

/** A REQUEST frame. Throws RangeError when the function id or request id is too long for its field. */
export function encodeRequest(stream: number, r: ChannelRequest): Buffer {
  const fnBytes = Buffer.byteLength(r.functionId);
  const idBytes = Buffer.byteLength(r.requestId);
  if (fnBytes > 0xffff || idBytes > 0xff) throw new RangeError('function id or request id too long for the invoke channel');
  const { buf, at } = frame(FrameType.REQUEST, stream, 2 + fnBytes + 1 + idBytes + 4 + 1 + r.input.length);
  let o = buf.writeUInt16BE(fnBytes, at);
  o += buf.write(r.functionId, o);
  o = buf.writeUInt8(idBytes, o);
  o += buf.write(r.requestId, o);
  o = buf.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.floor(r.waitMs))), o);
  o = buf.writeUInt8((r.details ? DETAILS_FLAG : 0) | (r.reportIdle ? REPORT_IDLE_FLAG : 0), o);
  r.input.copy(buf, o);
  return buf;
}

/** A CANCEL frame. */
export function encodeCancel(stream: number): Buffer {
  return frame(FrameType.CANCEL, stream, 0).buf;
}

/** An ANSWER frame. Header names and values longer than their fields are an error of the caller (RangeError). */
export function encodeAnswer(stream: number, a: { status: number; load: number; headers: Record<string, string>; body: string | Buffer }): Buffer {
  const names = Object.keys(a.headers);
  if (names.length > 0xff) throw new RangeError('too many headers for the invoke channel');
  let fieldBytes = 2 + 4 + 1;
  for (const name of names) {
    const nameBytes = Buffer.byteLength(name);
    const valueBytes = Buffer.byteLength(a.headers[name] as string);
    if (nameBytes > 0xff || valueBytes > 0xffff) throw new RangeError(`header ${name} too long for the invoke channel`);
    fieldBytes += 1 + nameBytes + 2 + valueBytes;
  }
  const bodyBytes = typeof a.body === 'string' ? Buffer.byteLength(a.body) : a.body.length;
  const { buf, at } = frame(FrameType.ANSWER, stream, fieldBytes + bodyBytes);
  let o = buf.writeUInt16BE(a.status, at);
  o = buf.writeUInt32BE(Math.max(0, Math.min(0xffffffff, a.load)), o);
  o = buf.writeUInt8(names.length, o);
  for (const name of names) {
    const value = a.headers[name] as string;
    o = buf.writeUInt8(Buffer.byteLength(name), o);
    o += buf.write(name, o, 'latin1');
    o = buf.writeUInt16BE(Buffer.byteLength(value), o);
    o += buf.write(value, o);
  }
  if (typeof a.body === 'string') buf.write(a.body, o);
  else a.body.copy(buf, o);
  return buf;
}

/** A GOAWAY frame: the worker read this many REQUEST frames on the connection and reads no more. */
export function encodeGoaway(requestsRead: number): Buffer {
  const { buf, at } = frame(FrameType.GOAWAY, 0, 8);
  buf.writeBigUInt64BE(BigInt(requestsRead), at);
  return buf;
}

/** Reads a GOAWAY body. Throws ChannelProtocolError when it is not 8 bytes. */
export function decodeGoaway(body: Buffer): number {
  if (body.length !== 8) throw new ChannelProtocolError(`GOAWAY body of ${body.length} bytes (8 expected)`);
  return Number(body.readBigUInt64BE(0));
}

/** Reads a frame body's fields in order, each checked against the body's end. */
class Fields {
  readonly #body: Buffer;
  readonly #frame: string;
  #at = 0;

  constructor(body: Buffer, frame: 'REQUEST' | 'ANSWER') {
    this.#body = body;
    this.#frame = frame;
  }

  u8(): number {
    return this.#body.readUInt8(this.#take(1));
  }

  u16(): number {
    return this.#body.readUInt16BE(this.#take(2));
  }

  u32(): number {
    return this.#body.readUInt32BE(this.#take(4));
  }

  text(bytes: number, encoding: 'utf8' | 'latin1' = 'utf8'): string {
    const at = this.#take(bytes);
    return this.#body.toString(encoding, at, at + bytes);
  }

  /** What follows the fields. */
  rest(): Buffer {
    return this.#body.subarray(this.#at);
  }

  #take(bytes: number): number {
    const at = this.#at;
    if (at + bytes > this.#body.length) throw new ChannelProtocolError(`truncated ${this.#frame} frame`);
    this.#at = at + bytes;
    return at;
  }
}

/** Reads the fields of a REQUEST body. Throws ChannelProtocolError when they do not fit. */
export function decodeRequest(body: Buffer): ChannelRequest {
  const f = new Fields(body, 'REQUEST');
  const functionId = f.text(f.u16());
  const requestId = f.text(f.u8());
  const waitMs = f.u32();
  const flags = f.u8();
  return { functionId, requestId, waitMs, details: (flags & DETAILS_FLAG) !== 0, reportIdle: (flags & REPORT_IDLE_FLAG) !== 0, input: f.rest() };
}

/** Reads an ANSWER body. Throws ChannelProtocolError when its fields do not fit. */
export function decodeAnswer(body: Buffer): ChannelAnswer {
  const f = new Fields(body, 'ANSWER');
  const status = f.u16();
  const load = f.u32();
  const count = f.u8();
  const headers: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const name = f.text(f.u8(), 'latin1');
    headers[name] = f.text(f.u16());
  }
  if (status < 100 || status > 599) throw new ChannelProtocolError(`ANSWER status ${status} out of range`);
  return { status, load, headers, body: f.rest() };
}

/**
 * Splits a byte stream into frames, holding at most one frame (bounded by `maxFrameBytes`,
 * the bytes after the length field) in memory. `push` throws ChannelProtocolError on a frame
 * over the bound or of an unknown type; the caller closes the connection.
 */
export class FrameReader {
  readonly #maxFrameBytes: number;
  readonly #onFrame: (type: FrameType, stream: number, body: Buffer) => void;
  /** The start of an incomplete frame, in the chunks it came in (joined once it is whole). */
  #parts: Buffer[] = [];
  #buffered = 0;
  /** Bytes needed before the incomplete frame can be read on. */
  #need = 0;

  constructor(maxFrameBytes: number, onFrame: (type: FrameType, stream: number, body: Buffer) => void) {
    this.#maxFrameBytes = maxFrameBytes;
    this.#onFrame = onFrame;
  }

  /** Whether part of a frame has arrived and its rest not yet. */
  get partial(): boolean {
    return this.#parts.length > 0;
  }

  push(chunk: Buffer): void {
    if (this.#parts.length > 0) {
      this.#parts.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered < this.#need) return;
      chunk = Buffer.concat(this.#parts, this.#buffered);
      this.#parts = [];
      this.#buffered = 0;
    }
    let o = 0;
    while (chunk.length - o >= 4) {
      const length = chunk.readUInt32BE(o);
      if (length < 5 || length > this.#maxFrameBytes) throw new ChannelProtocolError(`frame of ${length} bytes (at most ${this.#maxFrameBytes})`);
      if (chunk.length - o - 4 < length) break;
      const type = chunk.readUInt8(o + 4);
      if (type !== FrameType.REQUEST && type !== FrameType.CANCEL && type !== FrameType.ANSWER && type !== FrameType.GOAWAY) throw new ChannelProtocolError(`unknown frame type ${type}`);
      const stream = chunk.readUInt32BE(o + 5);
      this.#onFrame(type, stream, chunk.subarray(o + FRAME_HEADER_BYTES, o + 4 + length));
      o += 4 + length;
    }
    if (o < chunk.length) {
      const rest = chunk.subarray(o);
      this.#need = rest.length >= 4 ? 4 + rest.readUInt32BE(0) : 4;
      this.#parts = [rest];
      this.#buffered = rest.length;
    }
  }
}

/**
 * Writes frames in batches: the frames queued during one turn of the event loop (every socket
 * read in its poll phase) go to the socket in one write, in its check phase (setImmediate). Under
 * load that is one system call for many invocations arriving on different client connections; a
 * process.nextTick flush would write after each of them. One frame goes as it is.
 */
export class FrameWriter {
  readonly #write: (buf: Buffer) => void;
  #queue: Buffer[] = [];
  #scheduled = false;

  constructor(write: (buf: Buffer) => void) {
    this.#write = write;
  }

  send(buf: Buffer): void {
    this.#queue.push(buf);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes what is queued now. */
  flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    this.#write(queue.length === 1 ? (queue[0] as Buffer) : Buffer.concat(queue));
  }
}
