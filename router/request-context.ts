/**
 * The context of one client request (router/invoker.ts's RequestContext), made for every
 * request by router/app.ts: its id, and a child logger made on first use (most invocations log
 * nothing).
 *
 * Why a class: an object literal with a getter (`{ get log() { ... } }`) is made for each request
 * as a dictionary-mode object whose getter sits in an accessor pair, and V8 allocates accessor
 * pairs in old space. That pair, dead once the request is answered, stays until the next full
 * collection and keeps the getter's closure, and through it the whole request (req, res, body,
 * answer), alive through every young-generation collection until then. In the compare benchmark
 * a third of what the router allocated survived each scavenge that way (1 % in the bare proxy
 * hop), and its scavenges took about 4× theirs (bench/analysis.md, 2026-12-05). A class keeps
 * the getter on its prototype: its own properties are data only, declared here so that setting
 * `left` and `details` later keeps one hidden class.
 */
import type { Logger } from 'pino';
import type { ClientLeft } from './client-left.ts';
import type { RequestContext } from './invoker.ts';

export class RouterRequestContext implements RequestContext {
  readonly requestId: string;
  left: ClientLeft | undefined = undefined;
  details: boolean | undefined = undefined;
  readonly #root: Logger;
  #log: Logger | undefined = undefined;

  constructor(requestId: string, root: Logger) {
    this.requestId = requestId;
    this.#root = root;
  }

  /** The request's logger (the root's child with `reqId`), made on first use. */
  get log(): Logger {
    return (this.#log ??= this.#root.child({ reqId: this.requestId }));
  }
}
