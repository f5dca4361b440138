/**
 * The ContainerRuntime contract against DockerRuntime, on a real Docker engine, and what only
 * the Docker runtime does: the create options the isolation rests on (read back with
 * `docker inspect`), memory updates, host folders, worker ids too long for a socket path, an
 * engine that does not answer, a missing named image, and leftovers by label.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { isRfError } from '../../errors/index.ts';
import { dockerAvailable, dockerSocketPath, skipUnless } from '../../testing/services.ts';
import { containerName, cpuSharesFor, DockerRuntime, dockerEngineAvailable, LABEL_INSTANCE, LABEL_WORKER, START_CPU_SHARES, workerDirName } from '../docker-runtime.ts';
import { WorkerErrors } from '../errors.ts';
import type { ContainerHandle } from '../runtime.ts';
import { runtimeContract } from './runtime-contract.ts';

const skip = skipUnless(dockerAvailable(), 'docker', 'the DockerRuntime tests need a Docker engine');

runtimeContract('DockerRuntime', {
  skip,
  makeRuntime: () => new DockerRuntime({ docker: new Docker({ socketPath: dockerSocketPath() }) }),
});

test('an engine that does not answer: dockerEngineAvailable is false, prepare() fails RF_WORKER_RUNTIME_UNAVAILABLE', async () => {
  const docker = new Docker({ socketPath: join('/tmp', `ringfaas-no-engine-${randomBytes(4).toString('hex')}.sock`) });
  assert.equal(await dockerEngineAvailable(docker, 500), false);
  await assert.rejects(new DockerRuntime({ docker }).prepare(), (err: unknown) => {
    assert.ok(isRfError(err));
    assert.equal(err.code, WorkerErrors.RUNTIME_UNAVAILABLE.code);
    return true;
  });
});

describe('DockerRuntime on a real engine', { skip }, () => {
  const docker = new Docker({ socketPath: dockerSocketPath() });
  const workerId = `dockerrt-${randomBytes(4).toString('hex')}`;
  const longWorkerId = `${workerId}-${'x'.repeat(100)}`;
  let runtime: DockerRuntime;
  let seq = 0;
  const handles: ContainerHandle[] = [];

  async function start(memoryMb = 128, network = false, id = workerId): Promise<ContainerHandle> {
    const handle = await runtime.start({ instanceId: `d${seq++}`, workerId: id, memoryMb, network });
    handles.push(handle);
    return handle;
  }

  before(async () => {
    assert.equal(await dockerEngineAvailable(docker), true);
    runtime = new DockerRuntime({ docker, pidsLimit: 48, tmpMb: 16 });
    await runtime.prepare();
  });

  after(async () => {
    await Promise.all(handles.map((h) => h.remove()));
    await runtime.removeLeftovers(workerId);
    await runtime.removeLeftovers(longWorkerId);
    await runtime.close();
  });

  test('containers are created with the isolation settings, name and labels', async () => {
    const handle = await start(256);
    const info = await docker.getContainer(containerName(workerId, handle.instanceId)).inspect();
    assert.equal(info.Config.User, '1000:1000');
    assert.equal(info.Config.Labels[LABEL_WORKER], workerId);
    assert.equal(info.Config.Labels[LABEL_INSTANCE], handle.instanceId);
    const host = info.HostConfig;
    assert.equal(host.NetworkMode, 'none');
    assert.equal(host.ReadonlyRootfs, true);
    assert.match(host.Tmpfs?.['/tmp'] ?? '', /noexec/);
    assert.match(host.Tmpfs?.['/tmp'] ?? '', /size=16m/);
    assert.equal(host.Memory, 256 * 1024 * 1024);
    assert.equal(host.MemorySwap, 256 * 1024 * 1024);
    assert.equal(host.PidsLimit, 48);
    assert.equal(host.CpuShares, START_CPU_SHARES, 'the shim starts, and the function loads, at the default share');
    assert.deepEqual(host.CapDrop, ['ALL']);
    assert.deepEqual(host.SecurityOpt, ['no-new-privileges']);
    assert.equal(host.Init, true);
    assert.equal(host.AutoRemove, false);
    assert.deepEqual(host.Binds, [`${handle.codeDir}:/code:ro`, `${join(dirname(handle.codeDir), 'run')}:/run/ringfaas:rw`]);
  });

  test('a container started with network gets the configured network instead of none', async () => {
    const handle = await start(128, true);
    const info = await docker.getContainer(containerName(workerId, handle.instanceId)).inspect();
    assert.notEqual(info.HostConfig.NetworkMode, 'none');
  });

  test('setMemoryLimit updates the memory limit and swap; once loaded, the container runs at its function\'s CPU share', async () => {
    const handle = await start(128);
    await handle.setMemoryLimit(512);
    const container = docker.getContainer(containerName(workerId, handle.instanceId));
    assert.equal((await container.inspect()).HostConfig.CpuShares, START_CPU_SHARES);
    await writeFile(join(handle.codeDir, 'index.js'), 'module.exports = () => "ok";');
    await handle.load({ functionId: 'f', version: 1, memoryMb: 512, timeoutMs: 5000, env: {} });
    let info = await container.inspect();
    assert.equal(info.HostConfig.Memory, 512 * 1024 * 1024);
    assert.equal(info.HostConfig.MemorySwap, 512 * 1024 * 1024);
    // The share drops in the background after the load (not awaited by it): bounded wait.
    for (const end = Date.now() + 10_000; info.HostConfig.CpuShares !== cpuSharesFor(512) && Date.now() < end; ) {
      await new Promise((r) => setTimeout(r, 50));
      info = await container.inspect();
    }
    assert.equal(info.HostConfig.CpuShares, cpuSharesFor(512));
  });

  test('remove() deletes the container and its host folder', async () => {
    const handle = await start();
    const name = containerName(workerId, handle.instanceId);
    assert.ok(existsSync(handle.codeDir));
    await handle.remove();
    assert.equal(existsSync(dirname(handle.codeDir)), false);
    await assert.rejects(docker.getContainer(name).inspect(), (err: { statusCode?: number }) => err.statusCode === 404);
  });

  test('a worker id too long for a socket path still starts (its folder name is shortened) and cleans up', async () => {
    const handle = await start(128, false, longWorkerId);
    await writeFile(join(handle.codeDir, 'index.js'), 'module.exports = (x) => x * 2;');
    await handle.load({ functionId: 'f', version: 1, memoryMb: 128, timeoutMs: 5000, env: {} });
    const result = await handle.invoke(Buffer.from('21'), Date.now() + 5000);
    assert.equal(result.state === 'ok' ? result.output : result.message, 42);
    await handle.remove();
    assert.equal(existsSync(dirname(handle.codeDir)), false);
  });

  test('a named image that does not exist: start() fails RF_WORKER_IMAGE_UNAVAILABLE and leaves no folder', async () => {
    const baseDir = join(tmpdir(), `ringfaas-docker-missing-${randomBytes(4).toString('hex')}`);
    const missing = new DockerRuntime({ docker, baseDir, image: `ringfaas-missing-${randomBytes(4).toString('hex')}:none` });
    await assert.rejects(missing.prepare(), (err: unknown) => isRfError(err) && err.code === WorkerErrors.IMAGE_UNAVAILABLE.code);
    await assert.rejects(missing.start({ instanceId: 'missing0', workerId, memoryMb: 128, network: false }), (err: unknown) => {
      assert.ok(isRfError(err));
      assert.equal(err.code, WorkerErrors.IMAGE_UNAVAILABLE.code);
      return true;
    });
    assert.equal(existsSync(join(baseDir, workerDirName(workerId), 'missing0')), false);
    await rm(baseDir, { recursive: true, force: true });
  });

  test('removeLeftovers finds a crashed run\'s containers by label, stopped ones too, and deletes the host folders', async () => {
    const crashed = `${workerId}-crashed`;
    const first = await runtime.start({ instanceId: 'left0', workerId: crashed, memoryMb: 128, network: false });
    const second = await runtime.start({ instanceId: 'left1', workerId: crashed, memoryMb: 128, network: false });
    await docker.getContainer(containerName(crashed, second.instanceId)).kill();
    // No remove(): as if the worker process died here.
    assert.equal(await runtime.removeLeftovers(crashed), 2);
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${crashed}`] } });
    assert.equal(left.length, 0);
    assert.equal(existsSync(dirname(first.codeDir)), false);
    assert.equal(existsSync(dirname(dirname(first.codeDir))), false);
    assert.equal(await runtime.removeLeftovers(crashed), 0);
    await first.remove();
    await second.remove();
  });
});
