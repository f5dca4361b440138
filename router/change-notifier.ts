/**
 * Tells every live worker that a function changed, before the API call that changed it
 * returns (DESIGN.md: no stale window): POST {worker}/functions/{id}/invalidate {version} on
 * update, DELETE {worker}/functions/{id} on delete. All workers in parallel, each with a short
 * timeout; a worker that cannot be reached is logged and marked suspect (it is routed around
 * until it heartbeats again), and the call still returns.
 */
import { Agent, request } from 'undici';
import type { FunctionChangeNotifier, RequestContext } from './invoker.ts';
import type { RingView } from './ring-view.ts';
import type { WorkerRow } from '../storage/index.ts';
import { clusterHeaders } from '../contract/index.ts';
import { CONNECT_ERROR_CODES } from './connect-errors.ts';

export interface ChangeNotifierOptions {
  view: RingView;
  /** Per-worker timeout of one notification. Default 2000 ms. */
  timeoutMs?: number;
  /** Sent to workers in x-ringfaas-cluster-key (contract/cluster-auth.ts). */
  clusterKey?: string;
}

/** Outcome of one notification (for logs and tests). */
export interface NotifyOutcome {
  workerId: string;
  ok: boolean;
  status?: number;
  code?: string;
}


/** FunctionChangeNotifier that calls every live worker of the ring view. */
export class WorkerChangeNotifier implements FunctionChangeNotifier {
  readonly #view: RingView;
  readonly #timeoutMs: number;
  readonly #agent: Agent;
  readonly #keyHeaders: Record<string, string>;

  constructor(options: ChangeNotifierOptions) {
    this.#view = options.view;
    this.#keyHeaders = clusterHeaders(options.clusterKey);
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#agent = new Agent({ connect: { timeout: this.#timeoutMs }, keepAliveTimeout: 4000 });
  }

  async functionUpdated(functionId: string, version: number, ctx: RequestContext): Promise<void> {
    await this.notifyAll(ctx, 'invalidate', (row) => ({
      url: `${row.address}/functions/${encodeURIComponent(functionId)}/invalidate`,
      method: 'POST',
      body: JSON.stringify({ version }),
    }), { functionId, version });
  }

  async functionDeleted(functionId: string, ctx: RequestContext): Promise<void> {
    await this.notifyAll(ctx, 'delete', (row) => ({
      url: `${row.address}/functions/${encodeURIComponent(functionId)}`,
      method: 'DELETE',
      body: undefined,
    }), { functionId });
  }

  /** Releases keep-alive connections. */
  async close(): Promise<void> {
    await this.#agent.close();
  }

  /** Sends one notification to every live worker (refreshing the membership first). */
  async notifyAll(
    ctx: RequestContext,
    kind: string,
    build: (row: WorkerRow) => { url: string; method: 'POST' | 'DELETE'; body: string | undefined },
    fields: Record<string, unknown>,
  ): Promise<NotifyOutcome[]> {
    // An update is rare; reading the membership here makes sure a worker that joined since the
    // last poll hears of it too.
    await this.#view.refresh();
    const rows = this.#view.liveRows();
    const outcomes = await Promise.all(rows.map((row) => this.#notifyOne(row, build(row))));
    const failed = outcomes.filter((o) => !o.ok);
    if (failed.length > 0) ctx.log.warn({ ...fields, kind, failed }, 'function change not delivered to every worker');
    else ctx.log.debug({ ...fields, kind, workers: outcomes.length }, 'function change delivered');
    return outcomes;
  }

  async #notifyOne(row: WorkerRow, req: { url: string; method: 'POST' | 'DELETE'; body: string | undefined }): Promise<NotifyOutcome> {
    try {
      const res = await request(req.url, {
        method: req.method,
        dispatcher: this.#agent,
        headers: req.body === undefined ? this.#keyHeaders : { ...this.#keyHeaders, 'content-type': 'application/json' },
        body: req.body,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      await res.body.dump();
      // 404: the worker never had the function, which is as good as dropping it.
      const ok = (res.statusCode >= 200 && res.statusCode < 300) || res.statusCode === 404;
      return { workerId: row.id, ok, status: res.statusCode };
    } catch (err) {
      const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'UNKNOWN';
      if (CONNECT_ERROR_CODES.has(code)) this.#view.markSuspect(row.id, 'notify_connect_error');
      return { workerId: row.id, ok: false, code };
    }
  }
}
