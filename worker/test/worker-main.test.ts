/**
 * The worker process as it runs in production: `node --import tsx worker/main.ts` configured
 * by its environment, against real Azurite. It registers, serves, drains on SIGTERM, removes
 * its row and exits 0; a bad configuration exits 1 naming every problem.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { azuriteSkip, openTestStores, type TestStores } from '../../testing/stores.ts';
import { Code, deploy, until } from './worker-fixtures.ts';

const mainFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'main.ts');

function spawnWorker(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', mainFile], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output: () => text, exited };
}

describe('worker/main.ts process', { skip: azuriteSkip() }, () => {
  let backing: TestStores;
  before(async () => {
    backing = await openTestStores('azure');
  });
  after(async () => {
    await backing?.close();
  });

  test('registers, serves an invocation, drains on SIGTERM (a duplicate SIGINT ignored), removes its row, exits 0', async () => {
    const id = `main-${randomBytes(3).toString('hex')}`;
    const fn = `fn-${randomBytes(3).toString('hex')}`;
    await deploy(backing.stores, fn, Code.echo('main'));
    const worker = spawnWorker({
      RINGFAAS_WORKER_ID: id,
      RINGFAAS_RUNTIME: 'process',
      RINGFAAS_COLD_POOL_SIZE: '1',
      RINGFAAS_WORKER_MEMORY_MB: '1024',
      RINGFAAS_STORAGE_CONNECTION_STRING: backing.connectionString!,
      RINGFAAS_HEARTBEAT_MS: '200',
    });
    try {
      await until(async () => (await backing.stores.membership.get(id)) !== undefined, `worker row (output: ${worker.output()})`, 30_000);
      const row = (await backing.stores.membership.get(id))!;
      assert.equal(row.state, 'active');
      assert.equal(row.capacityMb, 1024);
      // The row is written before the log line reaches our pipe: wait for it rather than race.
      await until(async () => /worker listening/.test(worker.output()), 'the "worker listening" log line', 10_000);
      const res = await request(`${row.address}/invoke/${fn}`, { method: 'POST', body: '{"x":1}' });
      const body = (await res.body.json()) as { output: { tag: string }; logs: { start: string } };
      assert.equal(res.statusCode, 200);
      assert.equal(body.output.tag, 'main');
      assert.equal(body.logs.start, 'cold-pool');
      // As Ctrl-C under `npm start`: SIGINT to the process group and SIGTERM from the launcher.
      worker.child.kill('SIGTERM');
      worker.child.kill('SIGINT');
      assert.equal(await worker.exited, 0, worker.output());
      assert.doesNotMatch(worker.output(), /second signal/);
      assert.equal(await backing.stores.membership.get(id), undefined);
    } finally {
      worker.child.kill('SIGKILL');
    }
  });

  test('an invalid configuration exits 1 and names every problem', async () => {
    const worker = spawnWorker({ RINGFAAS_RUNTIME: 'vm', RINGFAAS_WORKER_PORT: 'x' });
    assert.equal(await worker.exited, 1);
    const out = worker.output();
    assert.match(out, /RF_CONFIG_INVALID/);
    for (const name of ['RINGFAAS_RUNTIME', 'RINGFAAS_WORKER_PORT', 'RINGFAAS_STORAGE_CONNECTION_STRING']) assert.ok(out.includes(name), `${name} in ${out}`);
  });
});
