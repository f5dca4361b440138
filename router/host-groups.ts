/**
 * Workers grouped by the machine they run on, for the bounded-load rule (docs/ring.md, "One
 * machine, one share"): workers whose addresses name the same host share its cores and memory,
 * so the rule bounds the host's load, the sum of its workers', against the mean over hosts. Two
 * workers on one machine then split a function's calls only when the home answers that it is
 * full (429), not for balance, which a split between them cannot buy.
 *
 * A group is keyed by its first worker id in the ring's order (a worker alone on its host is its
 * own key), so with one worker per host every key, load and count is the worker's own and the
 * rule is exactly Mirrokni et al.'s. Hosts are compared as the URL hostname of the worker's
 * address (`http://127.0.0.1:7001` → `127.0.0.1`); an address that does not parse is a host of
 * its own.
 */

/** The host of a worker address, or undefined when it does not parse. */
export function hostOfAddress(address: string): string | undefined {
  try {
    const host = new URL(address).hostname;
    return host === '' ? undefined : host;
  } catch {
    return undefined;
  }
}

/** Workers grouped by host (see the file header). Immutable: built again on each ring change. */
export class HostGroups {
  /** Number of groups (hosts) on the ring. */
  readonly size: number;
  /** True when some host runs more than one worker (otherwise every group is one worker). */
  readonly shared: boolean;
  /** Each worker's group key. */
  readonly #keyOf: ReadonlyMap<string, string>;
  /** Each group's workers, by key. */
  readonly #members: ReadonlyMap<string, readonly string[]>;

  constructor(workers: ReadonlyArray<{ id: string; address: string }>) {
    const byHost = new Map<string, string[]>();
    const keyOf = new Map<string, string>();
    const members = new Map<string, string[]>();
    for (const w of workers) {
      const host = hostOfAddress(w.address);
      const group = host === undefined ? undefined : byHost.get(host);
      if (group !== undefined) {
        group.push(w.id);
        keyOf.set(w.id, group[0] as string);
        continue;
      }
      const own = [w.id];
      if (host !== undefined) byHost.set(host, own);
      members.set(w.id, own);
      keyOf.set(w.id, w.id);
    }
    this.size = members.size;
    this.shared = members.size < workers.length;
    this.#keyOf = keyOf;
    this.#members = members;
  }

  /** The group key of a worker (itself when it is not on the ring). */
  keyOf(workerId: string): string {
    return this.#keyOf.get(workerId) ?? workerId;
  }

  /** Every group key. */
  keys(): IterableIterator<string> {
    return this.#members.keys();
  }

  /** The load of a worker's group: the sum of its workers' loads. */
  loadOf(workerId: string, workerLoad: (id: string) => number): number {
    const members = this.#members.get(this.keyOf(workerId));
    if (members === undefined) return workerLoad(workerId);
    let sum = 0;
    for (const id of members) sum += workerLoad(id);
    return sum;
  }
}
