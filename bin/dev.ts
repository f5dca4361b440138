/**
 * The single-machine launcher behind `npm start` / `ringfaas dev`.
 *
 * It is the main of the launcher process: it reads the environment, starts the embedded
 * Azurite (unless RINGFAAS_STORAGE_CONNECTION_STRING names a real account), then starts the
 * workers and the routers as child processes (each the same `main` that runs them on a real
 * deployment), waits until every router answers and sees every worker in its ring, and
 * prints one line: `ringfaas ready at http://127.0.0.1:<port>`.
 *
 * Ctrl-C (SIGINT) or SIGTERM stops everything it started: the children get SIGTERM (workers
 * drain and remove their containers), stragglers SIGKILL after a grace period, then
 * containers left by a killed worker are removed and Azurite stops.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { VARIABLES as V, optionalVariable, readVariables, settle, type Environment, type ValuesOf } from '../config/index.ts';
import { startAzurite } from '../storage/index.ts';
import Docker from 'dockerode';
import { Agent, fetch as undiciFetch } from 'undici';
import { removeWorkerLeftovers, waitForEngine, dockerEngineAvailable } from '../worker/index.ts';
import { loadRouterConfig, parseApiKey } from '../router/index.ts';
import { urlHost } from '../contract/index.ts';
import { launchMain, stopChildren, type LaunchedChild } from './process-launcher.ts';
import { readOrCreateSecret, SECRET_FILES } from './dev-secrets.ts';

/** The variables the launcher itself reads, by field (the rest reach its children untouched). */
const LAUNCHER_VARIABLES = {
  port: V.RINGFAAS_PORT,
  host: V.RINGFAAS_HOST,
  routers: V.RINGFAAS_ROUTERS,
  workers: V.RINGFAAS_WORKERS,
  /** Workers are `<prefix>1`, `<prefix>2`…: two launchers on one engine need different ones. */
  workerPrefix: V.RINGFAAS_DEV_WORKER_PREFIX,
  dataDir: V.RINGFAAS_DATA_DIR,
  /** Unset: the embedded Azurite. */
  connectionString: optionalVariable(V.RINGFAAS_STORAGE_CONNECTION_STRING),
  apiKeys: V.RINGFAAS_API_KEYS,
  readyTimeoutMs: V.RINGFAAS_READY_TIMEOUT_MS,
  /** Unset: one generated per data folder. */
  clusterKey: V.RINGFAAS_CLUSTER_KEY,
  runtime: V.RINGFAAS_RUNTIME,
  tlsCert: V.RINGFAAS_TLS_CERT,
  caFile: V.RINGFAAS_CA_FILE,
  dockerHost: V.DOCKER_HOST,
};

export type DevConfig = Readonly<Omit<ValuesOf<typeof LAUNCHER_VARIABLES>, 'apiKeys'> & { apiKey: string | undefined }>;

/** Worker settings that name one worker: the launcher chooses them per worker instead. */
const PER_WORKER_VARIABLES = ['RINGFAAS_WORKER_ID', 'RINGFAAS_WORKER_PORT', 'RINGFAAS_WORKER_ADDRESS'];

/** Client and router credentials: never in a worker's environment (docs/security.md). */
const ROUTER_ONLY_VARIABLES = ['RINGFAAS_API_KEYS', 'RINGFAAS_API_KEY', 'RINGFAAS_TLS_CERT', 'RINGFAAS_TLS_KEY', 'RINGFAAS_CA_FILE'];

/** Reads the launcher's settings from the environment; every problem is reported at once. */
export function loadDevConfig(env: Environment): DevConfig {
  const { apiKeys, ...rest } = settle('launcher', readVariables(env, 'launcher', LAUNCHER_VARIABLES));
  // The readiness check reads GET /workers: it needs a key of scope admin.
  return Object.freeze({ ...rest, apiKey: adminKey(apiKeys ?? []) });
}

/** The first key of scope admin in RINGFAAS_API_KEYS. */
function adminKey(keys: readonly string[]): string | undefined {
  for (const entry of keys) {
    const parsed = parseApiKey(entry);
    if ('key' in parsed && parsed.scope === 'admin') return parsed.key;
  }
  return undefined;
}

/** How long a stopping child may drain before SIGKILL. */
const STOP_GRACE_MS = 20_000;

/** A child of the launcher: stdout in its log file, stderr on the launcher's (a start error shows at once). */
function spawnMain(name: string, main: string, env: NodeJS.ProcessEnv, logDir: string, args: string[] = []): LaunchedChild {
  return launchMain({ name, main, env, logDir, args, stderr: 'inherit' });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls a router until it answers /healthz and lists `workers` workers in its ring. */
async function waitForRouter(url: string, workers: number, apiKey: string | undefined, deadline: number, signal: AbortSignal, dispatcher?: Agent): Promise<void> {
  const headers: Record<string, string> = apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` };
  const init = dispatcher === undefined ? {} : { dispatcher };
  for (;;) {
    try {
      const health = await undiciFetch(`${url}/healthz`, init);
      if (health.ok) {
        const res = await undiciFetch(`${url}/workers`, { ...init, headers });
        if (res.ok) {
          const body = (await res.json()) as unknown;
          const list = Array.isArray(body) ? body : (body as { workers?: unknown[] }).workers;
          if (Array.isArray(list) && list.length >= workers) return;
        }
      }
    } catch {
      // not listening yet: poll again until the deadline
    }
    if (Date.now() > deadline) throw new Error(`router at ${url} was not ready in time`);
    signal.throwIfAborted();
    await sleep(200);
  }
}

export interface DevOptions {
  env: NodeJS.ProcessEnv;
  insecure: boolean;
}

export async function runDev(options: DevOptions): Promise<void> {
  const config = loadDevConfig(options.env);
  // The routers' own checks (API keys, listening beyond loopback) before anything starts.
  loadRouterConfig(
    { ...options.env, RINGFAAS_STORAGE_CONNECTION_STRING: config.connectionString ?? 'checked-later' },
    options.insecure ? ['--insecure'] : [],
    { routerId: 'router-1' },
  );
  const dataDir = resolve(config.dataDir);
  const logDir = join(dataDir, 'logs');
  // Azurite's files, the keys and the logs are this user's only. The data folder itself is
  // made 0700 when we create it; an existing one (it may be any folder a user named) keeps its
  // mode, but the folders we own in it are narrowed.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  for (const own of [logDir, join(dataDir, 'azurite')]) {
    mkdirSync(own, { recursive: true, mode: 0o700 });
    chmodSync(own, 0o700);
  }
  const say = (line: string): void => void process.stderr.write(`ringfaas: ${line}\n`);
  const secret = (name: string, bytes: number, encoding: 'base64' | 'base64url'): string => {
    const got = readOrCreateSecret(join(dataDir, name), { bytes, encoding });
    if (got.narrowed) say(`${join(dataDir, name)} was readable by other users: its mode is now 0600`);
    return got.value;
  };
  // One cluster key per data folder (unless given): routers present it to workers.
  const clusterKey = config.clusterKey ?? secret(SECRET_FILES.clusterKey, 32, 'base64url');
  const runtime = await chooseRuntime(config, say);

  const azurite =
    config.connectionString === undefined
      ? await startAzurite({ dataDir: join(dataDir, 'azurite'), accountKey: secret(SECRET_FILES.azuriteKey, 64, 'base64'), startTimeoutMs: 60_000 })
      : undefined;
  const connectionString = config.connectionString ?? azurite!.connectionString;
  say(azurite === undefined ? 'using the storage account of RINGFAAS_STORAGE_CONNECTION_STRING' : `embedded Azurite, data in ${join(dataDir, 'azurite')}`);

  const children: LaunchedChild[] = [];
  const workerIds = Array.from({ length: config.workers }, (_, i) => `${config.workerPrefix}${i + 1}`);
  const baseEnv = { ...options.env, RINGFAAS_STORAGE_CONNECTION_STRING: connectionString, RINGFAAS_CLUSTER_KEY: clusterKey };
  let stopping = false;

  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say('stopping');
    await stopChildren(children, STOP_GRACE_MS);
    const removed = await removeWorkerLeftovers(workerIds).catch(() => 0);
    if (removed > 0) say(`removed ${removed} containers left by stopped workers`);
    await azurite?.stop();
  };
  const onSignal = (): void => {
    void stopAll().then(() => process.exit(0));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  // The first worker starts alone: it builds the runtime image if it is missing, so the
  // others find it ready instead of building it three times at once.
  const workerEnv: NodeJS.ProcessEnv = { ...baseEnv, RINGFAAS_RUNTIME: runtime };
  for (const name of [...PER_WORKER_VARIABLES, ...ROUTER_ONLY_VARIABLES]) delete workerEnv[name];
  const startWorker = (id: string): LaunchedChild => {
    const child = spawnMain(id, 'worker/main.ts', { ...workerEnv, RINGFAAS_WORKER_ID: id }, logDir);
    void child.exited.then((code) => {
      if (!stopping) say(`${id} exited (code ${code}); the ring routes around it. Its log: ${join(logDir, `${id}.log`)}`);
    });
    return child;
  };
  const deadline = Date.now() + config.readyTimeoutMs;
  const routerUrls: string[] = [];
  const tlsCert = config.tlsCert;
  const scheme = tlsCert === undefined ? 'http' : 'https';
  // Our own routers' certificate (or the CA file) is what the readiness check trusts.
  const caFile = config.caFile ?? tlsCert;
  const probeAgent = caFile === undefined || tlsCert === undefined ? undefined : new Agent({ connect: { ca: readFileSync(caFile) } });
  // A child that exits before everything is ready fails the start at once (a router that
  // refused its configuration, a worker that could not start), instead of at the deadline.
  const abandon = new AbortController(); // ends the polling loops once the start failed
  let failStart: (err: Error) => void = () => {};
  const startFailed = new Promise<never>((_, reject) => {
    failStart = (err) => {
      abandon.abort(err);
      reject(err);
    };
  });
  startFailed.catch(() => undefined);
  const started = (child: LaunchedChild): LaunchedChild => {
    children.push(child);
    void child.exited.then((code) => failStart(new Error(`${child.name} exited (code ${code}) while starting; see ${join(logDir, `${child.name}.log`)}`)));
    return child;
  };
  try {
    const [firstId, ...restIds] = workerIds;
    started(startWorker(firstId!));
    await Promise.race([waitForWorkerRow(connectionString, firstId!, deadline, abandon.signal), startFailed]);
    restIds.forEach((id) => started(startWorker(id)));
    for (let i = 0; i < config.routers; i++) {
      const port = config.port + i;
      const args = options.insecure ? ['--insecure'] : [];
      const env = { ...baseEnv, RINGFAAS_PORT: String(port), RINGFAAS_ROUTER_ID: `router-${i + 1}` };
      started(spawnMain(`router-${i + 1}`, 'router/main.ts', env, logDir, args));
      routerUrls.push(`${scheme}://${urlHost(config.host)}:${port}`);
    }
    await Promise.race([Promise.all(routerUrls.map((url) => waitForRouter(url, config.workers, config.apiKey, deadline, abandon.signal, probeAgent))), startFailed]);
  } catch (err) {
    abandon.abort(err);
    say(`start failed: ${(err as Error).message}; logs are in ${logDir}`);
    await stopAll();
    process.exitCode = 1;
    return;
  }
  say(`${config.workers} workers, ${config.routers} routers (${routerUrls.join(', ')}); logs in ${logDir}`);
  process.stdout.write(`ringfaas ready at ${routerUrls[0]}\n`);
  await new Promise(() => {}); // runs until a signal stops it
}

/**
 * The workers' runtime, decided once for all of them and passed explicitly: RINGFAAS_RUNTIME
 * when set; else docker when an engine is configured or answers (pings retried), else the
 * process runtime with a warning (loopback development on a machine without Docker: the
 * workers listen on loopback, and `process` said explicitly is what lets them run with a
 * cluster key).
 */
async function chooseRuntime(config: Pick<DevConfig, 'runtime' | 'dockerHost'>, say: (line: string) => void): Promise<string> {
  if (config.runtime !== 'auto') return config.runtime;
  const docker = new Docker();
  const configured = config.dockerHost !== undefined || existsSync('/var/run/docker.sock');
  if (configured ? await waitForEngine(docker, 15_000) : await dockerEngineAvailable(docker, 2000)) return 'docker';
  if (configured) {
    throw new Error('a Docker engine is configured (DOCKER_HOST or /var/run/docker.sock) but does not answer; start it, or set RINGFAAS_RUNTIME=process to run functions without isolation');
  }
  say('warning: no Docker engine: functions run as plain child processes, WITHOUT isolation (loopback development only; see docs/security.md)');
  return 'process';
}

/** The host part of a URL reaching `host` (a wildcard address is reached on loopback). */
/** Waits until a worker has registered itself in the membership table. */
async function waitForWorkerRow(connectionString: string, workerId: string, deadline: number, signal: AbortSignal): Promise<void> {
  const { openStores } = await import('../storage/index.ts');
  const stores = await openStores({ connectionString });
  try {
    for (;;) {
      const row = await stores.membership.get(workerId).catch(() => undefined);
      if (row !== undefined && row.heartbeatAt > Date.now() - 5000) return;
      if (Date.now() > deadline) throw new Error(`${workerId} did not register in time`);
      signal.throwIfAborted();
      await sleep(200);
    }
  } finally {
    await stores.close();
  }
}
