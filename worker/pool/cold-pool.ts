/**
 * The cold pool: pre-started containers assigned to no function yet, refilled in the
 * background, with a pause after a failed start.
 *
 * Algorithm
 * ---------
 * `refill()` starts containers of `poolMemoryMb` while all of these hold: the pool is active,
 * the refill is not paused, nobody waits for capacity (waiting requests come first), fewer
 * than `maxCreating` containers are being created (starts.ts), the pooled plus starting
 * containers are fewer than `coldPoolSize`, and `poolMemoryMb` is free.
 * It runs after every removal (memory freed) and after a pooled container is taken
 * (starts.ts). A started container joins the pool (`cold`, taken last-in first) and may serve
 * a request queued meanwhile. A failed start pauses the refill for `refillBackoffMs` (a
 * timer on the injected scheduler), so a broken engine is not hammered in a loop.
 *
 * Example: coldPoolSize 2, capacity 1024, nothing running: two 128 MB starts begin at once
 * (256 reserved). One fails: its 128 MB is freed, the refill pauses 1000 ms, then starts one
 * more (the pool is whole again once it is ready).
 *
 * Caveats: the pause is fixed (no exponential growth): an engine that keeps failing is tried
 * once per refillBackoffMs, and each failure is logged.
 */
import type { TimerHandle } from '../../clock/index.ts';
import type { PoolCore } from './core.ts';
import type { PooledContainer } from './types.ts';

export class ColdPool {
  readonly target: number;
  readonly #core: PoolCore;
  #starting = 0;
  #backoff: TimerHandle | undefined;

  constructor(core: PoolCore) {
    this.#core = core;
    this.target = core.opts.coldPoolSize;
  }

  /** Starts pooled containers up to the target while memory is free and nobody waits for it. */
  refill(): void {
    const core = this.#core;
    while (
      core.state === 'active' &&
      this.#backoff === undefined &&
      core.parts.claims.queued === 0 &&
      core.mayCreate &&
      core.cold.length + this.#starting < this.target &&
      core.freeMb >= core.poolMemoryMb
    ) {
      const c = core.parts.starts.newContainer(core.poolMemoryMb);
      this.#starting++;
      core.track(this.#start(c));
    }
  }

  /** Stops a pending refill pause (a drain: nothing refills any more). */
  stop(): void {
    this.#backoff?.cancel();
  }

  async #start(c: PooledContainer): Promise<void> {
    const core = this.#core;
    try {
      await core.parts.starts.startHandle(c);
    } catch (err) {
      this.#starting--;
      core.log.error({ err, instanceId: c.instanceId }, 'cold pool container start failed');
      this.#backoff?.cancel();
      this.#backoff = core.scheduler.setTimer(core.opts.refillBackoffMs ?? 1000, () => {
        this.#backoff = undefined;
        this.refill();
      });
      core.remove(c, 'start-failed');
      return;
    }
    this.#starting--;
    if (c.state === 'removed') return;
    if (core.state !== 'active') {
      core.remove(c, 'drained');
      return;
    }
    c.state = 'pooled';
    core.cold.push(c);
    core.parts.claims.pump();
    core.notifySettled();
  }
}
