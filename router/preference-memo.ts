/**
 * Preference lists of one ring, memoised per key: computing one hashes the key and walks the
 * ring, and the same functions are invoked again and again. Bounded: past
 * `maxEntries` every list is dropped (as on every ring change, and when `k` changes).
 */
import type { Ring } from '../ring/index.ts';
import type { WorkerRow } from '../storage/index.ts';

/** Memoised preference lists kept at most by default. */
export const MAX_MEMOISED_PREFERENCES = 10_000;

/** Preference lists of the current ring by key, for one `k`. */
export class PreferenceMemo {
  readonly #maxEntries: number;
  readonly #lists = new Map<string, readonly string[]>();
  #k = 0;

  constructor(maxEntries: number = MAX_MEMOISED_PREFERENCES) {
    this.#maxEntries = maxEntries;
  }

  /** The ring's preference list of `key` (at most `k` workers), frozen. */
  get(ring: Ring<WorkerRow>, key: string, k: number): readonly string[] {
    if (k !== this.#k || this.#lists.size >= this.#maxEntries) {
      this.#lists.clear();
      this.#k = k;
    }
    let list = this.#lists.get(key);
    if (list === undefined) {
      list = Object.freeze(ring.preferenceList(key, k));
      this.#lists.set(key, list);
    }
    return list;
  }

  /** The ring's home of `key`: the head of its memoised list when there is one (no hashing). */
  home(ring: Ring<WorkerRow>, key: string): string | undefined {
    return this.#lists.get(key)?.[0] ?? ring.home(key);
  }

  /** Drops every list (the ring changed). */
  clear(): void {
    this.#lists.clear();
  }
}
