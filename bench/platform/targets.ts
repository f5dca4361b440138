/**
 * Benchmark targets: what `--target` names, and starting each one.
 *
 *   ringfaas       Azurite (in this process, in memory) + N workers (worker/main.ts) + 1 router
 *                  (router/main.ts), each a child process
 *   redis-design   the same Azurite, Redis (RINGFAAS_REDIS_URL or a redis-server started here),
 *                  N Redis-design workers and 1 web service, each a child process
 *   limit          the bare forwarding chain: hop 1 and hop 2 child processes (bench/limit)
 *   url=<base>     any platform speaking the seed's API (the function is deployed there)
 *   invoke=<url>   a ready invoke URL (nothing deployed)
 *
 * Identical worker sets: the same count, memory, cold-pool size and runtime for ringfaas and
 * redis-design.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RfError } from '../../errors/index.ts';
import { BenchErrors } from '../errors.ts';
import { functionSource, zipIndex } from '../functions/code.ts';
import { startRedisServer, freePort, type RunningRedisServer } from '../redis-design/redis-server.ts';
import { waitHttp, waitReady, type Child } from './children.ts';
import { ChildGroup } from './child-group.ts';
import { componentEnv, workerSettingsEnv } from './component-env.ts';
import { deployFunction, undeployFunction } from './deploy-function.ts';
import type { TargetProcess } from '../load/process-cpu.ts';
import type { RuntimeKind } from './runtime.ts';
import type { TargetSpec } from './target-spec.ts';

export { parseTarget, targetName, type TargetSpec } from './target-spec.ts';
export { deployFunction } from './deploy-function.ts';

export interface PlatformSettings {
  workers: number;
  workerMemoryMb: number;
  coldPoolSize: number;
  runtime: RuntimeKind;
  /** Memory of the benchmark function, MB. */
  functionMemoryMb: number;
  /** The function's idle timeout (the backoff test shortens it); undefined = platform default. */
  idleTimeoutMs?: number;
  /** Containers of the limit chain (the highest concurrency). */
  limitContainers: number;
  /** Redis for the Redis design; undefined = start a redis-server. */
  redisUrl?: string;
  logDir: string;
  logLevel: string;
  /** Bound on each component's start, ms. */
  readyTimeoutMs: number;
  /**
   * processes (default): each router, worker, web service and hop its own process, storage in
   * Azurite; shared: each target's whole platform in one process on in-memory stores
   * (hosted.ts).
   */
  layout?: 'processes' | 'shared';
  /** Node flags for every Node process of a target (e.g. --cpu-prof). */
  nodeFlags?: string[];
  /** Extra environment of ringfaas routers (e.g. RINGFAAS_ASYNC_CONCURRENCY). */
  routerEnv?: Record<string, string>;
  /** Extra environment of workers, processes layout (e.g. RINGFAAS_KEEPALIVE_POLICY). */
  workerEnv?: Record<string, string>;
}

/** A target ready to take invocations. */
export interface RunningTarget {
  name: string;
  invokeUrl: string;
  /** The platform's public base URL (undefined for invoke= and limit). */
  baseUrl?: string;
  functionId?: string;
  /** The Node processes started for it (CPU accounting); empty for url= and invoke=. */
  processes?: readonly TargetProcess[];
  /** Undeploys (when deployed here) and stops what was started. */
  stop(): Promise<void>;
}

/** A started platform before the benchmark function is deployed on it. */
interface StartedPlatform {
  baseUrl: string;
  processes: readonly TargetProcess[];
  stop(): Promise<void>;
}

/** Shared by the targets of one run: one Azurite, one Redis server. */
export class TargetLauncher {
  readonly #settings: PlatformSettings;
  #azurite: Promise<{ connectionString: string; stop(): Promise<void> }> | undefined;
  #redis: Promise<RunningRedisServer | undefined> | undefined;
  /** Components started one by one for a scenario (extra workers, dispatchers). */
  readonly #extra: ChildGroup;
  /** Every worker id started (their containers are removed on close, even after a kill -9). */
  readonly #workerIds = new Set<string>();

  constructor(settings: PlatformSettings) {
    this.#settings = settings;
    this.#extra = this.#group();
  }

  async start(spec: TargetSpec): Promise<RunningTarget> {
    if (this.#settings.layout === 'shared' && (spec.kind === 'ringfaas' || spec.kind === 'redis-design' || spec.kind === 'limit')) {
      const hosted = await this.#hosted(spec.kind);
      if (spec.kind === 'limit') return { name: 'limit', invokeUrl: hosted.baseUrl, processes: hosted.processes, stop: hosted.stop };
      return this.#deployed(spec.kind, hosted);
    }
    switch (spec.kind) {
      case 'ringfaas':
        return this.#deployed('ringfaas', await this.#ringfaas());
      case 'redis-design':
        return this.#deployed('redis-design', await this.#redisDesign());
      case 'limit':
        return this.#limit();
      case 'url':
        return this.#deployed(spec.base, { baseUrl: spec.base, processes: [], stop: async () => undefined });
      case 'invoke':
        return { name: spec.url, invokeUrl: spec.url, stop: async () => undefined };
    }
  }

  /** The shared storage's connection string (starts Azurite on first use). */
  connectionString(): Promise<string> {
    // Loaded on first use: the shared layout runs without Azure storage.
    this.#azurite ??= import('../../storage/index.ts').then((storage) => storage.startAzurite({ startTimeoutMs: 60_000 }));
    return this.#azurite.then((a) => a.connectionString);
  }

  /** The Redis URL of the run (starts a redis-server on first use unless one was given). */
  async redisUrl(): Promise<string> {
    if (this.#settings.redisUrl !== undefined) return this.#settings.redisUrl;
    this.#redis ??= startRedisServer();
    const server = await this.#redis;
    return (server as RunningRedisServer).url;
  }

  /**
   * One more ringfaas worker (worker/main.ts), which joins the ring by itself; for the ring
   * scenarios. Resolves once it answers /healthz.
   */
  async startRingfaasWorker(): Promise<{ id: string; address: string; kill(): Promise<void>; stop(): Promise<void> }> {
    const id = `bench-rf-extra-${randomBytes(3).toString('hex')}`;
    const { child, address } = await this.#ringfaasWorker(this.#extra, id, Date.now() + this.#settings.readyTimeoutMs);
    return { id, address, kill: () => child.kill(), stop: () => child.stop() };
  }

  /**
   * A standalone asynchronous-invocation dispatcher (router/async-dispatcher-main.ts) on the
   * shared storage, with `concurrency` loops; for the async scenario.
   */
  async startDispatcher(concurrency: number, env: Record<string, string> = {}): Promise<{ name: string; pid: number; stop(): Promise<void> }> {
    const connectionString = await this.connectionString();
    const name = `dispatcher-c${concurrency}-${randomBytes(2).toString('hex')}`;
    const child = this.#extra.spawn({
      name,
      main: 'router/async-dispatcher-main.ts',
      env: this.#env({ ...env, RINGFAAS_ROUTER_ID: name, RINGFAAS_ASYNC_CONCURRENCY: String(concurrency), RINGFAAS_STORAGE_CONNECTION_STRING: connectionString, RINGFAAS_LOG_LEVEL: 'info' }),
    });
    // Ready once it logs its metrics address.
    const deadline = Date.now() + this.#settings.readyTimeoutMs;
    for (;;) {
      const text = await readFile(child.logFile, 'utf8').catch(() => '');
      if (text.includes('dispatcher running')) break;
      if (child.process.exitCode !== null || Date.now() > deadline) throw new RfError(BenchErrors.COMPONENT_START_FAILED, `${name} did not start; see ${child.logFile}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      name,
      pid: child.process.pid as number,
      stop: async () => {
        await child.stop();
        this.#extra.remove(child);
      },
    };
  }

  /** Stops the shared Azurite and Redis (targets must be stopped first). */
  async close(): Promise<void> {
    const azurite = this.#azurite;
    const redis = this.#redis;
    this.#azurite = undefined;
    this.#redis = undefined;
    await this.#extra.stop();
    // Workers killed on purpose (failover) leave their containers, as a crash would.
    const { removeWorkerLeftovers } = await import('../../worker/index.ts');
    await removeWorkerLeftovers([...this.#workerIds]).catch(() => 0);
    this.#workerIds.clear();
    await Promise.allSettled([azurite?.then((a) => a.stop()), redis?.then((r) => r?.stop())]);
  }

  #group(): ChildGroup {
    const s = this.#settings;
    return new ChildGroup({ logDir: s.logDir, ...(s.nodeFlags === undefined ? {} : { nodeFlags: s.nodeFlags }) });
  }

  #env(extra: Record<string, string>): NodeJS.ProcessEnv {
    if (extra.RINGFAAS_WORKER_ID !== undefined) this.#workerIds.add(extra.RINGFAAS_WORKER_ID);
    return componentEnv(process.env, this.#settings.logLevel, extra);
  }

  /** A worker's environment (any design's): its id, the run's worker settings, and `extra`. */
  #workerEnv(id: string, extra: Record<string, string>): NodeJS.ProcessEnv {
    return this.#env({ ...this.#settings.workerEnv, ...extra, RINGFAAS_WORKER_ID: id, ...workerSettingsEnv(this.#settings) });
  }

  /** Starts a ringfaas worker (worker/main.ts) in `group`; resolves once it answers /healthz. */
  async #ringfaasWorker(group: ChildGroup, id: string, deadline: number, name = id): Promise<{ child: Child; address: string }> {
    const connectionString = await this.connectionString();
    const port = await freePort();
    const child = group.spawn({
      name,
      main: 'worker/main.ts',
      env: this.#workerEnv(id, { RINGFAAS_WORKER_PORT: String(port), RINGFAAS_STORAGE_CONNECTION_STRING: connectionString }),
    });
    const address = `http://127.0.0.1:${port}`;
    await waitHttp(`${address}/healthz`, deadline, undefined, name);
    return { child, address };
  }

  async #hosted(kind: 'ringfaas' | 'redis-design' | 'limit'): Promise<StartedPlatform> {
    const s = this.#settings;
    const extra: Record<string, string> = {};
    if (kind === 'redis-design') extra.RINGFAAS_REDIS_URL = await this.redisUrl();
    if (kind === 'limit') {
      extra.RINGFAAS_BENCH_ZIP_FILE = await writeLimitZip();
      extra.RINGFAAS_BENCH_CONTAINERS = String(s.limitContainers);
    }
    return this.#group().starting(async (group) => {
      const child = group.spawn({
        name: `hosted-${kind}`,
        ipc: true,
        env: this.#env({
          ...extra,
          RINGFAAS_BENCH_ROLE: 'hosted',
          RINGFAAS_BENCH_PLATFORM: kind,
          RINGFAAS_BENCH_WORKERS: String(s.workers),
          ...workerSettingsEnv(s),
          RINGFAAS_BENCH_MEMORY_MB: String(s.functionMemoryMb),
        }),
      });
      const baseUrl = await waitReady(child, s.readyTimeoutMs);
      if (kind === 'ringfaas') await waitHttp(`${baseUrl}/workers`, Date.now() + s.readyTimeoutMs, (body) => listedWorkers(body) >= s.workers, child.name);
      return started(group, baseUrl);
    });
  }

  async #ringfaas(): Promise<StartedPlatform> {
    const s = this.#settings;
    const connectionString = await this.connectionString();
    const deadline = Date.now() + s.readyTimeoutMs;
    const run = randomBytes(2).toString('hex');
    return this.#group().starting(async (group) => {
      const startWorker = (i: number): Promise<unknown> => this.#ringfaasWorker(group, `bench-rf-${run}-${i}`, deadline, `ringfaas-worker-${i}`);
      await startWorkerSet(s.workers, startWorker);
      const port = await freePort();
      const router = group.spawn({
        name: 'ringfaas-router',
        main: 'router/main.ts',
        front: true,
        env: this.#env({ ...s.routerEnv, RINGFAAS_PORT: String(port), RINGFAAS_ROUTER_ID: `bench-router-${run}`, RINGFAAS_STORAGE_CONNECTION_STRING: connectionString }),
      });
      const baseUrl = `http://127.0.0.1:${port}`;
      await waitHttp(`${baseUrl}/workers`, deadline, (body) => listedWorkers(body) >= s.workers, router.name);
      return started(group, baseUrl);
    });
  }

  async #redisDesign(): Promise<StartedPlatform> {
    const s = this.#settings;
    const run = randomBytes(3).toString('hex');
    const base = {
      RINGFAAS_STORAGE_CONNECTION_STRING: await this.connectionString(),
      RINGFAAS_REDIS_URL: await this.redisUrl(),
      RINGFAAS_BENCH_REDIS_PREFIX: `rfbench:${run}:`,
    };
    return this.#group().starting(async (group) => {
      await startWorkerSet(s.workers, async (i) => {
        const child = group.spawn({ name: `redis-worker-${i}`, ipc: true, env: this.#workerEnv(`bench-rd-${run}-${i}`, { ...base, RINGFAAS_BENCH_ROLE: 'redis-worker' }) });
        await waitReady(child, s.readyTimeoutMs);
      });
      const web = group.spawn({ name: 'redis-web', ipc: true, front: true, env: this.#env({ ...base, RINGFAAS_BENCH_ROLE: 'redis-web' }) });
      return started(group, await waitReady(web, s.readyTimeoutMs));
    });
  }

  async #limit(): Promise<RunningTarget> {
    const s = this.#settings;
    const zipFile = await writeLimitZip();
    return this.#group().starting(async (group) => {
      const hop2 = group.spawn({
        name: 'limit-hop2',
        ipc: true,
        env: this.#env({
          RINGFAAS_BENCH_ROLE: 'hop-container',
          RINGFAAS_RUNTIME: s.runtime,
          RINGFAAS_WORKER_ID: `bench-limit-${randomBytes(2).toString('hex')}`,
          RINGFAAS_BENCH_ZIP_FILE: zipFile,
          RINGFAAS_BENCH_CONTAINERS: String(s.limitContainers),
          RINGFAAS_BENCH_MEMORY_MB: String(s.functionMemoryMb),
        }),
      });
      const hop2Url = await waitReady(hop2, s.readyTimeoutMs);
      const hop1 = group.spawn({ name: 'limit-hop1', ipc: true, front: true, env: this.#env({ RINGFAAS_BENCH_ROLE: 'hop-proxy', RINGFAAS_BENCH_NEXT: hop2Url }) });
      const hop1Url = await waitReady(hop1, s.readyTimeoutMs);
      return { name: 'limit', invokeUrl: `${hop1Url}/invoke`, processes: group.processes(), stop: () => group.stop() };
    });
  }

  /** Deploys the benchmark function on a platform with the seed's API. */
  async #deployed(name: string, platform: StartedPlatform): Promise<RunningTarget> {
    try {
      const functionId = await deployFunction(platform.baseUrl, this.#settings);
      const invokeUrl = `${platform.baseUrl}/functions/${encodeURIComponent(functionId)}/invoke`;
      return {
        name,
        invokeUrl,
        baseUrl: platform.baseUrl,
        functionId,
        processes: platform.processes,
        stop: async () => {
          await undeployFunction(platform.baseUrl, functionId);
          await platform.stop();
        },
      };
    } catch (err) {
      await platform.stop();
      throw err;
    }
  }
}

/** The first worker alone (it builds the runtime image when missing), then the others at once. */
async function startWorkerSet(count: number, startWorker: (i: number) => Promise<unknown>): Promise<void> {
  await startWorker(1);
  await Promise.all(Array.from({ length: count - 1 }, (_, i) => startWorker(i + 2)));
}

function started(group: ChildGroup, baseUrl: string): StartedPlatform {
  return { baseUrl, processes: group.processes(), stop: () => group.stop() };
}

/** The limit chain's function, written to a fresh temporary folder; answers the file. */
async function writeLimitZip(): Promise<string> {
  const zipFile = join(await mkdtemp(join(tmpdir(), 'ringfaas-limit-')), 'function.zip');
  await writeFile(zipFile, zipIndex(await functionSource('instance-id')));
  return zipFile;
}

function listedWorkers(body: unknown): number {
  const list = Array.isArray(body) ? body : (body as { workers?: unknown } | undefined)?.workers;
  return Array.isArray(list) ? list.length : 0;
}
