/**
 * The one-node Docker Swarm as an operator runs it: deploy/swarm/up.sh (swarm, images,
 * secrets, stack, wait), the README's walk-through through the stack's routers, routers
 * scaled to 3 all serving, a killed worker task replaced and the ring healed, then
 * deploy/swarm/down.sh leaving no service, secret or container of the stack, and the engine's
 * swarm state as it was. Ports are free ports picked at run time; the stack's name is unique.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../storage/azurite.ts';
import { dockerAvailable, skipUnless } from '../../testing/services.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const stack = `rfh11t${randomBytes(3).toString('hex')}`;
const apiKey = `k-${stack}-admin`;

async function docker(...args: string[]): Promise<string> {
  return (await run('docker', args, { maxBuffer: 16 * 1024 * 1024 })).stdout.trim();
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function call(url: string, method: string, body?: unknown): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'x-ringfaas-details': '1' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text), headers: res.headers };
}

async function activeWorkers(url: string): Promise<Array<{ id: string; address: string; heartbeatAgeMs: number }>> {
  const { json } = await call(`${url}/workers`, 'GET');
  return (json.workers as Array<{ id: string; address: string; heartbeatAgeMs: number; inRing: boolean }>).filter((w) => w.inRing);
}

describe('a one-node Docker Swarm from up.sh to down.sh', { skip: skipUnless(dockerAvailable(), 'docker', 'the swarm stack needs a Docker engine'), timeout: 900_000 }, () => {
  const env: NodeJS.ProcessEnv = { ...process.env };
  let swarmBefore = '';
  let url = '';
  let routerPort = 0;

  before(async () => {
    swarmBefore = await docker('info', '--format', '{{.Swarm.LocalNodeState}}');
    const ports = new Set<number>();
    while (ports.size < 6) ports.add(await freePort('127.0.0.1'));
    const [router, , , worker, blob, table] = [...ports];
    routerPort = router!;
    // Routers take RINGFAAS_PORT + slot - 1: three consecutive ports must be free.
    Object.assign(env, {
      RINGFAAS_STACK: stack,
      RINGFAAS_PORT: String(routerPort),
      RINGFAAS_ROUTERS: '2',
      RINGFAAS_WORKER_PORT: String(worker),
      RINGFAAS_AZURITE_BLOB_PORT: String(blob),
      RINGFAAS_AZURITE_TABLE_PORT: String(table),
      RINGFAAS_SWARM_DATA_DIR: `/tmp/ringfaas-swarm-test/${stack}`,
      RINGFAAS_API_KEYS: apiKey,
      RINGFAAS_READY_TIMEOUT_S: '420',
      RINGFAAS_MEMBERSHIP_TTL_MS: '5000',
    });
    delete env.RINGFAAS_STORAGE_CONNECTION_STRING;
    delete env.RINGFAAS_CLUSTER_KEY;
  });

  after(async () => {
    await run(join(root, 'deploy/swarm/down.sh'), [], { env: { ...env, RINGFAAS_DOWN_VOLUMES: '1' } }).catch((err: unknown) => {
      process.stderr.write(`down.sh failed in cleanup: ${String(err)}\n`);
    });
  });

  test('up.sh creates the swarm, images and secrets, deploys, and prints the router URL once every worker is on the ring', async () => {
    const { stdout } = await run(join(root, 'deploy/swarm/up.sh'), [], { env, maxBuffer: 16 * 1024 * 1024, timeout: 600_000 });
    url = stdout.trim().split('\n').at(-1) ?? '';
    assert.match(url, new RegExp(`^http://[^/]+:${routerPort}$`));
    assert.equal((await activeWorkers(url)).length, 1);
    const secrets = (await docker('secret', 'ls', '--format', '{{.Name}}')).split('\n').filter((s) => s.startsWith(`${stack}_`));
    assert.deepEqual(secrets.sort(), [`${stack}_api_keys`, `${stack}_cluster_key`, `${stack}_storage_connection_string`]);
    const labels = JSON.parse(await docker('image', 'inspect', '--format', '{{json .Config.Labels}}', env.RINGFAAS_PLATFORM_IMAGE ?? (await docker('service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', `${stack}_router`)))) as Record<string, string>;
    assert.ok(labels['org.opencontainers.image.version'] !== undefined && labels['org.opencontainers.image.revision'] !== undefined, JSON.stringify(labels));
  });

  test("the README's walk-through through the stack's routers", async () => {
    assert.ok(url !== '', 'up.sh ran');
    const second = url.replace(/:(\d+)$/, (_, p: string) => `:${Number(p) + 1}`);
    const created = await call(`${url}/functions`, 'POST', { name: 'hello', memorySize: 128, code: 'module.exports = async (input) => ({ hello: input.name })' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const id = created.json.id as string;
    const first = await call(`${url}/functions/${id}/invoke`, 'POST', { name: 'ring' });
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.deepEqual(first.json.output, { hello: 'ring' });
    const again = await waitFor('the second router', 60_000, async () => {
      const r = await call(`${second}/functions/${id}/invoke`, 'POST', { name: 'again' });
      return r.status === 200 ? r : undefined;
    });
    assert.deepEqual(again.json.output, { hello: 'again' });
    assert.equal(again.headers.get('x-ringfaas-worker'), first.headers.get('x-ringfaas-worker'));
    const updated = await call(`${url}/functions/${id}`, 'PUT', { name: 'hello', memorySize: 256, code: 'exports.handler = (input) => ({ hi: input.name })' });
    assert.equal(updated.status, 200);
    assert.deepEqual((await call(`${second}/functions/${id}/invoke`, 'POST', { name: 'v2' })).json.output, { hi: 'v2' });
    assert.ok(((await call(`${url}/functions`, 'GET')).json as unknown[]).length >= 1);
    assert.equal((await call(`${url}/functions/${id}`, 'DELETE')).status, 204);
  });

  test('routers scaled to 3 all serve', async () => {
    assert.ok(url !== '', 'up.sh ran');
    await docker('service', 'scale', '--detach', `${stack}_router=3`);
    const created = await call(`${url}/functions`, 'POST', { memorySize: 128, code: 'module.exports = () => "ok"' });
    const id = created.json.id as string;
    for (const offset of [0, 1, 2]) {
      const routerUrl = url.replace(/:(\d+)$/, (_, p: string) => `:${Number(p) + offset}`);
      const r = await waitFor(`router ${offset + 1}`, 300_000, async () => {
        const res = await call(`${routerUrl}/functions/${id}/invoke`, 'POST', {});
        return res.status === 200 ? res : undefined;
      });
      assert.equal(r.json.output, 'ok');
      assert.match(r.headers.get('x-ringfaas-router') ?? '', new RegExp(`^router-${offset + 1}-`));
    }
  });

  test('a killed worker task is replaced and the ring heals', async () => {
    assert.ok(url !== '', 'up.sh ran');
    const [before] = await activeWorkers(url);
    assert.ok(before !== undefined);
    const container = await docker('ps', '-q', '--filter', `label=com.docker.swarm.service.name=${stack}_worker`);
    assert.notEqual(container, '');
    const killedAt = Date.now();
    await docker('kill', container);
    // The replacement has the same id (the node's) and heartbeats again: the ring heals.
    await waitFor('a new worker task', 300_000, async () => {
      const now = await docker('ps', '-q', '--filter', `label=com.docker.swarm.service.name=${stack}_worker`);
      return now !== '' && now !== container ? now : undefined;
    });
    const created = await call(`${url}/functions`, 'POST', { memorySize: 128, code: 'module.exports = () => "healed"' });
    const r = await waitFor('an invocation on the healed ring', 300_000, async () => {
      const res = await call(`${url}/functions/${created.json.id as string}/invoke`, 'POST', {});
      return res.status === 200 ? res : undefined;
    });
    assert.equal(r.json.output, 'healed');
    const [healed] = await activeWorkers(url);
    assert.equal(healed?.id, before.id);
    process.stderr.write(`swarm test: worker task killed → ring healed and serving in ${Date.now() - killedAt} ms\n`);
  });

  test('down.sh leaves no service, secret or container of the stack, and the swarm as it found it', async () => {
    await run(join(root, 'deploy/swarm/down.sh'), [], { env: { ...env, RINGFAAS_DOWN_VOLUMES: '1' }, timeout: 300_000 });
    const state = await docker('info', '--format', '{{.Swarm.LocalNodeState}}');
    assert.equal(state, swarmBefore);
    if (state === 'active') {
      assert.equal((await docker('service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`)), '');
      assert.deepEqual((await docker('secret', 'ls', '--format', '{{.Name}}')).split('\n').filter((s) => s.startsWith(`${stack}_`)), []);
    }
    assert.equal(await docker('ps', '-aq', '--filter', `label=com.docker.stack.namespace=${stack}`), '');
    const functions = (await docker('ps', '-a', '--filter', 'label=ringfaas.worker', '--format', '{{.Label "ringfaas.worker"}}')).split('\n').filter((w) => w.startsWith(`${stack}-`));
    assert.deepEqual(functions, []);
  });
});
