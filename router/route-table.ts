/**
 * The router's route table: templates such as `/functions/{id}/invoke`, matched segment by
 * segment (a `{name}` segment takes one non-empty, %-decoded path segment; a trailing slash is
 * tolerated; HEAD runs a GET route). A path that exists with other methods answers which.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Scope } from './auth.ts';
import type { RequestContext } from './invoker.ts';

/** One request as a route sees it. */
export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  ctx: RequestContext;
}

export interface Route {
  method: string;
  /** e.g. `/functions/{id}/invoke`: the metrics label. */
  template: string;
  segments: string[];
  /** The least API-key scope the route needs; null: open (health check). */
  scope: Scope | null;
  run(call: Call): Promise<void>;
}

/** Routes in the order they were added (the first match wins). */
export class RouteTable {
  readonly #routes: Route[] = [];

  /** Adds a route; `scope` is the least API-key scope it needs (null: open). */
  add(method: string, template: string, scope: Scope | null, run: Route['run']): void {
    this.#routes.push({ method, template, segments: template.split('/').slice(1), scope, run });
  }

  /** The route for a path and method, or the methods the path allows. */
  match(method: string, path: string): { route: Route; params: Record<string, string> } | { allowed: string[] } {
    const parts = path.split('/').slice(1);
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // a trailing slash is tolerated
    const allowed: string[] = [];
    for (const candidate of this.#routes) {
      if (candidate.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = candidate.segments[i] as string;
        const part = parts[i] as string;
        if (seg.startsWith('{')) {
          try {
            params[seg.slice(1, -1)] = decodeURIComponent(part);
          } catch {
            ok = false; // malformed %-escape: no route can match it
          }
          ok = ok && part.length > 0;
        } else ok = seg === part;
      }
      if (!ok) continue;
      if (candidate.method === method || (method === 'HEAD' && candidate.method === 'GET')) return { route: candidate, params };
      allowed.push(candidate.method);
    }
    return { allowed };
  }
}
