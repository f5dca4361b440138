/**
 * The children of one benchmark target, started together and stopped together: a failed start
 * stops what was already started, and every child gets the run's log folder and Node flags.
 */
import { launchMain } from '../../bin/index.ts';
import type { TargetProcess } from '../load/process-cpu.ts';
import type { Child } from './children.ts';

/** What every child of a run shares. */
export interface ChildGroupOptions {
  logDir: string;
  /** Node flags for every child (e.g. --cpu-prof). */
  nodeFlags?: string[];
}

/** One child to start. */
export interface GroupChildSpec {
  name: string;
  /** Main file, relative to the code root. Default: the bench's child-main.ts. */
  main?: string;
  env: NodeJS.ProcessEnv;
  /** Open an IPC channel (child-main.ts reports readiness by message). */
  ipc?: boolean;
  /** Put it first: it is listed first and sent its SIGTERM first (a router before its workers). */
  front?: boolean;
}

/** Children started together, stopped together. */
export class ChildGroup {
  readonly #o: ChildGroupOptions;
  readonly #children: Child[] = [];

  constructor(options: ChildGroupOptions) {
    this.#o = options;
  }

  /** Starts one child (it belongs to the group until the group stops). */
  spawn(spec: GroupChildSpec): Child {
    const child = launchMain({
      name: spec.name,
      main: spec.main ?? 'bench/platform/child-main.ts',
      env: spec.env,
      logDir: this.#o.logDir,
      ...(spec.ipc === true ? { ipc: true } : {}),
      ...(this.#o.nodeFlags === undefined ? {} : { nodeFlags: this.#o.nodeFlags }),
    });
    if (spec.front === true) this.#children.unshift(child);
    else this.#children.push(child);
    return child;
  }

  /** Forgets a child stopped by its owner. */
  remove(child: Child): void {
    const i = this.#children.indexOf(child);
    if (i >= 0) this.#children.splice(i, 1);
  }

  /** The started children's pids (CPU accounting). */
  processes(): TargetProcess[] {
    return this.#children.flatMap((c) => (c.process.pid === undefined ? [] : [{ name: c.name, pid: c.process.pid }]));
  }

  /** Stops every child (SIGTERM, then SIGKILL after the launcher's grace); never rejects. */
  async stop(): Promise<void> {
    const children = this.#children.splice(0);
    await Promise.allSettled(children.map((c) => c.stop()));
  }

  /** Runs `start` with this group; when it fails, stops what it started and rethrows. */
  async starting<T>(start: (group: this) => Promise<T>): Promise<T> {
    try {
      return await start(this);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }
}
