/**
 * Attacks on trust (issue 9), each tried as an attacker would against a real `ringfaas dev`
 * (what `npm start` runs) on Docker, started once for the file with its own ports, data folder
 * and worker ids, and API keys of two scopes. Every test asserts the coded refusal, that the
 * attack had no effect, and that a healthy function keeps answering.
 *
 * The HTTPS test and the runtime-selection tests need no platform: they start a router over
 * memory stores, or call selectRuntime with an engine proxy of their own.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { pino } from 'pino';
import { dockerAvailable, dockerSocketPath, skipUnless } from '../../testing/services.ts';
import { azuriteSkip } from '../../testing/stores.ts';
import { AZURITE_ACCOUNT_KEY } from '../../storage/azurite.ts';
import { freePortRun } from '../../testing/ports.ts';
import { createMemoryStores, openStores } from '../../storage/index.ts';
import { selectRuntime } from '../../worker/runtime-select.ts';
import { membershipProof } from '../../contract/index.ts';
import { loadRouterConfig } from '../../router/config.ts';
import { startRouter } from '../../router/main.ts';

const projectRoot = resolve(import.meta.dirname, '..', '..');
const ADMIN_KEY = 'k-admin-attack-0123';
const INVOKE_KEY = 'k-run-attack-4567';
const PREFIX = `h9a-atk-${process.pid}`;
const silent = pino({ level: 'silent' });

interface Platform {
  child: ChildProcess;
  url: string;
  port: number;
  dataDir: string;
  output: () => string;
}

async function startDev(env: NodeJS.ProcessEnv): Promise<Platform> {
  const child = spawn(process.execPath, [join(projectRoot, 'bin', 'ringfaas.js'), 'dev'], { cwd: projectRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const deadline = Date.now() + 300_000; // a loaded shared machine: the dev test allows 120 s on a quiet one
  for (;;) {
    const ready = /ringfaas ready at (https?:\/\/\S+)/.exec(text);
    if (ready !== null) return { child, url: ready[1] as string, port: Number(env.RINGFAAS_PORT), dataDir: env.RINGFAAS_DATA_DIR as string, output: () => text };
    if (child.exitCode !== null || Date.now() > deadline) {
      if (child.exitCode === null) process.kill(-(child.pid as number), 'SIGINT');
      throw new Error(`ringfaas dev did not get ready:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopDev(p: Platform): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = once(p.child, 'exit');
  process.kill(-(p.child.pid as number), 'SIGINT');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 60_000))]);
}

const auth = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

async function api(url: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: any = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body };
}

/** A server of the attacker's: answers 200 to everything (or what `handler` says), records what it was sent. */
async function fakeServer(handler?: (path: string, body: string) => unknown): Promise<{ url: string; seen: IncomingHttpHeaders[]; server: Server }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push(req.headers);
      const answer = handler?.(req.url ?? '/', body) ?? { ok: true, id: `${PREFIX}-fake`, capacityMb: 4096, inFlight: 0, proof: '0'.repeat(64), address: 'x' };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, seen, server };
}

/** The pids of the platform's worker processes (children of the launcher running worker/main.ts). */
function workerPids(launcherPid: number): number[] {
  const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(launcherPid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((pid) => pid > 0)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('worker/main.ts');
      } catch {
        return false;
      }
    });
}

function environOf(pid: number): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

const skip = skipUnless(dockerAvailable(), 'Docker', 'the attack suite runs the platform on Docker') || azuriteSkip();

describe('attacks on trust against ringfaas dev', { skip }, () => {
  let p: Platform;
  let fnId: string;
  let workers: Array<{ id: string; address: string }>;
  const routers = (): string[] => [p.url, `http://127.0.0.1:${p.port + 1}`];

  const healthy = async (): Promise<void> => {
    const res = await api(`${p.url}/functions/${fnId}/invoke`, { method: 'POST', headers: auth(INVOKE_KEY), body: '{"n":2}' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.output, { doubled: 4 });
  };
  const ringIds = async (router: string): Promise<string[]> => {
    const res = await api(`${router}/workers`, { headers: auth(ADMIN_KEY) });
    assert.equal(res.status, 200);
    return (res.body.workers as Array<{ id: string }>).map((w) => w.id).sort();
  };

  before(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ringfaas-h9a-attacks-'));
    const port = await freePortRun('127.0.0.1', 2); // the launcher's two routers
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      RINGFAAS_DATA_DIR: dataDir,
      RINGFAAS_PORT: String(port),
      RINGFAAS_LOG_LEVEL: 'warn',
      RINGFAAS_API_KEYS: `${ADMIN_KEY},${INVOKE_KEY}:invoke`,
      RINGFAAS_API_KEY: ADMIN_KEY,
      RINGFAAS_DEV_WORKER_PREFIX: `${PREFIX}-`,
      RINGFAAS_WORKERS: '2',
      RINGFAAS_READY_TIMEOUT_MS: '280000',
    };
    for (const name of ['RINGFAAS_STORAGE_CONNECTION_STRING', 'RINGFAAS_CLUSTER_KEY', 'RINGFAAS_RUNTIME', 'RINGFAAS_TLS_CERT', 'RINGFAAS_TLS_KEY']) delete env[name];
    p = await startDev(env);
    const created = await api(`${p.url}/functions`, {
      method: 'POST',
      headers: { ...auth(ADMIN_KEY), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'healthy', memorySize: 128, code: 'module.exports = async (input) => ({ doubled: input.n * 2 })' }),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    fnId = created.body.id as string;
    const listing = await api(`${p.url}/workers`, { headers: auth(ADMIN_KEY) });
    workers = listing.body.workers as Array<{ id: string; address: string }>;
    assert.equal(workers.length, 2);
    await healthy();
  });
  after(async () => {
    if (p !== undefined) {
      await stopDev(p);
      rmSync(p.dataDir, { recursive: true, force: true });
    }
  });

  test('unauthenticated POST <worker>/drain and /invoke/<id> are refused (401 RF_WORKER_UNAUTHORIZED); the worker stays in the ring', async () => {
    for (const w of workers) {
      const drain = await api(`${w.address}/drain`, { method: 'POST' });
      assert.equal(drain.status, 401);
      assert.equal(drain.body.error.code, 'RF_WORKER_UNAUTHORIZED');
      const wrong = await api(`${w.address}/drain`, { method: 'POST', headers: { 'x-ringfaas-cluster-key': 'x'.repeat(43) } });
      assert.equal(wrong.status, 401);
      const invoke = await api(`${w.address}/invoke/${fnId}`, { method: 'POST', body: '{"n":1}', headers: auth(ADMIN_KEY) });
      assert.equal(invoke.status, 401, 'an API key is no cluster key');
      assert.equal(invoke.body.error.code, 'RF_WORKER_UNAUTHORIZED');
      for (const path of ['/status', '/metrics']) assert.equal((await api(`${w.address}${path}`)).status, 401, path);
      assert.equal((await api(`${w.address}/healthz`)).status, 200, 'bare health check stays open');
    }
    await new Promise((r) => setTimeout(r, 1500)); // a heartbeat later
    for (const router of routers()) assert.deepEqual(await ringIds(router), workers.map((w) => w.id).sort());
    await healthy();
  });

  test('POST /workers with a fake address (200 on /healthz) is refused (403 RF_RING_WORKER_UNPROVEN), registers nothing, learns no key', async () => {
    const fake = await fakeServer();
    try {
      const res = await api(`${p.url}/workers`, {
        method: 'POST',
        headers: { ...auth(ADMIN_KEY), 'content-type': 'application/json' },
        body: JSON.stringify({ address: fake.url, id: `${PREFIX}-fake` }),
      });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'RF_RING_WORKER_UNPROVEN');
      for (const router of routers()) assert.deepEqual(await ringIds(router), workers.map((w) => w.id).sort());
      assert.ok(fake.seen.length > 0, 'the router did call the fake');
      for (const headers of fake.seen) {
        assert.equal(headers['x-ringfaas-cluster-key'], undefined, 'the cluster key is never sent to an unproven address');
        assert.equal(headers.authorization, undefined, 'no API key reaches a worker address');
      }
      const stores = await openStores({ connectionString: workerEnv().get('RINGFAAS_STORAGE_CONNECTION_STRING') as string });
      try {
        assert.equal(await stores.membership.get(`${PREFIX}-fake`), undefined, 'no membership row written');
      } finally {
        await stores.close();
      }
    } finally {
      fake.server.close();
    }
    await healthy();
  });

  test("POST /workers with a live worker's id and another address is refused; its address is unchanged", async () => {
    const target = workers[0]!;
    // Without the key: no proof.
    const fake = await fakeServer();
    // With the key (an insider, or a relay): a valid proof for its own address, still refused.
    const key = readFileSync(join(p.dataDir, 'cluster.key'), 'utf8').trim();
    let provingUrl = '';
    const proving = await fakeServer((path, body) => {
      if (path !== '/cluster/prove') return { ok: true, id: target.id, capacityMb: 4096, inFlight: 0 };
      const challenge = (JSON.parse(body) as { challenge: string }).challenge;
      return { id: target.id, address: provingUrl, proof: membershipProof(key, challenge, target.id, provingUrl) };
    });
    provingUrl = proving.url;
    try {
      const unproven = await api(`${p.url}/workers`, {
        method: 'POST',
        headers: { ...auth(ADMIN_KEY), 'content-type': 'application/json' },
        body: JSON.stringify({ id: target.id, address: fake.url }),
      });
      assert.equal(unproven.status, 403);
      assert.equal(unproven.body.error.code, 'RF_RING_WORKER_UNPROVEN');
      const taken = await api(`${p.url}/workers`, {
        method: 'POST',
        headers: { ...auth(ADMIN_KEY), 'content-type': 'application/json' },
        body: JSON.stringify({ id: target.id, address: proving.url }),
      });
      assert.equal(taken.status, 409, JSON.stringify(taken.body));
      assert.equal(taken.body.error.code, 'RF_RING_WORKER_ID_TAKEN');
      for (const router of routers()) {
        const listing = await api(`${router}/workers`, { headers: auth(ADMIN_KEY) });
        const row = (listing.body.workers as Array<{ id: string; address: string }>).find((w) => w.id === target.id);
        assert.equal(row?.address, target.address);
      }
      assert.equal(fake.seen.filter((h) => h['x-ringfaas-cluster-key'] !== undefined).length, 0);
    } finally {
      fake.server.close();
      proving.server.close();
    }
    await healthy();
  });

  const workerEnv = (): Map<string, string> => {
    const pids = workerPids(p.child.pid as number);
    assert.equal(pids.length, 2, 'two worker processes');
    return environOf(pids[0]!);
  };

  test('the workers hold no API key in their environment; the keys on disk are 0600', async () => {
    const pids = workerPids(p.child.pid as number);
    assert.equal(pids.length, 2);
    for (const pid of pids) {
      const env = environOf(pid);
      assert.equal(env.get('RINGFAAS_API_KEYS'), undefined);
      assert.equal(env.get('RINGFAAS_API_KEY'), undefined);
      for (const value of env.values()) {
        assert.ok(!value.includes(ADMIN_KEY) && !value.includes(INVOKE_KEY), 'no API key in any variable');
      }
      assert.ok((env.get('RINGFAAS_CLUSTER_KEY') ?? '').length >= 32, 'the worker has the cluster key');
      assert.equal(env.get('RINGFAAS_RUNTIME'), 'docker', 'the launcher chose the runtime explicitly');
    }
    for (const file of ['cluster.key', 'azurite.key']) assert.equal(statSync(join(p.dataDir, file)).mode & 0o777, 0o600, file);
    for (const dir of ['azurite', 'logs']) assert.equal(statSync(join(p.dataDir, dir)).mode & 0o777, 0o700, dir);
    await healthy();
  });

  test('scopes: an invoke key cannot deploy, read functions or list workers (403 RF_AUTH_FORBIDDEN)', async () => {
    const deploy = await api(`${p.url}/functions`, {
      method: 'POST',
      headers: { ...auth(INVOKE_KEY), 'content-type': 'application/json' },
      body: JSON.stringify({ memorySize: 128, code: 'module.exports = () => 0' }),
    });
    assert.equal(deploy.status, 403);
    assert.equal(deploy.body.error.code, 'RF_AUTH_FORBIDDEN');
    for (const path of ['/workers', '/functions', `/functions/${fnId}`]) {
      const res = await api(`${p.url}${path}`, { headers: auth(INVOKE_KEY) });
      assert.equal(res.status, 403, path);
      assert.equal(res.body.error.code, 'RF_AUTH_FORBIDDEN');
    }
    const del = await api(`${p.url}/functions/${fnId}`, { method: 'DELETE', headers: auth(INVOKE_KEY) });
    assert.equal(del.status, 403);
    assert.equal((await api(`${p.url}/functions`, { headers: auth(ADMIN_KEY) })).body.length, 1, 'nothing deployed or deleted');
    await healthy();
  });

  test('the embedded Azurite rejects the well-known development key', async () => {
    const connectionString = workerEnv().get('RINGFAAS_STORAGE_CONNECTION_STRING') as string;
    assert.ok(!connectionString.includes(AZURITE_ACCOUNT_KEY), 'the platform does not use the well-known key');
    const withPublicKey = connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${AZURITE_ACCOUNT_KEY}`);
    await assert.rejects(
      (async () => {
        const stores = await openStores({ connectionString: withPublicKey });
        try {
          await stores.membership.list();
        } finally {
          await stores.close();
        }
      })(),
      { code: 'RF_STORAGE_UNAVAILABLE' },
    );
    const own = await openStores({ connectionString });
    try {
      assert.equal((await own.membership.list()).length >= 2, true, 'the right key still works');
    } finally {
      await own.close();
    }
    await healthy();
  });
});

describe('no silent downgrade of the runtime', { skip: skipUnless(dockerAvailable(), 'Docker', 'a slow engine is a proxy to the real one') }, () => {
  test('auto with a configured engine that is slow to answer waits for it: docker, not process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringfaas-h9a-slow-engine-'));
    const socketPath = join(dir, 'docker.sock');
    const startedAt = Date.now();
    // A proxy to the real engine that holds every connection of its first 3 s unanswered.
    const sockets = new Set<Socket>();
    const proxy: NetServer = createNetServer((client) => {
      sockets.add(client);
      const forward = (): void => {
        const upstream = connect(dockerSocketPath());
        sockets.add(upstream);
        client.pipe(upstream).pipe(client);
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
      };
      if (Date.now() - startedAt < 3000) client.on('error', () => {});
      else forward();
    });
    await new Promise<void>((r) => proxy.listen(socketPath, () => r()));
    try {
      const selected = await selectRuntime({ choice: 'auto', docker: new Docker({ socketPath }), engineConfigured: true, engineWaitMs: 30_000, logger: silent });
      assert.equal(selected.runtime.kind, 'docker');
      assert.ok(Date.now() - startedAt >= 2000, 'the first pings were not answered');
      await selected.runtime.close();
    } finally {
      proxy.close();
      for (const socket of sockets) socket.destroy(); // the held pings would keep this process alive
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('auto with a configured engine that never answers fails loudly (RF_WORKER_RUNTIME_UNAVAILABLE)', async () => {
    const docker = new Docker({ socketPath: join(tmpdir(), `h9a-no-engine-${process.pid}.sock`) });
    await assert.rejects(selectRuntime({ choice: 'auto', docker, engineConfigured: true, engineWaitMs: 1500, logger: silent }), { code: 'RF_WORKER_RUNTIME_UNAVAILABLE' });
  });

  test('the process runtime is refused beyond loopback or with a cluster key unless RINGFAAS_RUNTIME=process', async () => {
    const docker = new Docker({ socketPath: join(tmpdir(), `h9a-no-engine-${process.pid}.sock`) });
    await assert.rejects(selectRuntime({ choice: 'auto', docker, engineConfigured: false, processFallbackAllowed: false, logger: silent }), { code: 'RF_WORKER_RUNTIME_UNAVAILABLE' });
    const explicit = await selectRuntime({ choice: 'process', docker, processFallbackAllowed: false, logger: silent });
    assert.equal(explicit.runtime.kind, 'process');
    // The worker process itself: beyond loopback without a cluster key it does not start.
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot, 'worker', 'main.ts')], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH, RINGFAAS_WORKER_HOST: '0.0.0.0', RINGFAAS_RUNTIME: 'process', RINGFAAS_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true', RINGFAAS_LOG_LEVEL: 'fatal' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 1);
    assert.match(run.stdout + run.stderr, /RF_CONFIG_INVALID[\s\S]*RINGFAAS_CLUSTER_KEY|RINGFAAS_CLUSTER_KEY[\s\S]*RF_CONFIG_INVALID/);
  });
});

describe('routers serve HTTPS; the CLI trusts a CA file', () => {
  test('an https router answers the CLI given --ca, and a client without the CA is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringfaas-h9a-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const config = loadRouterConfig(
      { RINGFAAS_STORAGE_CONNECTION_STRING: 'memory', RINGFAAS_PORT: '0', RINGFAAS_API_KEYS: ADMIN_KEY, RINGFAAS_TLS_CERT: cert, RINGFAAS_TLS_KEY: key, RINGFAAS_LOG_LEVEL: 'silent' },
      [],
      { routerId: 'router-h9a-tls' },
    );
    const router = await startRouter({ config, stores: createMemoryStores() });
    try {
      assert.match(router.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      // Asynchronously: the router runs in this process and must keep accepting.
      const cli = (args: string[], env: Record<string, string>): Promise<{ status: number | null; out: string }> =>
        new Promise((done) => {
          execFile(
            process.execPath,
            [join(projectRoot, 'bin', 'ringfaas.js'), ...args],
            { cwd: projectRoot, env: { PATH: process.env.PATH ?? '', RINGFAAS_URL: router.url, RINGFAAS_API_KEY: ADMIN_KEY, ...env }, encoding: 'utf8', timeout: 90_000 },
            (err, stdout, stderr) => done({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, out: stdout + stderr }),
          );
        });
      const trusted = await cli(['--ca', cert, 'ls'], {});
      assert.equal(trusted.status, 0, trusted.out);
      const viaEnv = await cli(['ls'], { RINGFAAS_CA_FILE: cert });
      assert.equal(viaEnv.status, 0, viaEnv.out);
      const untrusted = await cli(['ls'], {});
      assert.equal(untrusted.status, 1, untrusted.out);
      assert.match(untrusted.out, /SELF_SIGNED|certificate/i);
      await assert.rejects(fetch(router.url.replace('https:', 'http:') + '/healthz'));
    } finally {
      await router.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

