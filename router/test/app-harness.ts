/**
 * Test support for the router's HTTP app: runs createRouterApp on port 0 with real stores and
 * small real implementations of the Invoker / FunctionChangeNotifier / WorkersApi interfaces
 * (interface seams between the API and the ring, not project code being replaced).
 */
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { zipSync, strToU8, type ZipOptions, type Zippable } from 'fflate';
import type { Stores } from '../../storage/types.ts';
import { createRouterApp, type RouterLimits } from '../app.ts';
import type { ForwardedResponse, FunctionChangeNotifier, Invoker, RequestContext, WorkersApi } from '../invoker.ts';

/** Records every notification; `gate` (when set) holds functionUpdated until released. */
export class RecordingNotifier implements FunctionChangeNotifier {
  readonly events: Array<{ kind: 'updated' | 'deleted'; functionId: string; version?: number }> = [];
  gate: Promise<void> | undefined;
  onCall: (() => void) | undefined;

  async functionUpdated(functionId: string, version: number, _ctx: RequestContext): Promise<void> {
    this.events.push({ kind: 'updated', functionId, version });
    this.onCall?.();
    if (this.gate !== undefined) await this.gate;
  }

  async functionDeleted(functionId: string, _ctx: RequestContext): Promise<void> {
    this.events.push({ kind: 'deleted', functionId });
    this.onCall?.();
  }
}

/** An Invoker answering with what `answer` returns, recording the raw inputs it got. */
export class EchoInvoker implements Invoker {
  readonly calls: Array<{ functionId: string; input: Buffer; requestId: string }> = [];
  answer: (functionId: string, input: Buffer) => Promise<ForwardedResponse> = async (functionId, input) => ({
    status: 200,
    headers: { 'content-type': 'application/json', 'x-ringfaas-worker': 'echo' },
    body: `{"output":{"functionId":${JSON.stringify(functionId)},"input":${input.toString('utf8')}},"logs":{"lines":[]}}`,
  });

  invoke(functionId: string, input: Buffer, ctx: RequestContext): Promise<ForwardedResponse> {
    this.calls.push({ functionId, input: Buffer.from(input), requestId: ctx.requestId });
    return this.answer(functionId, input);
  }
}

/** A WorkersApi over a fixed list. */
export class StaticWorkersApi implements WorkersApi {
  readonly rows: unknown[] = [];
  async list(): Promise<unknown> {
    return { workers: this.rows };
  }
  async add(body: unknown): Promise<{ status: number; body: unknown }> {
    this.rows.push(body);
    return { status: 201, body };
  }
  async remove(workerId: string): Promise<{ status: number; body: unknown }> {
    return { status: 202, body: { id: workerId, state: 'draining' } };
  }
}

export interface TestApp {
  url: string;
  notifier: RecordingNotifier;
  invoker: EchoInvoker;
  workers: StaticWorkersApi;
  /** Every log line the app wrote, as text. */
  logText(): string;
  close(): Promise<void>;
}

export interface TestAppOptions {
  stores: Pick<Stores, 'functions' | 'artifacts'>;
  apiKeys?: string[];
  limits?: Partial<RouterLimits>;
  newId?: () => string;
  invoker?: EchoInvoker;
  log?: Logger;
}

export async function startTestApp(options: TestAppOptions): Promise<TestApp> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const log = options.log ?? pino({ level: 'debug', redact: ['req.headers.authorization', 'headers.authorization'] }, sink);
  const notifier = new RecordingNotifier();
  const invoker = options.invoker ?? new EchoInvoker();
  const workers = new StaticWorkersApi();
  const app = createRouterApp({
    stores: options.stores,
    invoker,
    notifier,
    workers,
    log,
    registry: new Registry(),
    apiKeys: options.apiKeys ?? [],
    routerId: 'router-test',
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.newId === undefined ? {} : { newId: options.newId }),
  });
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    notifier,
    invoker,
    workers,
    logText: () => lines.join(''),
    close: () =>
      new Promise<void>((resolve) => {
        app.server.close(() => resolve());
        app.server.closeAllConnections();
      }),
  };
}

/** A zip with the given files (deterministic); `extra` sets per-file zip attributes. */
export function makeZip(files: Record<string, string | Uint8Array>, extra: Record<string, ZipOptions & { os?: number; attrs?: number }> = {}): Buffer {
  const input: Zippable = {};
  for (const [name, content] of Object.entries(files)) {
    input[name] = [typeof content === 'string' ? strToU8(content) : content, { mtime: new Date('1990-01-01T00:00:00Z'), ...extra[name] }];
  }
  const zip = zipSync(input);
  return Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength);
}

export interface JsonAnswer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- assertions inspect it freely
}

/** fetch + JSON body. */
export async function call(url: string, init: RequestInit = {}): Promise<JsonAnswer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body };
}

export function jsonInit(method: string, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method, headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) };
}
