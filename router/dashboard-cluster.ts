/**
 * The cluster as the dashboard draws it: this router's ring (workers, their arcs of the circle
 * and shares, from the same Ring code that routes), the functions at their hash position with
 * their home worker, each worker's own GET /status (warm stacks, cold pool, reservations), and
 * the recent spill edges.
 *
 * Every worker read is bounded: `statusTimeoutMs` for the whole call, `maxStatusBytes` for the
 * body; reads run in parallel and one that fails only marks that worker's status unknown.
 * Function records are read from storage at most once per `functionsTtlMs`, whoever asks.
 */
import { Agent, request } from 'undici';
import { z } from 'zod';
import type { FunctionRecord, FunctionStore } from '../storage/index.ts';
import type { RingView } from './ring-view.ts';
import type { SpillEdge } from './traffic-window.ts';

/** How the dashboard names a worker's condition (shown as text and colour). */
export type WorkerCondition = 'active' | 'draining' | 'suspect' | 'gone';

const workerStatusSchema = z.object({
  id: z.string().max(128),
  state: z.string().max(32),
  runtime: z.string().max(32).optional(),
  capacityMb: z.number(),
  reservedMb: z.number(),
  inFlight: z.number(),
  coldPool: z.object({ idle: z.number(), target: z.number() }).optional(),
  functions: z.array(z.object({ functionId: z.string().max(256), version: z.number(), idle: z.number(), busy: z.number() })).max(10_000),
});

/** What a worker's GET /status told (validated). */
export type DashboardWorkerStatus = z.infer<typeof workerStatusSchema>;

/** One worker in the cluster snapshot. */
export interface DashboardWorker {
  id: string;
  address: string;
  condition: WorkerCondition;
  inRing: boolean;
  capacityMb: number;
  heartbeatAgeMs: number;
  /** Share of the hash circle (0..1), as GET /workers. */
  share: number;
  /** This router's in-flight requests at the worker. */
  inFlight: number;
  status: DashboardWorkerStatus | null;
  /** Why `status` is null. */
  statusError?: string;
}

/** One function in the cluster snapshot. */
export interface DashboardFunction {
  id: string;
  name: string;
  version: number;
  memorySize: number;
  codeSize: number;
  updatedAt: string;
  /** Where its id hashes on the circle (0..1). */
  position: number;
  /** Its home worker on this router's ring, null when the ring is empty. */
  home: string | null;
}

/** What GET /ui/api/cluster answers and the `cluster` event carries. */
export interface ClusterSnapshot {
  router: string;
  at: number;
  ttlMs: number;
  workers: DashboardWorker[];
  /** The circle by owner, clockwise from 0 (fractions). */
  arcs: Array<{ workerId: string; start: number; end: number }>;
  functions: DashboardFunction[];
  /** Functions in storage (the snapshot holds at most `maxFunctions`). */
  functionsTotal: number;
  spills: SpillEdge[];
}

export interface ClusterReaderOptions {
  view: RingView;
  functions: Pick<FunctionStore, 'list'>;
  routerId: string;
  /** Recent spill edges (from the traffic window). */
  spills: () => SpillEdge[];
  clock: () => number;
  /** Sent as x-ringfaas-cluster-key on every worker call when set. */
  clusterKey?: string;
  /** Default 1500 ms. */
  statusTimeoutMs?: number;
  /** Default 1 MB. */
  maxStatusBytes?: number;
  /** Default 5000 ms. */
  functionsTtlMs?: number;
  /** Default 500. */
  maxFunctions?: number;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Reads the cluster snapshot. */
export class ClusterReader {
  readonly #o: ClusterReaderOptions;
  readonly #agent: Agent;
  #functions: { at: number; list: FunctionRecord[] } | undefined;
  #functionsRead: Promise<FunctionRecord[]> | undefined;

  constructor(options: ClusterReaderOptions) {
    this.#o = options;
    this.#agent = new Agent({ connect: { timeout: options.statusTimeoutMs ?? 1500 }, keepAliveTimeout: 5000, connections: 4 });
  }

  /** Forgets the cached function list (after a deploy or delete through the dashboard). */
  invalidateFunctions(): void {
    this.#functions = undefined;
  }

  async snapshot(): Promise<ClusterSnapshot> {
    const { view } = this.#o;
    const ring = view.ring;
    const entries = view.describe();
    const [statuses, records] = await Promise.all([Promise.all(entries.map((w) => this.#status(w.address, w.id))), this.#functionList()]);
    const workers = entries.map((w, i): DashboardWorker => {
      const s = statuses[i] as { status: DashboardWorkerStatus | null; error?: string };
      const condition: WorkerCondition = w.draining ? 'draining' : w.suspect ? 'suspect' : w.inRing ? 'active' : 'gone';
      return {
        id: w.id,
        address: w.address,
        condition,
        inRing: w.inRing,
        capacityMb: w.capacityMb,
        heartbeatAgeMs: w.heartbeatAgeMs,
        share: w.share,
        inFlight: w.inFlight,
        status: s.status,
        ...(s.error === undefined ? {} : { statusError: s.error }),
      };
    });
    const max = this.#o.maxFunctions ?? 500;
    const functions = records.slice(0, max).map(
      (f): DashboardFunction => ({
        id: f.id,
        name: f.name,
        version: f.version,
        memorySize: f.memorySize,
        codeSize: f.codeSize,
        updatedAt: f.updatedAt,
        position: ring.size === 0 ? 0 : round6(ring.position(f.id)),
        home: ring.home(f.id) ?? null,
      }),
    );
    return {
      router: this.#o.routerId,
      at: this.#o.clock(),
      ttlMs: view.ttlMs,
      workers,
      // Six decimals: a millionth of the circle is far below a pixel, and halves the event's size.
      arcs: ring.arcs().map((a) => ({ workerId: a.workerId, start: round6(a.start), end: round6(a.end) })),
      functions,
      functionsTotal: records.length,
      spills: this.#o.spills(),
    };
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  async #functionList(): Promise<FunctionRecord[]> {
    const now = this.#o.clock();
    if (this.#functions !== undefined && now - this.#functions.at < (this.#o.functionsTtlMs ?? 5000)) return this.#functions.list;
    this.#functionsRead ??= this.#o.functions
      .list()
      .then((list) => {
        list.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
        this.#functions = { at: this.#o.clock(), list };
        return list;
      })
      .finally(() => {
        this.#functionsRead = undefined;
      });
    try {
      return await this.#functionsRead;
    } catch {
      return this.#functions?.list ?? []; // storage down: the last list, the ring still shows
    }
  }

  /** One worker's GET /status, bounded in time and size. */
  async #status(address: string, workerId: string): Promise<{ status: DashboardWorkerStatus | null; error?: string }> {
    const timeoutMs = this.#o.statusTimeoutMs ?? 1500;
    const maxBytes = this.#o.maxStatusBytes ?? 1024 * 1024;
    const headers: Record<string, string> = {};
    if (this.#o.clusterKey !== undefined) headers['x-ringfaas-cluster-key'] = this.#o.clusterKey;
    try {
      const res = await request(`${address}/status`, {
        method: 'GET',
        headers,
        dispatcher: this.#agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) {
          res.body.destroy();
          return { status: null, error: `status larger than ${maxBytes} bytes` };
        }
        chunks.push(chunk as Buffer);
      }
      if (res.statusCode !== 200) return { status: null, error: `status answered HTTP ${res.statusCode}` };
      const parsed = workerStatusSchema.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      if (!parsed.success || parsed.data.id !== workerId) return { status: null, error: 'status not understood' };
      return { status: parsed.data };
    } catch (err) {
      const code = (err as { code?: unknown; name?: unknown }).code ?? (err as { name?: unknown }).name;
      return { status: null, error: `unreachable (${typeof code === 'string' ? code : 'error'})` };
    }
  }
}
