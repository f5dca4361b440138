/**
 * The Redis layout of the seed's messaging layer, as the Redis design uses it.
 *
 *   <prefix>warm:<functionId>   LIST, a LIFO stack of idle container locations of the function:
 *                               "<instanceId> <workerAddress>"; LPOP takes the most recently
 *                               pushed (the most recently used container), LPUSH gives one back.
 *   <prefix>cold                LIST, unassigned memory reservations: "<workerId> <workerAddress>",
 *                               one entry per free `slotMb` of a worker (see redis-worker.ts).
 *   <prefix>workers             HASH workerId → address (for broadcasting function changes).
 *
 * The prefix lets several runs share one Redis server without seeing each other's entries.
 */

export interface RedisKeys {
  warm(functionId: string): string;
  readonly cold: string;
  readonly workers: string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    warm: (functionId) => `${prefix}warm:${functionId}`,
    cold: `${prefix}cold`,
    workers: `${prefix}workers`,
  };
}

/** A container location on a warm stack. */
export interface WarmEntry {
  instanceId: string;
  address: string;
}

/** A memory reservation on the cold queue. */
export interface ColdEntry {
  workerId: string;
  address: string;
}

export function encodeEntry(id: string, address: string): string {
  return `${id} ${address}`;
}

/** Splits "<id> <address>"; undefined for a malformed entry (dropped by the caller). */
export function decodeEntry(entry: string): { id: string; address: string } | undefined {
  const space = entry.indexOf(' ');
  if (space <= 0 || space === entry.length - 1) return undefined;
  return { id: entry.slice(0, space), address: entry.slice(space + 1) };
}

/**
 * One round trip for the web service's discovery step: pop a warm location of the function,
 * else a cold reservation. Answers [kind, entry] with kind "w" or "c", or nil. The same logic
 * as the seed's two LPOPs, in a script so that a miss costs one round trip, not two.
 */
export const POP_LOCATION_LUA = `
local e = redis.call('LPOP', KEYS[1])
if e then return {'w', e} end
e = redis.call('LPOP', KEYS[2])
if e then return {'c', e} end
return false
`;
