/**
 * router/main.ts: startRouter wires the app and the ring and listens (memory stores, a worker
 * row in membership); the process refuses an unsafe configuration with RF_CONFIG_INVALID and a
 * non-zero exit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createMemoryStores } from '../../storage/index.ts';
import { loadRouterConfig } from '../config.ts';
import { startRouter } from '../main.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('startRouter listens on an ephemeral port, serves the API, and closes', async () => {
  const stores = createMemoryStores();
  const config = loadRouterConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'unused-stores-given', RINGFAAS_PORT: '0', RINGFAAS_API_KEYS: 'main-test-key-1' }, [], { routerId: 'router-main-test' });
  const router = await startRouter({ config, stores, log: pino({ level: 'silent' }), ring: { pollIntervalMs: 100 } });
  try {
    assert.match(router.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${router.url}/healthz`);
    const healthBody = (await health.json()) as { ok: boolean; routerId: string; details?: { storage?: { degraded?: boolean } } };
    assert.equal(healthBody.ok, true);
    assert.equal(healthBody.routerId, 'router-main-test');
    assert.equal(healthBody.details?.storage?.degraded, false);
    const auth = { authorization: 'Bearer main-test-key-1' };
    assert.equal((await fetch(`${router.url}/functions`)).status, 401);
    const created = await fetch(`${router.url}/functions`, { method: 'POST', headers: auth, body: JSON.stringify({ memorySize: 128, code: 'module.exports = () => 1' }) });
    assert.equal(created.status, 201);
    const workers = (await (await fetch(`${router.url}/workers`, { headers: auth })).json()) as { router: string; workers: unknown[] };
    assert.equal(workers.router, 'router-main-test');
    const invoke = await fetch(`${router.url}/functions/${((await created.json()) as { id: string }).id}/invoke`, { method: 'POST', headers: auth, body: '{}' });
    const body = (await invoke.json()) as { error: { code: string } };
    assert.equal(invoke.status, 503, 'no worker is on the ring');
    assert.match(body.error.code, /^RF_RING_/);
    const metrics = await (await fetch(`${router.url}/metrics`, { headers: auth })).text();
    assert.match(metrics, /ringfaas_router_http_requests_total/);
    assert.match(metrics, /ringfaas_ring_/);
    assert.match(metrics, /process_cpu_user_seconds_total/);
  } finally {
    await router.close();
    await stores.close();
  }
  await assert.rejects(fetch(`${router.url}/healthz`));
});

test('the router process refuses to listen beyond loopback without keys (RF_CONFIG_INVALID, exit 1)', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'router', 'main.ts')], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', RINGFAAS_HOST: '0.0.0.0', RINGFAAS_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('close', r));
  assert.equal(code, 1);
  assert.match(stderr, /^RF_CONFIG_INVALID: .*beyond loopback.*--insecure/);
});
