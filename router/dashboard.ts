/**
 * The dashboard a router serves at /ui (docs/dashboard.md): the static page (router/ui/), its
 * JSON reads, and the live stream of server-sent events.
 *
 * Bounded cost whatever the number of pages open: one timer per router (running only while at
 * least one page listens) builds one traffic snapshot and one cluster snapshot per tick,
 * serialises each once and writes the same text to every stream; at most `maxStreams` streams
 * (more are refused with 503 RF_ROUTER_UI_STREAMS_FULL); a page that does not read is dropped
 * once `maxBufferedBytes` wait for it; a closed page is forgotten at once. The traffic event of
 * every tick doubles as the heartbeat that keeps proxies from closing an idle stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { RfError } from '../errors/index.ts';
import type { FunctionStore, RouterStatsStore } from '../storage/index.ts';
import { ClusterReader, type ClusterSnapshot } from './dashboard-cluster.ts';
import { StaticFiles } from './dashboard-static.ts';
import { RouterTraffic, type TrafficSnapshot } from './dashboard-traffic.ts';
import { RouterErrors } from './errors.ts';
import type { RingView } from './ring-view.ts';
import { TrafficWindow } from './traffic-window.ts';

/** A route the dashboard adds to the router's table. */
export interface DashboardRoute {
  method: 'GET';
  template: string;
  /** False for the static files: the page must load to ask for a key. */
  auth: boolean;
  run(call: { req: IncomingMessage; res: ServerResponse; params: Record<string, string> }): Promise<void>;
}

export interface DashboardOptions {
  view: RingView;
  functions: Pick<FunctionStore, 'list'>;
  /** Where routers exchange their traffic for the totals; without it the total is this router's. */
  routerStats?: RouterStatsStore;
  routerId: string;
  log: Logger;
  clock?: () => number;
  /** Sent to workers as x-ringfaas-cluster-key when set. */
  clusterKey?: string;
  /** Default 64. */
  maxStreams?: number;
  /** Default 2000 ms. */
  tickMs?: number;
  /** How often this router's traffic is written for the others' totals. Default 5000 ms. */
  publishMs?: number;
  /** Default 1 MB. */
  maxBufferedBytes?: number;
  /** Default router/ui/ beside this module. */
  uiDir?: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';

function sendJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function sseEvent(name: string, body: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(body)}\n\n`;
}

/** The dashboard of one router. */
export class Dashboard {
  readonly #o: DashboardOptions;
  readonly #clock: () => number;
  readonly #files: StaticFiles;
  readonly #window: TrafficWindow;
  readonly #traffic: RouterTraffic;
  readonly #cluster: ClusterReader;
  readonly #streams = new Set<ServerResponse>();
  #timer: NodeJS.Timeout | undefined;
  #clusterReading = false;
  #lastTraffic: string | undefined;
  #lastCluster: string | undefined;

  constructor(options: DashboardOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
    this.#files = new StaticFiles(options.uiDir);
    this.#window = new TrafficWindow({ clock: this.#clock });
    this.#traffic = new RouterTraffic({
      window: this.#window,
      routerId: options.routerId,
      log: options.log,
      clock: this.#clock,
      ...(options.routerStats === undefined ? {} : { store: options.routerStats }),
      ...(options.publishMs === undefined ? {} : { publishMs: options.publishMs }),
    });
    this.#cluster = new ClusterReader({
      view: options.view,
      functions: options.functions,
      routerId: options.routerId,
      spills: () => this.#window.spillEdges(),
      clock: this.#clock,
      ...(options.clusterKey === undefined ? {} : { clusterKey: options.clusterKey }),
    });
  }

  /** Starts publishing this router's traffic for the other routers' totals. */
  start(): void {
    this.#traffic.start();
  }

  /** Ends every stream and timer. */
  async close(): Promise<void> {
    this.#traffic.stop();
    this.#stopTicking();
    for (const res of this.#streams) res.end();
    this.#streams.clear();
    await this.#cluster.close();
  }

  /** Open event streams (for tests and metrics). */
  get streams(): number {
    return this.#streams.size;
  }

  /** Counts an answered invocation (the invoke route calls it; cheap: a few additions). */
  invoked(functionId: string, status: number, servedBy: string | undefined, served: { spills: number; start: string | undefined } | undefined, latencyMs: number): void {
    const spills = served?.spills ?? 0;
    const start = served?.start;
    const cold = start === 'cold-pool' || start === 'cold-create';
    if (spills > 0 && servedBy !== undefined) {
      const home = this.#o.view.home(functionId);
      this.#window.record({ status, latencyMs, cold, spills, servedBy, ...(home === undefined ? {} : { spilledFrom: home }) });
    } else {
      this.#window.record({ status, latencyMs, cold, spills });
    }
  }

  /** Counts an invocation the ring could not serve (RF_RING_* errors). */
  failed(status: number, latencyMs: number): void {
    this.#window.record({ status, latencyMs, cold: false, spills: 0 });
  }

  /** A function was created, updated or deleted through this router. */
  functionsChanged(): void {
    this.#cluster.invalidateFunctions();
  }

  cluster(): Promise<ClusterSnapshot> {
    return this.#cluster.snapshot();
  }

  traffic(): TrafficSnapshot {
    return this.#traffic.snapshot();
  }

  /** The routes to add to the router's table. */
  routes(): DashboardRoute[] {
    const page: DashboardRoute['run'] = async ({ req, res }) => {
      this.#files.serve('index.html', req, res);
    };
    return [
      { method: 'GET', template: '/ui', auth: false, run: page },
      { method: 'GET', template: '/ui/events', auth: true, run: async ({ req, res }) => this.#stream(req, res) },
      { method: 'GET', template: '/ui/api/cluster', auth: true, run: async ({ res }) => sendJson(res, await this.cluster()) },
      { method: 'GET', template: '/ui/api/traffic', auth: true, run: async ({ res }) => sendJson(res, this.traffic()) },
      {
        method: 'GET',
        template: '/ui/{file}',
        auth: false,
        run: async ({ req, res, params }) => {
          if (!this.#files.serve(params.file ?? '', req, res)) throw new RfError(RouterErrors.ROUTE_NOT_FOUND, `no dashboard file '${params.file ?? ''}'`);
        },
      },
    ];
  }

  /** GET /ui/events: resolves when the page goes away. */
  #stream(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const max = this.#o.maxStreams ?? 64;
    if (this.#streams.size >= max) throw new RfError(RouterErrors.UI_STREAMS_FULL, `this router already streams to ${max} dashboard pages; close one or use another router`);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    if (this.#lastCluster !== undefined) res.write(this.#lastCluster);
    if (this.#lastTraffic !== undefined) res.write(this.#lastTraffic);
    this.#streams.add(res);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#tick(), this.#o.tickMs ?? 2000);
      this.#timer.unref();
      this.#tick();
    }
    return new Promise((resolve) => {
      const gone = (): void => {
        this.#streams.delete(res);
        if (this.#streams.size === 0) this.#stopTicking();
        resolve();
      };
      res.once('close', gone);
      req.once('error', gone);
    });
  }

  #stopTicking(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#lastCluster = undefined;
    this.#lastTraffic = undefined;
  }

  #tick(): void {
    this.#lastTraffic = sseEvent('traffic', this.#traffic.snapshot());
    this.#broadcast(this.#lastTraffic);
    if (this.#clusterReading) return; // the last read is still waiting for a slow worker
    this.#clusterReading = true;
    this.#cluster
      .snapshot()
      .then((snapshot) => {
        if (this.#streams.size === 0) return;
        this.#lastCluster = sseEvent('cluster', snapshot);
        this.#broadcast(this.#lastCluster);
      })
      .catch((err: unknown) => this.#o.log.warn({ err }, 'dashboard cluster snapshot failed'))
      .finally(() => {
        this.#clusterReading = false;
      });
  }

  #broadcast(text: string): void {
    const limit = this.#o.maxBufferedBytes ?? 1024 * 1024;
    for (const res of this.#streams) {
      if (res.writableLength > limit) {
        res.destroy(); // a page that stopped reading: its 'close' forgets it
        continue;
      }
      res.write(text);
    }
  }
}
