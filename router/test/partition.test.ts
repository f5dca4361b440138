/**
 * Partitions with real processes: a router and two workers, each its own child process
 * (router/main.ts, worker/main.ts, process runtime) on a real Azurite. Every path that can be
 * cut goes through a TCP proxy of the test's own (testing/fault-proxy.ts): each process's way
 * to Azurite, and the routers' way to each worker (the worker advertises its proxy's address).
 * The faults are made by failing those paths, never by mocking:
 *
 * - a worker cut from storage but reachable by routers keeps serving the function it holds
 *   (its storage path stalls: no answer, as a paused or partitioned service);
 * - a worker cut from routers but still heartbeating is routed around at once by suspect
 *   marking (its router path refuses connections, as a host that rejects the route), and gets
 *   its functions back once the path heals and a newer heartbeat is read.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { freePort, startAzurite, type AzuriteHandle } from '../../storage/index.ts';
import { azuriteSkip } from '../../testing/stores.ts';
import { AzuriteFaultPath, FaultProxy } from '../../testing/fault-proxy.ts';
import { until } from '../../worker/test/worker-fixtures.ts';

const skip = azuriteSkip();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TTL_MS = 3000;

async function call(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text.length === 0 ? undefined : JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

interface ChildWorker {
  id: string;
  /** Its own port (the test's side door, e.g. /healthz). */
  directUrl: string;
  /** The routers' way to it. */
  routerPath: FaultProxy;
  storagePath: AzuriteFaultPath;
  child: ChildProcess;
}

/** What each child wrote last on stderr (its warnings and a fatal start failure), by name. */
const stderrTails = new Map<string, string>();
const STDERR_TAIL_CHARS = 4000;

function spawnChild(script: string, env: Record<string, string>, name: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, RINGFAAS_LOG_LEVEL: process.env.RINGFAAS_TEST_LOG_LEVEL ?? 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  stderrTails.set(name, '');
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTails.set(name, (stderrTails.get(name)! + chunk.toString()).slice(-STDERR_TAIL_CHARS));
    if (process.env.RINGFAAS_TEST_LOG_LEVEL !== undefined) process.stderr.write(`[${name}] ${chunk.toString()}`);
  });
  return child;
}

/** Throws, with the child's last stderr, if it has exited: a wait on it would only time out. */
function assertRunning(child: ChildProcess | undefined, name: string): void {
  if (child === undefined || (child.exitCode === null && child.signalCode === null)) return;
  throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) while the test waited for it; its stderr ends:\n${stderrTails.get(name)}`);
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

describe('partitions (child processes, paths cut by proxies)', { skip, timeout: 180_000 }, () => {
  let azurite: AzuriteHandle;
  const proxies: Array<{ close(): Promise<void> }> = [];
  const workers: ChildWorker[] = [];
  let router: ChildProcess | undefined;
  let routerUrl: string;
  const clusterKey = randomBytes(24).toString('hex');
  const tag = randomBytes(3).toString('hex');

  before(async () => {
    azurite = await startAzurite({ startTimeoutMs: 60_000 });
    for (let i = 0; i < 2; i++) {
      const storagePath = new AzuriteFaultPath(azurite.blobPort, azurite.tablePort);
      await storagePath.listen();
      proxies.push(storagePath);
      const port = await freePort('127.0.0.1');
      const routerPath = new FaultProxy(port);
      await routerPath.listen();
      proxies.push(routerPath);
      const id = `h10-partition-${tag}-${i}`;
      const child = spawnChild(
        'worker/main.ts',
        {
          RINGFAAS_WORKER_ID: id,
          RINGFAAS_WORKER_HOST: '127.0.0.1',
          RINGFAAS_WORKER_PORT: String(port),
          RINGFAAS_WORKER_ADDRESS: `http://127.0.0.1:${routerPath.port}`,
          RINGFAAS_RUNTIME: 'process',
          RINGFAAS_WORKER_MEMORY_MB: '1024',
          RINGFAAS_COLD_POOL_SIZE: '0',
          RINGFAAS_HEARTBEAT_MS: '500',
          RINGFAAS_MEMBERSHIP_TTL_MS: String(TTL_MS),
          RINGFAAS_FUNCTION_REVALIDATE_MS: '1000',
          RINGFAAS_STORAGE_TIMEOUT_MS: '2000',
          RINGFAAS_STORAGE_CONNECTION_STRING: storagePath.through(azurite.connectionString),
          RINGFAAS_CLUSTER_KEY: clusterKey,
        },
        id,
      );
      workers.push({ id, directUrl: `http://127.0.0.1:${port}`, routerPath, storagePath, child });
    }
    const routerPort = await freePort('127.0.0.1');
    const routerStorage = new AzuriteFaultPath(azurite.blobPort, azurite.tablePort);
    await routerStorage.listen();
    proxies.push(routerStorage);
    router = spawnChild(
      'router/main.ts',
      {
        RINGFAAS_HOST: '127.0.0.1',
        RINGFAAS_PORT: String(routerPort),
        RINGFAAS_ROUTER_ID: `h10-partition-router-${tag}`,
        RINGFAAS_MEMBERSHIP_TTL_MS: String(TTL_MS),
        RINGFAAS_STORAGE_TIMEOUT_MS: '2000',
        RINGFAAS_STORAGE_CONNECTION_STRING: routerStorage.through(azurite.connectionString),
        RINGFAAS_CLUSTER_KEY: clusterKey,
      },
      'router',
    );
    routerUrl = `http://127.0.0.1:${routerPort}`;
    await until(
      async () => {
        assertRunning(router, 'router');
        for (const w of workers) assertRunning(w.child, w.id);
        return (await call(`${routerUrl}/workers`, 'GET').catch(() => ({ json: undefined }))).json?.ringSize === 2;
      },
      'both workers on the router ring',
      90_000,
    ).catch((err: Error) => {
      // A ring that never formed: say what each process was saying.
      const tails = [...stderrTails].map(([name, tail]) => `--- ${name}:\n${tail.slice(-1500)}`).join('\n');
      throw new Error(`${err.message}\n${tails}`);
    });
  });

  after(async () => {
    await stopChild(router);
    await Promise.all(workers.map((w) => stopChild(w.child)));
    for (const p of proxies) await p.close();
    await azurite?.stop();
  });

  const deploy = async (): Promise<string> => {
    const r = await call(`${routerUrl}/functions`, 'POST', { memorySize: 128, code: 'module.exports = async () => ({ ok: true });' });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json.id as string;
  };
  const invoke = (id: string) => call(`${routerUrl}/functions/${id}/invoke`, 'POST', {});
  const holderOf = (res: { headers: Headers }): ChildWorker => workers.find((w) => w.id === res.headers.get('x-ringfaas-worker')) as ChildWorker;

  test('a worker cut from storage, reachable by the router, keeps serving what it holds', async () => {
    const id = await deploy();
    const first = await invoke(id);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const holder = holderOf(first);
    holder.storagePath.setMode('stall');
    try {
      await until(async () => (await call(`${holder.directUrl}/healthz`, 'GET')).json?.details?.storage?.degraded === true, 'the worker says degraded', 20_000);
      // Past the revalidation bound (1 s) with its storage unreachable: every call answers,
      // first from the holder (the held version), then — once its row lapses past the TTL at
      // the router, which still reads storage — from the other worker.
      const servedBy: string[] = [];
      const end = Date.now() + TTL_MS + 2000;
      while (Date.now() < end) {
        const r = await invoke(id);
        assert.equal(r.status, 200, JSON.stringify(r.json));
        servedBy.push(r.headers.get('x-ringfaas-worker') ?? '?');
        await new Promise((r) => setTimeout(r, 200));
      }
      const direct = await call(`${holder.directUrl}/invoke/${id}`, 'POST', {}, { 'x-ringfaas-cluster-key': clusterKey });
      assert.equal(direct.status, 200, JSON.stringify(direct.json));
      process.stderr.write(`# worker cut from storage: ${servedBy.length} calls ok, ${servedBy.filter((w) => w === holder.id).length} by the cut worker\n`);
      assert.equal(servedBy[0], holder.id, 'the cut worker served what it held');
    } finally {
      holder.storagePath.setMode('pass');
    }
    await until(async () => (await call(`${holder.directUrl}/healthz`, 'GET')).json?.details?.storage?.degraded === false, 'the worker recovers', 20_000);
    await until(async () => (await call(`${routerUrl}/workers`, 'GET')).json?.ringSize === 2, 'back on the ring', 20_000);
  });

  test('a worker cut from the router but heartbeating is routed around (suspect), and gets its work back when the path heals', async () => {
    const id = await deploy();
    const first = await invoke(id);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const home = holderOf(first);
    home.routerPath.setMode('refuse');
    try {
      await new Promise((r) => setTimeout(r, 200));
      const servedBy = new Set<string>();
      for (let i = 0; i < 10; i++) {
        const r = await invoke(id);
        assert.equal(r.status, 200, JSON.stringify(r.json));
        servedBy.add(r.headers.get('x-ringfaas-worker') ?? '?');
      }
      assert.deepEqual([...servedBy], workers.filter((w) => w !== home).map((w) => w.id), 'served by the other worker');
      const listed = await call(`${routerUrl}/workers`, 'GET');
      const row = (listed.json.workers as Array<{ id: string; suspect: boolean; inRing: boolean }>).find((w) => w.id === home.id);
      assert.equal(row?.suspect, true, JSON.stringify(row));
      assert.equal(row?.inRing, true, 'still on the ring: it heartbeats');
      const health = await call(`${home.directUrl}/healthz`, 'GET');
      assert.equal(health.status, 200, 'the cut worker itself is fine');
    } finally {
      home.routerPath.setMode('pass');
    }
    // The mark clears on a heartbeat newer than the one known at marking (and ≥ 2 s old).
    await until(async () => holderOf(await invoke(id)) === home, 'the home serves its function again', 20_000);
  });
});
