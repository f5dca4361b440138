/**
 * The `ringfaas` command line. Each area contributes its commands; this file only assembles
 * them (commander).
 */
import { Command } from 'commander';
import { isRfError } from '../errors/index.ts';
import { registerFunctionCommands } from './functions-commands.ts';
import { registerWorkersCommands } from './workers-commands.ts';
import { registerImageCommands } from './image-commands.ts';
import { registerDevCommand } from './dev-command.ts';
import { registerInvocationsCommands } from './invocations-commands.ts';
import { registerBenchCommands } from '../bench/index.ts';

const program = new Command('ringfaas')
  .description('ringfaas: a serverless platform on a consistent-hashing worker ring')
  .showHelpAfterError()
  .enablePositionalOptions()
  .option('--ca <file>', 'PEM certificate(s) to trust for an https:// RINGFAAS_URL (or RINGFAAS_CA_FILE)');
// The commands read their settings from the environment: --ca is RINGFAAS_CA_FILE.
program.hook('preAction', () => {
  const ca = program.opts<{ ca?: string }>().ca;
  if (ca !== undefined) process.env.RINGFAAS_CA_FILE = ca;
});

registerDevCommand(program);
registerFunctionCommands(program);
registerWorkersCommands(program);
registerInvocationsCommands(program);
registerImageCommands(program);
registerBenchCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // A command's own failure (bad configuration, a start that failed): one line, no stack.
  if (isRfError(err)) process.stderr.write(`ringfaas: ${err.code}: ${err.message}\n`);
  else process.stderr.write(`ringfaas: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
