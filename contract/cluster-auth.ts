/**
 * The cluster credential between routers and workers (docs/security.md, docs/worker-protocol.md).
 *
 * Routers and workers share one secret, the cluster key (RINGFAAS_CLUSTER_KEY). It is used two
 * ways:
 *
 * - **Every worker route but `GET /healthz` and `POST /cluster/prove`** requires the request
 *   header `x-ringfaas-cluster-key: <key>`. The comparison is of SHA-256 digests with
 *   timingSafeEqual, so its time tells nothing about how much of a guess was right.
 * - **Registration by proof.** Before a router lets an address into the ring (POST /workers),
 *   it sends that address a random challenge *without* the key (the address is not trusted
 *   yet: sending it the key would hand the key to whoever runs it). The worker answers
 *   `HMAC-SHA256(key, "ringfaas-prove-v1\n" + challenge + "\n" + workerId + "\n" + address)`
 *   where `address` is the worker's own advertised address. The router computes the same
 *   HMAC over the address it was asked to register: a server that does not hold the key
 *   cannot answer, and a server that relays the challenge to a real worker gets a proof for
 *   the real worker's address, not its own.
 *
 * Worked example: key "k", challenge "c1", worker "worker-1" at http://127.0.0.1:7001 → the
 * proof is hex(HMAC-SHA256("k", "ringfaas-prove-v1\nc1\nworker-1\nhttp://127.0.0.1:7001")).
 * A fake server at http://127.0.0.1:9999 relaying c1 to worker-1 gets that same value back,
 * which the router compares with the HMAC over ".../127.0.0.1:9999": no match, refused.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The request header carrying the cluster key on calls to a worker. */
export const CLUSTER_KEY_HEADER = 'x-ringfaas-cluster-key';

/** Shortest cluster key accepted (characters). `npm start` generates 43 (32 random bytes). */
export const MIN_CLUSTER_KEY_LENGTH = 32;

/** The body of POST /cluster/prove. */
export interface ProveRequest {
  /** Random, base64url, 16..128 characters. */
  challenge: string;
}

/** The answer of POST /cluster/prove. */
export interface ProveAnswer {
  /** The worker's id. */
  id: string;
  /** The address the worker advertises (what it signed). */
  address: string;
  /** hex HMAC-SHA256 (see the module comment). */
  proof: string;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** A constant-time check of a presented cluster key against the configured one. */
export function clusterKeyChecker(key: string): (presented: string | string[] | undefined) => boolean {
  const expected = digest(key);
  return (presented) => typeof presented === 'string' && timingSafeEqual(digest(presented), expected);
}

/** A new random challenge for POST /cluster/prove. */
export function newChallenge(): string {
  return randomBytes(24).toString('base64url');
}

/** Whether a string is acceptable as a challenge. */
export function isChallenge(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{16,128}$/.test(value);
}

/** The proof a worker holding `key` gives for a challenge (see the module comment). */
export function membershipProof(key: string, challenge: string, workerId: string, address: string): string {
  return createHmac('sha256', key).update(`ringfaas-prove-v1\n${challenge}\n${workerId}\n${address}`, 'utf8').digest('hex');
}

/** Checks a proof in constant time. */
export function verifyMembershipProof(key: string, challenge: string, workerId: string, address: string, proof: unknown): boolean {
  if (typeof proof !== 'string' || !/^[0-9a-f]{64}$/.test(proof)) return false;
  const expected = Buffer.from(membershipProof(key, challenge, workerId, address), 'hex');
  return timingSafeEqual(expected, Buffer.from(proof, 'hex'));
}

/** Headers to send to a worker: the cluster key when one is configured. */
export function clusterHeaders(key: string | undefined): Record<string, string> {
  return key === undefined ? {} : { [CLUSTER_KEY_HEADER]: key };
}
