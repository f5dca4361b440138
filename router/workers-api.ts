/**
 * The operations API on workers: GET /workers (the ring as this router sees it), POST /workers
 * (register a running worker), DELETE /workers/{id} (drain it, then remove its row).
 *
 * Registration (POST /workers) is by proof: the address must answer a random challenge with an
 * HMAC under the cluster key (contract/cluster-auth.ts) before anything is written, and an id
 * that heartbeats at one address cannot be moved to another.
 *
 * Drain, step by step: the worker is told POST /drain; a worker with the warm hand-off
 * (worker/handoff) first warms its hot functions on their next homes while it still serves,
 * so this call waits (GET /status) until the worker's state is no longer `active` (its pool
 * stops taking work: at once without a hand-off); only then does this router stop sending it
 * new work and set its row to `draining` (off every router's ring): a function's first call
 * on its next home comes after its warm-up there, not during it. From then on the worker
 * answers 503 RF_WORKER_DRAINING to new invocations, which other routers spill past until they
 * read the `draining` row, within one poll. This call then waits until the worker has no
 * invocation in flight (GET /status); both waits together are bounded by `drainTimeoutMs`;
 * then the row is removed. No request is lost: new ones spill, running ones finish. A worker
 * that does not answer POST /drain is taken off the ring at once.
 */
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import { z } from 'zod';
import { RfError, hasCode } from '../errors/index.ts';
import { RingErrors } from '../ring/index.ts';
import { StorageErrors, type MembershipStore, type WorkerRow } from '../storage/index.ts';
import { MAX_CONTROL_ANSWER_BYTES, readBounded, clusterHeaders, newChallenge, verifyMembershipProof } from '../contract/index.ts';
import type { RequestContext, WorkersApi } from './invoker.ts';
import type { RingView } from './ring-view.ts';
import { systemClock, type Clock } from '../clock/index.ts';

export interface RingWorkersApiOptions {
  view: RingView;
  membership: MembershipStore;
  /** This router's id, shown in GET /workers. */
  routerId: string;
  /** The bounded-load factor in use (shown in GET /workers). */
  loadFactor?: number;
  clock?: Clock;
  /** Timeout of the health check and other calls to the worker. Default 2000 ms. */
  callTimeoutMs?: number;
  /** How long DELETE waits for the worker's in-flight work. Default 30 000 ms. */
  drainTimeoutMs?: number;
  /** How often the worker's status is read while draining. Default 200 ms. */
  drainPollMs?: number;
  /** Memory assumed when neither the body nor the worker's /status tells. Default 1024. */
  defaultCapacityMb?: number;
  /**
   * The cluster key: sent on /status and /drain, and what a worker must prove before POST
   * /workers lets its address in (contract/cluster-auth.ts). Without it, POST /workers refuses.
   */
  clusterKey?: string;
}

const workerBody = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'id: 1-64 of A-Z a-z 0-9 . _ -').optional(),
    address: z
      .string()
      .max(2048)
      .refine((value) => {
        try {
          const url = new URL(value);
          return (url.protocol === 'http:' || url.protocol === 'https:') && url.search === '' && url.hash === '';
        } catch {
          return false;
        }
      }, 'address: an http(s) base URL, e.g. http://127.0.0.1:7001'),
    capacityMb: z.number().int().min(128).max(4_194_304).optional(),
  })
  .strict();

const proveAnswer = z.object({ id: z.string().max(64), address: z.string().max(2048), proof: z.string().max(128) });

const statusBody = z.object({ id: z.string(), capacityMb: z.number().optional(), inFlight: z.number().optional(), state: z.string().optional() });

/** What GET /workers answers. */
export interface WorkersListing {
  router: string;
  ringSize: number;
  ttlMs: number;
  loadFactor: number | null;
  totalLoad: number;
  workers: ReturnType<RingView['describe']>;
}

/** WorkersApi over the membership store and this router's ring view. */
export class RingWorkersApi implements WorkersApi {
  readonly #o: RingWorkersApiOptions;
  readonly #clock: Clock;
  readonly #callTimeoutMs: number;
  readonly #agent: Agent;

  constructor(options: RingWorkersApiOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#callTimeoutMs = options.callTimeoutMs ?? 2000;
    this.#agent = new Agent({ connect: { timeout: this.#callTimeoutMs }, keepAliveTimeout: 1000 });
  }

  async list(): Promise<WorkersListing> {
    const view = this.#o.view;
    return {
      router: this.#o.routerId,
      ringSize: view.ring.size,
      ttlMs: view.ttlMs,
      loadFactor: this.#o.loadFactor === undefined || !Number.isFinite(this.#o.loadFactor) ? null : this.#o.loadFactor,
      totalLoad: view.totalLoad,
      workers: view.describe(),
    };
  }

  async add(body: unknown, ctx: RequestContext): Promise<{ status: number; body: unknown }> {
    const parsed = workerBody.safeParse(body);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
      throw new RfError(RingErrors.BAD_WORKER, `invalid worker: ${problems.join('; ')}`, { details: { problems } });
    }
    const address = parsed.data.address.replace(/\/+$/, '');
    const health = await this.#call(address, '/healthz', 'GET');
    if (health === undefined || health.status !== 200) {
      throw new RfError(RingErrors.WORKER_UNREACHABLE, `no worker answers GET ${address}/healthz`, { details: { address, status: health?.status ?? null } });
    }
    // Proof first, and without the key: the address is not trusted until it proves it holds it.
    const id = await this.#prove(address, parsed.data.id);
    const status = await this.#status(address);
    if (status !== undefined && status.id !== id) {
      throw new RfError(RingErrors.BAD_WORKER, `the worker at ${address} is '${status.id}', not '${id}'`, { details: { address, actualId: status.id } });
    }
    const existing = await this.#o.membership.get(id);
    const now = this.#clock.now();
    // A worker that heartbeats under this id keeps its address: no request can move it.
    if (existing !== undefined && existing.address !== address && now - existing.heartbeatAt < this.#o.view.ttlMs) {
      throw new RfError(RingErrors.WORKER_ID_TAKEN, `worker '${id}' is live at another address; its address cannot change while it heartbeats`, {
        details: { id, address: existing.address },
      });
    }
    const row: WorkerRow = {
      id,
      address,
      capacityMb: parsed.data.capacityMb ?? status?.capacityMb ?? existing?.capacityMb ?? this.#o.defaultCapacityMb ?? 1024,
      state: 'active',
      heartbeatAt: now,
      startedAt: existing?.startedAt ?? now,
    };
    await this.#o.membership.upsert(row);
    await this.#o.view.refresh();
    ctx.log.info({ workerId: id, address }, 'worker added');
    return { status: existing === undefined ? 201 : 200, body: row };
  }

  async remove(workerId: string, ctx: RequestContext): Promise<{ status: number; body: unknown }> {
    const { membership, view } = this.#o;
    const row = (await membership.get(workerId)) ?? view.row(workerId);
    if (row === undefined) throw new RfError(RingErrors.WORKER_NOT_FOUND, `no worker '${workerId}' in the membership`);
    const started = this.#clock.now();
    const deadline = started + (this.#o.drainTimeoutMs ?? 30_000);
    // The worker is told first, so that a heartbeat of its own cannot set the row back to active.
    const drain = await this.#call(row.address, '/drain', 'POST');
    let reachable = drain !== undefined;
    // Its warm hand-off runs while it still serves: the ring changes once the next homes are warm.
    if (reachable) reachable = await this.#waitNotActive(row.address, deadline);
    view.markDraining(workerId);
    await this.#setDraining(workerId);
    let inFlight: number | null = null;
    if (reachable) ({ inFlight, reachable } = await this.#waitIdle(row.address, deadline));
    await membership.remove(workerId);
    await view.refresh();
    const drained = !reachable || inFlight === 0;
    const waitedMs = this.#clock.now() - started;
    ctx.log.info({ workerId, drained, inFlight, reachable, waitedMs }, 'worker drained and removed');
    return { status: 200, body: { id: workerId, address: row.address, drained, reachable, inFlight, waitedMs } };
  }

  /** Releases keep-alive connections. */
  async close(): Promise<void> {
    await this.#agent.close();
  }

  async #setDraining(workerId: string): Promise<void> {
    try {
      await this.#o.membership.setState(workerId, 'draining');
    } catch (err) {
      if (!hasCode(err, StorageErrors.NOT_FOUND)) throw err;
    }
  }

  /**
   * Polls GET /status until the worker's state is not `active` (its warm hand-off is over and
   * its pool takes no new work), the worker is gone (answers false), or `deadline`.
   */
  async #waitNotActive(address: string, deadline: number): Promise<boolean> {
    for (;;) {
      const status = await this.#call(address, '/status', 'GET');
      if (status === undefined) return false; // it finished and left
      const parsed = status.status === 200 ? statusBody.safeParse(status.json) : undefined;
      // a worker that does not tell its state is not waited for
      if (parsed?.success !== true || parsed.data.state !== 'active' || this.#clock.now() >= deadline) return true;
      await new Promise((resolve) => setTimeout(resolve, this.#o.drainPollMs ?? 200));
    }
  }

  /** Polls GET /status until nothing is in flight, the worker is gone, or `deadline`. */
  async #waitIdle(address: string, deadline: number): Promise<{ inFlight: number | null; reachable: boolean }> {
    let inFlight: number | null = null;
    for (;;) {
      const status = await this.#call(address, '/status', 'GET');
      if (status === undefined) return { inFlight, reachable: false }; // it finished and left
      const parsed = status.status === 200 ? statusBody.safeParse(status.json) : undefined;
      inFlight = parsed?.success === true ? (parsed.data.inFlight ?? null) : null;
      if (inFlight === 0 || this.#clock.now() >= deadline) return { inFlight, reachable: true };
      await new Promise((resolve) => setTimeout(resolve, this.#o.drainPollMs ?? 200));
    }
  }

  /**
   * Sends the address a random challenge (no key) and checks its HMAC answer; resolves the
   * proven worker id, or throws RF_RING_WORKER_UNPROVEN (nothing is written).
   */
  async #prove(address: string, claimedId: string | undefined): Promise<string> {
    const key = this.#o.clusterKey;
    if (key === undefined) {
      throw new RfError(RingErrors.WORKER_UNPROVEN, 'this router has no cluster key (RINGFAAS_CLUSTER_KEY): no worker can prove its membership, so none is registered by request');
    }
    const challenge = newChallenge();
    const res = await this.#call(address, '/cluster/prove', 'POST', JSON.stringify({ challenge }));
    const answer = res?.status === 200 ? proveAnswer.safeParse(res.json) : undefined;
    if (answer === undefined || !answer.success) {
      throw new RfError(RingErrors.WORKER_UNPROVEN, `${address} did not answer the membership challenge: it is not a worker of this cluster`, {
        details: { address, status: res?.status ?? null },
      });
    }
    const id = claimedId ?? answer.data.id;
    if (!verifyMembershipProof(key, challenge, id, address, answer.data.proof)) {
      const hint = answer.data.address !== address ? ` (the worker there advertises ${answer.data.address.slice(0, 200)})` : '';
      throw new RfError(RingErrors.WORKER_UNPROVEN, `the answer from ${address} does not prove the cluster key for worker '${id}' at this address${hint}`, {
        details: { address, id },
      });
    }
    return id;
  }

  async #status(address: string): Promise<z.infer<typeof statusBody> | undefined> {
    const res = await this.#call(address, '/status', 'GET');
    if (res === undefined || res.status !== 200) return undefined;
    const parsed = statusBody.safeParse(res.json);
    return parsed.success ? parsed.data : undefined;
  }

  /** One call to a worker; undefined when it could not be reached. */
  async #call(address: string, path: string, method: 'GET' | 'POST', body?: string): Promise<{ status: number; json: unknown } | undefined> {
    // The key goes only to routes that need it, never to /healthz or /cluster/prove: those are
    // what an address not yet proven is asked.
    const open = path === '/healthz' || path === '/cluster/prove';
    const headers = { ...(open ? {} : clusterHeaders(this.#o.clusterKey)), ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
    try {
      const res = await request(`${address}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        dispatcher: this.#agent,
        headersTimeout: this.#callTimeoutMs,
        bodyTimeout: this.#callTimeoutMs,
        signal: AbortSignal.timeout(this.#callTimeoutMs),
      });
      // A peer's bytes: bounded, counted as they come.
      const text = (await readBounded(res.body, MAX_CONTROL_ANSWER_BYTES))?.toString('utf8') ?? '';
      let json: unknown = undefined;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined; // not JSON: only the status matters to the caller
      }
      return { status: res.statusCode, json };
    } catch {
      return undefined; // unreachable: the caller decides what that means
    }
  }
}
