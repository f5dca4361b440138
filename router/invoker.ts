/**
 * The seam between the router's HTTP API (router/app.ts: CRUD, auth, logs, metrics) and the
 * ring (router/ring-invoker.ts and friends: ring view, forwarding, spill, membership operations).
 * router/main.ts wires one implementation of each into the app.
 */
import type { Logger } from 'pino';
import type { ClientLeft } from './client-left.ts';

/** An answer to send to the client as is. */
export interface ForwardedResponse {
  status: number;
  /**
   * Lower-case header names, content-type included: only what the client may see. The Invoker
   * filters (hop-by-hop, length, credentials, the worker's load report are never in it); the
   * app relays them as they are and sets the length itself (on this object: each answer's own).
   */
  headers: Record<string, string>;
  body: Buffer | string;
  /** How it was served, for the router's own counts (the dashboard), whether or not the client asked for details. */
  served?: { spills: number; start: string | undefined };
}

/** Context of one client request. */
export interface RequestContext {
  requestId: string;
  log: Logger;
  /** The client leaving before its answer: an invocation still queued at a worker is withdrawn. */
  left?: ClientLeft;
  /** The client asked for the detail headers (x-ringfaas-details: 1, docs/api.md). */
  details?: boolean;
}

/** Runs invocations on the ring. */
export interface Invoker {
  /**
   * Forwards one invocation to the function's worker (home, else spill), and answers what the
   * worker answered (x-ringfaas-worker; with `ctx.details` also instance, start, spills and
   * router). Ring-level failures are
   * RfErrors (RF_RING_EMPTY, RF_RING_AT_CAPACITY, RF_RING_WORKER_UNREACHABLE...).
   */
  invoke(functionId: string, input: Buffer, ctx: RequestContext): Promise<ForwardedResponse>;
}

/**
 * Tells the workers that a function changed, before the API call that changed it returns, so
 * that no worker runs an old version afterwards (DESIGN.md: no stale window).
 */
export interface FunctionChangeNotifier {
  functionUpdated(functionId: string, version: number, ctx: RequestContext): Promise<void>;
  functionDeleted(functionId: string, ctx: RequestContext): Promise<void>;
}

/** The operations API on workers: GET /workers, POST /workers, DELETE /workers/{id}. */
export interface WorkersApi {
  /** The ring as this router sees it (JSON-serialisable). */
  list(): Promise<unknown>;
  /** POST /workers with the parsed JSON body; answers the created/updated row. */
  add(body: unknown, ctx: RequestContext): Promise<{ status: number; body: unknown }>;
  /** DELETE /workers/{id}: drain, then remove. */
  remove(workerId: string, ctx: RequestContext): Promise<{ status: number; body: unknown }>;
}
