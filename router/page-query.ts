/** The paging query of `GET /functions`. */
import { RfError } from '../errors/index.ts';
import { RouterErrors } from './errors.ts';

/** Most functions one page may ask for. */
export const MAX_PAGE_LIMIT = 1000;

/**
 * `?limit=N&continuationToken=T` of GET /functions: undefined when neither is given (the
 * whole list as an array, as the seed's clients expect); a page of 1..MAX_PAGE_LIMIT (default
 * 100) otherwise.
 */
export function pageQuery(url: string): { limit: number; continuationToken?: string } | undefined {
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  const params = new URLSearchParams(url.slice(q + 1));
  const limitText = params.get('limit');
  const token = params.get('continuationToken');
  if (limitText === null && token === null) return undefined;
  const limit = limitText === null ? 100 : Number(limitText);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new RfError(RouterErrors.INVALID_QUERY, `limit must be an integer 1..${MAX_PAGE_LIMIT}`, { details: { limit: limitText } });
  }
  if (token !== null && (token.length === 0 || token.length > 4096)) {
    throw new RfError(RouterErrors.INVALID_QUERY, 'continuationToken must be the nextToken of a previous page');
  }
  return token === null ? { limit } : { limit, continuationToken: token };
}
