/**
 * A router's invoke channel to one worker (contract/invoke-channel.ts; docs/worker-protocol.md):
 * one TCP connection, opened on first use by an HTTP upgrade carrying the cluster key, on which
 * every invocation for that worker is a REQUEST frame answered by an ANSWER frame. The frames
 * written in one turn of the event loop go out in one write.
 *
 * Outcomes of `request` (ChannelError.reason), as the RingInvoker needs them:
 * - `connect`: the connection could not be opened (refused, timed out): nothing was sent;
 * - `refused`: the worker answered the upgrade with an HTTP error (`status`): nothing was sent;
 *   the caller uses HTTP for this attempt (404, a worker without the channel, for a minute);
 * - `broken`: the connection closed or carried a malformed frame after the request was written:
 *   the function may have run, so it is not re-sent;
 * - `timeout`: no answer within the request's time bound (a CANCEL is sent);
 * - `aborted`: the client left (ClientLeft; a CANCEL is sent, the worker withdraws a wait);
 * - `closing`: the worker sent GOAWAY before it read the request: it never ran there (the
 *   caller tries another worker). The requests it read are answered on that connection; the
 *   next request opens a new one.
 *
 * Bounds: the upgrade answer is read up to 8 KiB within the connect timeout; an ANSWER frame up
 * to `maxAnswerBytes`; every request has a deadline, checked by one timer per channel.
 */
import { connect, type Socket } from 'node:net';
import {
  CLUSTER_KEY_HEADER,
  ChannelProtocolError,
  FrameReader,
  FrameType,
  FrameWriter,
  INVOKE_CHANNEL_PATH,
  INVOKE_CHANNEL_PROTOCOL,
  decodeAnswer,
  decodeGoaway,
  encodeCancel,
  encodeRequest,
  type ChannelAnswer,
  type ChannelRequest,
} from '../contract/index.ts';
import type { ClientLeft } from './client-left.ts';

export type ChannelFailure = 'connect' | 'refused' | 'broken' | 'timeout' | 'aborted' | 'closing';

/** Why a request on the channel got no answer. */
export class ChannelError extends Error {
  override readonly name = 'ChannelError';
  constructor(
    readonly reason: ChannelFailure,
    message: string,
    /** The worker's HTTP status when it refused the upgrade. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface WorkerChannelOptions {
  /** The worker's http:// address. */
  address: string;
  clusterKey?: string;
  connectTimeoutMs: number;
  /** Largest ANSWER frame read (the worker's output bound plus envelope). */
  maxAnswerBytes: number;
  /** Clock for deadlines (performance.now by default). */
  now?: () => number;
  /** Called when the worker sends GOAWAY (it does at the end of its drain). */
  onGoaway?: () => void;
}

/** How long a worker that does not know the channel (404 on the upgrade) is asked over HTTP. */
const NO_CHANNEL_RETRY_MS = 60_000;
/** How long after another refused upgrade (401, 503) before the next try. */
const REFUSED_RETRY_MS = 1000;
const MAX_UPGRADE_ANSWER_BYTES = 8 * 1024;
const DEADLINE_SWEEP_MS = 250;
const KEEPALIVE_MS = 30_000;

/** One upgraded connection: the channel's current one, or one closing after its worker's GOAWAY. */
interface Connection {
  socket: Socket;
  writer: FrameWriter;
  /** REQUEST frames written on it (a request's `seq` is its place among them). */
  written: number;
  /** Requests written on it and not yet settled. */
  open: number;
  /** The worker sent GOAWAY: nothing more is written; it ends once `open` is 0. */
  goneAway: boolean;
}

interface Pending {
  resolve(answer: ChannelAnswer): void;
  reject(err: ChannelError): void;
  deadline: number;
  /** Removes the client-left listener (none: no client to watch). */
  unwatch: (() => void) | undefined;
  conn: Connection;
  seq: number;
}

/** Whether an address can carry the channel (plain http://; https workers are asked over HTTP). */
export function channelCapable(address: string): boolean {
  return address.startsWith('http://');
}

export class WorkerChannel {
  readonly #options: WorkerChannelOptions;
  readonly #now: () => number;
  readonly #pending = new Map<number, Pending>();
  /** The connection new requests go on. */
  #conn: Connection | undefined;
  #opening: Promise<void> | undefined;
  #nextStream = 1;
  #sweep: NodeJS.Timeout | undefined;
  #refused: { until: number; status: number } | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #idle: (() => void) | undefined;

  constructor(options: WorkerChannelOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The worker refused the upgrade recently (status): use HTTP until then. */
  refusedStatus(): number | undefined {
    const refused = this.#refused;
    if (refused === undefined) return undefined;
    if (this.#now() >= refused.until) {
      this.#refused = undefined;
      return undefined;
    }
    return refused.status;
  }

  /** Sends one invocation and resolves with its answer; rejects with a ChannelError. */
  request(request: ChannelRequest, timeoutMs: number, left?: ClientLeft): Promise<ChannelAnswer> {
    if (this.#closed) return Promise.reject(new ChannelError('connect', 'the channel is closed'));
    if (this.#conn !== undefined) return this.#send(this.#conn, request, timeoutMs, left);
    this.#opening ??= this.#open().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening.then(() => {
      if (this.#conn === undefined) throw new ChannelError('connect', 'the channel closed before the request was sent');
      return this.#send(this.#conn, request, timeoutMs, left);
    });
  }

  /**
   * Closes the channel once the open requests are answered (or timed out), and once an opening
   * in progress has ended (its connection is closed too, with the requests that waited for it).
   * Every call returns the same promise.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#closing = new Promise((resolve) => {
      this.#idle = () => {
        this.#idle = undefined;
        const conn = this.#conn;
        this.#conn = undefined;
        if (conn !== undefined) end(conn);
        resolve();
      };
    });
    const opening = this.#opening;
    // Chained after the requests that wait for the opening: they are pending by then.
    if (opening !== undefined) void opening.then(() => this.#idleCheck(), () => this.#idleCheck());
    else this.#idleCheck();
    return this.#closing;
  }

  /** Ends a closed channel with nothing left open on it. */
  #idleCheck(): void {
    if (this.#pending.size === 0 && this.#opening === undefined) this.#idle?.();
  }

  #send(conn: Connection, request: ChannelRequest, timeoutMs: number, left: ClientLeft | undefined): Promise<ChannelAnswer> {
    if (left?.left === true) return Promise.reject(new ChannelError('aborted', 'the caller left'));
    let frame: Buffer;
    const stream = this.#nextStream;
    this.#nextStream = this.#nextStream >= 0xffffffff ? 1 : this.#nextStream + 1;
    try {
      frame = encodeRequest(stream, request);
    } catch (err) {
      return Promise.reject(new ChannelError('connect', (err as Error).message, undefined, { cause: err }));
    }
    return new Promise<ChannelAnswer>((resolve, reject) => {
      const pending: Pending = { resolve, reject, deadline: this.#now() + timeoutMs, unwatch: undefined, conn, seq: ++conn.written };
      if (left !== undefined) pending.unwatch = left.onLeave(() => this.#settle(stream, new ChannelError('aborted', 'the caller left'), true));
      this.#pending.set(stream, pending);
      conn.open++;
      this.#sweep ??= setInterval(() => this.#expire(), DEADLINE_SWEEP_MS).unref();
      conn.writer.send(frame);
    });
  }

  /** Ends one request: with its answer, or with an error (then a CANCEL when `cancel`). */
  #settle(stream: number, outcome: ChannelAnswer | ChannelError, cancel = false): void {
    const pending = this.#pending.get(stream);
    if (pending === undefined) return;
    this.#pending.delete(stream);
    pending.unwatch?.();
    const conn = pending.conn;
    conn.open--;
    if (cancel && !conn.socket.destroyed) conn.writer.send(encodeCancel(stream));
    if (conn.goneAway && conn.open === 0) end(conn);
    if (outcome instanceof ChannelError) pending.reject(outcome);
    else pending.resolve(outcome);
    if (this.#pending.size === 0) {
      if (this.#sweep !== undefined) clearInterval(this.#sweep);
      this.#sweep = undefined;
      this.#idleCheck();
    }
  }

  #expire(): void {
    const now = this.#now();
    for (const [stream, pending] of this.#pending) {
      if (pending.deadline <= now) this.#settle(stream, new ChannelError('timeout', 'the worker did not answer in time'), true);
    }
  }

  /** A connection broke: every request open on it fails as `broken` (they were written). */
  #lost(conn: Connection, reason: string, cause?: unknown): void {
    if (this.#conn === conn) this.#conn = undefined;
    for (const [stream, pending] of [...this.#pending]) {
      if (pending.conn === conn) this.#settle(stream, new ChannelError('broken', reason, undefined, { cause }));
    }
  }

  /**
   * The worker's GOAWAY: new requests go on a new connection; the requests written after the
   * first `requestsRead` were not read (never ran) and fail as `closing`; the others are answered.
   */
  #goneAway(conn: Connection, requestsRead: number): void {
    if (this.#conn === conn) this.#conn = undefined;
    conn.goneAway = true;
    this.#options.onGoaway?.();
    for (const [stream, pending] of [...this.#pending]) {
      if (pending.conn === conn && pending.seq > requestsRead) this.#settle(stream, new ChannelError('closing', 'the worker closed the channel before it read the request'));
    }
    if (conn.open === 0) end(conn);
  }

  #open(): Promise<void> {
    const url = new URL(this.#options.address);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = Number(url.port === '' ? 80 : url.port);
    return new Promise<void>((resolve, reject) => {
      const socket = connect({ host, port });
      let answered = false;
      let head = Buffer.alloc(0);
      const timer = setTimeout(() => fail(new ChannelError('connect', `no upgrade answer within ${this.#options.connectTimeoutMs} ms`)), this.#options.connectTimeoutMs);
      const fail = (err: ChannelError): void => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      socket.once('error', (err: NodeJS.ErrnoException) => fail(new ChannelError('connect', `connect failed: ${err.code ?? err.message}`, undefined, { cause: err })));
      socket.once('close', () => fail(new ChannelError('connect', 'the worker closed the connection during the upgrade')));
      socket.once('connect', () => {
        socket.setNoDelay(true);
        const key = this.#options.clusterKey === undefined ? '' : `${CLUSTER_KEY_HEADER}: ${this.#options.clusterKey}\r\n`;
        socket.write(`GET ${INVOKE_CHANNEL_PATH} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: Upgrade\r\nUpgrade: ${INVOKE_CHANNEL_PROTOCOL}\r\n${key}\r\n`);
      });
      const onHead = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) {
          if (head.length > MAX_UPGRADE_ANSWER_BYTES) fail(new ChannelError('connect', 'the upgrade answer is too long'));
          return;
        }
        socket.off('data', onHead);
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString('latin1'))?.[1] ?? 0);
        if (status !== 101) {
          this.#refused = { until: this.#now() + (status === 404 ? NO_CHANNEL_RETRY_MS : REFUSED_RETRY_MS), status };
          fail(new ChannelError('refused', `the worker refused the invoke channel (HTTP ${status})`, status));
          return;
        }
        answered = true;
        clearTimeout(timer);
        this.#attach(socket, head.subarray(end + 4));
        resolve();
      };
      socket.on('data', onHead);
    });
  }

  #attach(socket: Socket, rest: Buffer): void {
    socket.removeAllListeners('error');
    socket.removeAllListeners('close');
    socket.setKeepAlive(true, KEEPALIVE_MS);
    const writer = new FrameWriter((buf) => {
      if (!socket.destroyed && socket.writable) socket.write(buf);
    });
    const conn: Connection = { socket, writer, written: 0, open: 0, goneAway: false };
    this.#conn = conn;
    const reader = new FrameReader(this.#options.maxAnswerBytes, (type, stream, body) => {
      if (type === FrameType.GOAWAY) {
        if (stream !== 0) throw new ChannelProtocolError(`GOAWAY on stream ${stream}`);
        // one per connection: a later one could only lower the count of requests already read
        if (!conn.goneAway) this.#goneAway(conn, decodeGoaway(body));
        return;
      }
      if (type !== FrameType.ANSWER) throw new ChannelProtocolError(`a worker sent frame type ${type}`);
      // An answer for a stream not open on this connection is stray: ignored.
      if (this.#pending.get(stream)?.conn === conn) this.#settle(stream, decodeAnswer(body));
    });
    const onData = (chunk: Buffer): void => {
      try {
        reader.push(chunk);
      } catch (err) {
        socket.destroy();
        this.#lost(conn, `the worker sent a malformed frame: ${(err as Error).message}`, err);
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => this.#lost(conn, 'the connection to the worker closed'));
    if (rest.length > 0) onData(rest);
  }
}

/** How long a connection we ended may wait for the worker to close its side. */
const END_GRACE_MS = 5000;

/** Ends our side of a connection, the frames queued this turn first (a CANCEL written after the end was an error); destroyed if the worker keeps its side open. */
function end(conn: Connection): void {
  conn.writer.flush();
  if (conn.socket.destroyed || !conn.socket.writable) return;
  conn.socket.end();
  setTimeout(() => conn.socket.destroy(), END_GRACE_MS).unref();
}
