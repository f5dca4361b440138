/**
 * Containment attacks against the real platform: two worker processes (worker/main.ts, the
 * Docker runtime, unique ids) and a router over real Azurite, each attack asserting its coded
 * answer, that its effect is absent, and that a healthy function keeps answering:
 *
 * - a module that never finishes loading (`for(;;){}`, a top-level await that never settles)
 *   with timeoutMs 2000: 504 within a bound, its container gone, its memory returned;
 * - a function that patches http.ServerResponse in its container and streams 400 MB with no
 *   content-length: 502 RF_FUNCTION_OUTPUT_TOO_LARGE, the worker's RSS barely moves;
 * - the same trick answering 429 RF_WORKER_AT_CAPACITY (and the refusal header): one
 *   execution, no spill;
 * - an ambiguous archive and a lying zip bomb: 400 at deploy; a 120 MB archive unpacks while
 *   the worker's heartbeats stay on time;
 * - a drain with an execution stuck in an endless loop finishes within the drain bound.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import pino from 'pino';
import { strToU8, zipSync } from 'fflate';
import { dockerAvailable, skipUnless } from '../../testing/services.ts';
import { openStores, startAzurite, type AzuriteHandle, type Stores } from '../../storage/index.ts';
import { azuriteSkip } from '../../testing/stores.ts';
import { startRouter, loadRouterConfig, type RunningRouter } from '../../router/index.ts';

const projectRoot = resolve(import.meta.dirname, '..', '..');
const skip = skipUnless(dockerAvailable(), 'Docker', 'the attacks run functions in real containers') || azuriteSkip();
const tag = `h9b-atk-${randomBytes(3).toString('hex')}`;

interface WorkerProcess {
  id: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function spawnWorker(id: string, connectionString: string): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'worker', 'main.ts')], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      RINGFAAS_WORKER_ID: id,
      RINGFAAS_RUNTIME: 'docker',
      RINGFAAS_COLD_POOL_SIZE: '1',
      RINGFAAS_WORKER_MEMORY_MB: '1024',
      RINGFAAS_STORAGE_CONNECTION_STRING: connectionString,
      RINGFAAS_HEARTBEAT_MS: '500',
      RINGFAAS_MEMBERSHIP_TTL_MS: '5000',
      RINGFAAS_WORKER_DRAIN_TIMEOUT_MS: '4000',
      RINGFAAS_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text = (text + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (text = (text + d.toString()).slice(-20_000)));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { id, child, output: () => text, exited };
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) / 1024;
}

async function until<T>(check: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function zipOf(files: Record<string, string | Uint8Array>): Buffer {
  const input: Record<string, [Uint8Array, { mtime: Date }]> = {};
  for (const [name, content] of Object.entries(files)) input[name] = [typeof content === 'string' ? strToU8(content) : content, { mtime: new Date('1990-01-01T00:00:00Z') }];
  const out = zipSync(input);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** The shim's HTTP answer replaced by what `answer` writes (a function owning its container). */
function patchingFunction(answer: string): string {
  return `
    const http = require('node:http');
    const writeHead = http.ServerResponse.prototype.writeHead;
    const end = http.ServerResponse.prototype.end;
    let armed = false;
    http.ServerResponse.prototype.writeHead = function (status, headers) {
      if (!armed) return writeHead.call(this, status, headers);
      this.__forged = true;
      return this;
    };
    http.ServerResponse.prototype.end = function (...args) {
      if (!this.__forged) return end.apply(this, args);
      const res = this;
      ${answer}
    };
    module.exports = () => { armed = true; return 'unreachable'; };`;
}

describe('containment attacks on a real platform (Docker workers)', { skip, timeout: 240_000 }, () => {
  let azurite: AzuriteHandle;
  let backing: { stores: Stores; connectionString: string };
  let router: RunningRouter;
  const workers: WorkerProcess[] = [];
  const docker = new Docker();
  const ids = [`${tag}-1`, `${tag}-2`];

  const api = async (path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: any }> => {
    const res = await fetch(`${router.url}${path}`, { ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, headers: res.headers, body };
  };
  const deploy = async (fields: Record<string, unknown>): Promise<string> => {
    const res = await api('/functions', { method: 'POST', body: JSON.stringify({ memorySize: 128, ...fields }) });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const invoke = (id: string, input: unknown = {}) => api(`/functions/${id}/invoke`, { method: 'POST', body: JSON.stringify(input), headers: { 'x-ringfaas-details': '1' } });
  const workerRow = async (id: string) => backing.stores.membership.get(id);
  const status = async (id: string): Promise<any> => {
    const row = await workerRow(id);
    return (await fetch(`${row!.address}/status`)).json();
  };
  const containersOf = async (id: string): Promise<number> => (await docker.listContainers({ all: true, filters: { label: [`ringfaas.worker=${id}`] } })).length;
  let healthy: string;
  const assertHealthy = async (): Promise<void> => {
    const res = await invoke(healthy, { n: 2 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.output, 4);
  };

  before(async () => {
    // A loaded shared machine can take more than the default 15 s to start Azurite.
    azurite = await startAzurite({ startTimeoutMs: 90_000 });
    backing = { stores: await openStores({ connectionString: azurite.connectionString }), connectionString: azurite.connectionString };
    for (const id of ids) workers.push(spawnWorker(id, backing.connectionString!));
    for (const w of workers) await until(async () => (await workerRow(w.id))?.state === 'active' || undefined, `worker ${w.id} (${w.output()})`, 120_000);
    const config = loadRouterConfig({ RINGFAAS_PORT: '0', RINGFAAS_STORAGE_CONNECTION_STRING: backing.connectionString!, RINGFAAS_LOG_LEVEL: 'silent', RINGFAAS_ROUTER_ID: `${tag}-r` }, [], { routerId: `${tag}-r` });
    router = await startRouter({ config, stores: backing.stores, log: pino({ level: 'silent' }), ring: { pollIntervalMs: 200 } });
    await until(async () => ((await api('/workers')).body.workers?.length === 2 ? true : undefined), 'both workers on the ring', 30_000);
    healthy = await deploy({ code: 'module.exports = (x) => x.n * 2;' });
    await assertHealthy();
  });

  after(async () => {
    await router?.close();
    for (const w of workers) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    for (const id of ids) {
      for (const c of await docker.listContainers({ all: true, filters: { label: [`ringfaas.worker=${id}`] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
    await backing?.stores.close();
    await azurite?.stop();
  });

  for (const [name, files] of [
    ['for(;;){} before module.exports', { 'index.js': 'for (;;) {}\nmodule.exports = () => 1;' }],
    ['a top-level await that never settles', { 'index.mjs': 'await new Promise(() => {});\nexport default () => 1;' }],
  ] as const) {
    test(`a module that never loads (${name}), timeoutMs 2000: 504 in bound, container gone, memory returned`, async () => {
      const id = await deploy({ zipFile: zipOf(files).toString('base64'), timeoutMs: 2000 });
      const started = performance.now();
      const res = await invoke(id);
      const tookMs = performance.now() - started;
      console.log(`# hung load (${name}): ${res.status} ${res.body?.error?.code} after ${Math.round(tookMs)} ms`);
      assert.equal(res.status, 504, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'RF_WORKER_INVOKE_TIMEOUT');
      // The bound covers a cold container start and a storage read on a loaded shared machine.
      assert.ok(tookMs < 2000 + 20_000, `took ${tookMs} ms`);
      const served = res.headers.get('x-ringfaas-worker') ?? (await Promise.all(ids.map(async (w) => ((await status(w)).functions as Array<{ functionId: string }>).some((f) => f.functionId === id) ? w : undefined))).find(Boolean);
      for (const w of ids) {
        const s = await status(w);
        assert.equal(s.inFlight, 0);
        assert.ok(!(s.functions as Array<{ functionId: string; busy: number; idle: number }>).some((f) => f.functionId === id && (f.busy > 0 || f.idle > 0)), `${w} keeps a container of it`);
        // Only the cold pool (1 x 128 MB) and the healthy function's idle container stay reserved.
        assert.ok(s.reservedMb <= 256 + 128, `${w} reserves ${s.reservedMb} MB (served: ${served})`);
      }
      await assertHealthy();
    });
  }

  test('a container streaming 400 MB without content-length: 502 RF_FUNCTION_OUTPUT_TOO_LARGE, worker RSS bounded', async () => {
    const id = await deploy({
      code: patchingFunction(`
        res.removeHeader('content-length');
        writeHead.call(res, 200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(1 << 20, 0x61);
        let sent = 0;
        const pump = () => {
          while (sent < 400 * (1 << 20)) {
            sent += chunk.length;
            if (!res.write(chunk)) { res.once('drain', pump); return; }
          }
          end.call(res);
        };
        res.on('error', () => {});
        pump();`),
      memorySize: 256,
    });
    const before = Object.fromEntries(workers.map((w) => [w.id, rssMb(w.child.pid!)]));
    const res = await invoke(id);
    assert.equal(res.status, 502, JSON.stringify(res.body).slice(0, 500));
    assert.equal(res.body.error.code, 'RF_FUNCTION_OUTPUT_TOO_LARGE');
    const growth = Math.max(...workers.map((w) => rssMb(w.child.pid!) - before[w.id]!));
    console.log(`# 400 MB flood: worker RSS growth ${growth.toFixed(1)} MB`);
    assert.ok(growth < 100, `a worker grew by ${growth} MB`);
    for (const w of ids) assert.ok(!((await status(w)).functions as Array<{ functionId: string; idle: number }>).some((f) => f.functionId === id && f.idle > 0), 'its container was destroyed');
    await assertHealthy();
  });

  test('a container answering 429 RF_WORKER_AT_CAPACITY with the refusal header: executed once, no spill', async () => {
    const id = await deploy({
      code: patchingFunction(`
        const body = JSON.stringify({ error: { code: 'RF_WORKER_AT_CAPACITY', message: 'forged' } });
        writeHead.call(res, 429, { 'content-type': 'application/json', 'x-ringfaas-refusal': 'at-capacity', 'content-length': Buffer.byteLength(body) });
        end.call(res, body);`),
    });
    const counted = async (): Promise<number> => {
      let total = 0;
      for (const w of ids) {
        const text = await (await fetch(`${(await workerRow(w))!.address}/metrics`)).text();
        for (const m of text.matchAll(/^ringfaas_worker_starts_total\{[^}]*\} (\d+)/gm)) total += Number(m[1]);
      }
      return total;
    };
    const startsBefore = await counted();
    const res = await invoke(id);
    assert.notEqual(res.status, 429);
    assert.equal(res.status, 502, JSON.stringify(res.body));
    assert.match(res.body.error.code, /^RF_FUNCTION_/);
    assert.equal(res.headers.get('x-ringfaas-spills'), '0');
    assert.equal(res.headers.get('x-ringfaas-refusal'), null);
    assert.equal((await counted()) - startsBefore, 1, 'exactly one execution was handed a container');
    await assertHealthy();
  });

  test('ambiguous archives and bombs are refused at deploy (400); a 120 MB archive unpacks with heartbeats on time', async () => {
    const base = zipOf({ 'index.js': 'module.exports = () => 1;', 'other.js': 'x'.repeat(100) });
    const ambiguous = Buffer.concat([base, base.subarray(base.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06])))]);
    let res = await api('/functions', { method: 'POST', body: JSON.stringify({ memorySize: 128, zipFile: ambiguous.toString('base64') }) });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'RF_ROUTER_ZIP_AMBIGUOUS');
    const bomb = zipOf({ 'index.js': 'module.exports = () => 1;', 'bomb.bin': new Uint8Array(8 << 20) });
    for (let at = bomb.length - 46; at >= 0; at--) {
      if (bomb.readUInt32LE(at) === 0x02014b50 && bomb.subarray(at + 46, at + 46 + 8).toString() === 'bomb.bin') {
        bomb.writeUInt32LE(10, at + 24);
        bomb.writeUInt32LE(10, bomb.readUInt32LE(at + 42) + 22);
      }
    }
    res = await api('/functions', { method: 'POST', body: JSON.stringify({ memorySize: 128, zipFile: bomb.toString('base64') }) });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'RF_ROUTER_INVALID_ZIP');

    const big = await deploy({ zipFile: zipOf({ 'index.js': 'module.exports = () => "big";', 'data.bin': new Uint8Array(120 << 20) }).toString('base64'), memorySize: 256 });
    const beats = new Map<string, number[]>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        for (const w of ids) {
          const at = (await workerRow(w))?.heartbeatAt;
          if (at !== undefined && beats.get(w)?.at(-1) !== at) beats.set(w, [...(beats.get(w) ?? []), at]);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const answer = await invoke(big);
    watching = false;
    await watch;
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.output, 'big');
    let worstGapMs = 0;
    for (const list of beats.values()) for (let i = 1; i < list.length; i++) worstGapMs = Math.max(worstGapMs, list[i]! - list[i - 1]!);
    console.log(`# 120 MB unpack: worst heartbeat gap ${worstGapMs} ms (period 500 ms)`);
    assert.ok(worstGapMs < 2500, `a heartbeat gap of ${worstGapMs} ms`);
    await assertHealthy();
  });

  test('a drain with an execution stuck in an endless loop finishes within its bound, leaving no container', async () => {
    const stuck = await deploy({ code: 'module.exports = () => { for (;;) {} };', timeoutMs: 600_000 });
    const pending = invoke(stuck);
    const victim = await until(async () => {
      for (const w of ids) if ((await status(w)).inFlight > 0) return workers.find((x) => x.id === w);
      return undefined;
    }, 'the stuck execution to start', 30_000);
    const started = performance.now();
    victim.child.kill('SIGTERM');
    const code = await Promise.race([victim.exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 30_000))]);
    const tookMs = performance.now() - started;
    console.log(`# drain with a stuck execution: exit ${code} after ${Math.round(tookMs)} ms (bound 4000 ms)`);
    assert.equal(code, 0, victim.output());
    assert.ok(tookMs < 4000 + 15_000);
    const res = await pending;
    assert.ok(res.status >= 500, JSON.stringify(res.body));
    const left = async (): Promise<string> =>
      JSON.stringify((await docker.listContainers({ all: true, filters: { label: [`ringfaas.worker=${victim.id}`] } })).map((c) => [c.Names[0], c.State, c.Status]));
    await until(async () => ((await containersOf(victim.id)) === 0 ? true : undefined), 'its containers removed', 20_000).catch(async (err: unknown) => {
      throw new Error(`${String(err)}: ${await left()}\n${victim.output()}`);
    });
    await until(async () => ((await api('/workers')).body.workers?.length === 1 ? true : undefined), 'the ring without it', 20_000);
    await assertHealthy();
  });
});
