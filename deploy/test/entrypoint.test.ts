/**
 * The platform image's entry point: secrets from `RINGFAAS_*_FILE`, one port per router task
 * slot, the worker's Swarm address option checked; and the production package list the
 * platform image takes from package-lock.json (no dev package, every runtime one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveRouterPort, resolveSecretFiles, resolveWorkerAddress } from '../entrypoint.ts';
import { productionPackagePaths } from '../platform-image.ts';

test('RINGFAAS_*_FILE sets the variable from the file, trailing white space trimmed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rf-entry-'));
  try {
    await writeFile(join(dir, 'keys'), 'k-admin-123,k-run-4567:invoke\n');
    const env = resolveSecretFiles({ RINGFAAS_API_KEYS_FILE: join(dir, 'keys'), OTHER_FILE: '/nope', RINGFAAS_PORT: '1' });
    assert.equal(env.RINGFAAS_API_KEYS, 'k-admin-123,k-run-4567:invoke');
    assert.equal(env.RINGFAAS_API_KEYS_FILE, undefined);
    assert.equal(env.OTHER_FILE, '/nope', 'only RINGFAAS_ variables are read from files');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a variable set both ways, a missing file and an oversized file are all reported together', () => {
  const files: Record<string, Buffer> = { '/big': Buffer.alloc(70_000) };
  const read = (path: string): Buffer => {
    const b = files[path];
    if (b === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    return b;
  };
  assert.throws(
    () => resolveSecretFiles({ RINGFAAS_CLUSTER_KEY: 'x', RINGFAAS_CLUSTER_KEY_FILE: '/a', RINGFAAS_API_KEYS_FILE: '/missing', RINGFAAS_STORAGE_CONNECTION_STRING_FILE: '/big' }, read),
    (err: Error & { code?: string }) =>
      err.code === 'RF_CONFIG_INVALID' && /both set/.test(err.message) && /ENOENT/.test(err.message) && /larger than/.test(err.message),
  );
});

test('a router task listens on RINGFAAS_PORT + slot - 1', () => {
  assert.equal(resolveRouterPort({ RINGFAAS_PORT: '8080', RINGFAAS_TASK_SLOT: '3' }).RINGFAAS_PORT, '8082');
  assert.equal(resolveRouterPort({ RINGFAAS_TASK_SLOT: '1' }).RINGFAAS_PORT, '8080');
  assert.equal(resolveRouterPort({ RINGFAAS_PORT: '9000' }).RINGFAAS_PORT, '9000');
  assert.throws(() => resolveRouterPort({ RINGFAAS_TASK_SLOT: 'x' }), /RINGFAAS_TASK_SLOT/);
});

test('the Swarm address option needs a fixed port and excludes an explicit address', async () => {
  assert.deepEqual(await resolveWorkerAddress({ A: '1' }), { A: '1' });
  await assert.rejects(resolveWorkerAddress({ RINGFAAS_WORKER_ADVERTISE: 'pod-ip' }), /swarm-node/);
  await assert.rejects(resolveWorkerAddress({ RINGFAAS_WORKER_ADVERTISE: 'swarm-node', RINGFAAS_WORKER_PORT: '0' }), /fixed RINGFAAS_WORKER_PORT/);
  await assert.rejects(resolveWorkerAddress({ RINGFAAS_WORKER_ADVERTISE: 'swarm-node', RINGFAAS_WORKER_ADDRESS: 'http://a:1' }), /both set/);
});

test('the platform image takes every runtime package and no dev package', async () => {
  const root = join(import.meta.dirname, '..', '..');
  const paths = await productionPackagePaths(root);
  for (const runtime of ['node_modules/pino', 'node_modules/zod', 'node_modules/dockerode', 'node_modules/azurite', 'node_modules/@azure/data-tables']) {
    assert.ok(paths.includes(runtime), `${runtime} is in the image`);
  }
  for (const dev of ['node_modules/tsx', 'node_modules/typescript', 'node_modules/fast-check', 'node_modules/kubernetes-models', 'node_modules/esbuild']) {
    assert.ok(!paths.includes(dev), `${dev} is not in the image`);
  }
});
