/**
 * Short, stable names for socket paths. A Unix socket path must fit in about 103 bytes, so the
 * runtimes shorten long worker ids and folders to a hash prefix: one rule for both runtimes.
 */
import { createHash } from 'node:crypto';

/** The first `hexChars` hex digits of the SHA-256 of `value` (stable across processes). */
export function shortHash(value: string, hexChars: number): string {
  return createHash('sha256').update(value).digest('hex').slice(0, hexChars);
}
