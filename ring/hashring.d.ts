/**
 * Types for the `hashring` package (3.x), which ships none. Only what ring/ uses is declared;
 * `ring`, `find` and `hashValue` are public properties of the JavaScript object (the
 * continuum and its binary search) that ring/ring.ts reads to walk the ring lazily.
 */
declare module 'hashring' {
  /** One point of the continuum. */
  interface HashRingNode {
    readonly value: number;
    readonly server: string;
  }

  /** Per-server settings when servers are given as an object. */
  interface HashRingServerSpec {
    vnodes?: number;
    weight?: number;
  }

  interface HashRingOptions {
    /** Hashes per server (each gives `replicas` points); 40 by default. */
    'vnode count'?: number;
    /** Points per hash: 4 (ketama, default) or 3 (hash_ring). */
    replicas?: number;
    compatibility?: 'ketama' | 'hash_ring';
    'max cache size'?: number;
    'default port'?: number;
  }

  /** A digest function: must return at least 4 × replicas bytes. */
  type HashRingHasher = (key: string) => Uint8Array;

  class HashRing {
    constructor(
      servers: string | string[] | Record<string, HashRingServerSpec | number>,
      algorithm?: string | HashRingHasher,
      options?: HashRingOptions,
    );
    /** The sorted continuum. */
    readonly ring: HashRingNode[];
    /** Number of points on the continuum. */
    readonly size: number;
    get(key: string): string | undefined;
    range(key: string, size?: number, unique?: boolean): string[];
    /** Index in `ring` of the first point at or after `hashValue` (wrapping to 0). */
    find(hashValue: number): number;
    /** The 32-bit position of a key. */
    hashValue(key: string): number;
    has(server: string): boolean;
    points(servers?: string[]): Record<string, number[]>;
  }

  export = HashRing;
}
