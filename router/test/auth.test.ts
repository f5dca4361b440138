/** API-key auth: 401 without or with a wrong key, the key accepted, /healthz open, keys never logged. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStores } from '../../storage/index.ts';
import { createAuthenticator, parseApiKey } from '../auth.ts';
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
  assert.doesNotThrow(() => auth.check('Bearer k1-secret', 'admin'));
  assert.throws(() => auth.check(undefined, 'invoke'), { code: 'RF_ROUTER_UNAUTHORIZED' });
});

test('parseApiKey: key[:scope], no scope is admin, unknown scope and short keys refused', () => {
  assert.deepEqual(parseApiKey('k-admin-123'), { key: 'k-admin-123', scope: 'admin' });
  assert.deepEqual(parseApiKey('k-run-4567:invoke'), { key: 'k-run-4567', scope: 'invoke' });
  assert.deepEqual(parseApiKey('k-dep-4567:deploy'), { key: 'k-dep-4567', scope: 'deploy' });
  assert.ok('problem' in parseApiKey('k-run-4567:root'));
  assert.ok('problem' in parseApiKey('short:invoke'));
});

describe('API-key scopes', () => {
  const ADMIN = 'k-admin-123';
  const DEPLOY = 'k-deploy-456';
  const INVOKE = 'k-run-4567';
  let app: TestApp;
  let id: string;
  before(async () => {
    app = await startTestApp({ stores: createMemoryStores(), apiKeys: [ADMIN, `${DEPLOY}:deploy`, `${INVOKE}:invoke`] });
    const created = await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 1' }, { authorization: `Bearer ${DEPLOY}` }));
    assert.equal(created.status, 201);
    id = created.body.id as string;
  });
  after(() => app.close());

  const status = async (key: string, method: string, path: string, body?: unknown): Promise<{ status: number; code: unknown; wwwAuth: string | null }> => {
    const init = body === undefined ? { method, headers: { authorization: `Bearer ${key}` } } : jsonInit(method, body, { authorization: `Bearer ${key}` });
    const res = await call(`${app.url}${path}`, init);
    return { status: res.status, code: res.body?.error?.code, wwwAuth: res.headers.get('www-authenticate') };
  };

  test('an invoke key cannot deploy, read functions, list workers or read metrics: 403 RF_AUTH_FORBIDDEN', async () => {
    for (const [method, path, body] of [
      ['POST', '/functions', { memorySize: 128, code: 'module.exports = () => 2' }],
      ['GET', '/functions', undefined],
      ['GET', `/functions/${id}`, undefined],
      ['PUT', `/functions/${id}`, { memorySize: 128, code: 'module.exports = () => 2' }],
      ['DELETE', `/functions/${id}`, undefined],
      ['GET', '/workers', undefined],
      ['POST', '/workers', { address: 'http://127.0.0.1:1' }],
      ['DELETE', '/workers/w1', undefined],
      ['GET', '/metrics', undefined],
    ] as const) {
      const res = await status(INVOKE, method, path, body);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.code, 'RF_AUTH_FORBIDDEN', `${method} ${path}`);
      assert.equal(res.wwwAuth, null);
    }
    // The function was not changed by the refused PUT/DELETE.
    assert.equal((await status(ADMIN, 'GET', `/functions/${id}`)).status, 200);
  });

  test('a deploy key manages functions but not workers or metrics', async () => {
    assert.equal((await status(DEPLOY, 'GET', '/functions')).status, 200);
    assert.equal((await status(DEPLOY, 'GET', `/functions/${id}`)).status, 200);
    assert.equal((await status(DEPLOY, 'GET', '/workers')).code, 'RF_AUTH_FORBIDDEN');
    assert.equal((await status(DEPLOY, 'GET', '/metrics')).code, 'RF_AUTH_FORBIDDEN');
  });

  test('an admin key (no scope written) reaches everything', async () => {
    assert.equal((await status(ADMIN, 'GET', '/workers')).status, 200);
    assert.equal((await status(ADMIN, 'GET', '/metrics')).status, 200);
  });

  test('an invoke key passes the scope check on invoke (no worker here: a ring error, not 401/403)', async () => {
    const res = await status(INVOKE, 'POST', `/functions/${id}/invoke`, {});
    assert.notEqual(res.status, 401);
    assert.notEqual(res.status, 403);
  });
});
