/**
 * Bearer API-key authentication. Keys are compared as SHA-256 digests with timingSafeEqual,
 * against every configured key without stopping early, so the time taken tells nothing about
 * how close a guess was or which key matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { RfError } from '../errors/index.ts';
import { RouterErrors } from './errors.ts';

/** Checks an Authorization header; `enabled` is false when no keys are configured. */
export interface Authenticator {
  readonly enabled: boolean;
  /** Throws RF_ROUTER_UNAUTHORIZED unless the header carries a configured key. */
  check(authorization: string | undefined): void;
}

/** The WWW-Authenticate header sent with every 401. */
export const WWW_AUTHENTICATE = 'Bearer realm="ringfaas"';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function createAuthenticator(apiKeys: readonly string[]): Authenticator {
  const digests = apiKeys.filter((key) => key.length > 0).map(digest);
  const enabled = digests.length > 0;
  return {
    enabled,
    check(authorization) {
      if (!enabled) return;
      const match = authorization === undefined ? null : /^bearer\s+(\S+)\s*$/i.exec(authorization);
      if (match === null) {
        throw new RfError(RouterErrors.UNAUTHORIZED, 'missing "Authorization: Bearer <api key>" header');
      }
      const offered = digest(match[1] ?? '');
      let ok = false;
      for (const known of digests) ok = timingSafeEqual(offered, known) || ok;
      if (!ok) throw new RfError(RouterErrors.UNAUTHORIZED, 'the API key is not valid');
    },
  };
}
