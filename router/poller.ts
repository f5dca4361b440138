/**
 * Runs one read now and then every `intervalMs` (each timer set after the previous read
 * ended, so reads never overlap and a slow store is not piled on); concurrent `run()` calls
 * share the read in flight. The timer does not keep the process alive.
 */

export interface PollerOptions<T> {
  /** One read; its failures are the caller's to handle (a rejection only ends that round). */
  read: () => Promise<T>;
  intervalMs: number;
}

/** A single-flight read repeated on an interval until stop(). */
export class Poller<T> {
  readonly #o: PollerOptions<T>;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  #running: Promise<T> | undefined;

  constructor(options: PollerOptions<T>) {
    this.#o = options;
  }

  /** Reads once, then every `intervalMs` until stop(). */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.run();
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Reads now, or joins the read in flight. */
  run(): Promise<T> {
    this.#running ??= this.#o.read().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.run()
        .catch(() => undefined)
        .finally(() => this.#schedule());
    }, this.#o.intervalMs);
    this.#timer.unref();
  }
}
