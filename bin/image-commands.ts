/**
 * `ringfaas image build [--name <image>] [--platform-name <image>] [--only runtime|platform]`
 * and `ringfaas image name`: the runtime image the Docker runtime runs functions in, built
 * locally from this host's node binary and the shim (no registry; see docs/runtime-image.md),
 * and the platform image (router, worker, CLI, Azurite service: deploy/platform-image.ts),
 * built from the compiled code (`npm run build`, run first from a checkout). Workers build the
 * runtime image on their own when it is missing; this command builds it ahead of time, or
 * under another name. The image names go to stdout (runtime first, one a line), everything
 * else to stderr; failures print `code: message` and exit non-zero.
 */
import { Command } from 'commander';
import Docker from 'dockerode';
import { isRfError } from '../errors/index.ts';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildRuntimeImage, defaultRuntimeImageName } from '../worker/index.ts';
import { buildPlatformImage } from '../deploy/index.ts';
import { RUNNING_COMPILED, SOURCE_ROOT } from './node-entry.ts';
import { processIo } from './api-client.ts';

/** Where the commands read their settings and write their output (the process's by default). */
export interface ImageCommandsIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The Docker client (default: dockerode's, from DOCKER_HOST or the default socket). */
  docker?: () => Docker;
}

function describeError(err: unknown): string {
  if (isRfError(err)) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${err.code}: ${err.message}${cause}`;
  }
  return `RF_WORKER_IMAGE_UNAVAILABLE: ${err instanceof Error ? err.message : String(err)}`;
}

/** Adds the `image` command group to the program. */
export function registerImageCommands(program: Command, io: ImageCommandsIo = processIo()): void {
  const image = program.command('image').description('the runtime image functions run in and the platform image (built locally, no registry)');

  image
    .command('build')
    .description('build the runtime image (this host\'s node binary and the shim) and the platform image (compiled code), and print their names')
    .option('--name <image>', 'runtime image name (default: RINGFAAS_RUNTIME_IMAGE, else ringfaas-runtime:<hash of shim and node version>)')
    .option('--platform-name <image>', 'platform image name (default: ringfaas-platform:<version>-<git revision>)')
    .option('--only <which>', 'build only the runtime or only the platform image')
    .action(async (opts: { name?: string; platformName?: string; only?: string }) => {
      if (opts.only !== undefined && opts.only !== 'runtime' && opts.only !== 'platform') {
        io.stderr('RF_CONFIG_INVALID: --only must be runtime or platform\n');
        process.exitCode = 1;
        return;
      }
      const imageName = opts.name ?? (io.env.RINGFAAS_RUNTIME_IMAGE || defaultRuntimeImageName());
      const docker = io.docker?.() ?? new Docker();
      if (opts.only !== 'platform' && !(await buildRuntime(imageName, docker))) return;
      if (opts.only !== 'runtime') await buildPlatform(opts.platformName, docker);
    });

  async function buildRuntime(imageName: string, docker: Docker): Promise<boolean> {
    io.stderr(`building ${imageName}...\n`);
    const startedAt = performance.now();
    try {
      await buildRuntimeImage({ docker, imageName });
    } catch (err) {
      io.stderr(`${describeError(err)}\n`);
      process.exitCode = 1;
      return false;
    }
    io.stderr(`built in ${Math.round(performance.now() - startedAt)} ms\n`);
    io.stdout(`${imageName}\n`);
    return true;
  }

  async function buildPlatform(name: string | undefined, docker: Docker): Promise<void> {
    // From a checkout the sources are compiled first; compiled, dist/ is this code's own root.
    if (!RUNNING_COMPILED) {
      io.stderr('compiling (npm run build)...\n');
      const build = spawnSync(process.execPath, [join(SOURCE_ROOT, 'bin', 'build.js')], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (build.status !== 0) {
        io.stderr(`RF_CONFIG_INVALID: npm run build failed: ${build.stderr.toString().slice(-2000)}\n`);
        process.exitCode = 1;
        return;
      }
    }
    io.stderr(`building the platform image${name === undefined ? '' : ` ${name}`}...\n`);
    const startedAt = performance.now();
    let built: string;
    try {
      built = await buildPlatformImage({ docker, sourceRoot: SOURCE_ROOT, ...(name === undefined ? {} : { imageName: name }) });
    } catch (err) {
      io.stderr(`RF_WORKER_IMAGE_UNAVAILABLE: could not build the platform image: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
      return;
    }
    io.stderr(`built in ${Math.round(performance.now() - startedAt)} ms\n`);
    io.stdout(`${built}\n`);
  }

  image
    .command('name')
    .description('print the name workers use for the runtime image')
    .action(() => {
      io.stdout(`${io.env.RINGFAAS_RUNTIME_IMAGE || defaultRuntimeImageName()}\n`);
    });
}
