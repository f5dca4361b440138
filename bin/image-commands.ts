/**
 * `ringfaas image build [--name <image>]` and `ringfaas image name`: the runtime image the
 * Docker runtime runs functions in, built locally from this host's node binary and the shim
 * (no registry; see docs/runtime-image.md). Workers build it on their own when it is missing;
 * this command builds it ahead of time, or under another name. The image name goes to stdout,
 * everything else to stderr; failures print `code: message` and exit non-zero.
 */
import { Command } from 'commander';
import Docker from 'dockerode';
import { isRfError } from '../errors/index.ts';
import { buildRuntimeImage, defaultRuntimeImageName } from '../worker/runtime-image.ts';

/** Where the commands read their settings and write their output (the process's by default). */
export interface ImageCommandsIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The Docker client (default: dockerode's, from DOCKER_HOST or the default socket). */
  docker?: () => Docker;
}

const defaultIo: ImageCommandsIo = {
  env: process.env,
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

function describeError(err: unknown): string {
  if (isRfError(err)) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${err.code}: ${err.message}${cause}`;
  }
  return `RF_WORKER_IMAGE_UNAVAILABLE: ${err instanceof Error ? err.message : String(err)}`;
}

/** Adds the `image` command group to the program. */
export function registerImageCommands(program: Command, io: ImageCommandsIo = defaultIo): void {
  const image = program.command('image').description('the runtime image functions run in (built locally, no registry)');

  image
    .command('build')
    .description('build the runtime image from this host\'s node binary and the shim, and print its name')
    .option('--name <image>', 'image name (default: RINGFAAS_RUNTIME_IMAGE, else ringfaas-runtime:<hash of shim and node version>)')
    .action(async (opts: { name?: string }) => {
      const imageName = opts.name ?? (io.env.RINGFAAS_RUNTIME_IMAGE || defaultRuntimeImageName());
      const docker = io.docker?.() ?? new Docker();
      io.stderr(`building ${imageName}...\n`);
      const startedAt = performance.now();
      try {
        await buildRuntimeImage({ docker, imageName });
      } catch (err) {
        io.stderr(`${describeError(err)}\n`);
        process.exitCode = 1;
        return;
      }
      io.stderr(`built in ${Math.round(performance.now() - startedAt)} ms\n`);
      io.stdout(`${imageName}\n`);
    });

  image
    .command('name')
    .description('print the name workers use for the runtime image')
    .action(() => {
      io.stdout(`${io.env.RINGFAAS_RUNTIME_IMAGE || defaultRuntimeImageName()}\n`);
    });
}
