/**
 * ProcessRuntime: each "container" is a child process `node shim.cjs` with its own folder
 * (code + socket), and no isolation at all: it runs as the worker's user, sees the host's
 * network and file system. For machines without Docker and for fast tests; a production
 * worker uses DockerRuntime.
 *
 * Folders: <baseDir>/<workerId>/<instanceId>/{code,run,tmp}, with a `pid` file, so that a
 * worker restarted after a crash finds and kills the shims of its earlier run (removeLeftovers).
 * The base folder is private (mode 0700): a fresh `<os tmpdir>/ringfaas-process-XXXXXX` unless
 * `baseDir` names one. The socket is run/shim.sock, or <private short folder>/<hash of the
 * folder>.sock when that path is too long for a Unix socket (MAX_SOCKET_PATH_BYTES: a long base
 * folder or worker id); no fixed name in the shared temp folder. The
 * shims also exit on their own when the worker dies: their stdin is a pipe from the worker
 * (`--exit-with-stdin`).
 */
import { spawn } from 'node:child_process';
import { shortHash } from './short-name.ts';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { RfError } from '../errors/index.ts';
import { WorkerErrors } from './errors.ts';
import type { ContainerExit, ContainerHandle, ContainerRuntime, ContainerSpec } from './runtime.ts';
import {
  createShimClient,
  MAX_SOCKET_PATH_BYTES,
  SHIM_SOCKET_NAME,
  ShimHandle,
  shimPath,
  socketPathFits,
  waitForShim,
} from './shim-client.ts';

export interface ProcessRuntimeOptions {
  /** Private folder holding every container's folder (default a fresh <os tmpdir>/ringfaas-process-XXXXXX). */
  baseDir?: string;
  /** The node binary (default the worker's own, process.execPath). */
  nodePath?: string;
  /** The shim (default worker/shim/shim.cjs of this tree). */
  shimPath?: string;
  /**
   * Pass --max-old-space-size = the start memory (default false: a pooled process is started
   * with the pool's memory and later specialised to a larger function, and a heap flag cannot
   * change after start; the process runtime does not isolate anyway).
   */
  limitHeap?: boolean;
  /** How long start() waits for the shim (default 10 000 ms). */
  startTimeoutMs?: number;
  /** How long remove() waits after SIGTERM before SIGKILL (default 200 ms). */
  killGraceMs?: number;
  logger?: Logger;
}

/** Environment of a shim process: nothing of the worker's (it may hold secrets). */
function shimEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: home, TMPDIR: home, NODE_ENV: 'production' };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A child process per container, same shim, no isolation. */
export class ProcessRuntime implements ContainerRuntime {
  readonly kind = 'process' as const;
  #baseDir: string | undefined;
  /** Private short folder for sockets whose path in the container folder is too long. */
  #shortDir: string | undefined;
  readonly #nodePath: string;
  readonly #shimPath: string;
  readonly #opts: ProcessRuntimeOptions;

  constructor(options: ProcessRuntimeOptions = {}) {
    this.#opts = options;
    this.#baseDir = options.baseDir;
    this.#nodePath = options.nodePath ?? process.execPath;
    this.#shimPath = options.shimPath ?? shimPath();
  }

  async prepare(): Promise<void> {
    await this.#base();
  }

  async #base(): Promise<string> {
    if (this.#baseDir === undefined) this.#baseDir = await mkdtemp(join(tmpdir(), 'ringfaas-process-'));
    else await mkdir(this.#baseDir, { recursive: true, mode: 0o700 });
    await chmod(this.#baseDir, 0o700);
    return this.#baseDir;
  }

  async start(spec: ContainerSpec): Promise<ContainerHandle> {
    const dir = join(this.#baseDir ?? (await this.#base()), spec.workerId, spec.instanceId);
    const codeDir = join(dir, 'code');
    const runDir = join(dir, 'run');
    const tmpDir = join(dir, 'tmp');
    if (!socketPathFits(join(dir, 'run', SHIM_SOCKET_NAME))) this.#shortDir ??= await mkdtemp(join(tmpdir(), 'rf-'));
    const socketPath = this.#socketPath(dir);
    if (!socketPathFits(socketPath)) {
      throw new RfError(WorkerErrors.CONTAINER_START_FAILED, 'the socket path is too long, even in the temp folder', {
        details: { socketPath, maxBytes: MAX_SOCKET_PATH_BYTES },
      });
    }
    try {
      await mkdir(codeDir, { recursive: true });
      await mkdir(runDir, { recursive: true });
      await mkdir(tmpDir, { recursive: true });
    } catch (err) {
      throw new RfError(WorkerErrors.CONTAINER_START_FAILED, 'could not create the container folder', { cause: err });
    }
    const args = [
      ...(this.#opts.limitHeap === true ? [`--max-old-space-size=${Math.max(16, spec.memoryMb)}`] : []),
      this.#shimPath,
      '--socket',
      socketPath,
      '--code',
      codeDir,
      '--exit-with-stdin',
    ];
    const child = spawn(this.#nodePath, args, { cwd: codeDir, env: shimEnv(tmpDir), stdio: ['pipe', 'pipe', 'pipe'] });
    const log = this.#opts.logger?.child({ instanceId: spec.instanceId });
    const stopped = new Promise<ContainerExit>((resolve) => {
      // Killed by a signal: the shell's convention, 128 + the signal number (as docker reports it).
      child.once('exit', (code, signal) =>
        resolve({ exitCode: code ?? (signal === null ? null : 128 + (constants.signals[signal] ?? 0)), oomKilled: false }),
      );
      child.once('error', () => resolve({ exitCode: null, oomKilled: false }));
    });
    const ready = new Promise<void>((resolve) => {
      let seen = '';
      const onData = (chunk: Buffer): void => {
        seen += chunk.toString();
        if (seen.includes('RINGFAAS_SHIM_READY')) {
          child.stdout.off('data', onData);
          child.stdout.resume();
          resolve();
        }
      };
      child.stdout.on('data', onData);
    });
    // The start of the shim's stderr is kept for the error of a failed start.
    let startStderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      if (startStderr.length < 2000) startStderr += text.slice(0, 2000 - startStderr.length);
      log?.debug({ stderr: text.slice(0, 2000) }, 'shim output');
    });
    if (child.pid !== undefined) await writeFile(join(dir, 'pid'), String(child.pid)).catch(() => undefined);

    const client = createShimClient(socketPath);
    const destroy = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const grace = new Promise((r) => setTimeout(r, this.#opts.killGraceMs ?? 200).unref());
        await Promise.race([stopped, grace]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await stopped;
      }
      await rm(dir, { recursive: true, force: true });
      if (!socketPath.startsWith(dir)) await rm(socketPath, { force: true });
    };
    const handle = new ShimHandle({ instanceId: spec.instanceId, codeDir, socketPath, client, stopped, destroy });

    const timeoutMs = this.#opts.startTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      ready.then(() => 'ready' as const),
      stopped.then(() => 'exited' as const),
      new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (outcome !== 'ready') {
      await handle.remove();
      throw new RfError(WorkerErrors.CONTAINER_START_FAILED, outcome === 'exited' ? 'the shim process exited at start' : `the shim did not start within ${timeoutMs} ms`, {
        details: { instanceId: spec.instanceId, stderr: startStderr.trim() },
      });
    }
    // The ready line comes after listen(); one health round trip also opens the keep-alive connection.
    try {
      await waitForShim(client, socketPath, { timeoutMs, stepMs: 5, exited: stopped });
    } catch (err) {
      await handle.remove();
      throw new RfError(WorkerErrors.CONTAINER_START_FAILED, 'the shim did not answer', { cause: err });
    }
    return handle;
  }

  /**
   * The shim's socket: <dir>/run/shim.sock, or, when that path is too long for a Unix socket
   * (a long base folder or worker id), a short one derived from <dir> under the temp folder.
   */
  #socketPath(dir: string): string {
    const inDir = join(dir, 'run', SHIM_SOCKET_NAME);
    if (socketPathFits(inDir) || this.#shortDir === undefined) return inDir;
    return join(this.#shortDir, `${shortHash(dir, 24)}.sock`);
  }

  async removeLeftovers(workerId: string): Promise<number> {
    // A fresh private base holds nothing of an earlier run (its shims exit with their stdin).
    if (this.#baseDir === undefined) return 0;
    const workerDir = join(this.#baseDir, workerId);
    let entries: string[];
    try {
      entries = await readdir(workerDir);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const instanceId of entries) {
      const dir = join(workerDir, instanceId);
      const pid = Number(await readFile(join(dir, 'pid'), 'utf8').catch(() => ''));
      if (Number.isInteger(pid) && pid > 0 && pidAlive(pid) && (await isOurShim(pid, dir))) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await rm(dir, { recursive: true, force: true });
      const socketPath = this.#socketPath(dir);
      if (!socketPath.startsWith(dir)) await rm(socketPath, { force: true });
      removed++;
    }
    await rm(workerDir, { recursive: true, force: true });
    return removed;
  }

  async close(): Promise<void> {
    // Nothing shared to release: each handle owns its client.
  }
}

/** Guards against a recycled pid: the process's command line names this container's socket. */
async function isOurShim(pid: number, dir: string): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(dir);
  } catch {
    // No /proc (macOS): trust the pid file written by this runtime.
    return process.platform !== 'linux';
  }
}
