/**
 * The platform image (router, worker, CLI and the embedded-Azurite service in one image), built
 * with no registry, like the runtime image: the runtime image's minimal root file system (the
 * host's `node` and the libraries `ldd` lists, /etc/passwd with the user ringfaas 1000:1000)
 * plus the application at /opt/ringfaas/app:
 *
 *   /opt/ringfaas/app/package.json
 *   /opt/ringfaas/app/dist/...            the compiled JavaScript (`npm run build`)
 *   /opt/ringfaas/app/node_modules/...    production dependencies only
 *
 * packed with `tar` and `docker import`ed with ENTRYPOINT node dist/deploy/entrypoint.js, CMD
 * router, USER 1000:1000 (the worker's service runs it as root: see docs/operations.md) and
 * the labels org.opencontainers.image.version / .revision / .created and ringfaas.platform=1.
 * The conventional `Dockerfile` at the top of the repository produces the same layout from
 * node:20-bookworm-slim for users with a registry.
 *
 * The production dependencies are read from package-lock.json (every package not marked
 * `dev` or `devOptional`, as `npm ci --omit=dev` installs them) and taken from the checkout's
 * node_modules: no registry, no copy of node_modules on disk.
 *
 * Caveat: the packages are the checkout's installed ones, so a dependency with a native build
 * must have been built for the image's node (the same binary here); ringfaas has none.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { assembleRootFs, importTarImage } from '../worker/index.ts';

/** Where the application lives inside the platform image. */
export const PLATFORM_APP_DIR = '/opt/ringfaas/app';
const IMAGE_REPO = 'ringfaas-platform';

export interface PlatformImageOptions {
  docker: Docker;
  /** The checkout (package.json, package-lock.json, node_modules, dist/). */
  sourceRoot: string;
  /** Image name (default defaultPlatformImageName()). */
  imageName?: string;
  /** The node binary to put in (default process.execPath). */
  nodePath?: string;
}

/** Version and git revision of a checkout (revision `unknown` outside git). */
export async function checkoutIdentity(sourceRoot: string): Promise<{ version: string; revision: string }> {
  const pkg = JSON.parse(await readFile(join(sourceRoot, 'package.json'), 'utf8')) as { version?: string };
  let revision = 'unknown';
  try {
    revision = (await run('git', ['-C', sourceRoot, 'rev-parse', 'HEAD'])).trim() || 'unknown';
  } catch {
    revision = 'unknown'; // not a git checkout (a copied tree): the label says so
  }
  return { version: pkg.version ?? '0.0.0', revision };
}

/** `ringfaas-platform:<version>-<first 12 digits of the git revision>`. */
export async function defaultPlatformImageName(sourceRoot: string): Promise<string> {
  const { version, revision } = await checkoutIdentity(sourceRoot);
  return `${IMAGE_REPO}:${version}-${revision.slice(0, 12)}`;
}

/** The node_modules paths `npm ci --omit=dev` would install, from package-lock.json (v2/v3). */
export async function productionPackagePaths(sourceRoot: string): Promise<string[]> {
  const lock = JSON.parse(await readFile(join(sourceRoot, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, { dev?: boolean; devOptional?: boolean; link?: boolean }>;
  };
  const paths: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === '' || entry.dev === true || entry.devOptional === true || entry.link === true) continue;
    // Optional packages for other platforms are not installed here: leave them out.
    if (!existsSync(join(sourceRoot, path))) continue;
    paths.push(path);
  }
  // A nested package lies inside its parent's folder already.
  paths.sort();
  return paths.filter((p, i) => !paths.slice(0, i).some((q) => p.startsWith(`${q}/`)));
}

function run(command: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd === undefined ? {} : { cwd }) });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}: ${err.slice(-500)}`))));
  });
}

/** Builds the platform image from the checkout's dist/ and production packages; returns its name. */
export async function buildPlatformImage(options: PlatformImageOptions): Promise<string> {
  const { docker, sourceRoot } = options;
  if (!existsSync(join(sourceRoot, 'dist', 'deploy', 'entrypoint.js'))) {
    throw new Error(`${sourceRoot}/dist is not built: run npm run build first`);
  }
  const imageName = options.imageName ?? (await defaultPlatformImageName(sourceRoot));
  const { version, revision } = await checkoutIdentity(sourceRoot);
  const packages = await productionPackagePaths(sourceRoot);
  const root = await mkdtemp(join(tmpdir(), 'ringfaas-platform-rootfs-'));
  try {
    const nodeInImage = await assembleRootFs(root, options.nodePath ?? process.execPath);
    const appPrefix = PLATFORM_APP_DIR.slice(1);
    // One tar stream: the root file system, then the application moved under /opt/ringfaas/app.
    const args = [
      '--numeric-owner', '--owner=0', '--group=0', '-cf', '-',
      '-C', root, '.',
      '-C', sourceRoot,
      '--exclude=*.map',
      `--transform=s,^\\(dist\\|package\\.json\\|node_modules\\),${appPrefix}/\\1,`,
      'package.json', 'dist', ...packages,
    ];
    const changes = [
      `ENTRYPOINT ["${nodeInImage}", "${PLATFORM_APP_DIR}/dist/deploy/entrypoint.js"]`,
      'CMD ["router"]',
      'USER 1000:1000',
      `WORKDIR ${PLATFORM_APP_DIR}`,
      'ENV NODE_ENV=production HOME=/tmp PATH=/usr/local/bin:/usr/bin:/bin',
      `LABEL org.opencontainers.image.title=ringfaas org.opencontainers.image.version=${version} org.opencontainers.image.revision=${revision} org.opencontainers.image.created=${new Date().toISOString()} ringfaas.platform=1`,
    ];
    await importTarImage(docker, args, imageName, changes);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return imageName;
}
