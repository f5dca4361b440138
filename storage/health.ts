/**
 * Whether this process can reach storage, as its own storage calls tell it: one failure with
 * RF_STORAGE_UNAVAILABLE starts a degraded period, the next success ends it. Routers and
 * workers keep serving what they hold while degraded (docs/storage.md); this tracker only
 * makes the period visible once: one log line when it starts (with the first error), one when
 * it ends (with its length), a gauge `ringfaas_storage_degraded`, and `describe()` for
 * `/healthz` — instead of a stack trace per failed heartbeat.
 *
 * Only storage-unavailable failures count: a conflict, a not-found or a malformed request says
 * storage answered.
 */
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';

/** Reads the time, ms since the epoch. */
export interface HealthClock {
  now(): number;
}

export interface StorageHealthOptions {
  log: Logger;
  clock?: HealthClock;
  /** Called on every change of state (e.g. to set a gauge). */
  onChange?: (degraded: boolean) => void;
}

/** What `/healthz` reports of storage. */
export interface StorageHealthView {
  /** True while the last storage call failed as unavailable. */
  degraded: boolean;
  /** When the current degraded period started (ISO), or null. */
  degradedSince: string | null;
  /** Failed storage calls in the current degraded period. */
  failures: number;
}

/** See the file header. */
export class StorageHealth {
  readonly #log: Logger;
  readonly #clock: HealthClock;
  readonly #onChange: ((degraded: boolean) => void) | undefined;
  #since: number | undefined;
  #failures = 0;

  constructor(options: StorageHealthOptions) {
    this.#log = options.log;
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#onChange = options.onChange;
  }

  get degraded(): boolean {
    return this.#since !== undefined;
  }

  /** Records a failed storage call (`what` names it). Non-availability errors are ignored. */
  failed(what: string, err: unknown): void {
    if (!isUnavailable(err)) return;
    this.#failures++;
    if (this.#since !== undefined) return;
    this.#since = this.#clock.now();
    this.#log.warn({ what, err: summary(err) }, 'storage unreachable: serving what this process holds (degraded)');
    this.#onChange?.(true);
  }

  /** Records a storage call that was answered. */
  succeeded(what: string): void {
    if (this.#since === undefined) return;
    const degradedMs = this.#clock.now() - this.#since;
    this.#log.info({ what, degradedMs, failures: this.#failures }, 'storage reachable again: degraded period over');
    this.#since = undefined;
    this.#failures = 0;
    this.#onChange?.(false);
  }

  /**
   * Runs one storage call and records its outcome; rethrows its failure. A call that fails
   * with anything but unavailability still proves storage answered.
   */
  async track<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      this.succeeded(what);
      return result;
    } catch (err) {
      if (isUnavailable(err)) this.failed(what, err);
      else this.succeeded(what);
      throw err;
    }
  }

  describe(): StorageHealthView {
    return {
      degraded: this.#since !== undefined,
      degradedSince: this.#since === undefined ? null : new Date(this.#since).toISOString(),
      failures: this.#failures,
    };
  }
}

/** True for RF_STORAGE_UNAVAILABLE (the storage service did not answer usefully). */
export function isUnavailable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'RF_STORAGE_UNAVAILABLE';
}

/** The code and message only: the cause chain of an SDK error is long and says nothing more. */
function summary(err: unknown): { code?: string; message: string } {
  if (typeof err !== 'object' || err === null) return { message: String(err) };
  const e = err as { code?: unknown; message?: unknown };
  return {
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    message: typeof e.message === 'string' ? e.message : String(err),
  };
}

/**
 * The same store, every method's outcome recorded in `health` (a method that does not return
 * a promise passes through). For CRUD on routers, so a failing write says "degraded" too.
 */
export function trackedStore<T extends object>(store: T, health: StorageHealth, name: string): T {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        return health.track(`${name}.${String(property)}`, () => result);
      };
    },
  });
}

/** Registers the gauge `ringfaas_storage_degraded` (1 while `health` is degraded) on `registry`. */
export function registerStorageDegradedGauge(health: StorageHealth, registry: Registry): void {
  new Gauge({
    name: 'ringfaas_storage_degraded',
    help: '1 while storage is unreachable from this process (it serves what it holds), else 0',
    registers: [registry],
    collect() {
      this.set(health.degraded ? 1 : 0);
    },
  });
}
