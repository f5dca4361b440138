/**
 * The shim (worker/shim/shim.cjs) on its own, over its real protocol: a copy of the file in an
 * empty folder (no node_modules next to it, as in the runtime image) run by the bare `node`
 * binary, spoken to with node:http over its Unix socket. What the runtime contract suite does
 * not reach: routes, request validation, the socket file, stray errors outside an invocation,
 * signals and start failures.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEADLINE_HEADER, MAX_SOCKET_PATH_BYTES, shimPath } from '../shim-client.ts';

interface Answer {
  status: number;
  body: Record<string, unknown> | undefined;
}

interface RunningShim {
  child: ChildProcessWithoutNullStreams;
  socket: string;
  codeDir: string;
  /** Everything the shim wrote to stderr so far. */
  stderr: () => string;
  exited: Promise<number | null>;
}

let root: string;
let shimCopy: string;
let seq = 0;
const running: RunningShim[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'rf-shim-test-'));
  await mkdir(join(root, 'bin'));
  shimCopy = join(root, 'bin', 'shim.cjs');
  await copyFile(shimPath(), shimCopy);
});

after(async () => {
  for (const s of running) s.child.kill('SIGKILL');
  await rm(root, { recursive: true, force: true });
});

/** Starts a shim configured through its environment only (as in the image). */
async function startShim(options: { code?: string | Record<string, string>; args?: string[]; socket?: string } = {}): Promise<RunningShim> {
  const dir = join(root, `s${seq++}`);
  const codeDir = join(dir, 'code');
  await mkdir(codeDir, { recursive: true });
  const files = typeof options.code === 'string' ? { 'index.js': options.code } : (options.code ?? {});
  for (const [name, source] of Object.entries(files)) await writeFile(join(codeDir, name), source);
  const socket = options.socket ?? join(dir, 'shim.sock');
  const child = spawn(process.execPath, [shimCopy, ...(options.args ?? [])], {
    cwd: dir,
    env: { PATH: process.env.PATH, RINGFAAS_SHIM_SOCKET: socket, RINGFAAS_CODE_DIR: codeDir },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const shim: RunningShim = { child, socket, codeDir, stderr: () => stderr, exited };
  running.push(shim);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('RINGFAAS_SHIM_READY\n')) resolve();
    });
    void exited.then((code) => reject(new Error(`the shim exited with ${code}: ${stderr}`)));
  });
  return shim;
}

/** One HTTP request over the shim's socket (a new connection each time). */
function call(shim: RunningShim, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: shim.socket, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const loadBody = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ functionId: 'fn-s', version: 1, memoryMb: 128, timeoutMs: 2000, env: {}, ...extra });

async function loadedShim(code: string | Record<string, string>, extra: Record<string, unknown> = {}): Promise<RunningShim> {
  const shim = await startShim({ code });
  const res = await call(shim, 'POST', '/load', loadBody(extra));
  assert.equal(res.status, 204, JSON.stringify(res.body));
  return shim;
}

const invoke = (shim: RunningShim, input: unknown, headers: Record<string, string> = {}): Promise<Answer> =>
  call(shim, 'POST', '/invoke', JSON.stringify(input), headers);

describe('shim', () => {
  test('listens on the socket from its environment, replacing a stale file, usable by any user', async () => {
    const dir = join(root, 'stale');
    await mkdir(dir);
    const socket = join(dir, 'shim.sock');
    await writeFile(socket, 'left over by a dead shim');
    const shim = await startShim({ socket });
    const mode = (await stat(socket)).mode;
    assert.ok((await stat(socket)).isSocket());
    assert.equal(mode & 0o777, 0o666);
    const health = await call(shim, 'GET', '/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { ok: true, loaded: false });
    const unknown = await call(shim, 'GET', '/nope');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body?.code, 'RF_WORKER_ROUTE_NOT_FOUND');
  });

  test('invoke before load is refused; load happens once', async () => {
    const shim = await startShim({ code: 'module.exports = () => 1;' });
    const early = await invoke(shim, null);
    assert.equal(early.status, 409);
    assert.equal(early.body?.code, 'RF_FUNCTION_LOAD_FAILED');
    assert.equal((await call(shim, 'POST', '/load', loadBody())).status, 204);
    assert.deepEqual((await call(shim, 'GET', '/health')).body, { ok: true, loaded: true });
    const again = await call(shim, 'POST', '/load', loadBody());
    assert.equal(again.status, 409);
    assert.equal(again.body?.code, 'RF_FUNCTION_LOAD_FAILED');
    assert.equal((await invoke(shim, null)).body?.output, 1);
  });

  test('a malformed load request is refused with what is wrong', async () => {
    const shim = await startShim({ code: 'module.exports = () => 1;' });
    const notJson = await call(shim, 'POST', '/load', '{');
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body?.code, 'RF_FUNCTION_LOAD_FAILED');
    const badEnv = await call(shim, 'POST', '/load', loadBody({ env: { A: 1 } }));
    assert.equal(badEnv.status, 400);
    assert.match(String(badEnv.body?.message), /env\.A/);
    const noId = await call(shim, 'POST', '/load', JSON.stringify({ version: 1 }));
    assert.equal(noId.status, 400);
    assert.equal((await call(shim, 'POST', '/load', loadBody())).status, 204, 'a refused request loads nothing');
  });

  test('module.exports.default, and index.mjs', async () => {
    const cjs = await loadedShim('module.exports.default = (input) => ({ viaDefault: input });');
    assert.deepEqual((await invoke(cjs, 5)).body?.output, { viaDefault: 5 });
    const mjs = await loadedShim({ 'index.mjs': 'export const handler = async (input) => input + 1;' });
    assert.equal((await invoke(mjs, 1)).body?.output, 2);
  });

  test('the remaining time follows the deadline header, else the load request timeout', async () => {
    const shim = await loadedShim('module.exports = (input, context) => context.getRemainingTimeMs();', { timeoutMs: 2000 });
    const withHeader = (await invoke(shim, null, { [DEADLINE_HEADER]: String(Date.now() + 60_000) })).body?.output as number;
    assert.ok(withHeader > 2000 && withHeader <= 60_000, String(withHeader));
    const past = (await invoke(shim, null, { [DEADLINE_HEADER]: String(Date.now() - 1000) })).body?.output;
    assert.equal(past, 0, 'never negative');
    const without = (await invoke(shim, null)).body?.output as number;
    assert.ok(without > 0 && without <= 2000, String(without));
  });

  test('input that is not JSON is RF_FUNCTION_BAD_INPUT and the shim still serves', async () => {
    const shim = await loadedShim('module.exports = (input) => input;');
    const bad = await call(shim, 'POST', '/invoke', '{"a":');
    assert.equal(bad.status, 200);
    assert.equal(bad.body?.state, 'error');
    assert.equal(bad.body?.code, 'RF_FUNCTION_BAD_INPUT');
    assert.deepEqual((await invoke(shim, { a: 1 })).body?.output, { a: 1 });
  });

  test('an unhandled rejection during an invocation answers it with RF_FUNCTION_ERROR', async () => {
    const shim = await loadedShim(`module.exports = () => {
      Promise.reject(new Error('nobody catches this'));
      return new Promise(() => {});
    };`);
    const res = await invoke(shim, null);
    assert.equal(res.body?.code, 'RF_FUNCTION_ERROR');
    assert.match(String(res.body?.message), /nobody catches this/);
  });

  test('errors and logs outside an invocation go to stderr, the shim survives, the next invocation is clean', async () => {
    const shim = await loadedShim(`
      console.log('at load time');
      module.exports = (input) => {
        if (input === 'leave') {
          setTimeout(() => { console.log('after the answer'); throw new Error('stray after the answer'); }, 20);
          return 'left';
        }
        return 'next';
      };`);
    assert.equal((await invoke(shim, 'leave')).body?.output, 'left');
    for (let i = 0; i < 200 && !shim.stderr().includes('stray after the answer'); i++) await sleep(10);
    assert.match(shim.stderr(), /at load time/);
    assert.match(shim.stderr(), /after the answer/);
    assert.match(shim.stderr(), /uncaught error outside an invocation: stray after the answer/);
    const next = await invoke(shim, 'x');
    assert.equal(next.body?.output, 'next');
    assert.deepEqual(next.body?.logs, { lines: [], truncated: false });
  });

  test("direct writes to process.stderr are not log lines: they go to the container's log", async () => {
    const shim = await loadedShim(`module.exports = () => { process.stderr.write('straight to stderr\\n'); console.log('captured'); return 1; };`);
    const res = await invoke(shim, null);
    assert.deepEqual(res.body?.logs, { lines: ['captured'], truncated: false });
    for (let i = 0; i < 100 && !shim.stderr().includes('straight to stderr'); i++) await sleep(10);
    assert.match(shim.stderr(), /straight to stderr/);
  });

  test('a second invocation while one runs is refused (one execution at a time)', async () => {
    const shim = await loadedShim('module.exports = (input) => new Promise((r) => setTimeout(() => r(input), 200));');
    const first = invoke(shim, 'first');
    await sleep(30);
    const second = await invoke(shim, 'second');
    assert.equal(second.status, 409);
    assert.equal((await first).body?.output, 'first');
  });

  test('a log line cut at the byte limit stays valid UTF-8', async () => {
    // 'é' is 2 bytes: 262 143 bytes of 'a' then 'é' cannot fit the last byte.
    const shim = await loadedShim(`module.exports = () => { console.log('a'.repeat(256 * 1024 - 1) + 'éé'); return 1; };`);
    const res = await invoke(shim, null);
    const { lines: logs, truncated } = res.body?.logs as { lines: string[]; truncated: boolean };
    assert.equal(truncated, true);
    assert.equal(logs.length, 1);
    assert.ok(!logs[0]!.includes('\uFFFD'));
    assert.equal(logs[0], 'a'.repeat(256 * 1024 - 1));
  });

  test('SIGTERM ends the shim with 0; with --exit-with-stdin it ends when stdin closes', async () => {
    const a = await startShim();
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0);
    const b = await startShim({ args: ['--exit-with-stdin'] });
    b.child.stdin.end();
    assert.equal(await b.exited, 0);
  });

  test('a socket path longer than a Unix socket holds is refused at start (exit 70)', async () => {
    const socket = join(root, 'x'.repeat(MAX_SOCKET_PATH_BYTES), 'shim.sock');
    await assert.rejects(startShim({ socket }), /exited with 70.*longer than 103 bytes/s);
  });
});
