/**
 * Bearer API-key authentication and scopes. Keys are compared as SHA-256 digests with
 * timingSafeEqual, against every configured key without stopping early, so the time taken
 * tells nothing about how close a guess was or which key matched.
 *
 * Keys are configured as `key[:scope]` (RINGFAAS_API_KEYS). Scopes are ordered:
 * `invoke` < `deploy` < `admin`; a key without a scope is `admin` (what every key was before
 * scopes existed). Each route names the least scope it needs (docs/security.md lists them).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { RfError } from '../errors/index.ts';
import { AuthErrors, RouterErrors } from './errors.ts';

/** What a key may do: invoke functions; also manage them; everything (workers, metrics). */
export type Scope = 'invoke' | 'deploy' | 'admin';

export const SCOPES: readonly Scope[] = ['invoke', 'deploy', 'admin'];

const RANK: Record<Scope, number> = { invoke: 0, deploy: 1, admin: 2 };

/** One `key[:scope]` entry of RINGFAAS_API_KEYS, or the reason it is not one. */
export function parseApiKey(entry: string): { key: string; scope: Scope } | { problem: string } {
  const colon = entry.lastIndexOf(':');
  if (colon === -1) return entry.length >= 8 ? { key: entry, scope: 'admin' } : { problem: 'each key of RINGFAAS_API_KEYS must be at least 8 characters' };
  const key = entry.slice(0, colon);
  const scope = entry.slice(colon + 1);
  if (!(SCOPES as readonly string[]).includes(scope)) {
    return { problem: `RINGFAAS_API_KEYS: unknown scope '${scope.slice(0, 16)}' (write key:invoke, key:deploy or key:admin)` };
  }
  if (key.length < 8) return { problem: 'each key of RINGFAAS_API_KEYS must be at least 8 characters (before its :scope)' };
  return { key, scope: scope as Scope };
}

/** Checks an Authorization header; `enabled` is false when no keys are configured. */
export interface Authenticator {
  readonly enabled: boolean;
  /**
   * Throws RF_ROUTER_UNAUTHORIZED unless the header carries a configured key, and
   * RF_AUTH_FORBIDDEN when that key's scope is below `needed`.
   */
  check(authorization: string | undefined, needed: Scope): void;
  /** The scope of the key the header carries (admin when no keys are configured); throws RF_ROUTER_UNAUTHORIZED as check() does. */
  scopeOf(authorization: string | undefined): Scope;
}

/** The WWW-Authenticate header sent with every 401. */
export const WWW_AUTHENTICATE = 'Bearer realm="ringfaas"';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** An authenticator over `key[:scope]` entries (entries that do not parse are ignored: the config loader refuses them). */
export function createAuthenticator(apiKeys: readonly string[]): Authenticator {
  const known: Array<{ digest: Buffer; rank: number }> = [];
  for (const entry of apiKeys) {
    const parsed = parseApiKey(entry);
    if ('key' in parsed) known.push({ digest: digest(parsed.key), rank: RANK[parsed.scope] });
  }
  const enabled = apiKeys.some((k) => k.length > 0);
  const rankOf = (authorization: string | undefined): number => {
    const match = authorization === undefined ? null : /^bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match === null) {
      throw new RfError(RouterErrors.UNAUTHORIZED, 'missing "Authorization: Bearer <api key>" header');
    }
    const offered = digest(match[1] ?? '');
    let rank = -1;
    for (const k of known) if (timingSafeEqual(offered, k.digest)) rank = Math.max(rank, k.rank);
    if (rank === -1) throw new RfError(RouterErrors.UNAUTHORIZED, 'the API key is not valid');
    return rank;
  };
  return {
    enabled,
    check(authorization, needed) {
      if (!enabled) return;
      if (rankOf(authorization) < RANK[needed]) {
        throw new RfError(AuthErrors.FORBIDDEN, `this API key's scope does not allow this request (it needs '${needed}')`, { details: { needed } });
      }
    },
    scopeOf(authorization) {
      return enabled ? (SCOPES[rankOf(authorization)] as Scope) : 'admin';
    },
  };
}
