/**
 * Starting and stopping the project's process mains as child processes: the one launcher of
 * `npm start` (bin/dev.ts) and of the benchmarks (bench/platform/children.ts). Each child runs
 * `node --import tsx <main>` from source or `node <main>.js` compiled (node-entry.ts), with its
 * output appended to `<logDir>/<name>.log`; stopping is SIGTERM, then SIGKILL after a grace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { CODE_ROOT, nodeEntryArgs } from './node-entry.ts';

/** A started child process. */
export interface LaunchedChild {
  readonly name: string;
  readonly process: ChildProcess;
  /** Settles with the exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  readonly logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs` (default 15 s); resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once; resolves once it exited. */
  kill(): Promise<void>;
}

export interface LaunchOptions {
  /** The child's name: its log file is `<logDir>/<name>.log`. */
  name: string;
  /** Main file, relative to the code root (`worker/main.ts`). */
  main: string;
  env: NodeJS.ProcessEnv;
  logDir: string;
  args?: string[];
  /** Open an IPC channel (for a child that reports readiness by message). */
  ipc?: boolean;
  /** Extra node flags; `--cpu-prof-dir=<dir>` becomes `<dir>/<name>`. */
  nodeFlags?: string[];
  /** Where the child's stderr goes: its log file (default) or this process's stderr. */
  stderr?: 'log' | 'inherit';
}

/** Starts one process main with its output in its log file. */
export function launchMain(options: LaunchOptions): LaunchedChild {
  mkdirSync(options.logDir, { recursive: true });
  const logFile = join(options.logDir, `${options.name}.log`);
  const fd = openSync(logFile, 'a');
  // Profiles in a folder per component, so a run's profiles say whose they are (a fixed file
  // name would not do: the loader thread of tsx writes a profile too).
  const nodeFlags = (options.nodeFlags ?? []).map((flag) => (flag.startsWith('--cpu-prof-dir=') ? `${flag}/${options.name}` : flag));
  const stderr = options.stderr === 'inherit' ? 'inherit' : fd;
  const child = spawn(process.execPath, [...nodeFlags, ...nodeEntryArgs(options.main, CODE_ROOT), ...(options.args ?? [])], {
    cwd: CODE_ROOT,
    env: options.env,
    stdio: options.ipc === true ? ['ignore', fd, stderr, 'ipc'] : ['ignore', fd, stderr],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const ended = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const stop = async (graceMs = 15_000): Promise<void> => {
    if (ended()) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  const kill = async (): Promise<void> => {
    if (ended()) return;
    child.kill('SIGKILL');
    await exited;
  };
  return { name: options.name, process: child, exited, logFile, stop, kill };
}

/** Stops every child at once (SIGTERM), each SIGKILLed after `graceMs`; never rejects. */
export async function stopChildren(children: readonly LaunchedChild[], graceMs?: number): Promise<void> {
  await Promise.allSettled(children.map((c) => c.stop(graceMs)));
}
