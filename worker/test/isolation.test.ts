/**
 * DockerRuntime isolation, shown from inside a function running in a real container: no
 * network (not even the host's loopback), read-only root file system with a writable /tmp, a
 * non-root user with no capabilities and no-new-privileges, a pids limit that stops a fork
 * bomb without touching the worker, and a memory limit enforced by the OOM killer.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { isRfError } from '../../errors/index.ts';
import { dockerAvailable, dockerSocketPath, skipUnless } from '../../testing/services.ts';
import { FunctionErrors } from '../errors.ts';
import { DockerRuntime } from '../docker-runtime.ts';
import type { ContainerHandle, ShimResult } from '../runtime.ts';

function okOutput(result: ShimResult): Record<string, unknown> {
  if (result.state !== 'ok') assert.fail(`expected ok, got ${result.code}: ${result.message}`);
  return result.output as Record<string, unknown>;
}

describe('DockerRuntime isolation', { skip: skipUnless(dockerAvailable(), 'docker', 'the isolation tests run functions in real containers') }, () => {
  const workerId = `isolation-${randomBytes(4).toString('hex')}`;
  let runtime: DockerRuntime;
  let server: Server;
  let port: number;
  const accepted: Socket[] = [];
  let seq = 0;

  before(async () => {
    runtime = new DockerRuntime({ docker: new Docker({ socketPath: dockerSocketPath() }), pidsLimit: 64 });
    await runtime.prepare();
    server = createServer((socket) => {
      accepted.push(socket);
      socket.end('hello from the host\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  after(async () => {
    await runtime.removeLeftovers(workerId);
    await runtime.close();
    for (const s of accepted) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function run(source: string, input: unknown = null, memoryMb = 128): Promise<{ handle: ContainerHandle; result: Promise<ShimResult> }> {
    const handle = await runtime.start({ instanceId: `iso${seq++}`, workerId, memoryMb, network: false });
    await writeFile(join(handle.codeDir, 'index.js'), source);
    await handle.load({ functionId: 'iso', version: 1, memoryMb, timeoutMs: 30_000, env: {} });
    return { handle, result: handle.invoke(Buffer.from(JSON.stringify(input)), Date.now() + 30_000) };
  }

  test("a function cannot reach a server on the host's 127.0.0.1, by socket or by HTTP", async () => {
    const { result } = await run(
      `const net = require('node:net');
      const os = require('node:os');
      function tryConnect(host, port) {
        return new Promise((resolve) => {
          const s = net.connect({ host, port });
          const t = setTimeout(() => { s.destroy(); resolve('timeout'); }, 2000);
          s.once('connect', () => { clearTimeout(t); s.destroy(); resolve('connected'); });
          s.once('error', (e) => { clearTimeout(t); resolve(e.code); });
        });
      }
      module.exports = async ({ port }) => {
        let http;
        try { await fetch('http://127.0.0.1:' + port + '/'); http = 'answered'; } catch (e) { http = String(e.cause && e.cause.code || e.message); }
        return {
          socket: await tryConnect('127.0.0.1', port),
          http,
          interfaces: Object.keys(os.networkInterfaces()),
        };
      };`,
      { port },
    );
    const out = okOutput(await result);
    assert.notEqual(out.socket, 'connected');
    assert.notEqual(out.http, 'answered');
    assert.deepEqual(out.interfaces, ['lo'], 'only a loopback of its own');
    assert.equal(accepted.length, 0, 'the host server saw no connection');
  });

  test('the root file system is read-only, /tmp is writable, /code is read-only', async () => {
    const { result } = await run(`const fs = require('node:fs');
      const attempt = (path) => { try { fs.writeFileSync(path, 'x'); return 'written'; } catch (e) { return e.code; } };
      module.exports = () => ({ root: attempt('/evil'), code: attempt('/code/evil.js'), tmp: attempt('/tmp/ok'), tmpRead: fs.readFileSync('/tmp/ok', 'utf8') });`);
    const out = okOutput(await result);
    assert.equal(out.root, 'EROFS');
    assert.equal(out.code, 'EROFS');
    assert.equal(out.tmp, 'written');
    assert.equal(out.tmpRead, 'x');
  });

  test('it runs as a non-root user with no capabilities and no-new-privileges', async () => {
    const { result } = await run(`const fs = require('node:fs');
      module.exports = () => {
        const status = fs.readFileSync('/proc/self/status', 'utf8');
        const field = (name) => (status.match(new RegExp('^' + name + ':\\\\s*(\\\\S+)', 'm')) || [])[1];
        return { uid: process.getuid(), gid: process.getgid(), capEff: field('CapEff'), capPrm: field('CapPrm'), noNewPrivs: field('NoNewPrivs') };
      };`);
    const out = okOutput(await result);
    assert.notEqual(out.uid, 0);
    assert.notEqual(out.gid, 0);
    assert.equal(out.capEff, '0000000000000000');
    assert.equal(out.capPrm, '0000000000000000');
    assert.equal(out.noNewPrivs, '1');
  });

  test('a fork bomb hits the pids limit inside its container (EAGAIN); the worker is untouched', async () => {
    const { handle, result } = await run(`const { spawn } = require('node:child_process');
      module.exports = async () => {
        let started = 0;
        let failed = 0;
        const codes = [];
        const children = [];
        for (let i = 0; i < 200; i++) {
          try {
            const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
            const ok = await new Promise((resolve) => {
              child.once('spawn', () => resolve(true));
              child.once('error', (e) => { codes.push(e.code); resolve(false); });
            });
            if (ok) { started++; children.push(child); } else failed++;
          } catch (e) {
            codes.push(e.code);
            failed++;
          }
          if (failed >= 5) break;
        }
        for (const c of children) c.kill('SIGKILL');
        return { started, failed, codes };
      };`);
    let settled: ShimResult | unknown;
    try {
      settled = await result;
    } catch (err) {
      settled = err;
    }
    if (isRfError(settled)) {
      // The container's own node could not make a thread any more: it died, which is allowed.
      assert.equal(settled.code, FunctionErrors.CRASHED.code);
    } else {
      const out = okOutput(settled as ShimResult);
      assert.ok((out.failed as number) > 0, `spawning never failed: ${JSON.stringify(out)}`);
      assert.ok((out.codes as string[]).includes('EAGAIN'), `the pids limit answers EAGAIN: ${JSON.stringify(out)}`);
      assert.ok((out.started as number) < 64, `started ${String(out.started)}`);
    }
    await handle.remove();
    // The worker's process and the host can still start processes and containers.
    assert.equal(spawnSync(process.execPath, ['-e', 'process.exit(0)']).status, 0);
    const survivor = await run('module.exports = () => "alive";');
    assert.equal(okOutput(await survivor.result) as unknown, 'alive');
  });

  test('the memory limit seen inside follows setMemoryLimit (a pooled container specialised to a larger function)', async () => {
    const handle = await runtime.start({ instanceId: `iso${seq++}`, workerId, memoryMb: 128, network: false });
    await handle.setMemoryLimit(384);
    await writeFile(
      join(handle.codeDir, 'index.js'),
      `const fs = require('node:fs');
      const read = (p) => { try { return fs.readFileSync(p, 'utf8').trim(); } catch { return undefined; } };
      module.exports = () => read('/sys/fs/cgroup/memory.max') ?? read('/sys/fs/cgroup/memory/memory.limit_in_bytes');`,
    );
    await handle.load({ functionId: 'iso', version: 1, memoryMb: 384, timeoutMs: 5000, env: {} });
    const out = okOutput(await handle.invoke(Buffer.from('null'), Date.now() + 5000)) as unknown;
    assert.equal(out, String(384 * 1024 * 1024));
    await handle.remove();
  });

  test('a memory hog is OOM-killed at its 128 MB limit: RF_FUNCTION_CRASHED, exited with oomKilled', async () => {
    const { handle, result } = await run(`module.exports = async () => {
        const hold = [];
        for (let i = 0; i < 64; i++) { hold.push(Buffer.alloc(16 * 1024 * 1024, 1)); await new Promise((r) => setImmediate(r)); }
        return hold.length;
      };`);
    await assert.rejects(result, (err: unknown) => {
      assert.ok(isRfError(err));
      assert.equal(err.code, FunctionErrors.CRASHED.code);
      assert.equal(err.details?.oomKilled, true);
      return true;
    });
    const exit = await handle.exited;
    assert.equal(exit.oomKilled, true);
    await handle.remove();
  });
});
