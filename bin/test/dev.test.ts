/**
 * `ringfaas dev` (what `npm start` runs) end to end, as a user runs it: the ready line, two
 * routers and three workers, a function deployed through one router and served warm by one
 * worker through both, Ctrl-C (SIGINT to the process group) leaving no process or container,
 * and a restart that still has the function.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { dockerAvailable, skipUnless } from '../../testing/services.ts';
import { azuriteSkip } from '../../testing/stores.ts';
import { freePortRun } from '../../testing/ports.ts';

const projectRoot = resolve(import.meta.dirname, '..', '..');

interface Launcher {
  child: ChildProcess;
  url: string;
  output: () => string;
}

async function startDev(env: NodeJS.ProcessEnv): Promise<Launcher> {
  // Its own process group, as a terminal gives it: Ctrl-C is a SIGINT to the whole group.
  const child = spawn(process.execPath, [join(projectRoot, 'bin', 'ringfaas.js'), 'dev'], {
    cwd: projectRoot,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ready = /ringfaas ready at (http:\/\/\S+)/.exec(text);
    if (ready !== null) return { child, url: ready[1] as string, output: () => text };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`ringfaas dev did not get ready:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function ctrlC(launcher: Launcher): Promise<number | null> {
  const exited = once(launcher.child, 'exit');
  process.kill(-(launcher.child.pid as number), 'SIGINT');
  const [code] = await Promise.race([exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no exit within 60 s')), 60_000))]);
  return code as number | null;
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

/** Containers labelled as belonging to the given worker ids. */
async function containersOf(workerIds: string[]): Promise<number> {
  const all = await new Docker().listContainers({ all: true });
  return all.filter((c) => workerIds.some((id) => c.Names.some((n) => n.startsWith(`/ringfaas-${id}-`)))).length;
}

const skip = skipUnless(dockerAvailable(), 'Docker', 'the launcher runs functions in containers') || azuriteSkip();

describe('ringfaas dev (npm start)', { skip }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ringfaas-dev-test-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('starts 2 routers and 3 workers, serves warm through both, stops clean on Ctrl-C, keeps functions', async () => {
    const port = await freePortRun('127.0.0.1', 2); // the launcher's two routers
    const env: NodeJS.ProcessEnv = { ...process.env, RINGFAAS_DATA_DIR: dataDir, RINGFAAS_PORT: String(port), RINGFAAS_LOG_LEVEL: 'warn' };
    delete env.RINGFAAS_STORAGE_CONNECTION_STRING;
    delete env.RINGFAAS_API_KEYS;
    const first = await startDev(env);
    let id: string;
    try {
      assert.equal(first.url, `http://127.0.0.1:${port}`);
      const ring = await json(await fetch(`${first.url}/workers`));
      assert.deepEqual((ring.workers as Array<{ id: string }>).map((w) => w.id), ['worker-1', 'worker-2', 'worker-3']);
      const created = await fetch(`${first.url}/functions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'hello', memorySize: 128, code: 'module.exports = async (input) => ({ hello: input.name })' }),
      });
      assert.equal(created.status, 201);
      id = (await json(created)).id as string;
      const served: Array<{ worker: string | null; instance: string | null; start: string | null }> = [];
      for (const p of [port, port + 1, port, port + 1]) {
        const res = await fetch(`http://127.0.0.1:${p}/functions/${id}/invoke`, { method: 'POST', body: '{"name":"ring"}', headers: { 'x-ringfaas-details': '1' } });
        assert.equal(res.status, 200);
        assert.deepEqual((await json(res)).output, { hello: 'ring' });
        served.push({ worker: res.headers.get('x-ringfaas-worker'), instance: res.headers.get('x-ringfaas-instance'), start: res.headers.get('x-ringfaas-start') });
      }
      assert.equal(new Set(served.map((s) => s.worker)).size, 1, 'one worker serves the function through both routers');
      assert.equal(new Set(served.map((s) => s.instance)).size, 1, 'sequential calls reuse one container');
      assert.deepEqual(served.slice(1).map((s) => s.start), ['warm', 'warm', 'warm']);
      assert.ok((await containersOf(['worker-1', 'worker-2', 'worker-3'])) > 0, 'functions run in Docker containers');
    } finally {
      assert.equal(await ctrlC(first), 0, first.output());
    }
    assert.equal(await containersOf(['worker-1', 'worker-2', 'worker-3']), 0, 'no container left after Ctrl-C');
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'no router left after Ctrl-C');

    const second = await startDev(env);
    try {
      const res = await fetch(`${second.url}/functions/${id}`);
      assert.equal(res.status, 200, 'the function survives a restart');
      const again = await fetch(`${second.url}/functions/${id}/invoke`, { method: 'POST', body: '{"name":"again"}' });
      assert.deepEqual((await json(again)).output, { hello: 'again' });
    } finally {
      assert.equal(await ctrlC(second), 0, second.output());
    }
  });
});
