/**
 * The pool and the worker process on a real Docker engine: cold pool, LIFO reuse, failures
 * that cost one container, idle expiry; and a worker killed with SIGKILL then started again
 * leaves no stray container.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { request } from 'undici';
import { dockerAvailable, dockerSocketPath, skipUnless } from '../../testing/services.ts';
import { azuriteSkip, openTestStores, type TestStores } from '../../testing/stores.ts';
import { DockerRuntime, LABEL_WORKER } from '../docker-runtime.ts';
import { ManualClock } from '../../clock/index.ts';
import { ContainerPool } from '../pool/index.ts';
import { invokeOnPool } from '../invoke.ts';
import { ok } from './pool-fixture.ts';
import { Code, deploy, poolFn, quietLogger, until } from './worker-fixtures.ts';

const skip = skipUnless(dockerAvailable(), 'docker', 'the Docker-backed pool tests need a Docker engine');
const input = Buffer.from('{"x":1}');

async function labelled(docker: Docker, workerId: string): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${workerId}`] } });
  return list.length;
}

describe('ContainerPool on Docker', { skip }, () => {
  const docker = new Docker({ socketPath: dockerSocketPath() });
  const runtime = new DockerRuntime({ docker });
  const workerId = `pool-docker-${randomBytes(3).toString('hex')}`;
  const clock = new ManualClock();
  let pool: ContainerPool;

  before(async () => {
    await runtime.prepare();
    pool = new ContainerPool({ workerId, runtime, capacityMb: 1024, coldPoolSize: 1, logger: quietLogger(), clock, scheduler: clock });
    await pool.fill();
  });
  after(async () => {
    await pool?.close();
    await runtime.removeLeftovers(workerId);
    await runtime.close();
  });

  test('a cold start from the pool, then warm reuse of the same container', async () => {
    const fn = poolFn(Code.echo('docker'), { idleTimeoutMs: 60_000 });
    const first = ok(await invokeOnPool(pool, fn, input));
    assert.equal(first.start, 'cold-pool');
    assert.equal((first.output as { tag: string }).tag, 'docker');
    for (let i = 0; i < 3; i++) {
      const again = ok(await invokeOnPool(pool, fn, input));
      assert.equal(again.start, 'warm');
      assert.equal(again.instanceId, first.instanceId);
    }
    clock.advance(60_000);
    assert.deepEqual(pool.idleInstances(fn.id, 1), [], 'expired');
  });

  test('throw, timeout and crash get their codes; a healthy function keeps answering', async () => {
    const healthy = poolFn(Code.echo());
    const [t, h, c, good] = await Promise.all([
      invokeOnPool(pool, poolFn(Code.throws()), input),
      invokeOnPool(pool, poolFn(Code.hangs(), { timeoutMs: 500 }), input),
      invokeOnPool(pool, poolFn(Code.crashes()), input),
      invokeOnPool(pool, healthy, input),
    ]);
    assert.equal(t.state === 'error' && t.error.code, 'RF_FUNCTION_ERROR');
    assert.equal(h.state === 'error' && h.error.code, 'RF_WORKER_INVOKE_TIMEOUT');
    assert.equal(c.state === 'error' && c.error.code, 'RF_FUNCTION_CRASHED');
    ok(good);
    assert.equal(ok(await invokeOnPool(pool, healthy, input)).instanceId, good.instanceId);
  });
});

describe('worker process on Docker: SIGKILL then restart leaves no stray container', { skip: skip || azuriteSkip() }, () => {
  const mainFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'main.ts');
  const docker = new Docker({ socketPath: dockerSocketPath() });
  let backing: TestStores;
  before(async () => {
    backing = await openTestStores('azure');
  });
  after(async () => {
    await backing?.close();
  });

  const run = (id: string) => {
    const child = spawn(process.execPath, ['--import', 'tsx', mainFile], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        ...(process.env.DOCKER_HOST === undefined ? {} : { DOCKER_HOST: process.env.DOCKER_HOST }),
        RINGFAAS_WORKER_ID: id,
        RINGFAAS_RUNTIME: 'docker',
        RINGFAAS_COLD_POOL_SIZE: '1',
        RINGFAAS_WORKER_MEMORY_MB: '1024',
        RINGFAAS_STORAGE_CONNECTION_STRING: backing.connectionString!,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    return { child, output: () => out, exited: once(child, 'exit').then(([code]) => code as number | null) };
  };

  test('kill -9, start again: the leftovers are removed; SIGTERM then leaves nothing, not even a container the pool lost track of', async () => {
    const id = `crash-${randomBytes(3).toString('hex')}`;
    const fn = `fn-${randomBytes(3).toString('hex')}`;
    await deploy(backing.stores, fn, Code.echo('d'));
    const first = run(id);
    try {
      await until(async () => (await backing.stores.membership.get(id)) !== undefined, 'first worker row', 60_000);
      const row = (await backing.stores.membership.get(id))!;
      const res = await request(`${row.address}/invoke/${fn}`, { method: 'POST', body: '{}' });
      assert.equal(res.statusCode, 200, await res.body.text());
      first.child.kill('SIGKILL');
      await first.exited;
      assert.ok((await labelled(docker, id)) >= 1, 'the killed worker left containers behind');
      await backing.stores.membership.remove(id);

      const second = run(id);
      try {
        await until(async () => (await backing.stores.membership.get(id)) !== undefined, 'second worker row', 60_000);
        assert.equal(await labelled(docker, id), 1, 'only the new cold-pool container remains');
        // One the pool no longer tracks, as a container whose removal a busy engine failed
        // ("did not receive an exit event"): the drain's sweep of the worker's label removes it.
        const [pooled] = await docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${id}`] } });
        await docker.createContainer({ Image: pooled!.Image, Labels: { [LABEL_WORKER]: id }, Cmd: ['node', '-e', '0'], HostConfig: { NetworkMode: 'none' } });
        assert.equal(await labelled(docker, id), 2);
        second.child.kill('SIGTERM');
        assert.equal(await second.exited, 0, second.output());
        assert.equal(await labelled(docker, id), 0, 'nothing is left after a drain');
      } finally {
        second.child.kill('SIGKILL');
      }
    } finally {
      first.child.kill('SIGKILL');
    }
  });
});
