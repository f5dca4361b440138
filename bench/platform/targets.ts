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
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RfError } from '../../errors/index.ts';
import { BenchErrors } from '../errors.ts';
import { functionSource, zipIndex } from '../functions/code.ts';
import { startRedisServer, freePort, type RunningRedisServer } from '../redis-design/redis-server.ts';
import { spawnChild, waitHttp, waitReady, type Child } from './children.ts';
import type { TargetProcess } from '../load/process-cpu.ts';
import type { RuntimeKind } from './runtime.ts';
import type { TargetSpec } from './target-spec.ts';

export { parseTarget, targetName, type TargetSpec } from './target-spec.ts';

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
  readonly #extra = new Set<Child>();
  /** Every worker id started (their containers are removed on close, even after a kill -9). */
  readonly #workerIds = new Set<string>();

  constructor(settings: PlatformSettings) {
    this.#settings = settings;
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
    return this.#connectionString();
  }

  /** The Redis URL of the run (starts a redis-server on first use unless one was given). */
  redisUrl(): Promise<string> {
    return this.#redisUrl();
  }

  /**
   * One more ringfaas worker (worker/main.ts), which joins the ring by itself; for the ring
   * scenarios. Resolves once it answers /healthz.
   */
  async startRingfaasWorker(): Promise<{ id: string; address: string; kill(): Promise<void>; stop(): Promise<void> }> {
    const s = this.#settings;
    const connectionString = await this.#connectionString();
    const id = `bench-rf-extra-${randomBytes(3).toString('hex')}`;
    const port = await freePort();
    const child = spawnChild({
      name: id,
      main: 'worker/main.ts',
      logDir: s.logDir,
      env: this.#env({
        RINGFAAS_WORKER_ID: id,
        RINGFAAS_WORKER_PORT: String(port),
        RINGFAAS_WORKER_MEMORY_MB: String(s.workerMemoryMb),
        RINGFAAS_COLD_POOL_SIZE: String(s.coldPoolSize),
        RINGFAAS_RUNTIME: s.runtime,
        RINGFAAS_STORAGE_CONNECTION_STRING: connectionString,
      }),
    });
    this.#extra.add(child);
    const address = `http://127.0.0.1:${port}`;
    await waitHttp(`${address}/healthz`, Date.now() + s.readyTimeoutMs, undefined, id);
    return { id, address, kill: () => child.kill(), stop: () => child.stop() };
  }

  /**
   * A standalone asynchronous-invocation dispatcher (router/async-dispatcher-main.ts) on the
   * shared storage, with `concurrency` loops; for the async scenario.
   */
  async startDispatcher(concurrency: number, env: Record<string, string> = {}): Promise<{ name: string; pid: number; stop(): Promise<void> }> {
    const s = this.#settings;
    const connectionString = await this.#connectionString();
    const name = `dispatcher-c${concurrency}-${randomBytes(2).toString('hex')}`;
    const child = spawnChild({
      name,
      main: 'router/async-dispatcher-main.ts',
      logDir: s.logDir,
      ...nodeFlagsOf(s),
      env: this.#env({ ...env, RINGFAAS_ROUTER_ID: name, RINGFAAS_ASYNC_CONCURRENCY: String(concurrency), RINGFAAS_STORAGE_CONNECTION_STRING: connectionString, RINGFAAS_LOG_LEVEL: 'info' }),
    });
    this.#extra.add(child);
    // Ready once it logs its metrics address.
    const deadline = Date.now() + s.readyTimeoutMs;
    const { readFile } = await import('node:fs/promises');
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
        this.#extra.delete(child);
      },
    };
  }

  /** Stops the shared Azurite and Redis (targets must be stopped first). */
  async close(): Promise<void> {
    const azurite = this.#azurite;
    const redis = this.#redis;
    this.#azurite = undefined;
    this.#redis = undefined;
    await Promise.allSettled([...this.#extra].map((c) => c.stop()));
    this.#extra.clear();
    // Workers killed on purpose (failover) leave their containers, as a crash would.
    const { removeWorkerLeftovers } = await import('../../worker/index.ts');
    await removeWorkerLeftovers([...this.#workerIds]).catch(() => 0);
    this.#workerIds.clear();
    await Promise.allSettled([azurite?.then((a) => a.stop()), redis?.then((r) => r?.stop())]);
  }

  #connectionString(): Promise<string> {
    // Loaded on first use: the shared layout runs without Azure storage.
    this.#azurite ??= import('../../storage/index.ts').then((storage) => storage.startAzurite({ startTimeoutMs: 60_000 }));
    return this.#azurite.then((a) => a.connectionString);
  }

  async #redisUrl(): Promise<string> {
    if (this.#settings.redisUrl !== undefined) return this.#settings.redisUrl;
    this.#redis ??= startRedisServer();
    const server = await this.#redis;
    return (server as RunningRedisServer).url;
  }

  #env(extra: Record<string, string>): NodeJS.ProcessEnv {
    if (extra.RINGFAAS_WORKER_ID !== undefined) this.#workerIds.add(extra.RINGFAAS_WORKER_ID);
    const env: NodeJS.ProcessEnv = { ...process.env, RINGFAAS_LOG_LEVEL: this.#settings.logLevel, ...extra };
    // The benchmark's components listen on loopback without keys, whatever the shell says.
    for (const name of BENCH_UNSET_VARIABLES) if (!(name in extra)) delete env[name];
    return env;
  }

  async #hosted(kind: 'ringfaas' | 'redis-design' | 'limit'): Promise<StartedPlatform> {
    const s = this.#settings;
    const extra: Record<string, string> = {};
    if (kind === 'redis-design') extra.RINGFAAS_REDIS_URL = await this.#redisUrl();
    if (kind === 'limit') {
      const dir = await mkdtemp(join(tmpdir(), 'ringfaas-limit-'));
      extra.RINGFAAS_BENCH_ZIP_FILE = join(dir, 'function.zip');
      await writeFile(extra.RINGFAAS_BENCH_ZIP_FILE, zipIndex(await functionSource('instance-id')));
      extra.RINGFAAS_BENCH_CONTAINERS = String(s.limitContainers);
    }
    const child = spawnChild({
      name: `hosted-${kind}`,
      main: 'bench/platform/child-main.ts',
      logDir: s.logDir,
      ipc: true,
      ...nodeFlagsOf(s),
      env: this.#env({
        ...extra,
        RINGFAAS_BENCH_ROLE: 'hosted',
        RINGFAAS_BENCH_PLATFORM: kind,
        RINGFAAS_BENCH_WORKERS: String(s.workers),
        RINGFAAS_WORKER_MEMORY_MB: String(s.workerMemoryMb),
        RINGFAAS_COLD_POOL_SIZE: String(s.coldPoolSize),
        RINGFAAS_RUNTIME: s.runtime,
        RINGFAAS_BENCH_MEMORY_MB: String(s.functionMemoryMb),
      }),
    });
    try {
      const baseUrl = await waitReady(child, s.readyTimeoutMs);
      if (kind === 'ringfaas') await waitHttp(`${baseUrl}/workers`, Date.now() + s.readyTimeoutMs, (body) => listedWorkers(body) >= s.workers, child.name);
      return { baseUrl, processes: processesOf([child]), stop: () => child.stop() };
    } catch (err) {
      await child.stop();
      throw err;
    }
  }

  async #ringfaas(): Promise<StartedPlatform> {
    const s = this.#settings;
    const connectionString = await this.#connectionString();
    const children: Child[] = [];
    const stop = async (): Promise<void> => {
      await Promise.allSettled(children.map((c) => c.stop()));
    };
    const deadline = Date.now() + s.readyTimeoutMs;
    const run = randomBytes(2).toString('hex');
    try {
      const startWorker = async (i: number): Promise<void> => {
        const port = await freePort();
        const child = spawnChild({
          name: `ringfaas-worker-${i}`,
          main: 'worker/main.ts',
          logDir: s.logDir,
          ...nodeFlagsOf(s),
          env: this.#env({
            RINGFAAS_WORKER_ID: `bench-rf-${run}-${i}`,
            RINGFAAS_WORKER_PORT: String(port),
            RINGFAAS_WORKER_MEMORY_MB: String(s.workerMemoryMb),
            RINGFAAS_COLD_POOL_SIZE: String(s.coldPoolSize),
            RINGFAAS_RUNTIME: s.runtime,
            RINGFAAS_STORAGE_CONNECTION_STRING: connectionString,
          }),
        });
        children.push(child);
        await waitHttp(`http://127.0.0.1:${port}/healthz`, deadline, undefined, child.name);
      };
      // The first worker alone: it builds the runtime image when missing.
      await startWorker(1);
      await Promise.all(Array.from({ length: s.workers - 1 }, (_, i) => startWorker(i + 2)));
      const port = await freePort();
      const router = spawnChild({
        name: 'ringfaas-router',
        main: 'router/main.ts',
        logDir: s.logDir,
        ...nodeFlagsOf(s),
        env: this.#env({ ...s.routerEnv, RINGFAAS_PORT: String(port), RINGFAAS_ROUTER_ID: `bench-router-${run}`, RINGFAAS_STORAGE_CONNECTION_STRING: connectionString }),
      });
      children.unshift(router); // stopped first
      const baseUrl = `http://127.0.0.1:${port}`;
      await waitHttp(`${baseUrl}/workers`, deadline, (body) => listedWorkers(body) >= s.workers, router.name);
      return { baseUrl, processes: processesOf(children), stop };
    } catch (err) {
      await stop();
      throw err;
    }
  }

  async #redisDesign(): Promise<StartedPlatform> {
    const s = this.#settings;
    const connectionString = await this.#connectionString();
    const redisUrl = await this.#redisUrl();
    const run = randomBytes(3).toString('hex');
    const base = {
      RINGFAAS_STORAGE_CONNECTION_STRING: connectionString,
      RINGFAAS_REDIS_URL: redisUrl,
      RINGFAAS_BENCH_REDIS_PREFIX: `rfbench:${run}:`,
    };
    const children: Child[] = [];
    const stop = async (): Promise<void> => {
      await Promise.allSettled(children.map((c) => c.stop()));
    };
    try {
      const startWorker = async (i: number): Promise<void> => {
        const child = spawnChild({
          name: `redis-worker-${i}`,
          main: 'bench/platform/child-main.ts',
          logDir: s.logDir,
          ...nodeFlagsOf(s),
          ipc: true,
          env: this.#env({
            ...base,
            RINGFAAS_BENCH_ROLE: 'redis-worker',
            RINGFAAS_WORKER_ID: `bench-rd-${run}-${i}`,
            RINGFAAS_WORKER_MEMORY_MB: String(s.workerMemoryMb),
            RINGFAAS_COLD_POOL_SIZE: String(s.coldPoolSize),
            RINGFAAS_RUNTIME: s.runtime,
          }),
        });
        children.push(child);
        await waitReady(child, s.readyTimeoutMs);
      };
      await startWorker(1);
      await Promise.all(Array.from({ length: s.workers - 1 }, (_, i) => startWorker(i + 2)));
      const web = spawnChild({
        name: 'redis-web',
        main: 'bench/platform/child-main.ts',
        logDir: s.logDir,
        ipc: true,
        ...nodeFlagsOf(s),
        env: this.#env({ ...base, RINGFAAS_BENCH_ROLE: 'redis-web' }),
      });
      children.unshift(web);
      const baseUrl = await waitReady(web, s.readyTimeoutMs);
      return { baseUrl, processes: processesOf(children), stop };
    } catch (err) {
      await stop();
      throw err;
    }
  }

  async #limit(): Promise<RunningTarget> {
    const s = this.#settings;
    const dir = await mkdtemp(join(tmpdir(), 'ringfaas-limit-'));
    const zipFile = join(dir, 'function.zip');
    await writeFile(zipFile, zipIndex(await functionSource('instance-id')));
    const children: Child[] = [];
    const stop = async (): Promise<void> => {
      await Promise.allSettled(children.map((c) => c.stop()));
    };
    try {
      const hop2 = spawnChild({
        name: 'limit-hop2',
        main: 'bench/platform/child-main.ts',
        logDir: s.logDir,
        ...nodeFlagsOf(s),
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
      children.push(hop2);
      const hop2Url = await waitReady(hop2, s.readyTimeoutMs);
      const hop1 = spawnChild({
        name: 'limit-hop1',
        main: 'bench/platform/child-main.ts',
        logDir: s.logDir,
        ipc: true,
        ...nodeFlagsOf(s),
        env: this.#env({ RINGFAAS_BENCH_ROLE: 'hop-proxy', RINGFAAS_BENCH_NEXT: hop2Url }),
      });
      children.unshift(hop1);
      const hop1Url = await waitReady(hop1, s.readyTimeoutMs);
      return { name: 'limit', invokeUrl: `${hop1Url}/invoke`, processes: processesOf(children), stop };
    } catch (err) {
      await stop();
      throw err;
    }
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
          await fetch(`${platform.baseUrl}/functions/${encodeURIComponent(functionId)}`, { method: 'DELETE' }).catch(() => undefined);
          await platform.stop();
        },
      };
    } catch (err) {
      await platform.stop();
      throw err;
    }
  }
}

function listedWorkers(body: unknown): number {
  const list = Array.isArray(body) ? body : (body as { workers?: unknown } | undefined)?.workers;
  return Array.isArray(list) ? list.length : 0;
}

/** POST {base}/functions with the instance-id zip (the seed's API); answers the function id. */
export async function deployFunction(baseUrl: string, settings: Pick<PlatformSettings, 'functionMemoryMb' | 'idleTimeoutMs'>): Promise<string> {
  const zip = zipIndex(await functionSource('instance-id'));
  const body: Record<string, unknown> = {
    name: `bench-instance-id-${randomBytes(3).toString('hex')}`,
    memorySize: settings.functionMemoryMb,
    zipFile: zip.toString('base64'),
  };
  if (settings.idleTimeoutMs !== undefined) body.idleTimeoutMs = settings.idleTimeoutMs;
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/functions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch (err: unknown) {
    throw new RfError(BenchErrors.DEPLOY_FAILED, `cannot reach ${baseUrl}`, { cause: err });
  }
  const text = await res.text();
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    record = undefined;
  }
  const id = (record as { id?: unknown } | undefined)?.id;
  if (res.status >= 300 || typeof id !== 'string') {
    throw new RfError(BenchErrors.DEPLOY_FAILED, `deploying to ${baseUrl} answered ${res.status}: ${text.slice(0, 300)}`);
  }
  return id;
}

/** Settings of the caller's own platform that must not leak into the benchmark's components. */
const BENCH_UNSET_VARIABLES = ['RINGFAAS_API_KEYS', 'RINGFAAS_HOST', 'RINGFAAS_WORKER_HOST', 'RINGFAAS_WORKER_ADDRESS', 'RINGFAAS_WORKER_PORT', 'RINGFAAS_PORT', 'RINGFAAS_MEMBERSHIP_TTL_MS', 'RINGFAAS_HEARTBEAT_MS'];

function processesOf(children: readonly Child[]): TargetProcess[] {
  return children.flatMap((c) => (c.process.pid === undefined ? [] : [{ name: c.name, pid: c.process.pid }]));
}

function nodeFlagsOf(s: { nodeFlags?: string[] }): { nodeFlags?: string[] } {
  return s.nodeFlags === undefined ? {} : { nodeFlags: s.nodeFlags };
}
