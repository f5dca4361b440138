/**
 * Choosing and building the container runtime of a worker process, once, at start (it never
 * changes while the worker runs):
 *
 * - `docker`: the engine must answer; pings are retried for `engineWaitMs` (a busy engine is
 *   slow, not absent), then the start fails with RF_WORKER_RUNTIME_UNAVAILABLE.
 * - `auto`: when an engine is configured (DOCKER_HOST set, or its socket exists: main tells
 *   us) or answers a first ping, exactly as `docker`: never a silent fall back to the
 *   unisolated process runtime because one ping was slow. With no engine at all, the process
 *   runtime, with a warning, only for a worker that listens on loopback and has no cluster
 *   key; anything more must say RINGFAAS_RUNTIME=process explicitly.
 * - `process`: the process runtime, as asked (a warning when that is beyond loopback).
 *
 * Also the leftovers clean-up the single-machine launcher runs after its workers stopped.
 */
import Docker from 'dockerode';
import type { Logger } from 'pino';
import { RfError } from '../errors/index.ts';
import { WorkerErrors } from './errors.ts';
import { DockerRuntime, dockerEngineAvailable } from './docker-runtime.ts';
import { ProcessRuntime } from './process-runtime.ts';
import type { ContainerRuntime } from './runtime.ts';

export type RuntimeChoice = 'auto' | 'docker' | 'process';

export interface SelectRuntimeOptions {
  choice: RuntimeChoice;
  /** Runtime image (docker; default the locally built one). */
  image?: string;
  /** Docker network of containers that get one ('none' = no network). */
  functionNetwork?: string;
  logger: Logger;
  /** Docker client (default: dockerode's defaults, i.e. DOCKER_HOST or /var/run/docker.sock). */
  docker?: Docker;
  /** An engine is configured (DOCKER_HOST is set or the engine's socket exists): `auto` then means docker. */
  engineConfigured?: boolean;
  /**
   * `auto` may fall back to the process runtime when no engine exists (default false): true
   * only for a worker on loopback without a cluster key.
   */
  processFallbackAllowed?: boolean;
  /** How long pings are retried before the engine counts as not answering (default 15 000 ms). */
  engineWaitMs?: number;
}

/** The runtime to use, and whether containers get a network. */
export interface SelectedRuntime {
  runtime: ContainerRuntime;
  network: boolean;
}

/** Pings the engine until it answers or `waitMs` has passed (each ping bounded by 2 s). */
export async function waitForEngine(docker: Docker, waitMs: number, log?: Logger): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    const pingMs = Math.max(250, Math.min(2000, deadline - Date.now()));
    if (await dockerEngineAvailable(docker, pingMs)) return true;
    if (Date.now() >= deadline) return false;
    log?.warn({ attempt }, 'the Docker engine did not answer a ping; retrying');
    await new Promise((resolve) => setTimeout(resolve, Math.min(500, Math.max(0, deadline - Date.now()))));
  }
}

/** Builds the runtime (see the module comment). */
export async function selectRuntime(options: SelectRuntimeOptions): Promise<SelectedRuntime> {
  const log = options.logger;
  const networkName = options.functionNetwork ?? 'none';
  const network = networkName !== 'none';
  if (options.choice !== 'process') {
    const docker = options.docker ?? new Docker();
    const engineWaitMs = options.engineWaitMs ?? 15_000;
    const wanted = options.choice === 'docker' || options.engineConfigured === true;
    const answers = wanted ? await waitForEngine(docker, engineWaitMs, log) : await dockerEngineAvailable(docker, 2000);
    if (answers) {
      const runtime = new DockerRuntime({
        docker,
        ...(options.image === undefined ? {} : { image: options.image }),
        ...(network ? { networkMode: networkName } : {}),
        logger: log,
      });
      return { runtime, network };
    }
    if (wanted) {
      throw new RfError(
        WorkerErrors.RUNTIME_UNAVAILABLE,
        `RINGFAAS_RUNTIME=${options.choice}: a Docker engine is configured but did not answer within ${engineWaitMs} ms; not falling back to the unisolated process runtime (set RINGFAAS_RUNTIME=process to run without isolation)`,
      );
    }
    if (options.processFallbackAllowed !== true) {
      throw new RfError(
        WorkerErrors.RUNTIME_UNAVAILABLE,
        'RINGFAAS_RUNTIME=auto: no Docker engine, and this worker listens beyond loopback or has a cluster key: the unisolated process runtime is used only when RINGFAAS_RUNTIME=process says so',
      );
    }
    log.warn({}, 'no Docker engine: using the process runtime (functions run as child processes, without isolation; loopback development only)');
  } else if (options.processFallbackAllowed !== true) {
    log.warn({}, 'RINGFAAS_RUNTIME=process on a worker beyond loopback or with a cluster key: functions run without isolation and can read what this user can read');
  }
  return { runtime: new ProcessRuntime({ logger: log }), network };
}

/**
 * Removes containers left by the given workers in every runtime that can hold them (the
 * Docker engine when it answers, and the process runtime's folders). Returns how many.
 */
export async function removeWorkerLeftovers(workerIds: readonly string[], options: { docker?: Docker; logger?: Logger } = {}): Promise<number> {
  const runtimes: ContainerRuntime[] = [new ProcessRuntime(options.logger === undefined ? {} : { logger: options.logger })];
  const docker = options.docker ?? new Docker();
  if (await dockerEngineAvailable(docker, 2000)) {
    runtimes.push(new DockerRuntime({ docker, ...(options.logger === undefined ? {} : { logger: options.logger }) }));
  }
  let removed = 0;
  for (const runtime of runtimes) {
    for (const id of workerIds) removed += await runtime.removeLeftovers(id);
    await runtime.close();
  }
  return removed;
}
