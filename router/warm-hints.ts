/**
 * Warm hints: which workers hold idle warm containers of a function, as this router last
 * heard, so that a request goes to a warm container before the bounded-load rule starts a new
 * one somewhere (docs/ring.md, "Warm first").
 *
 * Algorithm
 * ---------
 * Every executed invocation's answer carries `x-ringfaas-idle: <idle> <seq>`: how many idle
 * warm containers of that function the worker holds right after this execution gave its
 * container back, and the worker's answer sequence number. Per (function, worker) the router
 * keeps an estimate:
 *
 * - a report with a higher `seq` than the last one applied replaces the estimate (answers
 *   arrive out of order over several connections; an older report is ignored), and so does any
 *   report once the estimate has expired (a restarted worker counts from 0 again);
 * - the router asks only when the bound moved a call off its home, and only among the workers
 *   under the bound: the home keeps its calls whenever the rule allows (a ring change moves
 *   functions, and their old homes' warm containers must not hold them), and the rule's
 *   guarantee holds; warm first picks which allowed worker a spill goes to;
 * - a request sent there takes one (`taken`), so that a burst arriving before any answer is
 *   spread over the idle containers, not poured onto the first warm worker;
 * - a refusal (429 at capacity) sets it to 0;
 * - estimates older than `ttlMs` count as 0 (containers expire; other routers take them).
 *
 * Worked example
 * --------------
 * f's preference list is [w1, w3, w2]; w3 joined a moment ago and holds nothing of f, w2
 * answered `2 455` (2 idle). With 1 call in flight on w1 the bound is 1: w1 is at it, the call
 * spills, and under the bound are w3 and w2; the bound alone sends it to w3, which starts a
 * container; warm first sends it to w2 (estimate 2 → 1).
 *
 * Known caveats
 * -------------
 * - An estimate is this router's view: a container another router took in the meantime looks
 *   idle here. The cost of a wrong estimate is what the bounded-load rule would have cost
 *   anyway (a container started there, or a 429 and the next worker).
 * - A request sent before a report was made but arriving after it is counted twice (once by
 *   `taken`, once in the report): the estimate errs low for an instant, never high for long.
 * - At most `maxFunctions` functions are tracked (least recently reported dropped first):
 *   everything here may be lost, and the router stays stateless in the sense that matters.
 */

interface Estimate {
  idle: number;
  seq: number;
  at: number;
}

export interface WarmHintsOptions {
  /** ms clock (performance.now or an injected one). */
  now: () => number;
  /** Estimates older than this count as 0. Default 30 000. */
  ttlMs?: number;
  /** Functions tracked at most. Default 10 000. */
  maxFunctions?: number;
}

/** Per (function, worker) estimates of idle warm containers. */
export class WarmHints {
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #maxFunctions: number;
  readonly #byFunction = new Map<string, Map<string, Estimate>>();

  constructor(options: WarmHintsOptions) {
    this.#now = options.now;
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#maxFunctions = options.maxFunctions ?? 10_000;
  }

  /** Functions tracked now. */
  get size(): number {
    return this.#byFunction.size;
  }

  /**
   * The first of `order` estimated to hold an idle warm container of the function, among those
   * `eligible` allows (the bounded-load rule's choice: the workers under the bound), or undefined.
   */
  firstWarm(functionId: string, order: readonly string[], eligible?: (workerId: string) => boolean): string | undefined {
    const workers = this.#byFunction.get(functionId);
    if (workers === undefined) return undefined;
    const oldest = this.#now() - this.#ttlMs;
    for (const id of order) {
      const e = workers.get(id);
      if (e !== undefined && e.idle > 0 && e.at >= oldest && (eligible === undefined || eligible(id))) return id;
    }
    return undefined;
  }

  /** A request of the function was sent to the worker. */
  taken(functionId: string, workerId: string): void {
    const e = this.#byFunction.get(functionId)?.get(workerId);
    if (e !== undefined && e.idle > 0) e.idle--;
  }

  /** The worker answered `x-ringfaas-idle` (ignored when malformed or older than the estimate). */
  reported(functionId: string, workerId: string, header: string | string[] | undefined): void {
    if (typeof header !== 'string') return;
    const space = header.indexOf(' ');
    if (space <= 0) return;
    const idle = Number(header.slice(0, space));
    const seq = Number(header.slice(space + 1));
    if (!Number.isSafeInteger(idle) || idle < 0 || !Number.isSafeInteger(seq)) return;
    const now = this.#now();
    const workers = this.#workers(functionId);
    const e = workers.get(workerId);
    if (e === undefined) workers.set(workerId, { idle, seq, at: now });
    else if (seq > e.seq || e.at < now - this.#ttlMs) {
      e.idle = idle;
      e.seq = seq;
      e.at = now;
    }
  }

  /** The worker refused for lack of capacity: nothing idle there. */
  refused(functionId: string, workerId: string): void {
    const e = this.#byFunction.get(functionId)?.get(workerId);
    if (e !== undefined) e.idle = 0;
  }

  /** Forgets a worker (it left the ring or moved). */
  forgetWorker(workerId: string): void {
    for (const workers of this.#byFunction.values()) workers.delete(workerId);
  }

  #workers(functionId: string): Map<string, Estimate> {
    let workers = this.#byFunction.get(functionId);
    if (workers !== undefined) {
      // Most recently reported last: the first entry is the one dropped when full.
      this.#byFunction.delete(functionId);
      this.#byFunction.set(functionId, workers);
      return workers;
    }
    workers = new Map();
    this.#byFunction.set(functionId, workers);
    if (this.#byFunction.size > this.#maxFunctions) {
      const oldest = this.#byFunction.keys().next().value as string;
      this.#byFunction.delete(oldest);
    }
    return workers;
  }
}
