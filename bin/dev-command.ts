/** `ringfaas dev`: the whole platform on one machine (what `npm start` runs). */
import type { Command } from 'commander';

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description(
      'run the whole platform on this machine: embedded Azurite (data under RINGFAAS_DATA_DIR), ' +
        'RINGFAAS_ROUTERS routers on consecutive ports from RINGFAAS_PORT, and RINGFAAS_WORKERS workers',
    )
    .option('--insecure', 'allow routers to listen beyond loopback without API keys')
    .action(async (options: { insecure?: boolean }) => {
      const { runDev } = await import('./dev.ts');
      await runDev({ env: process.env, insecure: options.insecure === true });
    });
}
