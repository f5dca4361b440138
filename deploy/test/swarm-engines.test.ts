/**
 * Beyond one machine, really: two more Docker engines, each in its own network namespace
 * (deploy/test/swarm-harness.ts), join the first engine's swarm as nodes; the stack's global
 * worker service runs a worker on each; functions homed on them are served through the router
 * on the first node. Measured and printed (with generous bounds asserted):
 *  - the fraction of function homes that move when the third node joins (≈ 1/3);
 *  - a rolling update of the worker service under load (one task at a time, stop-first,
 *    SIGTERM drain): failed requests;
 *  - stopping the second engine under load: time until the router's ring drops its worker,
 *    and failed requests meanwhile (only those in flight on it may fail).
 * Needs root, iproute2, nsenter and unshare beside Docker (.ci/run installs iproute2), and an
 * engine not already in a swarm (the swarm must advertise the veth address).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../storage/azurite.ts';
import { dockerAvailable, servicesRequired, skipUnless } from '../../testing/services.ts';
import { call, docker, removeStaleEngines, ringWorkers, run, startNamespacedEngine, waitFor, type NamespacedEngine } from './swarm-harness.ts';

const root = join(import.meta.dirname, '..', '..');
const tag = randomBytes(2).toString('hex');
const stack = `rfh11e${tag}`;
const apiKey = `k-${stack}-admin`;
const subnetBase = 100 + (parseInt(tag, 16) % 70) * 2;
const FUNCTIONS = 24;
/** Rolling updates of the worker service in a row (RINGFAAS_TEST_ROLLING_ROUNDS, default 1). */
const ROLLING_ROUNDS = Math.max(1, Number(process.env.RINGFAAS_TEST_ROLLING_ROUNDS) || 1);

function canRunEngines(): boolean {
  if (!dockerAvailable() || process.getuid?.() !== 0) return false;
  return ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].some((p) => existsSync(p));
}

/** Invokes every function once; returns its worker per function id and the failures. */
async function homes(url: string, ids: string[]): Promise<{ worker: Map<string, string>; failed: number }> {
  const worker = new Map<string, string>();
  let failed = 0;
  for (const id of ids) {
    const r = await call(apiKey, `${url}/functions/${id}/invoke`, 'POST', {}).catch(() => undefined);
    if (r?.status === 200 && r.headers.get('x-ringfaas-spills') === '0') worker.set(id, r.headers.get('x-ringfaas-worker') ?? '');
    else if (r?.status !== 200) failed++;
  }
  return { worker, failed };
}

/** Invokes the functions in a loop until stopped; counts answers by status. */
function load(url: string, ids: string[]): { stop(): Promise<{ ok: number; failed: number; codes: string[] }> } {
  let running = true;
  let ok = 0;
  let failed = 0;
  const codes: string[] = [];
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const id = ids[i % ids.length]!;
      const r = await call(apiKey, `${url}/functions/${id}/invoke`, 'POST', {}, 30_000).catch((err: unknown) => ({ status: 0, json: String(err), headers: new Headers() }));
      if (r.status === 200) ok++;
      else {
        failed++;
        codes.push(`${r.status} ${typeof r.json === 'object' ? (r.json?.error?.code ?? '') : String(r.json).slice(0, 80)}`);
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { ok, failed, codes };
    },
  };
}

describe('a swarm over three Docker engines (two in network namespaces)', { skip: skipUnless(canRunEngines(), 'docker', 'needs Docker, root and iproute2 to run engines in network namespaces'), timeout: 1_200_000 }, () => {
  const engines: NamespacedEngine[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env };
  let url = '';
  let ids: string[] = [];
  let createdSwarm = false;

  before(async () => {
    const state = await docker(['info', '--format', '{{.Swarm.LocalNodeState}}']);
    if (state !== 'inactive') {
      if (servicesRequired()) throw new Error(`the engine is already in a swarm (${state}): this test needs to create its own`);
      return;
    }
    const stale = await removeStaleEngines();
    if (stale.length > 0) process.stderr.write(`engines test: removed namespaces an earlier run left: ${stale.join(', ')}\n`);
    engines.push(await startNamespacedEngine(`rf${tag}n2`, subnetBase));
    const ports = new Set<number>();
    while (ports.size < 4) ports.add(await freePort('127.0.0.1'));
    const [router, worker, blob, table] = [...ports];
    Object.assign(env, {
      RINGFAAS_STACK: stack,
      RINGFAAS_PORT: String(router),
      RINGFAAS_ROUTERS: '1',
      RINGFAAS_WORKER_PORT: String(worker),
      RINGFAAS_AZURITE_BLOB_PORT: String(blob),
      RINGFAAS_AZURITE_TABLE_PORT: String(table),
      RINGFAAS_SWARM_DATA_DIR: `/tmp/ringfaas-swarm-test/${stack}`,
      RINGFAAS_SWARM_ADVERTISE_ADDR: engines[0]!.hostAddress,
      RINGFAAS_API_KEYS: apiKey,
      RINGFAAS_READY_TIMEOUT_S: '420',
      RINGFAAS_MEMBERSHIP_TTL_MS: '5000',
    });
    delete env.RINGFAAS_STORAGE_CONNECTION_STRING;
    delete env.RINGFAAS_CLUSTER_KEY;
  });

  after(async () => {
    if (createdSwarm || env.RINGFAAS_STACK !== undefined) {
      await run(join(root, 'deploy/swarm/down.sh'), [], { env: { ...env, RINGFAAS_DOWN_VOLUMES: '1' } }).catch((err: unknown) => process.stderr.write(`down.sh: ${String(err)}\n`));
    }
    for (const engine of engines) await engine.remove();
    // Nothing of a removed engine runs on (its containers outlived a dockerd killed mid-shutdown).
    const left = (await run('pgrep', ['-f', 'containerd-shim-runc-v2 .*-address /run/docker-exec']).catch(() => ({ stdout: '' }))).stdout.trim();
    assert.equal(left, '', `containerd shims of removed engines still run (pids ${left})`);
  });

  /** What the workers logged at warn level or above since `since`: the cause of a failure. */
  async function printWorkerWarnings(since: string): Promise<void> {
    const { stdout, stderr } = await run('docker', ['service', 'logs', '--raw', '--since', since, `${stack}_worker`], { maxBuffer: 64 * 1024 * 1024 }).catch((err: unknown) => ({ stdout: '', stderr: String(err) }));
    const lines = `${stdout}\n${stderr}`.split('\n').filter((l) => /"level":(4|5|6)0/.test(l));
    process.stderr.write(`engines test: worker warnings since ${since} (${lines.length}):\n${lines.slice(0, 20).map((l) => `  ${l.slice(0, 1500)}`).join('\n')}\n`);
  }

  async function joinSwarm(engine: NamespacedEngine): Promise<void> {
    const token = await docker(['swarm', 'join-token', '-q', 'worker']);
    for (const image of [env.RINGFAAS_PLATFORM_IMAGE!, env.RINGFAAS_RUNTIME_IMAGE!]) {
      await run('sh', ['-c', `docker save '${image}' | docker -H '${engine.socket}' load`], { maxBuffer: 16 * 1024 * 1024 });
    }
    await docker(['swarm', 'join', '--token', token, '--advertise-addr', engine.address, `${engines[0]!.hostAddress}:2377`], engine.socket);
  }

  test('a second engine in a network namespace joins; functions homed there are served through the first node\'s router', async (t) => {
    if (engines.length === 0) return t.skip('the engine was already in a swarm');
    const { stdout } = await run(join(root, 'deploy/swarm/up.sh'), [], { env, maxBuffer: 16 * 1024 * 1024, timeout: 600_000 });
    createdSwarm = true;
    url = stdout.trim().split('\n').at(-1) ?? '';
    // The images up.sh built, for the other engines.
    env.RINGFAAS_PLATFORM_IMAGE = await docker(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', `${stack}_router`]);
    env.RINGFAAS_PLATFORM_IMAGE = env.RINGFAAS_PLATFORM_IMAGE.split('@')[0];
    env.RINGFAAS_RUNTIME_IMAGE = (await docker(['service', 'inspect', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}', `${stack}_worker`]))
      .match(/RINGFAAS_RUNTIME_IMAGE=([^"]+)/)?.[1];
    for (let i = 0; i < FUNCTIONS; i++) {
      const r = await call(apiKey, `${url}/functions`, 'POST', { memorySize: 128, code: `module.exports = () => ${i}` });
      assert.equal(r.status, 201);
      ids.push(r.json.id as string);
    }
    await joinSwarm(engines[0]!);
    const two = await waitFor('the second worker on the ring', 300_000, async () => {
      const w = await ringWorkers(apiKey, url);
      return w.length === 2 ? w : undefined;
    });
    const remote = two.find((w) => w.address.includes(engines[0]!.address));
    assert.ok(remote !== undefined, JSON.stringify(two));
    const { worker } = await homes(url, ids);
    const onRemote = [...worker.values()].filter((w) => w === remote.id).length;
    process.stderr.write(`engines test: ${onRemote} of ${ids.length} functions homed on the second engine's worker (${remote.address})\n`);
    assert.ok(onRemote > 0, 'some functions are homed on the second engine and served through the first node\'s router');
  });

  test('a third engine joining moves about 1/3 of the homes', async (t) => {
    if (url === '') return t.skip('no swarm');
    engines.push(await startNamespacedEngine(`rf${tag}n3`, subnetBase + 1));
    // Its own route back to the manager and Azurite (addresses of the first engine's host).
    await run('ip', ['netns', 'exec', engines[1]!.name, 'ip', 'route', 'add', 'default', 'via', engines[1]!.hostAddress]);
    await run('ip', ['netns', 'exec', engines[0]!.name, 'ip', 'route', 'replace', 'default', 'via', engines[0]!.hostAddress]);
    const before = (await homes(url, ids)).worker;
    await joinSwarm(engines[1]!);
    await waitFor('the third worker on the ring', 300_000, async () => ((await ringWorkers(apiKey, url)).length === 3 ? true : undefined));
    const afterJoin = (await homes(url, ids)).worker;
    const compared = ids.filter((id) => before.has(id) && afterJoin.has(id));
    const moved = compared.filter((id) => before.get(id) !== afterJoin.get(id)).length;
    const fraction = moved / Math.max(1, compared.length);
    process.stderr.write(`engines test: third node joined, ${moved} of ${compared.length} homes moved (${(fraction * 100).toFixed(0)}%, ideal 33%)\n`);
    assert.ok(compared.length >= ids.length / 2, `homes compared: ${compared.length}`);
    assert.ok(fraction > 0.05 && fraction < 0.7, `moved fraction ${fraction}`);
  });

  // Diagnosed (2026-12-02): the failures were 'the container started but its shim did not
  // answer within 10000 ms' on a loaded node: a container started at its function's CPU share
  // (73 for 128 MB) and its shim starved. Fixed in worker/docker-runtime.ts (the shim starts at
  // the default share, waited for 30 s). Proven with RINGFAAS_TEST_ROLLING_ROUNDS=3 (three
  // rolling updates in a row under load: 1682, 715 and 1110 calls ok, 0 failed).
  for (let round = 1; round <= ROLLING_ROUNDS; round++) {
    test(`a rolling update of the worker service under load fails no request (round ${round} of ${ROLLING_ROUNDS})`, async (t) => {
      if (url === '') return t.skip('no swarm');
      const traffic = load(url, ids);
      const startedAt = Date.now();
      const since = new Date(startedAt - 1000).toISOString();
      await docker(['service', 'update', '--force', '--detach=false', '--quiet', `${stack}_worker`]).catch((err: unknown) => {
        throw new Error(`service update: ${String(err)}`);
      });
      await waitFor('every worker back on the ring', 300_000, async () => ((await ringWorkers(apiKey, url)).length === 3 ? true : undefined));
      const result = await traffic.stop();
      process.stderr.write(`engines test: rolling worker update (round ${round}) in ${Date.now() - startedAt} ms under load: ${result.ok} ok, ${result.failed} failed ${JSON.stringify(result.codes.slice(0, 5))}\n`);
      if (result.failed > 0) await printWorkerWarnings(since);
      assert.ok(result.ok > 0);
      assert.equal(result.failed, 0, result.codes.join('; '));
    });
  }

  test('stopping the second engine: its worker leaves the ring within the membership TTL and requests go on', async (t) => {
    if (url === '') return t.skip('no swarm');
    const victim = (await ringWorkers(apiKey, url)).find((w) => w.address.includes(engines[0]!.address));
    assert.ok(victim !== undefined);
    const traffic = load(url, ids);
    await new Promise((r) => setTimeout(r, 2000));
    const stoppedAt = Date.now();
    void engines[0]!.stop(60_000);
    const droppedAfterMs = await waitFor('the stopped node to leave the ring', 120_000, async () =>
      (await ringWorkers(apiKey, url)).some((w) => w.id === victim.id) ? undefined : Date.now() - stoppedAt,
    );
    await new Promise((r) => setTimeout(r, 3000));
    const result = await traffic.stop();
    process.stderr.write(`engines test: second engine stopped → its worker left the ring after ${droppedAfterMs} ms; under load ${result.ok} ok, ${result.failed} failed ${JSON.stringify(result.codes.slice(0, 5))}\n`);
    // TTL 5 s plus the router's poll and a loaded machine's delays.
    assert.ok(droppedAfterMs < 60_000, `dropped after ${droppedAfterMs} ms`);
    assert.ok(result.failed <= 3, `at most the requests in flight on it fail: ${result.codes.join('; ')}`);
    const after = await call(apiKey, `${url}/functions/${ids[0]!}/invoke`, 'POST', {});
    assert.equal(after.status, 200);
  });
});
