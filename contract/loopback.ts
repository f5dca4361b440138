/**
 * Whether a listen address reaches only this machine: the line between "local development"
 * (open, no keys needed) and "a network" (keys required) for workers and routers alike.
 */
import { isIP } from 'node:net';

/** True for localhost, 127.0.0.0/8, ::1 and ::ffff:127.x (a bracketed IPv6 host is accepted). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || bare.toLowerCase().startsWith('::ffff:127.');
  return false;
}
