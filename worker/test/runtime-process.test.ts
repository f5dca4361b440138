/**
 * The ContainerRuntime contract against ProcessRuntime (a child process per container), then
 * what only the process runtime does: a clean environment, pid files for leftovers, shims that
 * die with their worker, long socket paths, start failures.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRfError } from '../../errors/index.ts';
import { ProcessRuntime } from '../process-runtime.ts';
import type { ContainerHandle, ShimResult } from '../runtime.ts';
import { runtimeContract } from './runtime-contract.ts';

runtimeContract('ProcessRuntime', {
  skip: false,
  makeRuntime: () => new ProcessRuntime({ baseDir: join(tmpdir(), `ringfaas-process-test-${process.pid}`) }),
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitDead(pid: number, ms = 5000): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; ) {
    if (!alive(pid)) return true;
    await sleep(20);
  }
  return !alive(pid);
}

function output(result: ShimResult): unknown {
  if (result.state !== 'ok') assert.fail(`${result.code}: ${result.message}`);
  return result.output;
}

describe('ProcessRuntime specifics', () => {
  let baseDir: string;
  let runtime: ProcessRuntime;
  const handles: ContainerHandle[] = [];
  let seq = 0;

  before(async () => {
    baseDir = await mkdtemp(join(tmpdir(), 'rf-proc-'));
    runtime = new ProcessRuntime({ baseDir });
    await runtime.prepare();
  });

  after(async () => {
    for (const h of handles) await h.remove();
    await runtime.close();
    await rm(baseDir, { recursive: true, force: true });
  });

  async function loaded(workerId: string, code: string, env: Record<string, string> = {}): Promise<ContainerHandle> {
    const h = await runtime.start({ instanceId: `p${seq++}`, workerId, memoryMb: 128, network: false });
    handles.push(h);
    await writeFile(join(h.codeDir, 'index.js'), code);
    await h.load({ functionId: 'fn-p', version: 1, memoryMb: 128, timeoutMs: 5000, env });
    return h;
  }

  test("the function sees none of the worker's environment, only its own", async () => {
    const h = await loaded('w-env', 'module.exports = () => process.env;', { MINE: 'yes' });
    const env = output(await h.invoke(Buffer.from('null'), Date.now() + 5000)) as Record<string, string>;
    assert.equal(env.MINE, 'yes');
    const leaked = Object.keys(env).filter((k) => k in process.env && !['PATH', 'HOME', 'TMPDIR', 'NODE_ENV'].includes(k));
    assert.deepEqual(leaked, []);
    assert.ok(env.TMPDIR?.startsWith(baseDir), 'a private temp folder');
  });

  test('a long worker id (63 characters) still gets a working socket, cleaned up on remove', async () => {
    const workerId = 'w'.repeat(63);
    const h = await loaded(workerId, 'module.exports = () => "long";');
    assert.equal(output(await h.invoke(Buffer.from('null'), Date.now() + 5000)), 'long');
    const socketPath = (h as unknown as { socketPath: string }).socketPath;
    assert.ok(existsSync(socketPath));
    await h.remove();
    assert.equal(existsSync(socketPath), false);
    assert.equal(await runtime.removeLeftovers(workerId), 0);
  });

  test('removeLeftovers kills a stuck shim by its pid file, from another runtime instance', async () => {
    const h = await loaded('w-stuck', 'module.exports = () => { for (;;) {} };');
    const pid = Number(await readFile(join(h.codeDir, '..', 'pid'), 'utf8'));
    assert.ok(alive(pid));
    const busy = h.invoke(Buffer.from('null'), Date.now() + 60_000).catch((err: unknown) => err);
    await sleep(50);
    const restarted = new ProcessRuntime({ baseDir });
    assert.equal(await restarted.removeLeftovers('w-stuck'), 1);
    assert.ok(await waitDead(pid), 'the stuck shim was killed');
    const err = await busy;
    assert.ok(isRfError(err) && err.code === 'RF_FUNCTION_CRASHED', String(err));
    assert.deepEqual(await h.exited, { exitCode: 137, oomKilled: false }, 'killed by SIGKILL: 128 + 9');
    assert.equal(existsSync(join(baseDir, 'w-stuck')), false);
  });

  test("shims end when their worker process dies (SIGKILL), leaving nothing but the folder for removeLeftovers", async () => {
    const script = join(baseDir, 'worker.mts');
    const moduleUrl = pathToFileURL(join(import.meta.dirname, '..', 'process-runtime.ts')).href;
    await writeFile(
      script,
      `import { readFile } from 'node:fs/promises';
       import { join } from 'node:path';
       const { ProcessRuntime } = await import(${JSON.stringify(moduleUrl)});
       const runtime = new ProcessRuntime({ baseDir: ${JSON.stringify(baseDir)} });
       const h = await runtime.start({ instanceId: 'doomed', workerId: 'w-killed', memoryMb: 128, network: false });
       process.stdout.write(await readFile(join(h.codeDir, '..', 'pid'), 'utf8') + '\\n');
       setInterval(() => {}, 1000);`,
    );
    const worker = spawn(process.execPath, ['--import', 'tsx', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(worker.stdout, 'data')) as [Buffer];
    const pid = Number(line.toString().trim());
    assert.ok(alive(pid));
    worker.kill('SIGKILL');
    await once(worker, 'exit');
    assert.ok(await waitDead(pid), 'the shim followed its worker');
    assert.equal(await new ProcessRuntime({ baseDir }).removeLeftovers('w-killed'), 1);
  });

  test('a node binary that does not exist fails start with RF_WORKER_CONTAINER_START_FAILED', async () => {
    const broken = new ProcessRuntime({ baseDir, nodePath: join(baseDir, 'no-such-node') });
    await assert.rejects(broken.start({ instanceId: 'x', workerId: 'w-broken', memoryMb: 128, network: false }), (err: unknown) => {
      return isRfError(err) && err.code === 'RF_WORKER_CONTAINER_START_FAILED';
    });
    assert.equal(existsSync(join(baseDir, 'w-broken', 'x')), false, 'its folder is gone');
  });

  test('a shim that fails at start reports its stderr', async () => {
    const shim = join(baseDir, 'bad-shim.cjs');
    await writeFile(shim, 'process.stderr.write("cannot start: reason here\\n"); process.exit(70);');
    const broken = new ProcessRuntime({ baseDir, shimPath: shim });
    await assert.rejects(broken.start({ instanceId: 'y', workerId: 'w-broken', memoryMb: 128, network: false }), (err: unknown) => {
      return isRfError(err) && err.code === 'RF_WORKER_CONTAINER_START_FAILED' && /reason here/.test(String(err.details?.stderr));
    });
  });
});
