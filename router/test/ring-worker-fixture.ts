/**
 * A small real HTTP server that speaks the worker protocol (contract/protocol.ts) with a fixed
 * number of execution slots: a test server for the ring tests, so that capacity, draining,
 * refused connections and resets can be produced exactly. It is not a stand-in for the
 * worker's logic (containers, pools); the tests that need that use startWorker().
 *
 * Invocation input `{ "sleepMs": n }` makes the "function" take n ms (default: options.delayMs).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { pino, type Logger } from 'pino';
import { WorkerHeaders, CLUSTER_KEY_HEADER, membershipProof } from '../../contract/index.ts';
import { InvokeChannels, MAX_INPUT_BYTES, type WorkerAnswer } from '../../worker/index.ts';
import type { MembershipStore, WorkerRow } from '../../storage/types.ts';

export interface FixtureWorkerOptions {
  id: string;
  /** Concurrent executions before answering 429. */
  slots: number;
  /** Default run time of an invocation. */
  delayMs?: number;
  /** Loopback address to listen on (another one stands for another machine). Default 127.0.0.1. */
  host?: string;
  /** Fixed port (to restart on the same address); 0 by default. */
  port?: number;
  /** The cluster key: required on every route but /healthz and /cluster/prove, and proven on the latter. */
  clusterKey?: string;
  /**
   * Answer every invocation 503 RF_STORAGE_UNAVAILABLE, as a worker without the code during a
   * storage outage: `marked` with the worker's own code-unavailable refusal header, `unmarked`
   * without it (what a router must never retry).
   */
  codeUnavailable?: 'marked' | 'unmarked';
  /** Serve the invoke channel (the worker's own InvokeChannels) beside HTTP. Default true. */
  channel?: boolean;
}

export interface FixtureWorker {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  /** Invocations run, by function id. */
  readonly served: Map<string, number>;
  /** Invalidations and deletes received. */
  readonly invalidations: Array<{ functionId: string; version: number }>;
  readonly deletes: string[];
  inFlight(): number;
  /** 429 answers given. */
  rejected(): number;
  /** Invocations that came over the invoke channel (the others came over HTTP). */
  overChannel(): number;
  /** Code-unavailable answers given (options.codeUnavailable). */
  codeRefusals(): number;
  draining(): boolean;
  /** Closes the worker's invoke channels (GOAWAY), as the end of a drain does. */
  closeChannels(): Promise<void>;
  /** Graceful close. */
  close(): Promise<void>;
  /** Drops every connection at once and stops listening (a crash, as seen from outside). */
  kill(): Promise<void>;
}

/** Starts a fixture worker on 127.0.0.1 (or options.host). */
export async function startFixtureWorker(options: FixtureWorkerOptions): Promise<FixtureWorker> {
  const served = new Map<string, number>();
  const invalidations: Array<{ functionId: string; version: number }> = [];
  const deletes: string[] = [];
  const sockets = new Set<Socket>();
  const waiters: Array<() => void> = [];
  let inFlight = 0;
  let rejected = 0;
  /** Sequence of x-ringfaas-idle reports (routers apply the newest). */
  let idleSeq = 0;
  let codeRefusals = 0;
  let overChannel = 0;
  let draining = false;

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const payload = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
      [WorkerHeaders.worker]: options.id,
      [WorkerHeaders.load]: String(inFlight),
      ...headers,
    });
    res.end(payload);
  };

  /** Takes a slot (inFlight counts it at once: invocations arriving together cannot all see one free slot). */
  const acquire = async (waitMs: number): Promise<boolean> => {
    if (inFlight < options.slots) {
      inFlight++;
      return true;
    }
    if (waitMs <= 0) return false;
    return new Promise<boolean>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        inFlight++;
        resolve(true);
      };
      const timer = setTimeout(() => {
        const i = waiters.indexOf(wake);
        if (i >= 0) waiters.splice(i, 1);
        resolve(false);
      }, waitMs);
      waiters.push(wake);
    });
  };

  /** One invocation, whichever way it came (HTTP or the invoke channel). */
  const run = async (functionId: string, raw: Buffer, waitMs: number, reportIdle = false): Promise<WorkerAnswer> => {
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}): WorkerAnswer => ({ status, headers, body: JSON.stringify(body) });
    if (draining) return answer(503, { error: { code: 'RF_WORKER_DRAINING', message: 'draining' } }, { [WorkerHeaders.refusal]: 'draining' });
    if (options.codeUnavailable !== undefined) {
      codeRefusals++;
      const mark: Record<string, string> = options.codeUnavailable === 'marked' ? { [WorkerHeaders.refusal]: 'code-unavailable' } : {};
      return answer(503, { error: { code: 'RF_STORAGE_UNAVAILABLE', message: 'storage unreachable' } }, mark);
    }
    if (!(await acquire(waitMs))) {
      rejected++;
      return answer(429, { error: { code: 'RF_WORKER_AT_CAPACITY', message: 'no capacity' } }, { [WorkerHeaders.refusal]: 'at-capacity' });
    }
    const count = served.get(functionId) ?? 0;
    served.set(functionId, count + 1);
    const input = JSON.parse(raw.toString('utf8') || '{}') as { sleepMs?: number };
    await new Promise((resolve) => setTimeout(resolve, input.sleepMs ?? options.delayMs ?? 0));
    inFlight--;
    const start = count === 0 ? 'cold-create' : 'warm';
    waiters.shift()?.();
    const headers: Record<string, string> = { [WorkerHeaders.start]: start, [WorkerHeaders.instance]: `${options.id}-i1` };
    // asked by a router with warm first: every free slot counts as an idle warm container
    if (reportIdle) headers[WorkerHeaders.idle] = `${options.slots - inFlight} ${++idleSeq}`;
    return answer(200, { output: { input, worker: options.id }, logs: { lines: [], truncated: false, workerId: options.id, instanceId: 'i1', start, version: 1, functionMs: 0, workerMs: 0 } }, headers);
  };

  const invoke = async (req: IncomingMessage, res: ServerResponse, functionId: string): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const a = await run(functionId, Buffer.concat(chunks), Number(req.headers[WorkerHeaders.waitMs] ?? 0), req.headers[WorkerHeaders.reportIdle] === '1');
    const payload = a.body;
    res.writeHead(a.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), [WorkerHeaders.worker]: options.id, [WorkerHeaders.load]: String(inFlight), ...a.headers });
    res.end(payload);
  };

  // The worker's own invoke-channel end, over this fixture's invocations (options.channel).
  const channels = new InvokeChannels({
    workerId: options.id,
    run: (call) => {
      overChannel++;
      return run(call.functionId, call.input, call.waitMs, call.reportIdle);
    },
    load: () => inFlight,
    active: () => !draining,
    ...(options.clusterKey === undefined ? {} : { keyMatches: (presented) => presented === options.clusterKey }),
    maxInputBytes: MAX_INPUT_BYTES,
    logger: quietLogger(),
  });

  let address = '';
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    if (req.method === 'POST' && url === '/cluster/prove') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const { challenge } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { challenge: string };
      if (options.clusterKey === undefined) return send(res, 401, { error: { code: 'RF_WORKER_UNAUTHORIZED', message: 'no key' } });
      return send(res, 200, { id: options.id, address, proof: membershipProof(options.clusterKey, challenge, options.id, address) });
    }
    if (options.clusterKey !== undefined && url !== '/healthz' && req.headers[CLUSTER_KEY_HEADER] !== options.clusterKey) {
      return send(res, 401, { error: { code: 'RF_WORKER_UNAUTHORIZED', message: 'no key' } });
    }
    const parts = url.split('/').filter((p) => p !== '').map(decodeURIComponent);
    if (req.method === 'POST' && parts[0] === 'invoke' && parts[1] !== undefined) return invoke(req, res, parts[1]);
    if (req.method === 'POST' && parts[0] === 'functions' && parts[2] === 'invalidate') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const { version } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { version: number };
      invalidations.push({ functionId: parts[1] as string, version });
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'DELETE' && parts[0] === 'functions' && parts[1] !== undefined) {
      deletes.push(parts[1]);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST' && url === '/drain') {
      draining = true;
      return send(res, 202, { draining: true });
    }
    if (req.method === 'GET' && url === '/status') {
      return send(res, 200, { id: options.id, state: draining ? 'draining' : 'active', runtime: 'process', capacityMb: options.slots * 128, reservedMb: inFlight * 128, inFlight, coldPool: { idle: 0, target: 0 }, functions: [] });
    }
    if (req.method === 'GET' && url === '/healthz') return send(res, 200, { ok: true });
    send(res, 404, { error: { code: 'RF_TEST_NO_ROUTE', message: url } });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.destroy(err instanceof Error ? err : undefined);
    });
  });
  if (options.channel !== false) server.on('upgrade', (req, socket, head) => channels.upgrade(req, socket, head));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const port = (server.address() as { port: number }).port;
  address = `http://${host}:${port}`;

  return {
    id: options.id,
    address,
    port,
    served,
    invalidations,
    deletes,
    inFlight: () => inFlight,
    codeRefusals: () => codeRefusals,
    overChannel: () => overChannel,
    rejected: () => rejected,
    draining: () => draining,
    closeChannels: () => channels.close(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        void channels.close();
      }),
    kill: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** A membership row for a fixture worker, heartbeating now. */
export function rowFor(worker: { id: string; address: string }, now: number = Date.now()): WorkerRow {
  return { id: worker.id, address: worker.address, capacityMb: 1024, state: 'active', heartbeatAt: now, startedAt: now };
}

/**
 * Heartbeats rows on behalf of fixture workers (real workers heartbeat themselves): every
 * `intervalMs`, each listed worker's row gets a fresh heartbeatAt, keeping its state.
 */
export function heartbeat(
  membership: MembershipStore,
  workers: () => Array<{ id: string; address: string; draining?: () => boolean }>,
  intervalMs = 200,
): { stop(): void } {
  const beat = async (): Promise<void> => {
    for (const w of workers()) {
      if (w.draining?.() === true) continue; // a drained worker stops heartbeating and leaves
      const known = await membership.get(w.id);
      await membership.upsert({ ...rowFor(w), state: known?.state ?? 'active', startedAt: known?.startedAt ?? Date.now() });
    }
  };
  const timer = setInterval(() => void beat(), intervalMs);
  return { stop: () => clearInterval(timer) };
}

/** Outcome of a load run. */
export interface LoadResult {
  ok: number;
  failures: Array<{ code: string; at: number }>;
  servedBy: Map<string, number>;
}

/**
 * Runs `concurrency` loops calling `send` until `stop()` is true; `gate()` (when given) is
 * awaited before each call, so a test can hold new requests for a moment.
 */
export async function runLoad(options: {
  concurrency: number;
  send: (i: number) => Promise<{ status: number; headers: Record<string, string> }>;
  stop: () => boolean;
  gate?: () => Promise<void>;
  maxRequests?: number;
}): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, failures: [], servedBy: new Map() };
  let n = 0;
  const limit = options.maxRequests ?? 100_000;
  const loop = async (): Promise<void> => {
    while (!options.stop() && n < limit) {
      if (options.gate !== undefined) await options.gate();
      const i = n++;
      try {
        const res = await options.send(i);
        if (res.status === 200) {
          result.ok++;
          const w = res.headers['x-ringfaas-worker'] ?? '?';
          result.servedBy.set(w, (result.servedBy.get(w) ?? 0) + 1);
        } else {
          result.failures.push({ code: `HTTP_${res.status}`, at: Date.now() });
        }
      } catch (err) {
        result.failures.push({ code: String((err as { code?: unknown }).code ?? 'UNKNOWN'), at: Date.now() });
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  return result;
}

/** A logger that writes nothing. */
export function quietLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A request context for direct Invoker calls. */
export function testContext(requestId = 'test'): { requestId: string; log: Logger } {
  return { requestId, log: quietLogger() };
}

/** Resolves when `check` is true, polling; rejects after `timeoutMs` (a bound, not an assertion on time). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
