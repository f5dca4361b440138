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

/**
 * The host of a listen address as it stands in a URL that reaches it from this machine: the
 * wildcard addresses become their loopback, an IPv6 address is bracketed (once).
 */
export function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** pino's levels, as RINGFAAS_LOG_LEVEL accepts them in every process. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** One of LOG_LEVELS. */
export type LogLevel = (typeof LOG_LEVELS)[number];
