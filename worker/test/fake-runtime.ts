/**
 * A `ContainerRuntime` with no processes, for the pool's algorithm tests: a boundary double
 * (the pool's one outside dependency), not a mock of the pool. Its containers start, load and
 * exit when the test says so: by default at once (on the next microtask), or held until
 * `finishStarts()` / `finishLoads()`, or failed. Functions for it carry no code files, so
 * the pool writes nothing to disk.
 */
import type { ContainerExit, ContainerHandle, ContainerRuntime, ContainerSpec, LoadRequest, ShimResult } from '../runtime.ts';
import { ManualClock } from '../../clock/index.ts';
import { ContainerPool, type PoolFunction, type PoolOptions, type RemoveReason } from '../pool/index.ts';
import { quietLogger } from './worker-fixtures.ts';

interface Gate {
  resolve(): void;
  reject(err: Error): void;
}

/** One fake container: what the pool did to it. */
export class FakeContainer implements ContainerHandle {
  readonly instanceId: string;
  readonly codeDir = '/nonexistent/fake-runtime';
  readonly exited: Promise<ContainerExit>;
  memoryMb: number;
  /** The function loaded into it (undefined while unassigned). */
  loaded: LoadRequest | undefined;
  removed = false;
  readonly #runtime: FakeRuntime;
  #exit!: (exit: ContainerExit) => void;

  constructor(spec: ContainerSpec, runtime: FakeRuntime) {
    this.instanceId = spec.instanceId;
    this.memoryMb = spec.memoryMb;
    this.#runtime = runtime;
    this.exited = new Promise((resolve) => (this.#exit = resolve));
  }

  async load(request: LoadRequest): Promise<void> {
    await this.#runtime.gate('load');
    this.loaded = request;
  }

  invoke(): Promise<ShimResult> {
    return Promise.resolve({ state: 'ok', output: { instanceId: this.instanceId }, logs: { lines: [], truncated: false }, functionMs: 0 });
  }

  async setMemoryLimit(memoryMb: number): Promise<void> {
    this.memoryMb = memoryMb;
  }

  async remove(): Promise<void> {
    this.removed = true;
    this.#exit({ exitCode: 137, oomKilled: false });
  }

  /** The container stops on its own (a crash). */
  crash(): void {
    this.#exit({ exitCode: 1, oomKilled: false });
  }
}

export class FakeRuntime implements ContainerRuntime {
  readonly kind = 'process';
  /** Every container started, in order. */
  readonly containers: FakeContainer[] = [];
  /** Hold starts (or loads) until finishStarts() (or finishLoads()). */
  holdStarts = false;
  holdLoads = false;
  /** The next this-many starts fail. */
  failStarts = 0;
  readonly #held = { start: [] as Gate[], load: [] as Gate[] };

  get started(): number {
    return this.containers.length;
  }
  /** Starts or loads held now. */
  held(kind: 'start' | 'load'): number {
    return this.#held[kind].length;
  }

  async prepare(): Promise<void> {}
  async close(): Promise<void> {}
  async removeLeftovers(): Promise<number> {
    return 0;
  }

  async start(spec: ContainerSpec): Promise<ContainerHandle> {
    const c = new FakeContainer(spec, this);
    this.containers.push(c);
    if (this.failStarts > 0) {
      this.failStarts--;
      throw new Error('fake engine: start refused');
    }
    await this.gate('start');
    return c;
  }

  /** Lets the oldest `n` held starts (or loads) finish, or fail with `err`. */
  finish(kind: 'start' | 'load', n = Infinity, err?: Error): void {
    for (const g of this.#held[kind].splice(0, n)) {
      if (err === undefined) g.resolve();
      else g.reject(err);
    }
  }

  /** Waits while `kind` is held; otherwise goes on at the next microtask. */
  gate(kind: 'start' | 'load'): Promise<void> {
    if (!(kind === 'start' ? this.holdStarts : this.holdLoads)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.#held[kind].push({ resolve, reject }));
  }

  /** The container of an instance id. */
  container(instanceId: string): FakeContainer {
    const c = this.containers.find((x) => x.instanceId === instanceId);
    if (c === undefined) throw new Error(`no fake container ${instanceId}`);
    return c;
  }
}

let seq = 0;
/** A function for the fake runtime (no code files). */
export function fakeFn(overrides: Partial<Omit<PoolFunction, 'files'>> = {}): PoolFunction {
  return { id: `fake-${seq++}`, version: 1, memoryMb: 128, timeoutMs: 5000, idleTimeoutMs: 60_000, env: {}, ...overrides, files: [] };
}

/**
 * Lets every promise chain the pool started run to its end (the fake runtime answers on
 * microtasks; setImmediate runs after them). No time passes on the manual clock.
 */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A pool (1024 MB, no cold pool) on a fresh fake runtime and a manual clock, recording why containers were removed. */
export function fakePool(options: Partial<PoolOptions> = {}): { pool: ContainerPool; runtime: FakeRuntime; clock: ManualClock; removed: RemoveReason[] } {
  const runtime = new FakeRuntime();
  const clock = new ManualClock();
  const removed: RemoveReason[] = [];
  const pool = new ContainerPool({
    workerId: 'fake',
    runtime,
    capacityMb: 1024,
    coldPoolSize: 0,
    logger: quietLogger(),
    clock,
    scheduler: clock,
    events: { onRemove: (reason) => removed.push(reason) },
    ...options,
  });
  return { pool, runtime, clock, removed };
}
