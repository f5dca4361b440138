/** The router's configuration: defaults, validation reporting every problem, the loopback guard. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackHost, loadRouterConfig } from '../config.ts';

const base = { RINGFAAS_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' };
const defaults = { routerId: 'router-x' };

test('defaults: 127.0.0.1:8080, no keys, info, the default router id, frozen', () => {
  const config = loadRouterConfig(base, [], defaults);
  assert.equal(config.port, 8080);
  assert.equal(config.host, '127.0.0.1');
  assert.deepEqual(config.apiKeys, []);
  assert.equal(config.logLevel, 'info');
  assert.equal(config.routerId, 'router-x');
  assert.equal(config.insecure, false);
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.apiKeys));
});

test('values from the environment; keys split on commas and trimmed', () => {
  const config = loadRouterConfig(
    { ...base, RINGFAAS_PORT: '9001', RINGFAAS_HOST: '0.0.0.0', RINGFAAS_API_KEYS: ' key-one-1234, key-two-5678 ,', RINGFAAS_LOG_LEVEL: 'warn', RINGFAAS_ROUTER_ID: 'r1' },
    [],
    defaults,
  );
  assert.equal(config.port, 9001);
  assert.equal(config.host, '0.0.0.0');
  assert.deepEqual(config.apiKeys, ['key-one-1234', 'key-two-5678']);
  assert.equal(config.logLevel, 'warn');
  assert.equal(config.routerId, 'r1');
});

test('every problem is reported together as RF_CONFIG_INVALID', () => {
  assert.throws(
    () => loadRouterConfig({ RINGFAAS_PORT: 'eighty', RINGFAAS_LOG_LEVEL: 'loud', RINGFAAS_ROUTER_ID: 'bad id' }, [], defaults),
    (err: { code: string; message: string; details: { problems: string[] } }) => {
      assert.equal(err.code, 'RF_CONFIG_INVALID');
      assert.match(err.message, /RINGFAAS_PORT/);
      assert.match(err.message, /RINGFAAS_LOG_LEVEL/);
      assert.match(err.message, /RINGFAAS_ROUTER_ID/);
      assert.match(err.message, /RINGFAAS_STORAGE_CONNECTION_STRING/);
      assert.equal(err.details.problems.length, 4);
      return true;
    },
  );
});

test('refuses a non-loopback address without keys unless insecure', () => {
  assert.throws(() => loadRouterConfig({ ...base, RINGFAAS_HOST: '0.0.0.0' }, [], defaults), (err: { code: string; message: string }) => {
    assert.equal(err.code, 'RF_CONFIG_INVALID');
    assert.match(err.message, /beyond loopback\) without API keys/);
    assert.match(err.message, /--insecure/);
    return true;
  });
  assert.equal(loadRouterConfig({ ...base, RINGFAAS_HOST: '0.0.0.0' }, ['--insecure'], defaults).insecure, true);
  assert.equal(loadRouterConfig({ ...base, RINGFAAS_HOST: '0.0.0.0', RINGFAAS_INSECURE: '1' }, [], defaults).insecure, true);
  assert.doesNotThrow(() => loadRouterConfig({ ...base, RINGFAAS_HOST: '::1' }, [], defaults));
  assert.doesNotThrow(() => loadRouterConfig({ ...base, RINGFAAS_HOST: '10.0.0.5', RINGFAAS_API_KEYS: 'long-enough-key' }, [], defaults));
});

test('isLoopbackHost', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
});
