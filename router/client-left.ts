/**
 * The client of one request leaving before its answer, as the invocation path watches it: a
 * flag and its listeners, with an AbortSignal made only for a transport that needs one (undici,
 * the HTTP fallback to workers). An AbortSignal is an EventTarget, and making one per request
 * was 2–4 % of the router's busy time in the compare profiles (bench/analysis.md); over the
 * invoke channel an invocation needs only the flag and one listener.
 */
export class ClientLeft {
  #left = false;
  #listeners: Set<() => void> | undefined;
  #controller: AbortController | undefined;

  /** Whether the client has left. */
  get left(): boolean {
    return this.#left;
  }

  /** The client left: each listener runs once, the signal (if one was made) aborts. Later calls do nothing. */
  leave(): void {
    if (this.#left) return;
    this.#left = true;
    this.#controller?.abort();
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  }

  /**
   * Runs `listener` once when the client leaves; answers its removal. A client that has already
   * left calls nothing: check `left` first.
   */
  onLeave(listener: () => void): () => void {
    if (this.#left) return () => undefined;
    const listeners = (this.#listeners ??= new Set());
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }

  /** An AbortSignal that aborts when the client leaves (made on first read). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#left) this.#controller.abort();
    }
    return this.#controller.signal;
  }
}
