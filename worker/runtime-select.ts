/**
 * Choosing and building the container runtime of a worker process: `docker` wherever a
 * Docker engine answers (the default), `process` otherwise (with a warning: no isolation).
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
}

/** The runtime to use, and whether containers get a network. */
export interface SelectedRuntime {
  runtime: ContainerRuntime;
  network: boolean;
}

/**
 * Builds the runtime. `auto` picks docker when the engine answers a ping, else process with a
 * warning; `docker` fails with RF_WORKER_RUNTIME_UNAVAILABLE when the engine does not answer.
 */
export async function selectRuntime(options: SelectRuntimeOptions): Promise<SelectedRuntime> {
  const log = options.logger;
  const networkName = options.functionNetwork ?? 'none';
  const network = networkName !== 'none';
  if (options.choice !== 'process') {
    const docker = options.docker ?? new Docker();
    if (await dockerEngineAvailable(docker, 2000)) {
      const runtime = new DockerRuntime({
        docker,
        ...(options.image === undefined ? {} : { image: options.image }),
        ...(network ? { networkMode: networkName } : {}),
        logger: log,
      });
      return { runtime, network };
    }
    if (options.choice === 'docker') {
      throw new RfError(WorkerErrors.RUNTIME_UNAVAILABLE, 'RINGFAAS_RUNTIME=docker but the Docker engine does not answer');
    }
    log.warn({}, 'no Docker engine answers: using the process runtime (functions run as child processes, without isolation)');
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
