/** API-key auth: 401 without or with a wrong key, the key accepted, /healthz open, keys never logged. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStores } from '../../storage/index.ts';
import { createAuthenticator } from '../auth.ts';
import { call, jsonInit, startTestApp, type TestApp } from './app-harness.ts';

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-fedcba9876543210';

describe('auth with API keys', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ stores: createMemoryStores(), apiKeys: [KEY_A, KEY_B] });
  });
  after(() => app.close());

  test('no Authorization header → 401 RF_ROUTER_UNAUTHORIZED with WWW-Authenticate, nothing stored', async () => {
    const res = await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 1' }));
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'RF_ROUTER_UNAUTHORIZED');
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="ringfaas"');
    const list = await call(`${app.url}/functions`, { headers: { authorization: `Bearer ${KEY_A}` } });
    assert.deepEqual(list.body, []);
  });

  test('a wrong key, a wrong scheme, an empty bearer → 401', async () => {
    for (const authorization of [`Bearer ${KEY_A}x`, `Basic ${KEY_A}`, 'Bearer ', KEY_A, `Bearer ${KEY_A.slice(0, -1)}`]) {
      const res = await call(`${app.url}/functions`, { headers: { authorization } });
      assert.equal(res.status, 401, authorization);
      assert.equal(res.body.error.code, 'RF_ROUTER_UNAUTHORIZED');
    }
  });

  test('every configured key is accepted (scheme case-insensitive) on every protected route', async () => {
    const created = await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 1' }, { authorization: `Bearer ${KEY_A}` }));
    assert.equal(created.status, 201);
    const id = created.body.id as string;
    for (const [path, init] of [
      ['/functions', {}],
      [`/functions/${id}`, {}],
      [`/functions/${id}/invoke`, { method: 'POST', body: '{}' }],
      ['/workers', {}],
      ['/metrics', {}],
    ] as const) {
      const open = await fetch(`${app.url}${path}`, { ...init });
      assert.equal(open.status, 401, `${path} without a key`);
      await open.arrayBuffer();
      const res = await fetch(`${app.url}${path}`, { ...init, headers: { authorization: `bearer ${KEY_B}` } });
      assert.equal(res.status, 200, path);
      await res.arrayBuffer();
    }
  });

  test('/healthz needs no key', async () => {
    assert.equal((await call(`${app.url}/healthz`)).status, 200);
  });

  test('keys never appear in the logs', async () => {
    await call(`${app.url}/functions`, { headers: { authorization: `Bearer ${KEY_A}` } });
    await call(`${app.url}/functions`, { headers: { authorization: `Bearer ${KEY_B}wrong` } });
    const logs = app.logText();
    assert.ok(logs.length > 0);
    assert.ok(!logs.includes(KEY_A) && !logs.includes(KEY_B), 'a key leaked into the logs');
  });
});

test('without keys every route is open', async () => {
  const app = await startTestApp({ stores: createMemoryStores() });
  try {
    assert.equal((await call(`${app.url}/functions`)).status, 200);
  } finally {
    await app.close();
  }
});

test('createAuthenticator: disabled when no keys, empty keys ignored', () => {
  assert.equal(createAuthenticator([]).enabled, false);
  assert.equal(createAuthenticator(['']).enabled, false);
  const auth = createAuthenticator(['k1-secret']);
  assert.doesNotThrow(() => auth.check('Bearer k1-secret'));
  assert.throws(() => auth.check(undefined), { code: 'RF_ROUTER_UNAUTHORIZED' });
});
