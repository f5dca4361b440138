/**
 * Function CRUD on the Azure stores against a real Azurite (started by the project's own
 * startAzurite, in memory), and a storage outage (Azurite stopped) answering
 * 503 RF_STORAGE_UNAVAILABLE instead of hanging.
 *
 * Skips locally, with its reason, while the Azure stores or Azurite are unavailable; fails
 * in CI (RINGFAAS_REQUIRE_SERVICES=1).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as storage from '../../storage/index.ts';
import type { Stores } from '../../storage/types.ts';
import { skipUnless } from '../../testing/services.ts';
import { call, jsonInit, makeZip, startTestApp, type TestApp } from './app-harness.ts';

interface AzuriteHandle {
  connectionString: string;
  stop(): Promise<void>;
}
/** The storage area's Azure entry points, looked up at run time so this file loads before they exist. */
const azure = storage as unknown as {
  startAzurite?: (options?: Record<string, unknown>) => Promise<AzuriteHandle>;
  openStores?: (options: { connectionString: string }) => Promise<Stores>;
};
const skip = skipUnless(
  typeof azure.startAzurite === 'function' && typeof azure.openStores === 'function',
  'Azure stores',
  'storage/index.ts does not export startAzurite and openStores yet',
);

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('functions CRUD on Azurite', { skip }, () => {
  let azurite: AzuriteHandle;
  let stores: Stores;
  let app: TestApp;
  let azuriteStopped = false;
  const stopAzurite = async (): Promise<void> => {
    if (azuriteStopped) return;
    azuriteStopped = true;
    await azurite.stop();
  };
  before(async () => {
    azurite = await azure.startAzurite!();
    stores = await azure.openStores!({ connectionString: azurite.connectionString });
    app = await startTestApp({ stores });
  });
  after(async () => {
    await app?.close();
    await stores?.close();
    if (azurite !== undefined) await stopAzurite();
  });

  test('create, get, list, update with If-Match, concurrent updates, delete', async () => {
    const zip = makeZip({ 'index.js': 'module.exports = () => 1', 'lib/a.js': 'x' });
    const created = await call(`${app.url}/functions`, jsonInit('POST', { displayName: 'az', memorySize: 256, zipFile: zip.toString('base64'), env: { K: 'v' } }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    assert.deepEqual(await stores.artifacts.get(id, 1), zip);
    assert.deepEqual((await call(`${app.url}/functions/${id}`)).body, created.body);
    assert.ok((await call(`${app.url}/functions`)).body.some((r: { id: string }) => r.id === id));

    const updated = await call(`${app.url}/functions/${id}`, jsonInit('PUT', { code: 'module.exports = () => 2' }, { 'if-match': '"v1"' }));
    assert.equal(updated.status, 200);
    assert.equal(updated.body.version, 2);
    assert.deepEqual(updated.body.env, { K: 'v' });
    await assert.rejects(stores.artifacts.get(id, 1), { code: 'RF_STORAGE_NOT_FOUND' });
    const stale = await call(`${app.url}/functions/${id}`, jsonInit('PUT', { code: 'module.exports = () => 3' }, { 'if-match': '"v1"' }));
    assert.equal(stale.status, 412);
    assert.equal(stale.body.error.code, 'RF_ROUTER_PRECONDITION_FAILED');

    const other = await startTestApp({ stores });
    try {
      const [a, b] = await Promise.all([
        call(`${app.url}/functions/${id}`, jsonInit('PUT', { code: "module.exports = () => 'a'" })),
        call(`${other.url}/functions/${id}`, jsonInit('PUT', { code: "module.exports = () => 'b'" })),
      ]);
      assert.deepEqual([a.status, b.status], [200, 200]);
      assert.deepEqual([a.body.version, b.body.version].sort(), [3, 4]);
      const final = await stores.functions.get(id);
      assert.equal(final?.record.version, 4);
      assert.equal(sha(await stores.artifacts.get(id, 4)), final?.record.codeSha256);
    } finally {
      await other.close();
    }

    const bad = await call(`${app.url}/functions/${id}`, jsonInit('PUT', { memorySize: 9000, code: 'x' }));
    assert.equal(bad.body.error.code, 'RF_ROUTER_INVALID_BODY');
    assert.equal((await stores.functions.get(id))?.record.version, 4);

    const removed = await fetch(`${app.url}/functions/${id}`, { method: 'DELETE' });
    assert.equal(removed.status, 204);
    assert.equal(await stores.functions.get(id), undefined);
    await assert.rejects(stores.artifacts.get(id, 4), { code: 'RF_STORAGE_NOT_FOUND' });
    assert.equal((await call(`${app.url}/functions/${id}`)).status, 404);
  });

  test('a storage outage answers 503 RF_STORAGE_UNAVAILABLE on every CRUD route, not a hang', async () => {
    const created = await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 1' }));
    const id = created.body.id as string;
    await stopAzurite();
    for (const [path, init] of [
      ['/functions', jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 1' })],
      ['/functions', { method: 'GET' }],
      [`/functions/${id}`, { method: 'GET' }],
      [`/functions/${id}`, jsonInit('PUT', { code: 'module.exports = () => 2' })],
      [`/functions/${id}`, { method: 'DELETE' }],
    ] as const) {
      const res = await call(`${app.url}${path}`, init);
      assert.equal(res.status, 503, `${init.method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'RF_STORAGE_UNAVAILABLE');
    }
  });
});
