/** What `--target` names (see targets.ts for starting each one); pure, no platform imports. */
import { RfError } from '../../errors/index.ts';
import { BenchErrors } from '../errors.ts';

export type TargetSpec =
  | { kind: 'ringfaas' }
  | { kind: 'redis-design' }
  | { kind: 'limit' }
  | { kind: 'url'; base: string }
  | { kind: 'invoke'; url: string };

/** Parses a `--target` value. */
export function parseTarget(text: string): TargetSpec {
  if (text === 'ringfaas' || text === 'redis-design' || text === 'limit') return { kind: text };
  const eq = text.indexOf('=');
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  if (eq > 0 && (key === 'url' || key === 'invoke')) {
    try {
      const u = new URL(value);
      if (u.protocol === 'http:' || u.protocol === 'https:') {
        return key === 'url' ? { kind: 'url', base: value.replace(/\/+$/, '') } : { kind: 'invoke', url: value };
      }
    } catch {
      // reported below with the accepted forms
    }
  }
  throw new RfError(BenchErrors.OPTION_INVALID, `unknown target '${text}': use ringfaas, redis-design, limit, url=<base URL> or invoke=<invoke URL>`);
}

/** The display name of a target. */
export function targetName(spec: TargetSpec): string {
  if (spec.kind === 'url') return spec.base;
  if (spec.kind === 'invoke') return spec.url;
  return spec.kind;
}
