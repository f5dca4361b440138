/**
 * A Map with a size bound that drops the least recently touched entry: per-function policy
 * state must stay bounded on a worker that sees an unbounded number of function ids.
 */
export class BoundedMap<V> {
  readonly #max: number;
  readonly #map = new Map<string, V>();
  readonly #onDrop: ((value: V) => void) | undefined;

  /** `onDrop` is told of each entry dropped for the bound (not of deletes). */
  constructor(maxEntries: number, onDrop?: (value: V) => void) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    this.#max = maxEntries;
    this.#onDrop = onDrop;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The value, marked as most recently used. */
  get(key: string): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  /** The value without touching its recency. */
  peek(key: string): V | undefined {
    return this.#map.get(key);
  }

  /** The value, created by `make` when missing. */
  upsert(key: string, make: () => V): V {
    const known = this.get(key);
    if (known !== undefined) return known;
    const value = make();
    this.#map.set(key, value);
    if (this.#map.size > this.#max) this.dropOldest();
    return value;
  }

  /** Drops the least recently used entry (none when empty). */
  dropOldest(): void {
    const oldest = this.#map.entries().next().value as [string, V] | undefined;
    if (oldest === undefined) return;
    this.#map.delete(oldest[0]);
    this.#onDrop?.(oldest[1]);
  }

  delete(key: string): void {
    this.#map.delete(key);
  }
}
