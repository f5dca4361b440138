/**
 * The router's public HTTP server: raw node:http (the invoke route is on the hot path), a
 * small route table, request ids, API-key auth, metrics, and one error path.
 *
 * Every answer carries `x-request-id` (the client's when it sent a sane one, else a random
 * per-process prefix and a counter), and every log line of a request is bound to it. Errors
 * are JSON `{"error":{"code","message"}}`: deliberate RfErrors are answered as they are,
 * anything else becomes a generic 500 RF_ROUTER_INTERNAL and is logged in full under `err`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { RfError, errorBody, hasCode, isRfError } from '../errors/index.ts';
import type { Stores, StorageHealthView } from '../storage/index.ts';
import { EMPTY_INPUT_JSON, WorkerHeaders } from '../contract/index.ts';
import { createAuthenticator, WWW_AUTHENTICATE, type Scope } from './auth.ts';
import { RouterErrors } from './errors.ts';
import { createFunctionsApi, etagOf, type FunctionsApi } from './functions-api.ts';
import { readBody } from './http-body.ts';
import { ClientLeft } from './client-left.ts';
import { RouterRequestContext } from './request-context.ts';
import { pageQuery } from './page-query.ts';
import { RouteTable, type Call, type Route } from './route-table.ts';
import { createHttpMetrics } from './http-metrics.ts';
import type { FunctionChangeNotifier, Invoker, WorkersApi } from './invoker.ts';
import type { Dashboard } from './dashboard.ts';
import type { AsyncApi } from './async-api.ts';
import type { AsyncMetrics } from './async-metrics.ts';

/** Size limits of the API (bytes). */
export interface RouterLimits {
  /** POST/PUT /functions bodies (base64 code inside JSON). */
  maxFunctionBodyBytes: number;
  /** POST /functions/{id}/invoke bodies: the function's input. */
  maxInvokeBodyBytes: number;
  /** What a code zip may unpack to. */
  maxUnpackedBytes: number;
  /** POST /workers bodies. */
  maxWorkersBodyBytes: number;
}

export const DEFAULT_LIMITS: Readonly<RouterLimits> = Object.freeze({
  maxFunctionBodyBytes: 50 * 1024 * 1024,
  maxInvokeBodyBytes: 6 * 1024 * 1024,
  maxUnpackedBytes: 250 * 1024 * 1024,
  maxWorkersBodyBytes: 64 * 1024,
});

export interface RouterAppDeps {
  stores: Pick<Stores, 'functions' | 'artifacts'>;
  invoker: Invoker;
  notifier: FunctionChangeNotifier;
  workers: WorkersApi;
  log: Logger;
  /** prom-client registry the HTTP metrics are registered on; GET /metrics serves it. */
  registry: Registry;
  /** Storage reachability, reported in /healthz details. */
  health?: { describe(): StorageHealthView };
  /** Empty: no authentication. */
  apiKeys: readonly string[];
  routerId: string;
  limits?: Partial<RouterLimits>;
  /** ms since the epoch; Date.now by default. */
  clock?: () => number;
  /** New function ids (tests make them predictable); random base32 by default. */
  newId?: () => string;
  /** The dashboard at /ui (router/dashboard.ts); absent: no /ui routes. */
  dashboard?: Dashboard;
  /** Asynchronous invocations (Prefer: respond-async, /invocations); absent: answered 503 RF_ROUTER_ASYNC_UNAVAILABLE. */
  async?: { api: AsyncApi; metrics?: AsyncMetrics };
}

export interface RouterApp {
  /** The request handler (also for `checkContinue`). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** A server running `handle`, not yet listening. */
  server: Server;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const EMPTY_INPUT = Buffer.from(EMPTY_INPUT_JSON);
const INVOKE_ROUTE = '/functions/{id}/invoke';
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** 5xx codes raised on purpose, with client-safe messages. */
const DELIBERATE_5XX_PREFIXES = ['RF_RING_', 'RF_WORKER_', 'RF_FUNCTION_', 'RF_STORAGE_UNAVAILABLE', 'RF_ROUTER_'];

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  const all: Record<string, string | number> = {};
  for (const name in headers) all[name] = headers[name] as string;
  all['content-type'] = JSON_TYPE;
  all['content-length'] = Buffer.byteLength(payload);
  res.writeHead(status, all);
  res.end(payload);
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new RfError(RouterErrors.BAD_JSON, `the body is not valid JSON: ${(err as Error).message}`);
  }
}

function clientError(err: unknown, requestId: string): RfError {
  if (isRfError(err) && (err.status < 500 || DELIBERATE_5XX_PREFIXES.some((p) => err.code.startsWith(p)))) return err;
  return new RfError(RouterErrors.INTERNAL, `internal error; the router log has the details under request id ${requestId}`);
}

/** A header's value as one string (repeated ones joined as HTTP does). */
function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Whether a Prefer header (RFC 7240) asks for respond-async (tokens are case-insensitive). */
export function prefersAsync(prefer: string | undefined): boolean {
  if (prefer === undefined) return false;
  return prefer.split(',').some((part) => part.split(';', 1)[0]?.trim().toLowerCase() === 'respond-async');
}

/** Builds the router's HTTP handler; no socket is opened here. */
export function createRouterApp(deps: RouterAppDeps): RouterApp {
  const limits: RouterLimits = { ...DEFAULT_LIMITS, ...deps.limits };
  const clock = deps.clock ?? Date.now;
  // Request ids: a random prefix per router process and a counter (a UUID per request costs).
  const idPrefix = randomBytes(6).toString('base64url');
  let idCounter = 0;
  const newRequestId = (): string => `${idPrefix}-${(++idCounter).toString(36)}`;
  const auth = createAuthenticator(deps.apiKeys);
  const metrics = createHttpMetrics(deps.registry);
  const api: FunctionsApi = createFunctionsApi({
    stores: deps.stores,
    notifier: deps.notifier,
    limits: { maxUnpackedBytes: limits.maxUnpackedBytes },
    clock,
    ...(deps.newId === undefined ? {} : { newId: deps.newId }),
  });

  const body = (call: Call, limitBytes: number): Promise<Buffer> => {
    // Only now, with a route and a size check passed, is the client told to send its body.
    if (call.req.headers.expect?.toLowerCase() === '100-continue') {
      const declared = Number(call.req.headers['content-length'] ?? 0);
      if (!(declared > limitBytes)) call.res.writeContinue();
    }
    return readBody(call.req, limitBytes);
  };
  const jsonBody = async (call: Call, limitBytes: number): Promise<unknown> => parseJson(await body(call, limitBytes));
  const ifMatch = (req: IncomingMessage): string | undefined => req.headers['if-match'];
  const param = (call: Call, name: string): string => call.params[name] ?? '';

  const routes = new RouteTable();
  // Scopes (docs/security.md): reading or changing functions needs `deploy` (a record holds
  // the function's env), invoking needs `invoke`, the ring and metrics need `admin`.
  const route = (method: string, template: string, scope: Scope | null, run: Route['run']): void => routes.add(method, template, scope, run);

  route('GET', '/healthz', null, async ({ res }) =>
    sendJson(res, 200, deps.health === undefined ? { ok: true, routerId: deps.routerId } : { ok: true, routerId: deps.routerId, details: { storage: deps.health.describe() } }),
  );
  // What the caller's key may do (the dashboard hides what it may not).
  route('GET', '/auth/whoami', 'invoke', async ({ req, res }) =>
    sendJson(res, 200, { auth: auth.enabled, scope: auth.scopeOf(req.headers.authorization), router: deps.routerId }),
  );
  // The dashboard's page and assets are open; its data and live stream need an invoke key.
  for (const r of deps.dashboard?.routes() ?? []) route(r.method, r.template, r.auth ? 'invoke' : null, (call) => r.run(call));
  route('GET', '/metrics', 'admin', async ({ res }) => {
    const text = await deps.registry.metrics();
    res.writeHead(200, { 'content-type': deps.registry.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  route('POST', '/functions', 'deploy', async (call) => {
    const record = await api.create(await jsonBody(call, limits.maxFunctionBodyBytes), call.ctx);
    deps.dashboard?.functionsChanged();
    sendJson(call.res, 201, record, { location: `/functions/${encodeURIComponent(record.id)}`, etag: etagOf(record) });
  });
  route('GET', '/functions', 'deploy', async ({ req, res }) => {
    const page = pageQuery(req.url ?? '/');
    if (page === undefined) sendJson(res, 200, await api.list());
    else sendJson(res, 200, await api.listPage(page.limit, page.continuationToken));
  });
  route('GET', '/functions/{id}', 'deploy', async (call) => {
    const record = await api.get(param(call, 'id'));
    sendJson(call.res, 200, record, { etag: etagOf(record) });
  });
  route('PUT', '/functions/{id}', 'deploy', async (call) => {
    const id = param(call, 'id');
    const input = await jsonBody(call, limits.maxFunctionBodyBytes);
    const record = await api.update(id, input, ifMatch(call.req), call.ctx);
    deps.dashboard?.functionsChanged();
    sendJson(call.res, 200, record, { etag: etagOf(record) });
  });
  route('DELETE', '/functions/{id}', 'deploy', async (call) => {
    await api.remove(param(call, 'id'), ifMatch(call.req), call.ctx);
    deps.dashboard?.functionsChanged();
    call.res.writeHead(204);
    call.res.end();
  });
  const asyncApi = (): AsyncApi => {
    if (deps.async === undefined) throw new RfError(RouterErrors.ASYNC_UNAVAILABLE, 'this router runs no asynchronous invocations (its storage has no Queue endpoint)');
    return deps.async.api;
  };
  const sendInvocation = (res: ServerResponse, status: number, view: unknown): void => sendJson(res, status, view);
  route('POST', INVOKE_ROUTE, 'invoke', async (call) => {
    let input = await body(call, limits.maxInvokeBodyBytes);
    if (input.length === 0) input = EMPTY_INPUT;
    else parseJson(input); // validity only: the worker gets the raw bytes
    if (prefersAsync(headerText(call.req.headers.prefer))) {
      const key = headerText(call.req.headers['idempotency-key']);
      if (key !== undefined && (key.length === 0 || key.length > 255)) throw new RfError(RouterErrors.INVALID_BODY, 'Idempotency-Key must be 1..255 characters');
      const { record, replayed } = await asyncApi().accept(param(call, 'id'), input, key, call.ctx);
      deps.async?.metrics?.accepted.inc({ result: replayed ? 'replayed' : 'new' });
      sendJson(call.res, 202, { invocationId: record.id, status: record.status }, {
        location: `/invocations/${encodeURIComponent(record.id)}`,
        'preference-applied': 'respond-async',
        vary: 'Prefer',
        ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
      });
      return;
    }
    const invokeStarted = performance.now();
    // A client that leaves withdraws its invocation where it still waits (at a worker's queue).
    const left = new ClientLeft();
    const onClose = (): void => {
      if (!call.res.writableFinished) left.leave();
    };
    call.res.once('close', onClose);
    let answer: Awaited<ReturnType<Invoker['invoke']>>;
    try {
      // x-ringfaas-details: 1 asks for the detail headers (docs/api.md); the worker gets it too.
      const details = call.req.headers[WorkerHeaders.details] === '1';
      // Set on the request's own context, not spread into a copy: a spread would read the lazy
      // `log` getter and make a child logger for every invocation.
      call.ctx.left = left;
      call.ctx.details = details;
      answer = await deps.invoker.invoke(param(call, 'id'), input, call.ctx);
    } catch (err) {
      deps.dashboard?.failed(isRfError(err) ? err.status : 500, performance.now() - invokeStarted);
      throw err;
    } finally {
      call.res.off('close', onClose);
    }
    deps.dashboard?.invoked(param(call, 'id'), answer.status, answer.headers[WorkerHeaders.worker], answer.served, performance.now() - invokeStarted);
    // The Invoker's headers are already the client's (ForwardedResponse): one filter, there.
    // Set on the answer's own headers: a spread into a new object cost about 1 µs a request.
    answer.headers['content-length'] = String(Buffer.byteLength(answer.body));
    call.res.writeHead(answer.status, answer.headers);
    call.res.end(answer.body);
  });
  // Reading and retrying invocations takes the scope of invoking.
  route('GET', '/invocations', 'invoke', async (call) => {
    const url = new URL(call.req.url ?? '/', 'http://router');
    const known = new Set(['functionId', 'status', 'limit', 'continuationToken']);
    const query: Record<string, string> = {};
    for (const [name, value] of url.searchParams) {
      if (!known.has(name)) throw new RfError(RouterErrors.INVALID_QUERY, `unknown query parameter ${JSON.stringify(name)}; known: ${[...known].join(', ')}`);
      query[name] = value;
    }
    sendInvocation(call.res, 200, await asyncApi().list(query));
  });
  route('GET', '/invocations/{iid}', 'invoke', async (call) => sendInvocation(call.res, 200, await asyncApi().get(param(call, 'iid'))));
  route('POST', '/invocations/{iid}/retry', 'invoke', async (call) => {
    const view = await asyncApi().retry(param(call, 'iid'), call.ctx);
    sendJson(call.res, 202, view, { location: `/invocations/${encodeURIComponent(view.invocationId)}` });
  });
  route('GET', '/workers', 'admin', async ({ res }) => sendJson(res, 200, await deps.workers.list()));
  route('POST', '/workers', 'admin', async (call) => {
    const answer = await deps.workers.add(await jsonBody(call, limits.maxWorkersBodyBytes), call.ctx);
    sendJson(call.res, answer.status, answer.body);
  });
  route('DELETE', '/workers/{id}', 'admin', async (call) => {
    const answer = await deps.workers.remove(param(call, 'id'), call.ctx);
    sendJson(call.res, answer.status, answer.body);
  });

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const offered = req.headers['x-request-id'];
    const requestId = typeof offered === 'string' && REQUEST_ID_PATTERN.test(offered) ? offered : newRequestId();
    // A class, not a literal with a getter: see router/request-context.ts.
    const ctx = new RouterRequestContext(requestId, deps.log);
    res.setHeader('x-request-id', requestId);
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const found = routes.match(method, path);
    const template = 'route' in found ? found.route.template : 'unmatched';

    const run = async (): Promise<void> => {
      if (!('route' in found)) {
        if (found.allowed.length === 0) throw new RfError(RouterErrors.ROUTE_NOT_FOUND, `no route ${method} ${path}`);
        res.setHeader('allow', [...new Set(found.allowed)].join(', '));
        throw new RfError(RouterErrors.METHOD_NOT_ALLOWED, `${method} is not allowed on ${path}; allowed: ${found.allowed.join(', ')}`);
      }
      if (found.route.scope !== null) {
        try {
          auth.check(req.headers.authorization, found.route.scope);
        } catch (err) {
          if (hasCode(err, RouterErrors.UNAUTHORIZED)) res.setHeader('www-authenticate', WWW_AUTHENTICATE);
          throw err;
        }
      }
      await found.route.run({ req, res, params: found.params, ctx });
    };

    run()
      .catch((err: unknown) => {
        const answer = clientError(err, requestId);
        if (answer.status >= 500) ctx.log.error({ err, method, route: template }, 'request failed');
        else if (deps.log.isLevelEnabled('info')) ctx.log.info({ code: answer.code, method, route: template }, 'request refused');
        if (res.headersSent) {
          res.destroy();
          return;
        }
        // A refused upload is not drained: the connection closes after the answer.
        if (answer.code === RouterErrors.BODY_TOO_LARGE.code || !req.complete) res.setHeader('connection', 'close');
        sendJson(res, answer.status, errorBody(answer));
      })
      .finally(() => {
        const durationMs = performance.now() - started;
        metrics.observe(method, template, res.statusCode, durationMs / 1000);
        // An answered invocation is the hot path: counted in metrics, its line at debug (docs/operations.md).
        const level = template === INVOKE_ROUTE && res.statusCode < 400 ? 'debug' : 'info';
        if (deps.log.isLevelEnabled(level)) ctx.log[level]({ method, route: template, status: res.statusCode, durationMs: Math.round(durationMs * 1000) / 1000 }, 'request completed');
      });
  }

  const server = createServer(handle);
  server.on('checkContinue', handle);
  return { handle, server };
}
