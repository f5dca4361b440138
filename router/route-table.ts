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
  /** The routes by segment count, in the order added (the first match wins). */
  readonly #bySegments = new Map<number, Route[]>();

  /** Adds a route; `scope` is the least API-key scope it needs (null: open). */
  add(method: string, template: string, scope: Scope | null, run: Route['run']): void {
    const segments = template.split('/').slice(1);
    let routes = this.#bySegments.get(segments.length);
    if (routes === undefined) this.#bySegments.set(segments.length, (routes = []));
    routes.push({ method, template, segments, scope, run });
  }

  /**
   * The route for a path and method, or the methods the path allows. Only routes with the
   * path's segment count are looked at, literal segments first: a candidate's parameters are
   * decoded only once its literals match (this runs for every invocation).
   */
  match(method: string, path: string): { route: Route; params: Record<string, string> } | { allowed: string[] } {
    const parts = path.split('/').slice(1);
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // a trailing slash is tolerated
    const allowed: string[] = [];
    for (const candidate of this.#bySegments.get(parts.length) ?? []) {
      if (!literalsMatch(candidate.segments, parts)) continue;
      const params = paramsOf(candidate.segments, parts);
      if (params === undefined) continue;
      if (candidate.method === method || (method === 'HEAD' && candidate.method === 'GET')) return { route: candidate, params };
      allowed.push(candidate.method);
    }
    return { allowed };
  }
}

function isParam(segment: string): boolean {
  return segment.startsWith('{');
}

/** Whether every literal segment of a template equals the path's (same count). */
function literalsMatch(segments: readonly string[], parts: readonly string[]): boolean {
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    if (!isParam(seg) && seg !== parts[i]) return false;
  }
  return true;
}

/** The `{name}` segments' values, %-decoded; undefined when one is empty or malformed (no route can match it). */
function paramsOf(segments: readonly string[], parts: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    if (!isParam(seg)) continue;
    const part = parts[i] as string;
    if (part.length === 0) return undefined;
    try {
      params[seg.slice(1, -1)] = decodeURIComponent(part);
    } catch {
      return undefined;
    }
  }
  return params;
}
