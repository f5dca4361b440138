/**
 * The `ringfaas` command line. Each area contributes its commands; this file only assembles
 * them (commander).
 */
import { Command } from 'commander';
import { registerFunctionCommands } from './functions-commands.ts';
import { registerWorkersCommands } from './workers-commands.ts';
import { registerImageCommands } from './image-commands.ts';
import { registerDevCommand } from './dev-command.ts';
import { registerBenchCommands } from '../bench/cli.ts';

const program = new Command('ringfaas')
  .description('ringfaas: a serverless platform on a consistent-hashing worker ring')
  .showHelpAfterError()
  .enablePositionalOptions();

registerDevCommand(program);
registerFunctionCommands(program);
registerWorkersCommands(program);
registerImageCommands(program);
registerBenchCommands(program);

await program.parseAsync(process.argv);
