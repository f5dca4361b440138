/**
 * Drain tracking: stop taking work, let what runs finish within a bound, then be empty.
 *
 * Algorithm
 * ---------
 * `drain()` turns the pool to `draining` once: new claims fail with RF_WORKER_DRAINING
 * (container-pool.ts), requests queued for capacity fail with it, the sweep, pre-warms and
 * queued warm-ups stop, pooled and idle containers go at once. Running executions and starts in progress
 * finish; their containers go when released (release() removes instead of stacking). It
 * resolves when nothing is busy, no background task runs and no request waits.
 * A timer on the injected scheduler bounds the wait (`drainTimeoutMs`): past it every
 * container still running or starting is removed (its execution fails as crashed) and every
 * waiting request fails with RF_WORKER_DRAINING.
 *
 * Example: two executions running, one pooled container, drainTimeoutMs 60 000: the pooled
 * one goes at once; drain() resolves when both executions are released, or at 60 s with
 * both containers removed ('drain-timeout').
 *
 * Caveats: a drain that ran out of time still waits for the removals it started.
 */
import { RfError } from '../../errors/index.ts';
import type { TimerHandle } from '../../clock/index.ts';
import { WorkerErrors } from '../errors.ts';
import type { PoolCore } from './core.ts';

export class DrainTracker {
  readonly #core: PoolCore;
  #timer: TimerHandle | undefined;

  constructor(core: PoolCore) {
    this.#core = core;
  }

  /** See the header; calling it again waits for the same drain. */
  async drain(): Promise<void> {
    const core = this.#core;
    if (core.state === 'active') {
      core.state = 'draining';
      core.parts.expiry.stop();
      core.parts.coldPool.stop();
      core.parts.warmUps.dropQueued('the worker is draining');
      core.parts.claims.failQueued(new RfError(WorkerErrors.DRAINING, 'the worker is draining'));
      for (const c of [...core.cold]) core.remove(c, 'drained');
      for (const c of [...core.idleOrder]) core.remove(c, 'drained');
      const timeoutMs = core.opts.drainTimeoutMs ?? 60_000;
      this.#timer = core.scheduler.setTimer(timeoutMs, () => this.#force(timeoutMs));
    }
    while (core.busy > 0 || core.tasks.size > 0 || core.waiting > 0) await core.nextSettle();
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** The drain's bound passed: remove what still runs or starts, fail what still waits. */
  #force(timeoutMs: number): void {
    const core = this.#core;
    this.#timer = undefined;
    const stuck = [...core.containers.values()];
    core.log.warn({ containers: stuck.length, waiting: core.waiting, timeoutMs }, 'drain timed out: removing what is still running');
    for (const c of stuck) {
      if (c.state === 'busy') {
        // The execution's release/discard will find nothing: account for it here.
        c.lease = undefined;
        c.slot!.busy--;
        core.busy--;
      }
      core.remove(c, 'drain-timeout', false);
    }
    const draining = new RfError(WorkerErrors.DRAINING, 'the worker drained');
    for (const slot of [...core.slots.values()]) for (const claim of [...slot.waiting]) core.parts.claims.settle(claim, undefined, draining);
    core.notifySettled();
  }
}
