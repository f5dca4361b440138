/**
 * Warm hand-off on ring changes (docs/ring.md, "Warm hand-off"): a function whose home or
 * first spill target changes is warmed where its next calls go before routers send them there.
 *
 * Algorithm
 * ---------
 * Where it warms is targets.ts ('successor' targets: the worker's position in each function's
 * preference list); how is this file.
 * - **Join** (`beforeJoin`, called before the worker's first heartbeat, so no router has it on
 *   its ring yet): read the membership rows, build the ring the cluster will have with this
 *   worker (the real `Ring` of ring/, live active rows + this one), ask every live peer for its
 *   hot functions (`GET /cluster/handoff/hot`: functions that started in the last
 *   `recentWindowMs`, each with its recent peak concurrency there, recent.ts; then the
 *   functions whose idle containers its keep-alive still holds, each with that many, most
 *   recently used first: their containers are warm state too), and warm here
 *   those whose home on that ring is this worker, and those whose list puts this worker right
 *   before the reporting peer (their spills reach it first now), moved homes first, through
 *   the pool's warm-ups (worker/pool/warm-ups.ts: one container of every function
 *   first, then the rest; spare memory above a headroom only, at most 2 starts at once,
 *   traffic first); wait until the warm-up's starts are over or the bound passed. Then the
 *   worker registers.
 * - **Drain** (`beforeDrain`, called before the pool stops taking work, while routers still
 *   send here): build the ring as it is (this worker on it), and ask, for each of this worker's
 *   hot functions, the worker after this one in its preference list (first 17: its next home
 *   when this one is its home, its next spill target otherwise; its home when this worker is
 *   not in those 17) to warm it (`POST /cluster/handoff/warm` with `{functions: [{functionId,
 *   count, idleForMs}]}`), which warms them the same way and answers once the warm-up's starts
 *   are over (or its own bound, 1 s short of the asking worker's, passed); an older item (not
 *   started within the window, `idleForMs` since its last container went idle) may only take
 *   the place of containers idle longer there (worker/pool/warm-ups.ts). Then the drain goes
 *   on as before. From the start of its drain a worker refuses warm requests (503): workers
 *   draining together (a whole cluster stopping) neither wait on each other nor warm
 *   containers that are about to go.
 * Every peer call carries the cluster key header, has a time bound on the whole call (a peer
 * dripping its answer included) and a size bound on its answer; a peer that fails is logged
 * and skipped: a hand-off only saves cold starts, it never holds a join or a drain for longer
 * than `timeoutMs` (plus reading the membership rows).
 *
 * Worked example
 * --------------
 * Workers a, b; f and g ran on a in the last minute (f at most 2 at a time). c starts: on the
 * ring {a, b, c} f's home is c, g's stays a; c asks a and b for their hot functions, loads 2
 * containers of f, then registers: the routers' first call of f on c is warm. Measured with
 * Docker on the 2-core machine at load 20 (bench ring-change, docs/benchmarks.md, with homes
 * only): 1 to 3 moved functions, 2 to 8 containers, 1.0 to 10.0 s; 32 to 275 ms when nothing
 * moves. With spills: h's list on {a, b, c} is [a, c, b] and b reported h with count 2 (a at
 * the bound, h spilled to b): c loads 2 containers of h too, since h's spills reach c before b
 * now. Later c drains while h, at the bound on a, spills to c: c asks b (after c in h's list)
 * to warm h, not a, which already runs it. targets.ts has the same example on real ids.
 *
 * Known caveats
 * -------------
 * - An older item's container gets a fresh idle time where it lands: it is evicted after
 *   containers that went idle between its idle time on the peer and the hand-off.
 * - Lists are computed from the rows this worker reads: a router whose ring differs (a row
 *   not yet seen) may still send a moved function elsewhere, where it starts as it would have.
 * - The count is the reporting peer's peak in flight over the last one to two minutes: a
 *   function whose concurrency rises right after the join starts its extra containers cold.
 * - Every live peer is asked (one call each, in parallel): with hundreds of workers a join
 *   makes hundreds of small calls, though only the peers right after it in some function's
 *   list could answer.
 * - A join now warms more functions than those whose home moved (in the simulator the new
 *   worker stands at k ≥ 1 in about 16 % of the lists): more starts before it registers (a
 *   longer join on a slow engine, within the bound), in spare memory only (on a full worker
 *   they are dropped, nothing is evicted), after the moved homes (a bound cuts them first).
 * - A drain warms a function that spilled here (k ≥ 1) on the next spill target only, not on
 *   its home, which was running it already; the simulator measured this rule ('successor',
 *   docs/simulation.md, run H: cold first calls caused by membership events +24 → +13 over 20
 *   seeds), not yet the real platform.
 * - A bound reached while containers still start: a request may take one still starting (its
 *   answer says cold-pool or cold-create, though it waits less than a whole cold start).
 * - The guards cost warmth: with 2 starts at once a big hand-off on a slow engine reaches the
 *   bound with functions not yet warm, and a worker with no spare memory above its headroom
 *   warms a function only in the place of its least recently used idle containers, those idle
 *   since before the hand-off was asked (`idleForMs` at most 60 s: a hand-off counts as a use
 *   of the function, worker/pool/warm-ups.ts; one for one, kept queued when traffic is short
 *   of memory, its containers evicted after every other idle one for 60 s); otherwise it
 *   starts cold, as without hand-off. No spare memory is the usual
 *   case for a drain: its next homes have served for a while, their memory full of idle
 *   containers (bench ring-change, Docker, 2048 MB workers: 2048 of 2048 MB reserved; 0 of 30
 *   cold first calls after the drain over 8 runs with those rules, 1 to 4 of 4 in most runs
 *   before).
 * - A drain through a router: the router keeps the worker on its ring until its state leaves
 *   `active` (router/workers-api.ts), i.e. until this hand-off is over; a router that takes a
 *   worker off its ring without asking it (a crash, a lapsed heartbeat) gets no hand-off.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import { Ring, DEFAULT_MEMBER_TTL_MS, type RingMemberRow } from '../../ring/index.ts';
import { RfError } from '../../errors/index.ts';
import type { MembershipStore, WorkerRow } from '../../storage/index.ts';
import type { Clock } from '../../clock/index.ts';
import { WorkerErrors } from '../errors.ts';
import type { FunctionCache } from '../function-cache.ts';
import type { ContainerPool } from '../pool/index.ts';
import { MAX_CONTROL_ANSWER_BYTES, clusterHeaders, readBounded } from '../../contract/index.ts';
import type { RecentInvocations } from './recent.ts';
import { drainTarget, joinTargets } from './targets.ts';
import { readBody } from '../request-body.ts';

/** What one warm-up here came to. */
export interface WarmResult {
  /** Containers of the asked functions loaded here (idle or busy), at most the count asked of each. */
  warmed: number;
  /** Warm-up starts begun, and dropped (no spare memory above the headroom, traffic waiting, the bound). */
  begun: number;
  dropped: number;
  /** Memory reserved here afterwards. */
  reservedMb: number;
}

/** One function to warm, and how many containers. */
export interface WarmItem {
  functionId: string;
  count: number;
  /** How long ago it last started (an older item: its last container went idle) on the worker that lists it; at most 60 s, a drain's item is a hand-off's (it may take the place of containers idle since before the ask, and its containers are held), longer an older one's (only of containers idle longer): worker/pool/warm-ups.ts. */
  idleForMs?: number;
}

export interface WarmHandoffOptions {
  workerId: string;
  membership: MembershipStore;
  pool: ContainerPool;
  cache: FunctionCache;
  recent: RecentInvocations;
  logger: Logger;
  clock: Clock;
  clusterKey?: string;
  /** A function started within this window is hot. Default the pool's hand-off grace (60 000 ms unless configured). */
  recentWindowMs?: number;
  /** Rows whose heartbeat is older than this are not live. Default DEFAULT_MEMBER_TTL_MS of ring/. */
  membershipTtlMs?: number;
  /** Bound on a whole hand-off (join or drain) and on each peer call. Default 10 000 ms. */
  timeoutMs?: number;
  /** Most containers warmed per function. Default 8. */
  maxPerFunction?: number;
  /** Most functions in one hand-off. Default 256. */
  maxFunctions?: number;
}

const MAX_BODY_BYTES = 256 * 1024;
/** A worker warming for a draining peer answers this long before the peer's bound on the call. */
const WARM_ANSWER_MARGIN_MS = 1000;

/** The warm hand-off of one worker: see the file header. */
export class WarmHandoff {
  readonly #o: Required<Omit<WarmHandoffOptions, 'clusterKey'>> & { clusterKey: string | undefined };
  readonly #agent: Agent;
  /** Set by beforeDrain: warm requests of peers are refused. */
  #leaving = false;

  constructor(options: WarmHandoffOptions) {
    this.#o = {
      // the pool treats items used within its grace as a hand-off's: the same window
      recentWindowMs: options.pool.handOffGraceMs,
      membershipTtlMs: DEFAULT_MEMBER_TTL_MS,
      timeoutMs: 10_000,
      maxPerFunction: 8,
      maxFunctions: 256,
      ...options,
      clusterKey: options.clusterKey,
    };
    this.#agent = new Agent({ connect: { timeout: Math.min(2000, this.#o.timeoutMs) }, keepAliveTimeout: 1000 });
  }

  /**
   * This worker's hot functions: those started within the window, each with its recent peak
   * concurrency here, then those whose idle containers the keep-alive still holds here, most
   * recently used first, each with its idle containers (`idleForMs`: since the last of them went
   * idle); at most `maxFunctions`.
   */
  hot(): WarmItem[] {
    const now = this.#o.clock.now();
    const max = this.#o.maxFunctions;
    const ids = this.#o.recent.since(now - this.#o.recentWindowMs).slice(0, max);
    const items: WarmItem[] = ids.map((functionId) => ({
      functionId,
      count: Math.max(1, Math.min(this.#o.maxPerFunction, this.#o.recent.concurrency(functionId, now))),
      idleForMs: Math.max(0, now - (this.#o.recent.lastStart(functionId) ?? now)),
    }));
    const listed = new Set(ids);
    const held = this.#o.pool.idleFunctions().filter((f) => !listed.has(f.functionId));
    held.sort((a, b) => b.lastIdleSince - a.lastIdleSince);
    for (const f of held.slice(0, max - items.length)) {
      items.push({ functionId: f.functionId, count: Math.min(this.#o.maxPerFunction, f.idle), idleForMs: Math.max(0, now - f.lastIdleSince) });
    }
    return items;
  }

  /**
   * Warms `items` here (the pool's guarded warm-ups) and waits (bounded) until those starts are
   * over; answers how many containers of them are loaded, and how many starts began and were
   * dropped (no spare memory above the headroom, traffic waiting, or the bound).
   */
  async warmHere(items: readonly WarmItem[], deadline = this.#o.clock.now() + this.#o.timeoutMs): Promise<WarmResult> {
    const loads = await Promise.all(
      items.slice(0, this.#o.maxFunctions).map(async (item) => {
        try {
          const entry = this.#o.cache.peek(item.functionId) ?? (await this.#o.cache.get(item.functionId));
          return { fn: entry.fn, count: Math.max(1, Math.min(this.#o.maxPerFunction, Math.floor(item.count))), ...(item.idleForMs === undefined ? {} : { idleForMs: item.idleForMs }) };
        } catch (err) {
          // deleted since it ran (a hot list is up to a minute old): nothing to warm, no warning
          const deleted = err instanceof RfError && err.code === WorkerErrors.FUNCTION_NOT_FOUND.code;
          this.#o.logger[deleted ? 'debug' : 'warn']({ err, functionId: item.functionId }, 'hand-off: could not load a function to warm');
          return undefined;
        }
      }),
    );
    const todo = loads.filter((l) => l !== undefined);
    // The pool's warm-ups (worker/pool/warm-ups.ts): first containers first, a few starts at a
    // time; in spare memory, or for a drain's items in the place of containers idle since the ask.
    const batch = this.#o.pool.warmUp(todo);
    while (!batch.done && this.#o.clock.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    batch.cancel();
    const loaded = this.#loaded();
    return { warmed: todo.reduce((n, l) => n + Math.min(l.count, loaded.get(l.fn.id) ?? 0), 0), begun: batch.begun, dropped: batch.dropped, reservedMb: this.#o.pool.reservedMb };
  }

  /** Containers of each function loaded here (idle or busy), every version. */
  #loaded(): Map<string, number> {
    const loaded = new Map<string, number>();
    for (const f of this.#o.pool.status().functions) loaded.set(f.functionId, (loaded.get(f.functionId) ?? 0) + f.idle + f.busy);
    return loaded;
  }

  /** Before the first heartbeat: warm here the peers' hot functions this worker becomes the home or the first spill target of (targets.ts). */
  async beforeJoin(selfAddress: string): Promise<{ moved: number; warmed: number }> {
    const t0 = this.#o.clock.now();
    const deadline = t0 + this.#o.timeoutMs;
    const peers = await this.#livePeers();
    if (peers.length === 0) return { moved: 0, warmed: 0 };
    const ring = new Ring<RingMemberRow>([...peers, this.#selfRow(selfAddress)]);
    const reports = await Promise.all(peers.map(async (p) => ({ peerId: p.id, functions: await this.#hotOf(p, deadline) })));
    const items = joinTargets(ring, this.#o.workerId, reports);
    const result = items.length === 0 ? undefined : await this.warmHere(items, deadline);
    const warmed = result?.warmed ?? 0;
    this.#o.logger.info({ peers: peers.length, moved: items.length, ...result, warmed, functions: items.slice(0, 16), durationMs: this.#o.clock.now() - t0 }, 'hand-off: warmed the functions whose home or first spill moves here');
    return { moved: items.length, warmed };
  }

  /** Before the pool stops: ask, for each hot function, the worker after this one in its preference list to warm it (targets.ts). */
  async beforeDrain(): Promise<{ functions: number; warmed: number }> {
    // From now on this worker warms nothing for others: its containers are about to go (and
    // two workers draining together must not wait on each other).
    this.#leaving = true;
    const deadline = this.#o.clock.now() + this.#o.timeoutMs;
    const hot = this.hot();
    if (hot.length === 0) return { functions: 0, warmed: 0 };
    const peers = await this.#livePeers();
    if (peers.length === 0) return { functions: hot.length, warmed: 0 };
    // the ring before the drain, this worker on it: where it stands in each function's list
    const ring = new Ring<RingMemberRow>([...peers, this.#selfRow('')]);
    const byTarget = new Map<string, WarmItem[]>();
    for (const item of hot) {
      const target = drainTarget(ring, this.#o.workerId, item.functionId);
      if (target !== undefined) (byTarget.get(target) ?? byTarget.set(target, []).get(target)!).push(item);
    }
    const rows = new Map(peers.map((p) => [p.id, p]));
    const results = await Promise.all(
      [...byTarget].map(async ([id, items]) => {
        const row = rows.get(id);
        if (row === undefined) return 0; // never: a target is another worker of the ring
        const answer = await this.#call(row, 'POST', '/cluster/handoff/warm', deadline, JSON.stringify({ functions: items }));
        const warmed = (answer as { warmed?: unknown } | undefined)?.warmed;
        return typeof warmed === 'number' ? warmed : 0;
      }),
    );
    const warmed = results.reduce((a, b) => a + b, 0);
    this.#o.logger.info({ functions: hot.length, workers: byTarget.size, warmed }, 'hand-off: warmed the hot functions on their successors');
    return { functions: hot.length, warmed };
  }

  /** The hand-off's worker routes (after the cluster key check); false: not one of them. */
  async route(method: string | undefined, path: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (method === 'GET' && path === '/cluster/handoff/hot') {
      this.#send(res, 200, { functions: this.hot() });
      return true;
    }
    if (method === 'POST' && path === '/cluster/handoff/warm') {
      const items = parseItems(await readBody(req, MAX_BODY_BYTES));
      if (items === undefined) throw new RfError(WorkerErrors.BAD_INPUT, 'the body must be {"functions": [{"functionId": "...", "count": n, "idleForMs"?: n}]} (at most 256 KB)');
      if (this.#leaving || this.#o.pool.state !== 'active') throw new RfError(WorkerErrors.DRAINING, 'the worker is draining');
      // answered before the asking worker's own bound on this call ends
      const t0 = this.#o.clock.now();
      const { warmed, ...how } = await this.warmHere(items, t0 + Math.max(0, this.#o.timeoutMs - WARM_ANSWER_MARGIN_MS));
      this.#o.logger.info({ functions: items.length, warmed, ...how, capacityMb: this.#o.pool.capacityMb, durationMs: this.#o.clock.now() - t0 }, 'hand-off: warmed the functions of a draining peer');
      this.#send(res, 200, { warmed });
      return true;
    }
    return false;
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  /** This worker as a ring member (the ring reads its id only). */
  #selfRow(address: string): RingMemberRow {
    const now = this.#o.clock.now();
    return { id: this.#o.workerId, address, capacityMb: this.#o.pool.capacityMb, state: 'active', heartbeatAt: now };
  }

  async #livePeers(): Promise<WorkerRow[]> {
    const now = this.#o.clock.now();
    try {
      const rows = await this.#o.membership.list();
      return rows.filter((r) => r.id !== this.#o.workerId && r.state === 'active' && now - r.heartbeatAt <= this.#o.membershipTtlMs);
    } catch (err) {
      this.#o.logger.warn({ err }, 'hand-off: membership read failed, no hand-off');
      return [];
    }
  }

  async #hotOf(peer: WorkerRow, deadline: number): Promise<WarmItem[]> {
    const answer = await this.#call(peer, 'GET', '/cluster/handoff/hot', deadline);
    const items = answer === undefined ? undefined : validItems((answer as { functions?: unknown }).functions);
    return items ?? [];
  }

  /** One peer call, size-bounded and over by `deadline` (answer read included); undefined on any failure (logged). */
  async #call(peer: WorkerRow, method: 'GET' | 'POST', path: string, deadline: number, body?: string): Promise<unknown> {
    const leftMs = Math.max(1, deadline - this.#o.clock.now());
    try {
      const res = await request(`${peer.address}${path}`, {
        method,
        dispatcher: this.#agent,
        headers: { 'content-type': 'application/json', ...clusterHeaders(this.#o.clusterKey) },
        ...(body === undefined ? {} : { body }),
        headersTimeout: leftMs,
        bodyTimeout: leftMs,
        // the header and body timeouts bound each wait; this bounds a peer dripping its answer
        signal: AbortSignal.timeout(leftMs),
      });
      const bytes = await readBounded(res.body, MAX_CONTROL_ANSWER_BYTES);
      if (res.statusCode !== 200 || bytes === undefined) {
        this.#o.logger.warn({ peer: peer.id, path, status: res.statusCode }, 'hand-off: peer call refused');
        return undefined;
      }
      return JSON.parse(bytes.toString('utf8')) as unknown;
    } catch (err) {
      this.#o.logger.warn({ err, peer: peer.id, path }, 'hand-off: peer call failed');
      return undefined;
    }
  }

  #send(res: ServerResponse, status: number, value: unknown): void {
    const text = JSON.stringify(value);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}

function validItems(value: unknown): WarmItem[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: WarmItem[] = [];
  for (const v of value) {
    const item = v as { functionId?: unknown; count?: unknown; idleForMs?: unknown } | null;
    if (item === null || typeof item !== 'object' || typeof item.functionId !== 'string' || item.functionId.length === 0 || item.functionId.length > 256) return undefined;
    if (typeof item.count !== 'number' || !Number.isFinite(item.count) || item.count < 1) return undefined;
    const idle = item.idleForMs;
    if (idle !== undefined && (typeof idle !== 'number' || !Number.isFinite(idle) || idle < 0)) return undefined;
    out.push({ functionId: item.functionId, count: item.count, ...(idle === undefined ? {} : { idleForMs: idle }) });
  }
  return out;
}

function parseItems(body: Buffer): WarmItem[] | undefined {
  try {
    return validItems((JSON.parse(body.toString('utf8')) as { functions?: unknown } | null)?.functions);
  } catch {
    return undefined;
  }
}


