/**
 * The one clock of the project: a `Clock` to read the time and a `Scheduler` to set timers
 * with, on the same time line. Production passes the system ones (the only place a real timer
 * is taken); tests pass a `ManualClock` (manual-clock.ts), which is both and moves only when
 * told, so the algorithms that wait (the worker's pool, heartbeat and function cache, the
 * router's ring view) are tested without sleeping.
 */

/** Reads the current time, ms since the epoch. */
export interface Clock {
  now(): number;
}

/** A cancellable timer. */
export interface TimerHandle {
  cancel(): void;
}

/** Runs a callback after a delay (on the same time line as the Clock it is paired with). */
export interface Scheduler {
  setTimer(delayMs: number, callback: () => void): TimerHandle;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** Real timers, unref'd so that a pending sweep never keeps a process alive. */
export const systemScheduler: Scheduler = {
  setTimer(delayMs, callback) {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
