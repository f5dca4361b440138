/**
 * Child processes of a benchmark: the platform's own mains (router/main.ts, worker/main.ts)
 * and the bench's (bench/platform/child-main.ts), each a separate Node process as in
 * production, so that on a small machine the load generator, the router and each worker
 * compete for the CPU as they would for real. Output goes to one log file per child.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RfError } from '../../errors/index.ts';
import { BenchErrors } from '../errors.ts';
import { nodeEntryArgs } from '../../bin/index.ts';

/** The repository root (where router/, worker/ and bench/ live). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs` (default 15 s). */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once. */
  kill(): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  /** Main file, relative to the project root. */
  main: string;
  env: NodeJS.ProcessEnv;
  logDir: string;
  args?: string[];
  /** Open an IPC channel (for child-main.ts's ready message). */
  ipc?: boolean;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeFlags?: string[];
}

/**
 * Starts `node --import tsx <main>` (from source) or `node <main>.js` (when the bench itself
 * runs compiled: `node dist/bin/cli.js bench …`) with its output in `<logDir>/<name>.log`.
 */
export function spawnChild(options: SpawnOptions): Child {
  mkdirSync(options.logDir, { recursive: true });
  const logFile = join(options.logDir, `${options.name}.log`);
  const fd = openSync(logFile, 'a');
  // Profiles in a folder per component, so a run's profiles say whose they are (a fixed file
  // name would not do: the loader thread of tsx writes a profile too).
  const nodeFlags = (options.nodeFlags ?? []).map((flag) =>
    flag.startsWith('--cpu-prof-dir=') ? `${flag}/${options.name}` : flag,
  );
  const child = spawn(process.execPath, [...nodeFlags, ...nodeEntryArgs(options.main, projectRoot), ...(options.args ?? [])], {
    cwd: projectRoot,
    env: options.env,
    stdio: options.ipc === true ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const stop = async (graceMs = 15_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  };
  return { name: options.name, process: child, exited, logFile, stop, kill };
}

/** Waits for child-main.ts's `{ ready: true, url }` message. */
export function waitReady(child: Child, timeoutMs: number): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new RfError(BenchErrors.COMPONENT_START_FAILED, `${child.name} ${why}; see ${child.logFile}`));
    };
    const timer = setTimeout(() => fail('was not ready in time'), timeoutMs);
    child.process.on('message', (msg: unknown) => {
      const m = msg as { ready?: unknown; url?: unknown };
      if (m.ready === true && typeof m.url === 'string') {
        clearTimeout(timer);
        resolveUrl(m.url);
      }
    });
    void child.exited.then((code) => fail(`exited (code ${code})`));
  });
}

/** Polls `url` until it answers 2xx and `accept(body)` holds. */
export async function waitHttp(url: string, deadline: number, accept: (body: unknown) => boolean = () => true, name = url): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok && accept(await res.json().catch(() => undefined))) return;
    } catch {
      // not listening yet: poll again until the deadline
    }
    if (Date.now() > deadline) throw new RfError(BenchErrors.COMPONENT_START_FAILED, `${name} was not ready in time`);
    await new Promise((r) => setTimeout(r, 150));
  }
}
