/**
 * clock/: time, injected. Every component that reads the time or waits takes a `Clock` and a
 * `Scheduler` from here (production: `systemClock`, `systemScheduler`; tests: `ManualClock`).
 * Depends on nothing, so every area may import it. Other areas import from here only.
 */
export { systemClock, systemScheduler, type Clock, type Scheduler, type TimerHandle } from './clock.ts';
export { ManualClock } from './manual-clock.ts';
