/**
 * DockerRuntime: a container per ContainerSpec from the runtime image (worker/runtime-image.ts),
 * through dockerode. The worker talks to each container's shim over a Unix socket in a host
 * folder bind-mounted at /run/ringfaas; the function's code goes into another host folder,
 * mounted read-only at /code.
 *
 * Host surfaces: every container folder lives under a private base folder (mode 0700, made
 * with mkdtemp unless `baseDir` names one, which is then checked: a real folder, owned by the
 * worker's user, mode forced to 0700). The code folder is mounted read-only. The socket folder
 * is writable by the container only until its shim answers: then the worker takes it back
 * (owner root or the worker, mode 0755) and checks that shim.sock is a socket, not a link, so
 * nothing the function does can redirect the worker's connection (a reconnect included).
 *
 * Isolation by default: no network (NetworkMode none unless spec.network), read-only root file
 * system with a 64 MB tmpfs /tmp, memory limit = the function's memory with no swap, a pids
 * limit, CPU shares proportional to memory (the default share while the shim starts), every
 * capability dropped, no-new-privileges, a non-root user (1000:1000), and an init process
 * (Init) reaping zombies.
 *
 * Housekeeping: containers are named `ringfaas-<workerId>-<instanceId>` and labelled
 * `ringfaas.worker` / `ringfaas.instance` / `ringfaas.dir`, so removeLeftovers() finds what a
 * crashed run of the same worker left behind (containers and host folders).
 *
 * Every dockerode failure is wrapped in an RfError with the driver error as `cause`:
 * RF_WORKER_RUNTIME_UNAVAILABLE when the engine does not answer, RF_WORKER_CONTAINER_START_FAILED
 * when a container cannot be created or started, RF_WORKER_IMAGE_UNAVAILABLE when the image is
 * missing and cannot be built.
 *
 * One unit (over 350 lines): one ContainerRuntime implementation, whose start, invoke and
 * removal share each container's handle, folders and labels.
 */
import { shortHash } from './short-name.ts';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { Logger } from 'pino';
import { RfError, type ErrorSpec } from '../errors/index.ts';
import { WorkerErrors } from './errors.ts';
import type { ContainerExit, ContainerHandle, ContainerRuntime, ContainerSpec } from './runtime.ts';
import { createShimClient, MAX_SOCKET_PATH_BYTES, SHIM_SOCKET_NAME, ShimHandle, socketPathFits, waitForShim } from './shim-client.ts';
import { defaultRuntimeImageName, ensureRuntimeImage, RUNTIME_GID, RUNTIME_UID } from './runtime-image.ts';

export const LABEL_WORKER = 'ringfaas.worker';
export const LABEL_INSTANCE = 'ringfaas.instance';
export const LABEL_DIR = 'ringfaas.dir';

export interface DockerRuntimeOptions {
  /** The engine's client (default: dockerode's own, i.e. DOCKER_HOST or /var/run/docker.sock). */
  docker?: Docker;
  /** Image to run (default defaultRuntimeImageName(), built when missing). */
  image?: string;
  /** Build the image when missing (default: true for the default image, false for a named one). */
  buildImage?: boolean;
  /**
   * Private host folder holding each container's code and socket folders (default: a fresh
   * `<tmpdir>/rfd-XXXXXX`, mode 0700).
   */
  baseDir?: string;
  /** Network of containers started with spec.network (default 'bridge'). */
  networkMode?: string;
  /** `uid:gid` the function runs as (default 1000:1000). */
  user?: string;
  /** Most processes + threads per container (default 64). */
  pidsLimit?: number;
  /** Size of the tmpfs /tmp, MB (default 64). */
  tmpMb?: number;
  /**
   * How long start() waits for the shim to answer once the engine started the container
   * (default 30 000 ms). Generous: on a loaded node (a rolling update starts a worker, fills its
   * cold pool and serves cold starts at once, beside other engines) the first answer took more
   * than 10 s, and a start that fails there fails the request waiting for it.
   */
  startTimeoutMs?: number;
  logger?: Logger;
}

/** CPU shares proportional to memory: 1024 (one default share) per 1792 MB, as Lambda's vCPU scale. */
export function cpuSharesFor(memoryMb: number): number {
  return Math.max(2, Math.round((memoryMb * 1024) / 1792));
}

/** CPU shares of a container until its function has loaded (Docker's default share). */
export const START_CPU_SHARES = 1024;

/** Docker accepts [a-zA-Z0-9][a-zA-Z0-9_.-]* in names. */
function nameSafe(value: string): string {
  return value.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

/** The container name for a spec. */
export function containerName(workerId: string, instanceId: string): string {
  return `ringfaas-${nameSafe(workerId)}-${nameSafe(instanceId)}`;
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Forced removals tried per container before the drain's sweep is left to find it. */
const REMOVE_ATTEMPTS = 3;
const REMOVE_RETRY_MS = 1000;

/** Removes a container's host folder; never throws. */
async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

/** Prefix of the private base folders this runtime makes in the temp folder. */
// Short: the shim socket's host path (base/worker/instance/run/shim.sock) must fit in 103 bytes
// even under a long TMPDIR (a Swarm worker's data folder).
const BASE_PREFIX = 'rfd-';

/** A worker id as a folder name short enough for a socket path (long ids: a prefix and a hash). */
export function workerDirName(workerId: string): string {
  const safe = nameSafe(workerId);
  return safe.length <= 12 ? safe : `${safe.slice(0, 4)}-${shortHash(workerId, 8)}`;
}

/**
 * Makes `dir` the runtime's private folder: created when missing, never a link, owned by this
 * user, mode 0700.
 */
async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir);
  const uid = process.getuid?.();
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) {
    throw new RfError(WorkerErrors.RUNTIME_UNAVAILABLE, `the container folder ${dir} is not a folder owned by this user`);
  }
  if ((info.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
}

/** Engine unreachable (no socket, refused) vs an answer with an error status. */
function wrapDockerError(err: unknown, message: string, fallback: ErrorSpec = WorkerErrors.CONTAINER_START_FAILED): RfError {
  if (err instanceof RfError) return err;
  const spec = statusOf(err) === undefined ? WorkerErrors.RUNTIME_UNAVAILABLE : fallback;
  return new RfError(spec, message, { cause: err });
}

/**
 * Resolves true when the Docker engine answers a ping within `timeoutMs`. The worker's main
 * uses it to pick the docker runtime.
 */
export async function dockerEngineAvailable(docker: Docker = new Docker(), timeoutMs = 1000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([docker.ping().then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Containers through a Docker engine. */
export class DockerRuntime implements ContainerRuntime {
  readonly kind = 'docker' as const;
  readonly image: string;
  readonly #docker: Docker;
  readonly #opts: DockerRuntimeOptions;
  #baseDir: Promise<string> | undefined;
  /** The base folder this runtime made itself (removed by close() when empty). */
  #madeBase: string | undefined;
  readonly #log: Logger | undefined;

  constructor(options: DockerRuntimeOptions = {}) {
    this.#opts = options;
    this.#docker = options.docker ?? new Docker();
    this.image = options.image ?? defaultRuntimeImageName();
    this.#log = options.logger;
  }

  /** The private base folder, made on first use. */
  #base(): Promise<string> {
    this.#baseDir ??= (async () => {
      const given = this.#opts.baseDir;
      if (given !== undefined) {
        await ensurePrivateDir(given);
        return given;
      }
      const made = await mkdtemp(join(tmpdir(), BASE_PREFIX));
      await chmod(made, 0o700);
      this.#madeBase = made;
      return made;
    })();
    return this.#baseDir;
  }

  async prepare(): Promise<void> {
    if (!(await dockerEngineAvailable(this.#docker, 5000))) {
      throw new RfError(WorkerErrors.RUNTIME_UNAVAILABLE, 'the Docker engine does not answer');
    }
    await this.#base();
    await ensureRuntimeImage({
      docker: this.#docker,
      imageName: this.image,
      build: this.#opts.buildImage ?? this.#opts.image === undefined,
      ...(this.#log === undefined ? {} : { logger: this.#log }),
    });
  }

  async start(spec: ContainerSpec): Promise<ContainerHandle> {
    const base = await this.#base();
    const dir = join(base, workerDirName(spec.workerId), nameSafe(spec.instanceId));
    const codeDir = join(dir, 'code');
    const runDir = join(dir, 'run');
    // The shim binds /run/ringfaas/shim.sock inside; the worker connects through the host path.
    const socketPath = join(runDir, SHIM_SOCKET_NAME);
    if (!socketPathFits(socketPath)) {
      throw new RfError(WorkerErrors.CONTAINER_START_FAILED, 'the socket path is too long: use a shorter base folder', {
        details: { socketPath, maxBytes: MAX_SOCKET_PATH_BYTES },
      });
    }
    try {
      await mkdir(codeDir, { recursive: true, mode: 0o755 });
      await mkdir(runDir, { recursive: true });
      await chmod(codeDir, 0o755);
      await this.#giveToRuntimeUser(runDir);
    } catch (err) {
      await removeDir(dir);
      throw new RfError(WorkerErrors.CONTAINER_START_FAILED, 'could not create the container folders', { cause: err });
    }

    let container: Docker.Container;
    try {
      container = await this.#docker.createContainer(this.#createOptions(spec, codeDir, runDir, dir));
    } catch (err) {
      await removeDir(dir);
      if (statusOf(err) === 404) {
        throw new RfError(WorkerErrors.IMAGE_UNAVAILABLE, `the runtime image ${this.image} does not exist`, { cause: err });
      }
      throw wrapDockerError(err, 'could not create the container');
    }
    let destroying = false;
    const destroy = async (): Promise<void> => {
      destroying = true;
      // A busy engine may fail a forced removal ("did not receive an exit event", 500): try
      // again, then leave it to the drain's sweep of this worker's labelled containers.
      for (let attempt = 1; ; attempt++) {
        try {
          await container.remove({ force: true, v: true });
          break;
        } catch (err) {
          if (statusOf(err) === 404 || statusOf(err) === 409) break;
          if (attempt >= REMOVE_ATTEMPTS) {
            this.#log?.warn({ err, instanceId: spec.instanceId, attempts: attempt }, 'container removal failed');
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, REMOVE_RETRY_MS * attempt));
        }
      }
      await removeDir(dir);
    };
    try {
      await container.start();
    } catch (err) {
      await destroy();
      throw wrapDockerError(err, 'could not start the container');
    }

    const stopped = this.#watchExit(container);
    const client = createShimClient(socketPath);
    const handle = new ShimHandle({
      instanceId: spec.instanceId,
      codeDir,
      socketPath,
      client,
      stopped,
      destroy,
      memoryMb: spec.memoryMb,
      setMemoryLimit: async (memoryMb) => {
        try {
          await container.update({ Memory: memoryMb * 1024 * 1024, MemorySwap: memoryMb * 1024 * 1024 });
        } catch (err) {
          throw wrapDockerError(err, 'could not change the container memory limit');
        }
      },
      // The shim and the function's load ran at the start share; its invocations run at its own.
      loaded: async (memoryMb) => {
        try {
          await container.update({ CpuShares: cpuSharesFor(memoryMb) });
        } catch (err) {
          // A container removed meanwhile (a first invocation that timed out) is no news.
          if (!destroying) this.#log?.warn({ err, instanceId: spec.instanceId }, 'could not lower the container CPU share after its load');
        }
      },
    });
    try {
      await waitForShim(client, socketPath, { timeoutMs: this.#opts.startTimeoutMs ?? 30_000, stepMs: 5, exited: stopped });
    } catch (err) {
      await handle.remove();
      throw new RfError(WorkerErrors.CONTAINER_START_FAILED, 'the container started but its shim did not answer', { cause: err, details: { image: this.image } });
    }
    try {
      await this.#lockRunDir(runDir, socketPath);
    } catch (err) {
      await handle.remove();
      throw new RfError(WorkerErrors.CONTAINER_START_FAILED, 'the container socket folder could not be secured', { cause: err });
    }
    return handle;
  }

  /**
   * Only the shim (no function code yet) has run in the container: take the socket folder
   * back, so the container can no longer replace shim.sock (say, by a link to the engine's
   * socket) for the worker's next connection, and check what is there now.
   */
  async #lockRunDir(runDir: string, socketPath: string): Promise<void> {
    const uid = process.getuid?.();
    const gid = process.getgid?.();
    if (uid === 0 && gid !== undefined) await chown(runDir, 0, gid);
    await chmod(runDir, 0o755);
    const dirInfo = await lstat(runDir);
    if (!dirInfo.isDirectory() || (uid !== undefined && dirInfo.uid !== uid) || (dirInfo.mode & 0o022) !== 0) {
      throw new Error('the socket folder is not the worker\'s');
    }
    const info = await lstat(socketPath);
    if (!info.isSocket()) throw new Error('shim.sock is not a socket');
  }

  #createOptions(spec: ContainerSpec, codeDir: string, runDir: string, dir: string): Docker.ContainerCreateOptions {
    const memoryBytes = spec.memoryMb * 1024 * 1024;
    return {
      name: containerName(spec.workerId, spec.instanceId),
      Image: this.image,
      User: this.#opts.user ?? `${RUNTIME_UID}:${RUNTIME_GID}`,
      Labels: { [LABEL_WORKER]: spec.workerId, [LABEL_INSTANCE]: spec.instanceId, [LABEL_DIR]: dir },
      NetworkDisabled: !spec.network,
      HostConfig: {
        NetworkMode: spec.network ? (this.#opts.networkMode ?? 'bridge') : 'none',
        ReadonlyRootfs: true,
        Tmpfs: { '/tmp': `rw,nosuid,nodev,noexec,size=${this.#opts.tmpMb ?? 64}m,mode=1777` },
        Memory: memoryBytes,
        MemorySwap: memoryBytes,
        PidsLimit: this.#opts.pidsLimit ?? 64,
        // The shim starts, and the function loads, at the default share (1024): at a small
        // function's share (73 for 128 MB) a loaded node starved the shim's start past the 30 s
        // wait, and then every load past its function's timeout (CI, load 10: each cold start
        // failed). The handle lowers it to cpuSharesFor(memory) once the function loaded.
        CpuShares: START_CPU_SHARES,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Init: true,
        Binds: [`${codeDir}:/code:ro`, `${runDir}:/run/ringfaas:rw`],
        // Stray output of the shim (outside invocations) stays readable with `docker logs`, bounded.
        LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '1' } },
      },
    };
  }

  /** The container user must create the socket: it owns the socket folder (or anyone may write it). */
  async #giveToRuntimeUser(runDir: string): Promise<void> {
    const user = this.#opts.user ?? `${RUNTIME_UID}:${RUNTIME_GID}`;
    const [uid, gid] = user.split(':').map(Number);
    if (process.getuid?.() === 0 && Number.isInteger(uid) && Number.isInteger(gid ?? uid)) {
      await chown(runDir, uid!, gid ?? uid!);
      await chmod(runDir, 0o700);
    } else {
      await chmod(runDir, 0o777);
    }
  }

  /** Resolves when the container stops, with its exit code and whether the OOM killer ended it. */
  async #watchExit(container: Docker.Container): Promise<ContainerExit> {
    for (;;) {
      let exitCode: number | null = null;
      try {
        const result = (await container.wait({ condition: 'not-running' })) as { StatusCode?: number };
        exitCode = typeof result.StatusCode === 'number' ? result.StatusCode : null;
      } catch (err) {
        if (statusOf(err) === 404) return { exitCode: null, oomKilled: false };
        // The wait connection broke: look before waiting again.
      }
      try {
        const info = await container.inspect();
        if (info.State.Running) continue;
        return { exitCode: exitCode ?? info.State.ExitCode, oomKilled: info.State.OOMKilled };
      } catch {
        return { exitCode, oomKilled: false };
      }
    }
  }

  async removeLeftovers(workerId: string): Promise<number> {
    let containers: Docker.ContainerInfo[];
    try {
      containers = await this.#docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${workerId}`] } });
    } catch (err) {
      throw wrapDockerError(err, 'could not list the containers of this worker', WorkerErrors.RUNTIME_UNAVAILABLE);
    }
    await Promise.all(
      containers.map(async (info) => {
        try {
          await this.#docker.getContainer(info.Id).remove({ force: true, v: true });
        } catch (err) {
          if (statusOf(err) !== 404 && statusOf(err) !== 409) throw wrapDockerError(err, 'could not remove a leftover container', WorkerErrors.RUNTIME_UNAVAILABLE);
        }
        const dir = info.Labels[LABEL_DIR];
        if (dir !== undefined && this.#ownsDir(dir)) await removeDir(dir);
      }),
    );
    const base = this.#opts.baseDir ?? this.#madeBase;
    if (base !== undefined) await rm(join(base, workerDirName(workerId)), { recursive: true, force: true });
    return containers.length;
  }

  /** A folder this runtime (this run or an earlier one) made: under its base or a base it names. */
  #ownsDir(dir: string): boolean {
    if (dir.includes('/../') || dir.endsWith('/..')) return false;
    if (this.#opts.baseDir !== undefined && dir.startsWith(`${this.#opts.baseDir}/`)) return true;
    return dir.startsWith(join(tmpdir(), BASE_PREFIX)) && dir.split('/').length > join(tmpdir(), BASE_PREFIX).split('/').length;
  }

  async close(): Promise<void> {
    // dockerode keeps no pooled connections to release; each handle closes its own client.
    // A base folder made here goes when nothing is left in it.
    if (this.#madeBase !== undefined) {
      const base = this.#madeBase;
      for (const entry of await readdir(base).catch(() => [] as string[])) {
        await rmdir(join(base, entry)).catch(() => undefined);
      }
      await rmdir(base).catch(() => undefined);
    }
  }
}
