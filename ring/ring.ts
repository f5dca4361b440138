/**
 * The consistent-hash ring of workers.
 *
 * Algorithm
 * ---------
 * Every live worker (membership row with state `active` and a heartbeat younger than the TTL)
 * is placed on a 32-bit circle at `vnodes × 4` points: ketama hashing through the `hashring`
 * package (md5 of `"<workerId>-<i>"` for i < vnodes, each 16-byte digest giving 4 points).
 * A function id hashes to one position; its *home* is the worker owning the first point at or
 * after that position, and its *preference list* is the sequence of distinct workers met
 * walking clockwise from there. The home is where the function's warm containers live; the
 * rest of the list is where its overflow spills (ring/bounded-load.ts), so the overflow of
 * one hot function lands on several neighbours rather than on one successor.
 *
 * The ring is a pure function of the set of worker ids: two routers that read the same rows
 * build the same ring and agree on every home without talking to each other.
 *
 * Worked example
 * --------------
 * Three workers w1, w2, w3 with the default 40 vnodes: 3 × 160 = 480 points. The md5 ring
 * gives them 30.0 %, 35.5 % and 34.5 % of the circle (the spread with 160 points per worker
 * is about ±10 % of the fair share, see ring/test/ring.test.ts). The function id `f` hashes to
 * 0xdd4ca18f; the first point after it belongs to w2, the next point of another worker to w3,
 * then w1: home w2, preference list [w2, w3, w1]. When w4 joins, it adds 160 points (shares
 * become 23.5 / 27.2 / 24.8 / 24.5 %); only keys whose first point is now one of w4's move,
 * about 1/4 of them, and every key that moves, moves to w4: `f` stays on w2 with the list
 * [w2, w4, w3, w1]. When w2 leaves, exactly the keys it was home of move, each to the next
 * worker of its own preference
 * list (w3 for `f`), which is why skipping a suspect worker in the preference list routes the
 * same way the ring will once the worker's row lapses.
 *
 * Known caveats
 * -------------
 * - All workers get the same number of points whatever their capacity; heterogeneous
 *   capacity is handled by spilling (429) and bounded loads, not by the hash.
 * - Liveness uses the worker's own heartbeat clock against the router's clock: clock skew
 *   larger than the TTL makes a live worker look dead (or a dead one live for longer).
 * - `hashring` itself computes `floor(1/n × vnodes × n)` points per server, which floating
 *   point turns into `vnodes - 1` for some n (7 for instance); the ring passes explicit
 *   per-server vnode counts so every worker has exactly `vnodes × 4` points.
 */
import HashRing from 'hashring';

/** The fields of a membership row the ring needs (storage's WorkerRow has them all). */
export interface RingMemberRow {
  id: string;
  address: string;
  capacityMb: number;
  /** Only `active` rows are in the ring; `draining` ones take no new work. */
  state: string;
  /** Last heartbeat, ms since the epoch. */
  heartbeatAt: number;
}

/** A digest of a key: at least 16 bytes (4 points of 4 bytes each). md5 by default. */
export type RingHash = (key: string) => Uint8Array;

export interface RingOptions {
  /** Hashes per worker; each gives 4 points on the circle. Default 40 (160 points). */
  vnodes?: number;
  /** Digest function; default md5 (ketama-compatible). */
  hash?: RingHash;
}

export interface MembershipRingOptions extends RingOptions {
  /** "Now" in ms since the epoch (the caller's clock). */
  now: number;
  /** A row whose heartbeat is older than this is not live. Default 5000. */
  ttlMs?: number;
}

export const DEFAULT_VNODES = 40;
export const DEFAULT_MEMBER_TTL_MS = 5000;
const POINTS_PER_HASH = 4;
const CIRCLE = 2 ** 32;

/** True when a row is `active` and its heartbeat is within `ttlMs` of `now`. */
export function isLiveRow(row: RingMemberRow, now: number, ttlMs: number = DEFAULT_MEMBER_TTL_MS): boolean {
  return row.state === 'active' && now - row.heartbeatAt <= ttlMs;
}

/** An immutable ring over a set of workers. */
export class Ring<M extends RingMemberRow = RingMemberRow> {
  /** Number of workers on the ring. */
  readonly size: number;
  /** Workers by id. */
  readonly members: ReadonlyMap<string, M>;
  /** Worker ids, sorted. */
  readonly ids: readonly string[];
  /** Points per worker on the circle. */
  readonly pointsPerWorker: number;
  readonly #ring: HashRing;

  /**
   * Builds the ring from the live rows of a membership table: `active` with a heartbeat
   * within the TTL as of `now`. Duplicated ids keep the freshest row.
   */
  static fromMembership<R extends RingMemberRow>(rows: readonly R[], options: MembershipRingOptions): Ring<R> {
    const ttlMs = options.ttlMs ?? DEFAULT_MEMBER_TTL_MS;
    return new Ring(
      rows.filter((row) => isLiveRow(row, options.now, ttlMs)),
      options,
    );
  }

  constructor(members: readonly M[], options: RingOptions = {}) {
    const vnodes = options.vnodes ?? DEFAULT_VNODES;
    if (!Number.isInteger(vnodes) || vnodes < 1) throw new RangeError(`vnodes must be a positive integer, got ${vnodes}`);
    const byId = new Map<string, M>();
    for (const member of members) {
      const known = byId.get(member.id);
      if (known === undefined || known.heartbeatAt < member.heartbeatAt) byId.set(member.id, member);
    }
    // Sorted so that equal hash values (ties) order the same way on every router.
    this.ids = [...byId.keys()].sort();
    this.members = new Map(this.ids.map((id) => [id, byId.get(id) as M]));
    this.size = this.ids.length;
    this.pointsPerWorker = vnodes * POINTS_PER_HASH;
    const servers: Record<string, { vnodes: number }> = {};
    for (const id of this.ids) servers[id] = { vnodes };
    // 'vnode count' 0 makes hashring use each server's explicit vnodes (see caveats above).
    this.#ring = new HashRing(servers, options.hash ?? 'md5', { 'vnode count': 0, 'max cache size': 0 });
  }

  /** The home worker of a key, or undefined when the ring is empty. */
  home(key: string): string | undefined {
    if (this.size === 0) return undefined;
    // Not hashring's get(): its LRU cache is a plain object, so a key such as "toString"
    // answered Object.prototype's function instead of a worker.
    const points = this.#ring.ring;
    return (points[this.#ring.find(this.#ring.hashValue(key))] as { server: string }).server;
  }

  /**
   * The first `k` distinct workers met clockwise from the key's position (home first).
   * `k` defaults to every worker. Cost: the points walked, a few per worker for k ≪ n and
   * about n × ln(n) points for k = n (so callers on a hot path bound k).
   */
  preferenceList(key: string, k: number = this.size): string[] {
    const want = Math.min(k, this.size);
    if (want <= 0) return [];
    if (want === 1) return [this.home(key) as string];
    const points = this.#ring.ring;
    const total = points.length;
    const start = this.#ring.find(this.#ring.hashValue(key));
    const out: string[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < total && out.length < want; i++) {
      const server = (points[(start + i) % total] as { server: string }).server;
      if (!seen.has(server)) {
        seen.add(server);
        out.push(server);
      }
    }
    return out;
  }

  /** Whether a worker is on the ring. */
  has(workerId: string): boolean {
    return this.members.has(workerId);
  }

  /** The share of the hash circle each worker owns (sums to 1); O(points). */
  shares(): Map<string, number> {
    const shares = new Map<string, number>(this.ids.map((id) => [id, 0]));
    const points = this.#ring.ring;
    const last = points[points.length - 1];
    if (last === undefined) return shares;
    let prev = last.value - CIRCLE; // the first point owns the arc wrapping past 2^32
    for (const point of points) {
      shares.set(point.server, (shares.get(point.server) ?? 0) + (point.value - prev) / CIRCLE);
      prev = point.value;
    }
    return shares;
  }

  /** Where a key hashes on the circle, as a fraction of it (0 ≤ p < 1): the start of its walk. */
  position(key: string): number {
    return this.#ring.hashValue(key) / CIRCLE;
  }

  /**
   * The circle cut into arcs by owner, as fractions (0..1) in clockwise order: a point owns the
   * arc from the previous point to itself, adjacent arcs of one worker are merged, and the
   * arc wrapping past 2^32 is split at 0. Their lengths per worker sum to `shares()`. O(points).
   */
  arcs(): Array<{ workerId: string; start: number; end: number }> {
    const points = this.#ring.ring;
    const first = points[0];
    if (first === undefined) return [];
    const out: Array<{ workerId: string; start: number; end: number }> = [];
    const push = (workerId: string, start: number, end: number): void => {
      const last = out[out.length - 1];
      if (last !== undefined && last.workerId === workerId && last.end === start) last.end = end;
      else if (end > start) out.push({ workerId, start, end });
    };
    push(first.server, 0, first.value / CIRCLE);
    for (let i = 1; i < points.length; i++) {
      const point = points[i] as { value: number; server: string };
      push(point.server, (points[i - 1] as { value: number }).value / CIRCLE, point.value / CIRCLE);
    }
    // Past the last point the circle belongs to the first point's owner again.
    push(first.server, (points[points.length - 1] as { value: number }).value / CIRCLE, 1);
    return out;
  }

  /** True when both rings hold the same worker ids at the same addresses. */
  sameMembers(other: Ring<RingMemberRow>): boolean {
    if (other.size !== this.size) return false;
    for (const [id, member] of this.members) {
      if (other.members.get(id)?.address !== member.address) return false;
    }
    return true;
  }
}
