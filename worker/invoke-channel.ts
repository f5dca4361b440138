/**
 * The worker's end of the invoke channel (contract/invoke-channel.ts; docs/worker-protocol.md):
 * it accepts the upgrade of a router's connection, then answers each REQUEST frame with an
 * ANSWER frame through the same handler as POST /invoke/{id} (worker/invocation-handler.ts).
 *
 * Bounds: the cluster key is checked on the upgrade (as on every HTTP request); a frame is at
 * most the largest input plus its fields, and once begun must arrive whole within
 * `frameTimeoutMs` (an HTTP body's bound); at most `maxStreams` invocations are open per
 * connection (a REQUEST past that is refused at capacity, marked as a refusal: the router spills
 * it); a malformed frame or a stream number reused while open close the connection, which
 * withdraws what still waits for a container (an execution, once started, finishes and its
 * answer is dropped). The answers written in one turn of the event loop go out in one write.
 * Closing (`close`, at the end of a drain) sends GOAWAY with the count of REQUESTs read: the
 * router tries whatever it wrote after those on another worker, and they are not read here.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { errorBody, RfError, type ErrorSpec } from '../errors/index.ts';
import {
  CLUSTER_KEY_HEADER,
  ChannelProtocolError,
  DEFAULT_BODY_TIMEOUT_MS,
  FrameReader,
  FrameType,
  FrameWriter,
  INVOKE_CHANNEL_PATH,
  INVOKE_CHANNEL_PROTOCOL,
  REQUEST_FIELDS_MAX_BYTES,
  WorkerHeaders,
  decodeRequest,
  encodeAnswer,
  encodeGoaway,
} from '../contract/index.ts';
import { WorkerErrors } from './errors.ts';
import { INPUT_TOO_LARGE } from './request-body.ts';
import { errorAnswer, type InvocationCall, type WorkerAnswer } from './invocation-handler.ts';

/** Open invocations per connection before it is closed as misbehaving. */
export const DEFAULT_MAX_STREAMS = 4096;
/** TCP keep-alive probes on an idle channel (a router that vanished is noticed). */
const KEEPALIVE_MS = 30_000;
/** How long a closing channel may take to answer what is open and to end. */
const CLOSE_GRACE_MS = 5000;

export interface InvokeChannelsDeps {
  workerId: string;
  run: (call: InvocationCall) => Promise<WorkerAnswer>;
  /** The worker's in-flight executions (the ANSWER's load field). */
  load: () => number;
  /** Whether the worker takes invocations (a draining worker refuses the upgrade). */
  active: () => boolean;
  /** Absent: no key required (loopback only). */
  keyMatches?: (presented: string | string[] | undefined) => boolean;
  maxInputBytes: number;
  logger: Logger;
  maxStreams?: number;
  /** How long a frame, once begun, may take to arrive whole (as an HTTP body's bound). Default DEFAULT_BODY_TIMEOUT_MS. */
  frameTimeoutMs?: number;
}

const CONTENT_TYPE = 'application/json';

/** The worker's open invoke channels. */
export class InvokeChannels {
  readonly #deps: InvokeChannelsDeps;
  readonly #maxStreams: number;
  /** Each open channel's socket and how it is closed. */
  readonly #sockets = new Map<Duplex, (graceMs: number) => Promise<void>>();

  constructor(deps: InvokeChannelsDeps) {
    this.#deps = deps;
    this.#maxStreams = deps.maxStreams ?? DEFAULT_MAX_STREAMS;
  }

  /** How many channels are open. */
  get size(): number {
    return this.#sockets.size;
  }

  /** The server's 'upgrade' handler. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = req.url ?? '';
    const token = req.headers.upgrade?.toLowerCase();
    if (url !== INVOKE_CHANNEL_PATH || token !== INVOKE_CHANNEL_PROTOCOL) return refuse(socket, WorkerErrors.ROUTE_NOT_FOUND, `no upgrade to ${token ?? '(none)'} on ${url}`);
    if (this.#deps.keyMatches !== undefined && !this.#deps.keyMatches(req.headers[CLUSTER_KEY_HEADER])) {
      return refuse(socket, WorkerErrors.UNAUTHORIZED, `missing or wrong ${CLUSTER_KEY_HEADER} header`);
    }
    if (!this.#deps.active()) return refuse(socket, WorkerErrors.DRAINING, 'the worker is draining');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${INVOKE_CHANNEL_PROTOCOL}\r\nConnection: Upgrade\r\n\r\n`);
    const tcp = socket as Partial<Socket>;
    tcp.setNoDelay?.(true);
    tcp.setKeepAlive?.(true, KEEPALIVE_MS);
    tcp.setTimeout?.(0);
    this.#serve(socket, head);
  }

  /**
   * Closes every channel: a GOAWAY tells the router how many REQUESTs were read (it tries the
   * ones it wrote after those elsewhere: none of them runs here), the invocations already open
   * are answered, then the connection ends. Bounded: a channel still open after `graceMs` is
   * destroyed (the worker drains its executions before it calls this).
   */
  async close(graceMs = CLOSE_GRACE_MS): Promise<void> {
    await Promise.all([...this.#sockets.values()].map((goAway) => goAway(graceMs)));
  }

  #serve(socket: Duplex, head: Buffer): void {
    const deps = this.#deps;
    const open = new Map<number, AbortController>();
    const writer = new FrameWriter((buf) => {
      if (!socket.destroyed && socket.writable) socket.write(buf);
    });
    // GOAWAY: the count of REQUESTs read (each one answered); later ones are not read.
    let requestsRead = 0;
    let goingAway = false;
    const endOnceAnswered = (): void => {
      if (!goingAway || open.size > 0 || !socket.writable) return;
      writer.flush();
      socket.end();
    };
    this.#sockets.set(socket, (graceMs) => new Promise<void>((resolve) => {
      if (socket.destroyed) return resolve();
      socket.once('close', () => resolve());
      setTimeout(() => socket.destroy(), graceMs).unref();
      if (!goingAway) {
        goingAway = true;
        writer.send(encodeGoaway(requestsRead));
      }
      // Answers queued this turn (the drain's last executions) go before the GOAWAY and the end.
      writer.flush();
      endOnceAnswered();
    }));
    const fail = (err: unknown): void => {
      deps.logger.warn({ err: err instanceof Error ? err.message : err }, 'invoke channel closed: protocol error');
      socket.destroy();
    };
    const answer = (stream: number, a: WorkerAnswer): void => {
      if (!open.delete(stream)) return; // closed or withdrawn meanwhile
      send(stream, a);
      endOnceAnswered();
    };
    const send = (stream: number, a: WorkerAnswer): void => {
      const headers: Record<string, string> = { 'content-type': CONTENT_TYPE, [WorkerHeaders.worker]: deps.workerId };
      for (const name in a.headers) headers[name] = a.headers[name] as string;
      writer.send(encodeAnswer(stream, { status: a.status, load: deps.load(), headers, body: a.body }));
    };
    // A frame begun must arrive whole within the bound (as an HTTP body must): the timer is armed
    // while a frame is partial, and fires on a connection that completed no frame meanwhile.
    const frameTimeoutMs = deps.frameTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
    let framesRead = 0;
    let stall: NodeJS.Timeout | undefined;
    const watchStall = (): void => {
      if (!reader.partial || socket.destroyed) {
        if (stall !== undefined) clearTimeout(stall);
        stall = undefined;
        return;
      }
      if (stall !== undefined) return;
      const at = framesRead;
      stall = setTimeout(() => {
        stall = undefined;
        if (reader.partial && framesRead === at) fail(new ChannelProtocolError(`a frame did not arrive whole within ${frameTimeoutMs} ms`));
        else watchStall();
      }, frameTimeoutMs);
    };
    const reader = new FrameReader(5 + REQUEST_FIELDS_MAX_BYTES + deps.maxInputBytes, (type, stream, body) => {
      framesRead++;
      if (type === FrameType.CANCEL) {
        open.get(stream)?.abort();
        return;
      }
      if (type !== FrameType.REQUEST) throw new ChannelProtocolError(`a router sent frame type ${type}`);
      // After the GOAWAY: not read, not run (the router tries it elsewhere).
      if (goingAway) return;
      requestsRead++;
      if (open.has(stream)) throw new ChannelProtocolError(`stream ${stream} reused while open`);
      const receivedAt = performance.now();
      const request = decodeRequest(body);
      if (request.input.length > deps.maxInputBytes) {
        // As over HTTP (413, the input not run); the frame bound leaves room for the fields.
        const tooLarge = new RfError(INPUT_TOO_LARGE, `the input is larger than the limit of ${deps.maxInputBytes} bytes`, { details: { limitBytes: deps.maxInputBytes } });
        send(stream, errorAnswer(tooLarge, deps.logger, { reqId: request.requestId }));
        return;
      }
      if (open.size >= this.#maxStreams) {
        // Refused alone, as a full queue refuses it: closing the connection failed every open
        // invocation on it (a router has no bound of its own on a channel's streams).
        const refused = errorAnswer(new RfError(WorkerErrors.AT_CAPACITY, `more than ${this.#maxStreams} open invocations on this channel`), deps.logger, { reqId: request.requestId });
        send(stream, refused);
        return;
      }
      const left = new AbortController();
      open.set(stream, left);
      // Each field by name: a spread with fields replaced cost about 1.5 µs a request (V8).
      const call: InvocationCall = {
        functionId: request.functionId,
        input: ownBytes(request.input),
        requestId: request.requestId.length > 0 ? request.requestId : `channel-${stream}`,
        waitMs: request.waitMs,
        details: request.details,
        reportIdle: request.reportIdle,
        left,
        receivedAt,
      };
      deps.run(call).then((a) => answer(stream, a), fail);
    });
    const onData = (chunk: Buffer): void => {
      try {
        reader.push(chunk);
      } catch (err) {
        fail(err);
      }
      watchStall();
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
    // The router closed its side (it has nothing open here): close ours. The server's sockets
    // are half-open, so without this both ends stayed open for good.
    socket.once('end', () => socket.end());
    socket.once('close', () => {
      this.#sockets.delete(socket);
      if (stall !== undefined) clearTimeout(stall);
      for (const left of open.values()) left.abort();
      open.clear();
    });
    if (head.length > 0) onData(head);
  }
}

/** Slack an input may keep alive beside its own bytes (its frame's fields and up to a socket read after it). */
const INPUT_SLACK_BYTES = 128 * 1024;

/**
 * The input as bytes of its own when it is a small part of what it came in: a frame is a view of
 * the read (or of the frames joined), and an invocation holds its input while it waits and runs,
 * so a small input behind a large one kept the large one's memory alive for as long.
 */
function ownBytes(input: Buffer): Buffer {
  return input.buffer.byteLength > input.length + INPUT_SLACK_BYTES ? Buffer.from(input) : input;
}

/** How long a refused upgrade's answer may take to leave before its connection is destroyed. */
const REFUSAL_LINGER_MS = 2000;

/**
 * An HTTP error answer to an upgrade request, then the connection closes: destroyed once the
 * answer is written (as node:http does after `connection: close`), not only ended. The server's
 * sockets are half-open (allowHalfOpen), and an upgraded socket is no longer the HTTP server's to
 * time out: ended only, it stayed open as long as the peer kept its side open, so a peer without
 * the key could hold connections (and a drain's server.close()) forever.
 */
function refuse(socket: Duplex, spec: ErrorSpec, message: string): void {
  const body = JSON.stringify(errorBody(new RfError(spec, message)));
  socket.on('error', () => socket.destroy());
  setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
  socket.end(`HTTP/1.1 ${spec.status} ${STATUS_CODES[spec.status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`, () => socket.destroy());
}
