/**
 * What one entry of the configuration table is (config/variables.ts), and the schema builders
 * the entries are made of. A builder returns the zod schema and the words docs/configuration.md
 * uses for the same range ("integer 0..65535"), so the range is written once and the docs test
 * (config/test/docs.test.ts) holds the page to it.
 *
 * A schema parses the variable's text, trimmed, or `undefined` when it is unset or empty and
 * has no default. Its messages complete a sentence that starts with the variable's name
 * ("RINGFAAS_PORT must be 0..65535"): the reader (config/read.ts) writes the name. They never
 * repeat the value, so a secret's problem never echoes the secret.
 */
import { z } from 'zod';

/** The processes that read the table, each through its own loader. */
export type Component = 'router' | 'dispatcher' | 'worker' | 'launcher';

/** How one component reads a variable where it differs from the entry (another default, range or meaning). */
export interface VariableView<T> {
  readonly schema?: z.ZodType<T>;
  readonly accepts?: string;
  readonly default?: string;
  readonly defaultText?: string;
  readonly doc?: string;
}

/** One environment variable: its schema and range, default, readers and one-line doc. */
export interface Variable<T> {
  readonly name: string;
  readonly schema: z.ZodType<T>;
  /** The accepted values as docs/configuration.md's "accepted values" column starts. */
  readonly accepts: string;
  /** The text used when the variable is unset or empty; none: the schema sees `undefined`. */
  readonly default?: string;
  /** How the docs write a default that is not one literal value (computed at start, "none", "off"). */
  readonly defaultText?: string;
  /** The one-line doc: the docs' "meaning" column starts with it. */
  readonly doc: string;
  readonly readBy: readonly Component[];
  /** Never logged, never echoed in a problem. */
  readonly secret?: boolean;
  readonly views?: Partial<Record<Component, VariableView<T>>>;
}

/** The entry as `component` reads it: its view laid over the entry. */
export function viewOf<T>(variable: Variable<T>, component: Component): Omit<Variable<T>, 'views'> {
  const view = variable.views?.[component] ?? {};
  const { views: _views, ...entry } = variable;
  return { ...entry, ...view };
}

/** The default as docs/configuration.md writes it: `` `8080` ``, **required**, none, or the entry's own words. */
export function documentedDefault(variable: Variable<unknown>, component: Component): string {
  const view = viewOf(variable, component);
  if (view.defaultText !== undefined) return view.defaultText;
  if (view.default !== undefined) return `\`${view.default}\``;
  return view.schema.safeParse(undefined).success ? 'none' : '**required**';
}

/** A schema with the docs' words for its accepted values. */
export interface Accepts<T> {
  readonly schema: z.ZodType<T>;
  readonly accepts: string;
}

/** An integer in min..max (max Infinity: no upper bound). */
export function integer(min: number, max: number = Number.POSITIVE_INFINITY): Accepts<number> {
  const range = max === Number.POSITIVE_INFINITY ? `at least ${min}` : `${min}..${max}`;
  return {
    schema: z.coerce
      .number({ error: 'must be a number' })
      .int('must be an integer')
      .min(min, `must be ${range}`)
      .max(max, `must be ${range}`),
    accepts: max === Number.POSITIVE_INFINITY ? `integer ≥ ${min}` : `integer ${min}..${max}`,
  };
}

/** `0` (off) or an integer in min..max. */
export function integerOrOff(min: number, max: number): Accepts<number> {
  const message = `must be 0 (off) or ${min}..${max}`;
  return {
    schema: z.coerce
      .number({ error: 'must be a number' })
      .int('must be an integer')
      .refine((n) => n === 0 || (n >= min && n <= max), message),
    accepts: `\`0\` (off) or integer ${min}..${max}`,
  };
}

/** A number (not only integers) in min..max. */
export function decimal(min: number, max: number): Accepts<number> {
  return {
    schema: z.coerce
      .number({ error: 'must be a number' })
      .min(min, `must be ${min}..${max}`)
      .max(max, `must be ${min}..${max}`),
    accepts: `number ${min}..${max}`,
  };
}

/** One of a list of words. */
export function oneOf<const V extends readonly [string, ...string[]]>(values: V): Accepts<V[number]> {
  return { schema: z.enum(values, { error: `must be one of ${values.join(', ')}` }), accepts: values.map((v) => `\`${v}\``).join(', ') };
}

/** Text matching a pattern, shown as `pattern` in messages and docs. */
export function matching(pattern: RegExp, shown: string = pattern.source.replace(/^\^|\$$/g, '')): Accepts<string> {
  return { schema: z.string().regex(pattern, `must match ${shown}`), accepts: `\`${shown}\`` };
}

/** Any text (empty counts as unset, so it is never empty); `accepts` names what it is. */
export function text(accepts = 'non-empty'): Accepts<string> {
  return { schema: z.string(), accepts };
}

/** An absolute URL. */
export function url(): Accepts<string> {
  return { schema: z.url({ error: 'must be a URL' }), accepts: 'a URL' };
}

/** A required value: unset, the reader reports "<NAME> is required". */
export function required<T>(inner: Accepts<T>): Accepts<T> {
  const present = z.unknown().refine((v) => v !== undefined, 'is required');
  // The inner schema takes any input (zod's `unknown`), which includes what `present` passes on.
  return { schema: present.pipe(inner.schema as z.ZodType<T, any>), accepts: inner.accepts };
}

/** An optional value: unset is `undefined`. */
export function optional<T>(inner: Accepts<T>): Accepts<T | undefined> {
  return { schema: inner.schema.optional(), accepts: inner.accepts };
}

/** The same entry read as optional (a component for which unset means something of its own). */
export function optionalVariable<T>(variable: Variable<T>): Variable<T | undefined> {
  return { ...variable, schema: variable.schema.optional(), views: undefined };
}
