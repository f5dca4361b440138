/**
 * The worker's internal HTTP API (contract/protocol.ts; docs/worker-protocol.md), on raw
 * node:http because the invoke path is benchmarked: the input bytes go to the container as
 * they came, and the answer is serialised once. The input is parsed once, in the container
 * (the shim hands the function its value): routers check its validity before any worker
 * (RF_ROUTER_BAD_JSON), and a worker's callers are routers and dispatchers holding the cluster
 * key; what a peer sends unchecked is the shim's refusal (RF_FUNCTION_BAD_INPUT).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { RfError } from '../errors/index.ts';
import { WorkerErrors } from './errors.ts';
import { WorkerHeaders, type WorkerStatus, CLUSTER_KEY_HEADER, clusterKeyChecker, isChallenge, membershipProof, type ProveAnswer, bodyLeftUnread } from '../contract/index.ts';
import { readBody } from './request-body.ts';
import { errorLabel } from './invocation-answer.ts';
import { createInvocationHandler, errorAnswer } from './invocation-handler.ts';
import { InvokeChannels } from './invoke-channel.ts';
import type { Duplex } from 'node:stream';
import type { ContainerPool } from './pool/index.ts';
import type { FunctionCache } from './function-cache.ts';
import type { StorageHealth } from '../storage/index.ts';
import type { WorkerMetrics } from './metrics.ts';

/** Largest invocation input accepted, bytes (as AWS Lambda's synchronous payload limit). */
export const MAX_INPUT_BYTES = 6 * 1024 * 1024;
/** Largest control request body (invalidate), bytes. */
const MAX_CONTROL_BYTES = 64 * 1024;

export interface WorkerServerDeps {
  workerId: string;
  runtimeKind: 'docker' | 'process';
  pool: ContainerPool;
  cache: FunctionCache;
  /** Storage reachability, reported in /healthz details. */
  health?: StorageHealth;
  metrics: WorkerMetrics;
  registry: Registry;
  logger: Logger;
  /** Called on POST /drain (after the 202 is sent): the worker drains and leaves. */
  onDrain: () => void;
  /** Default MAX_INPUT_BYTES. */
  maxInputBytes?: number;
  /**
   * The cluster key (contract/cluster-auth.ts): every route but GET /healthz and POST
   * /cluster/prove then requires it in x-ringfaas-cluster-key. Absent: no check (loopback only;
   * worker/config.ts refuses more).
   */
  clusterKey?: string;
  /** The address the worker advertises (signed in POST /cluster/prove); known once listening. */
  advertisedAddress?: () => string;
  /**
   * True while a joining worker warms the functions moving to it (warm hand-off), before it
   * registers: GET /healthz then answers 503, so whoever waits for the worker to be healthy
   * (an operator replacing a worker, a readiness probe) waits until it is in the ring.
   */
  joining?: () => boolean;
  /** More routes behind the cluster key (the warm hand-off's): true when one answered. */
  extraRoutes?: (method: string | undefined, path: string, req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

const JSON_TYPE = 'application/json';

/** Creates (does not start) the worker's HTTP server. */
export function createWorkerServer(deps: WorkerServerDeps): { server: Server; channels: InvokeChannels } {
  const { pool, cache, metrics, logger, workerId } = deps;
  const maxInputBytes = deps.maxInputBytes ?? MAX_INPUT_BYTES;
  const clusterKey = deps.clusterKey;
  const keyMatches = clusterKey === undefined ? undefined : clusterKeyChecker(clusterKey);

  const send = (res: ServerResponse, status: number, body: string, extra?: Record<string, string>): void => {
    const headers: Record<string, string | number> = {
      'content-type': JSON_TYPE,
      'content-length': Buffer.byteLength(body),
      [WorkerHeaders.worker]: workerId,
      [WorkerHeaders.load]: String(pool.load),
    };
    if (extra !== undefined) Object.assign(headers, extra);
    // Internal answers carry no Date: routers never pass it on, and every header costs.
    res.sendDate = false;
    res.writeHead(status, headers);
    res.end(body);
  };

  const sendError = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    const answer = errorAnswer(err, logger, { reqId: requestId(req), method: req.method, url: req.url });
    // A body left unread (refused, stalled, cut) is not drained: the connection closes.
    if (bodyLeftUnread(req) || answer.status === 413 || answer.status === 401) answer.headers.connection = 'close';
    send(res, answer.status, answer.body, answer.headers);
  };

  const runInvocation = createInvocationHandler({ workerId, pool, cache, metrics, logger });

  const invoke = async (req: IncomingMessage, res: ServerResponse, functionId: string): Promise<void> => {
    const receivedAt = performance.now();
    let input: Buffer;
    try {
      input = await readBody(req, maxInputBytes);
    } catch (err) {
      metrics.invocation(errorLabel(err), performance.now() - receivedAt);
      throw err;
    }
    // A caller that leaves withdraws its wait for a container (an execution, once started, finishes).
    const left = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) left.abort();
    };
    res.once('close', onClose);
    const answer = await runInvocation({
      functionId,
      input,
      requestId: requestId(req),
      waitMs: parseWaitMs(req.headers[WorkerHeaders.waitMs]),
      details: req.headers[WorkerHeaders.details] === '1',
      reportIdle: req.headers[WorkerHeaders.reportIdle] === '1',
      left,
      receivedAt,
    });
    res.off('close', onClose);
    send(res, answer.status, answer.body, answer.headers);
  };

  const invalidate = async (req: IncomingMessage, res: ServerResponse, functionId: string): Promise<void> => {
    const body = await readBody(req, MAX_CONTROL_BYTES);
    const version = parseVersion(body);
    cache.invalidate(functionId, version);
    const retired = pool.retire(functionId, version);
    logger.info({ functionId, version, retired }, 'function invalidated');
    res.writeHead(204, { [WorkerHeaders.worker]: workerId, [WorkerHeaders.load]: String(pool.load) }).end();
  };

  const remove = (res: ServerResponse, functionId: string): void => {
    cache.delete(functionId);
    const removed = pool.removeFunction(functionId);
    logger.info({ functionId, removed }, 'function deleted');
    res.writeHead(204, { [WorkerHeaders.worker]: workerId, [WorkerHeaders.load]: String(pool.load) }).end();
  };

  const status = (): WorkerStatus => ({
    id: workerId,
    state: pool.state === 'active' ? 'active' : 'draining',
    runtime: deps.runtimeKind,
    ...pool.status(),
    inFlight: pool.load,
  });

  /** POST /cluster/prove: the answer to a router's registration challenge (no key needed). */
  const prove = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req, MAX_CONTROL_BYTES);
    if (clusterKey === undefined || deps.advertisedAddress === undefined) {
      throw new RfError(WorkerErrors.UNAUTHORIZED, 'this worker has no cluster key: it cannot prove membership');
    }
    let challenge: unknown;
    try {
      challenge = (JSON.parse(body.toString('utf8')) as { challenge?: unknown } | null)?.challenge;
    } catch {
      challenge = undefined;
    }
    if (!isChallenge(challenge)) throw new RfError(WorkerErrors.BAD_INPUT, 'the body must be {"challenge": "<16..128 base64url characters>"}');
    const address = deps.advertisedAddress();
    const answer: ProveAnswer = { id: workerId, address, proof: membershipProof(clusterKey, challenge, workerId, address) };
    send(res, 200, JSON.stringify(answer));
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q === -1 ? raw : raw.slice(0, q);
    const method = req.method;
    if (method === 'GET' && path === '/healthz') {
      if (deps.joining?.() === true) return send(res, 503, JSON.stringify({ ok: false, details: { state: 'joining' } }));
      return send(res, 200, deps.health === undefined ? '{"ok":true}' : JSON.stringify({ ok: true, details: { storage: deps.health.describe() } }));
    }
    if (method === 'POST' && path === '/cluster/prove') return prove(req, res);
    if (keyMatches !== undefined && !keyMatches(req.headers[CLUSTER_KEY_HEADER])) {
      // The body (if any) is not read: the connection closes after the answer.
      throw new RfError(WorkerErrors.UNAUTHORIZED, `missing or wrong ${CLUSTER_KEY_HEADER} header`);
    }
    if (deps.extraRoutes !== undefined && path.startsWith('/cluster/') && (await deps.extraRoutes(method, path, req, res))) return;
    if (method === 'POST' && path.startsWith('/invoke/')) {
      const id = pathId(path.slice('/invoke/'.length));
      if (id !== undefined) return invoke(req, res, id);
    } else if (path.startsWith('/functions/')) {
      const rest = path.slice('/functions/'.length);
      if (method === 'POST' && rest.endsWith('/invalidate')) {
        const id = pathId(rest.slice(0, -'/invalidate'.length));
        if (id !== undefined) return invalidate(req, res, id);
      } else if (method === 'DELETE') {
        const id = pathId(rest);
        if (id !== undefined) return remove(res, id);
      }
    } else if (method === 'GET' && path === '/status') {
      return send(res, 200, JSON.stringify(status()));
    } else if (method === 'GET' && path === '/metrics') {
      const text = await deps.registry.metrics();
      res.writeHead(200, {
        'content-type': deps.registry.contentType,
        [WorkerHeaders.worker]: workerId,
        [WorkerHeaders.load]: String(pool.load),
      });
      res.end(text);
      return;
    } else if (method === 'POST' && path === '/drain') {
      const first = pool.state === 'active';
      send(res, 202, JSON.stringify({ id: workerId, state: 'draining' }));
      if (first) deps.onDrain();
      return;
    }
    throw new RfError(WorkerErrors.ROUTE_NOT_FOUND, `no route ${method ?? ''} ${path}`);
  };

  const channels = new InvokeChannels({
    workerId,
    run: runInvocation,
    load: () => pool.load,
    active: () => pool.state === 'active',
    ...(keyMatches === undefined ? {} : { keyMatches }),
    maxInputBytes,
    logger,
  });
  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        logger.error({ err, url: req.url }, 'request failed after the answer started');
        res.destroy();
        return;
      }
      sendError(req, res, err);
    });
  });
  // Routers keep connections alive; outlive their idle timeout so they close first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => channels.upgrade(req, socket, head));
  return { server, channels };
}

function requestId(req: IncomingMessage): string {
  const id = req.headers[WorkerHeaders.requestId];
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : randomUUID();
}

/** A path segment as an id: decoded, non-empty, no slash. */
function pathId(segment: string): string | undefined {
  if (segment.length === 0 || segment.includes('/')) return undefined;
  if (!segment.includes('%')) return segment;
  try {
    const id = decodeURIComponent(segment);
    return id.length === 0 || id.includes('/') ? undefined : id;
  } catch {
    return undefined; // malformed escape: no such route
  }
}

function parseWaitMs(header: string | string[] | undefined): number {
  if (typeof header !== 'string') return 0;
  const ms = Number(header);
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

function parseVersion(body: Buffer): number {
  let version: unknown;
  try {
    version = (JSON.parse(body.toString('utf8')) as { version?: unknown } | null)?.version;
  } catch {
    version = undefined;
  }
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new RfError(WorkerErrors.BAD_INPUT, 'the body must be {"version": <positive integer>}');
  }
  return version;
}
