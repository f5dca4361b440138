/**
 * The locally built runtime image: its name follows the shim and node version, the root file
 * system holds node and its libraries, and (on a real engine) the imported image runs the
 * shim as the non-root user with the host's node version. Also `ringfaas image build`.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import Docker from 'dockerode';
import { isRfError } from '../../errors/index.ts';
import { dockerAvailable, dockerSocketPath, skipUnless } from '../../testing/services.ts';
import { registerImageCommands } from '../../bin/image-commands.ts';
import { WorkerErrors } from '../errors.ts';
import { DockerRuntime } from '../docker-runtime.ts';
import { assembleRootFs, defaultRuntimeImageName, ensureRuntimeImage, IMAGE_NODE_PATH, IMAGE_SHIM_PATH, sharedLibraries } from '../runtime-image.ts';

test('the default image name is stable and changes with the node version', () => {
  assert.equal(defaultRuntimeImageName(), defaultRuntimeImageName());
  assert.match(defaultRuntimeImageName(), /^ringfaas-runtime:[0-9a-f]{16}$/);
  assert.notEqual(defaultRuntimeImageName('v20.0.0'), defaultRuntimeImageName('v20.0.1'));
});

test('the root file system holds node, every library ldd lists, the shim, the user and the folders', { skip: process.platform === 'linux' ? false : 'ldd and the image layout are Linux only' }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'ringfaas-rootfs-test-'));
  try {
    const nodeInImage = await assembleRootFs(root, process.execPath);
    assert.ok(statSync(join(root, nodeInImage)).mode & 0o100, 'node is executable');
    const libs = await sharedLibraries(process.execPath);
    assert.ok(libs.some((l) => /ld-linux|ld-musl/.test(l)), `the dynamic loader is listed: ${libs.join(', ')}`);
    for (const lib of libs) assert.ok(existsSync(join(root, lib)), `${lib} is in the image`);
    assert.ok(existsSync(join(root, IMAGE_SHIM_PATH)));
    assert.ok(existsSync(join(root, IMAGE_NODE_PATH)), `${IMAGE_NODE_PATH} leads to node`);
    for (const dir of ['code', 'run/ringfaas', 'tmp']) assert.ok(statSync(join(root, dir)).isDirectory(), dir);
    assert.equal(statSync(join(root, 'tmp')).mode & 0o1777, 0o1777);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

describe('the runtime image on a Docker engine', { skip: skipUnless(dockerAvailable(), 'docker', 'building and running the image needs a Docker engine') }, () => {
  const docker = new Docker({ socketPath: dockerSocketPath() });
  const imageName = `ringfaas-runtime-test:${randomBytes(4).toString('hex')}`;
  const workerId = `image-${randomBytes(4).toString('hex')}`;

  after(async () => {
    await new DockerRuntime({ docker, image: imageName }).removeLeftovers(workerId);
    await docker.getImage(imageName).remove({ force: true }).catch(() => undefined);
  });

  test('a named image that is missing is not built by ensureRuntimeImage(build: false)', async () => {
    await assert.rejects(ensureRuntimeImage({ docker, imageName: `${imageName}-missing`, build: false }), (err: unknown) => {
      assert.ok(isRfError(err));
      assert.equal(err.code, WorkerErrors.IMAGE_UNAVAILABLE.code);
      return true;
    });
  });

  test('`ringfaas image build --only runtime --name` builds it and prints its name', async () => {
    let out = '';
    const program = new Command('ringfaas').exitOverride();
    registerImageCommands(program, { env: {}, stdout: (t) => (out += t), stderr: () => undefined, docker: () => docker });
    await program.parseAsync(['node', 'ringfaas', 'image', 'build', '--only', 'runtime', '--name', imageName]);
    assert.equal(out, `${imageName}\n`);
    const info = await docker.getImage(imageName).inspect();
    assert.equal(info.Config.User, '1000:1000');
  });

  test('`node --version` runs in it by PATH, isolated as the worker runs it', async () => {
    const container = await docker.createContainer({
      Image: imageName,
      Cmd: ['node', '--version'],
      User: '1000:1000',
      Labels: { 'ringfaas.worker': workerId },
      HostConfig: { NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], Init: true, PidsLimit: 64, Memory: 128 * 1024 * 1024 },
    });
    try {
      await container.start();
      const exit = (await container.wait()) as { StatusCode: number };
      const logs = (await container.logs({ stdout: true, stderr: true })).toString('latin1');
      assert.equal(exit.StatusCode, 0, logs);
      assert.ok(logs.includes(process.version), logs);
    } finally {
      await container.remove({ force: true });
    }
  });

  test("a container of it runs the shim as uid 1000 on the host's node version", async () => {
    const runtime = new DockerRuntime({ docker, image: imageName });
    await runtime.prepare();
    const handle = await runtime.start({ instanceId: 'img0', workerId, memoryMb: 128, network: false });
    try {
      await writeFile(join(handle.codeDir, 'index.js'), 'module.exports = () => ({ version: process.version, uid: process.getuid(), execPath: process.execPath });');
      await handle.load({ functionId: 'f', version: 1, memoryMb: 128, timeoutMs: 5000, env: {} });
      const result = await handle.invoke(Buffer.from('null'), Date.now() + 5000);
      assert.equal(result.state, 'ok');
      assert.deepEqual(result.output, { version: process.version, uid: 1000, execPath: process.execPath });
    } finally {
      await handle.remove();
    }
  });
});
