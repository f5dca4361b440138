/**
 * Reads a set of the table's variables from an environment for one component: every variable
 * is parsed, every problem collected (one per variable, its first), none thrown until the
 * loader has added its own checks across variables; then `settle` throws RF_CONFIG_INVALID
 * listing them all, or returns the values, frozen.
 */
import { RfError, ConfigErrors } from '../errors/index.ts';
import { viewOf, type Component, type Variable } from './variable.ts';

/** A loader's fields, each read from one variable. */
export type VariableSet = Readonly<Record<string, Variable<any>>>;

/** The parsed values of a set, by field. */
export type ValuesOf<S extends VariableSet> = { -readonly [K in keyof S]: S[K] extends Variable<infer T> ? T : never };

/** What `readVariables` found: the values that parsed and a problem for each that did not. */
export interface ReadResult<S extends VariableSet> {
  readonly values: Partial<ValuesOf<S>>;
  readonly problems: string[];
}

/** An environment as process.env is one; empty or blank values count as unset. */
export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Reads `set` from `env` as `component` reads it. `defaults` replaces the table's default of a
 * variable where the loader computes it (a router id from the host name, a free port).
 */
export function readVariables<S extends VariableSet>(
  env: Environment,
  component: Component,
  set: S,
  defaults: Readonly<Record<string, string>> = {},
): ReadResult<S> {
  const values: Partial<Record<keyof S, unknown>> = {};
  const problems: string[] = [];
  for (const field of Object.keys(set) as Array<keyof S & string>) {
    const variable = viewOf(set[field]!, component);
    const given = env[variable.name]?.trim();
    const text = given === undefined || given === '' ? (defaults[variable.name] ?? variable.default) : given;
    const parsed = variable.schema.safeParse(text);
    if (parsed.success) values[field] = parsed.data;
    else problems.push(`${variable.name} ${parsed.error.issues[0]?.message ?? 'is invalid'}`);
  }
  return { values: values as Partial<ValuesOf<S>>, problems };
}

/** The error of an invalid configuration: `invalid <what> configuration: <problem>; <problem>…`. */
export function configError(what: string, problems: readonly string[]): RfError {
  return new RfError(ConfigErrors.INVALID, `invalid ${what} configuration: ${problems.join('; ')}`, { details: { problems: [...problems] } });
}

/**
 * Throws RF_CONFIG_INVALID with the read's problems and `more` (a loader's checks across
 * variables), or returns every value, frozen.
 */
export function settle<S extends VariableSet>(what: string, read: ReadResult<S>, more: readonly string[] = []): Readonly<ValuesOf<S>> {
  const problems = [...read.problems, ...more];
  if (problems.length > 0) throw configError(what, problems);
  // No problem means every variable of the set parsed: the values are complete.
  return Object.freeze(read.values as ValuesOf<S>);
}
