/**
 * The command line a result records to reproduce its run: the `ringfaas bench …` arguments,
 * without the ones that only say where this run put its files (`--results-dir`, `--no-docs`),
 * and preceded by the platform settings of the configuration table that the caller's
 * environment set, since they change what is measured (RINGFAAS_WARM_FIRST=1,
 * RINGFAAS_SUSTAINED_LOAD=off, …). Secrets and the settings the bench overrides for its own
 * components (bench/platform/component-env.ts) are left out.
 */
import { ALL_VARIABLES } from '../config/index.ts';
import { BENCH_UNSET_VARIABLES } from './platform/component-env.ts';

/** Options that place a run's files and change nothing measured. */
const PLACEMENT_OPTIONS = new Set(['--results-dir', '--no-docs']);
/** Those of them that take a value as the next argument. */
const WITH_VALUE = new Set(['--results-dir']);

const RECORDED = ALL_VARIABLES.filter((v) => v.secret !== true && !BENCH_UNSET_VARIABLES.includes(v.name)).map((v) => v.name);

/** `VAR=value … ringfaas bench <args>` for `argv` (process.argv) and `env` (process.env). */
export function reproduceCommand(argv: readonly string[], env: NodeJS.ProcessEnv): string {
  const from = argv.indexOf('bench');
  const args = from < 0 ? [] : argv.slice(from);
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const name = arg.split('=', 1)[0] as string;
    if (!PLACEMENT_OPTIONS.has(name)) kept.push(arg);
    else if (WITH_VALUE.has(arg)) i++;
  }
  const settings = RECORDED.filter((name) => env[name] !== undefined && env[name] !== '').map((name) => `${name}=${quoted(env[name] as string)}`);
  return [...settings, 'ringfaas', ...kept].join(' ');
}

/** A value as a POSIX shell reads it back. */
function quoted(value: string): string {
  return /^[A-Za-z0-9_./:,=@%+-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
