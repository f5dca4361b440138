/**
 * The runtime image, built locally with no registry: a minimal root file system holding the
 * host's own `node` binary (at its host path, so process.execPath is the same inside, linked
 * from /usr/local/bin/node), every shared library `ldd` lists for it (at the same paths,
 * dynamic loader included), the shim at /opt/ringfaas/shim.cjs, /etc/passwd and /etc/group
 * with the non-root user ringfaas (1000:1000), and empty /tmp, /code and /run/ringfaas. The
 * folder is packed with the `tar` command and `docker import`ed (POST /images/create?fromSrc=-)
 * with CMD, USER, PATH and the shim's RINGFAAS_SHIM_SOCKET / RINGFAAS_CODE_DIR set. docs/runtime-image.md describes what any runtime image must hold.
 *
 * The default tag is a hash of the shim's source, the node version and architecture, and this
 * layout's version: changing the shim or node gives a new tag, so a stale image is never run.
 *
 * Caveats: a node binary linked against libraries loaded with dlopen() at run time (not listed
 * by ldd) would miss them; the official Linux builds of Node.js need none. Linux hosts only.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, open, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { RfError } from '../errors/index.ts';
import { WorkerErrors } from './errors.ts';
import { shimSource } from './shim-client.ts';

/** Where node is found inside every runtime image (a link when the host's node lives elsewhere). */
export const IMAGE_NODE_PATH = '/usr/local/bin/node';
/** Where the shim lives inside the image. */
export const IMAGE_SHIM_PATH = '/opt/ringfaas/shim.cjs';
/** The user functions run as inside the container. */
export const RUNTIME_UID = 1000;
export const RUNTIME_GID = 1000;
/** Bump when the image layout changes. */
const LAYOUT_VERSION = '2';
const IMAGE_REPO = 'ringfaas-runtime';

/** The default image name for this shim and node binary: `ringfaas-runtime:<hash>`. */
export function defaultRuntimeImageName(nodeVersion: string = process.version): string {
  const hash = createHash('sha256')
    .update(shimSource())
    .update(`\0${nodeVersion}\0${process.platform}\0${process.arch}\0${LAYOUT_VERSION}`)
    .digest('hex')
    .slice(0, 16);
  return `${IMAGE_REPO}:${hash}`;
}

export interface BuildRuntimeImageOptions {
  docker: Docker;
  /** Name to tag the image with (default defaultRuntimeImageName()). */
  imageName?: string;
  /** The node binary to put in (default process.execPath). Its version must be the worker's. */
  nodePath?: string;
  logger?: Logger;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}: ${err.slice(0, 500)}`))));
  });
}

/** The absolute paths of the shared libraries (and loader) `ldd` lists for a binary. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const out = await run('ldd', [binary]);
  const paths = new Set<string>();
  for (const line of out.split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (match?.[1] !== undefined) paths.add(match[1]);
  }
  return [...paths];
}

async function copyInto(root: string, hostPath: string, imagePath: string = hostPath, mode?: number): Promise<void> {
  const target = join(root, imagePath);
  await mkdir(dirname(target), { recursive: true });
  await copyFile(hostPath, target); // follows symlinks: the content lands at the listed path
  if (mode !== undefined) await chmod(target, mode);
}

/** Lays out the root file system in `root`; returns the node path inside the image. */
export async function assembleRootFs(root: string, nodePath: string): Promise<string> {
  await copyInto(root, nodePath, nodePath, 0o755);
  if (nodePath !== IMAGE_NODE_PATH) {
    // node at the host's path keeps process.execPath the same; /usr/local/bin/node (on PATH) too.
    await mkdir(join(root, dirname(IMAGE_NODE_PATH)), { recursive: true });
    await symlink(nodePath, join(root, IMAGE_NODE_PATH));
  }
  for (const lib of await sharedLibraries(nodePath)) await copyInto(root, lib);
  await mkdir(join(root, dirname(IMAGE_SHIM_PATH)), { recursive: true });
  await writeFile(join(root, IMAGE_SHIM_PATH), shimSource(), { mode: 0o644 });
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/passwd'), `root:x:0:0:root:/root:/sbin/nologin\nringfaas:x:${RUNTIME_UID}:${RUNTIME_GID}:ringfaas:/tmp:/sbin/nologin\n`);
  await writeFile(join(root, 'etc/group'), `root:x:0:\nringfaas:x:${RUNTIME_GID}:\n`);
  await writeFile(join(root, 'etc/hosts'), '127.0.0.1 localhost\n::1 localhost\n');
  for (const dir of ['code', 'run/ringfaas', 'proc', 'sys', 'dev', 'root']) await mkdir(join(root, dir), { recursive: true });
  await mkdir(join(root, 'tmp'), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);
  return nodePath;
}

/** Packs `root` with the tar command and imports it as `imageName`. */
async function importRootFs(docker: Docker, root: string, imageName: string, nodePathInImage: string): Promise<void> {
  const changes = [
    `CMD ["${nodePathInImage}", "${IMAGE_SHIM_PATH}"]`,
    `USER ${RUNTIME_UID}:${RUNTIME_GID}`,
    'WORKDIR /code',
    'ENV NODE_ENV=production HOME=/tmp PATH=/usr/local/bin:/usr/bin:/bin',
    'ENV RINGFAAS_SHIM_SOCKET=/run/ringfaas/shim.sock RINGFAAS_CODE_DIR=/code',
    'LABEL ringfaas.runtime=1',
  ];
  await importTarImage(docker, ['-C', root, '--numeric-owner', '--owner=0', '--group=0', '-cf', '-', '.'], imageName, changes);
}

/**
 * Runs `tar <tarArgs>` (which writes the archive to its stdout) and imports the archive as
 * `imageName` (`repo[:tag]`, default tag latest) with the Dockerfile-style `changes`; the
 * runtime image and the platform image (deploy/platform-image.ts) are both made this way.
 */
export async function importTarImage(docker: Docker, tarArgs: string[], imageName: string, changes: string[]): Promise<void> {
  const colon = imageName.lastIndexOf(':');
  const hasTag = colon > imageName.lastIndexOf('/');
  const repo = hasTag ? imageName.slice(0, colon) : imageName;
  const tag = hasTag ? imageName.slice(colon + 1) : 'latest';
  const tar = spawn('tar', tarArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let tarError = '';
  tar.stderr.on('data', (c: Buffer) => (tarError += c.toString()));
  const tarExit = new Promise<number | null>((resolve, reject) => {
    tar.once('error', reject);
    tar.once('exit', (code) => resolve(code));
  });
  const stream = await docker.importImage(tar.stdout, { repo, tag, changes });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string }>) => {
      const failed = events?.find((e) => e.error !== undefined);
      if (err !== null) reject(err);
      else if (failed !== undefined) reject(new Error(failed.error));
      else resolve();
    });
  });
  const code = await tarExit;
  if (code !== 0) throw new Error(`tar exited with ${code}: ${tarError.slice(0, 500)}`);
}

/**
 * Builds the runtime image from the host's node binary and the shim; returns its name.
 * Fails with RF_WORKER_IMAGE_UNAVAILABLE (the cause says why).
 */
export async function buildRuntimeImage(options: BuildRuntimeImageOptions): Promise<string> {
  const imageName = options.imageName ?? defaultRuntimeImageName();
  const nodePath = options.nodePath ?? process.execPath;
  const startedAt = performance.now();
  const root = await mkdtemp(join(tmpdir(), 'ringfaas-rootfs-'));
  try {
    const nodeInImage = await assembleRootFs(root, nodePath);
    await importRootFs(options.docker, root, imageName, nodeInImage);
  } catch (err) {
    throw new RfError(WorkerErrors.IMAGE_UNAVAILABLE, `could not build the runtime image ${imageName}`, { cause: err, details: { image: imageName } });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  options.logger?.info({ image: imageName, durationMs: Math.round(performance.now() - startedAt) }, 'runtime image built');
  return imageName;
}

/** True when the engine has an image of this name. */
export async function imageExists(docker: Docker, imageName: string): Promise<boolean> {
  try {
    await docker.getImage(imageName).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw new RfError(WorkerErrors.RUNTIME_UNAVAILABLE, 'the Docker engine did not answer an image inspection', { cause: err });
  }
}

export interface EnsureRuntimeImageOptions extends BuildRuntimeImageOptions {
  /** Build when missing (default true). False: a missing image is an error (a named custom image). */
  build?: boolean;
  /** Folder of the lock file that keeps workers on one host from building at once (default os tmpdir). */
  lockDir?: string;
}

/**
 * Makes sure the image exists: builds it when missing (once per host at a time: a lock file
 * serialises workers that start together). Returns its name.
 */
export async function ensureRuntimeImage(options: EnsureRuntimeImageOptions): Promise<string> {
  const imageName = options.imageName ?? defaultRuntimeImageName();
  if (await imageExists(options.docker, imageName)) return imageName;
  if (options.build === false) {
    throw new RfError(WorkerErrors.IMAGE_UNAVAILABLE, `the runtime image ${imageName} does not exist on this Docker engine`, {
      details: { image: imageName, hint: 'build it (ringfaas image build --name <image>) or load it with docker load' },
    });
  }
  const lockPath = join(options.lockDir ?? tmpdir(), `ringfaas-image-${createHash('sha256').update(imageName).digest('hex').slice(0, 16)}.lock`);
  let release: () => Promise<void>;
  try {
    release = await acquireLock(lockPath);
  } catch (err) {
    throw new RfError(WorkerErrors.IMAGE_UNAVAILABLE, `could not take the build lock of the runtime image ${imageName}`, { cause: err, details: { image: imageName } });
  }
  try {
    if (await imageExists(options.docker, imageName)) return imageName; // another worker built it
    options.logger?.info({ image: imageName }, 'building the runtime image');
    return await buildRuntimeImage({ ...options, imageName });
  } finally {
    await release();
  }
}

/** An exclusive lock file; a lock older than staleMs (a builder that died) is taken over. */
async function acquireLock(path: string, staleMs = 300_000, waitMs = 600_000): Promise<() => Promise<void>> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined && Date.now() - info.mtimeMs > staleMs) await rm(path, { force: true });
    if (Date.now() > until) throw new Error(`timed out waiting for the image build lock ${path}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
