/** The worker's environment configuration: defaults, every problem reported at once, frozen. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isRfError } from '../../errors/index.ts';
import { loadWorkerConfig } from '../config.ts';

describe('loadWorkerConfig', () => {
  test('defaults, with only the storage connection string given', () => {
    const config = loadWorkerConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' });
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 0);
    assert.equal(config.memoryMb, 4096);
    assert.equal(config.coldPoolSize, 2);
    assert.equal(config.runtime, 'auto');
    assert.equal(config.functionNetwork, 'none');
    assert.equal(config.heartbeatMs, 1000);
    assert.match(config.id, /^[A-Za-z0-9][A-Za-z0-9_.-]*$/);
    assert.ok(Object.isFrozen(config));
  });

  test('values from the environment', () => {
    const config = loadWorkerConfig({
      RINGFAAS_STORAGE_CONNECTION_STRING: 'x',
      RINGFAAS_WORKER_ID: 'worker-7',
      RINGFAAS_WORKER_PORT: '7007',
      RINGFAAS_WORKER_MEMORY_MB: '8192',
      RINGFAAS_COLD_POOL_SIZE: '0',
      RINGFAAS_RUNTIME: 'process',
      RINGFAAS_HEARTBEAT_MS: '250',
    });
    assert.deepEqual(
      [config.id, config.port, config.memoryMb, config.coldPoolSize, config.runtime, config.heartbeatMs],
      ['worker-7', 7007, 8192, 0, 'process', 250],
    );
  });

  test('output and drain bounds: 6 MB and 60 s by default, from the environment otherwise', () => {
    const defaults = loadWorkerConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'x' });
    assert.deepEqual([defaults.maxOutputBytes, defaults.drainTimeoutMs], [6 * 1024 * 1024, 60_000]);
    const set = loadWorkerConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'x', RINGFAAS_MAX_OUTPUT_BYTES: '65536', RINGFAAS_WORKER_DRAIN_TIMEOUT_MS: '5000' });
    assert.deepEqual([set.maxOutputBytes, set.drainTimeoutMs], [65536, 5000]);
    assert.throws(() => loadWorkerConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'x', RINGFAAS_MAX_OUTPUT_BYTES: '10' }), /RINGFAAS_MAX_OUTPUT_BYTES/);
  });

  test('every problem is reported together as RF_CONFIG_INVALID', () => {
    assert.throws(
      () => loadWorkerConfig({ RINGFAAS_WORKER_PORT: 'abc', RINGFAAS_RUNTIME: 'vm', RINGFAAS_WORKER_MEMORY_MB: '12', RINGFAAS_WORKER_ID: '../x' }),
      (err: unknown) => {
        assert.ok(isRfError(err));
        assert.equal(err.code, 'RF_CONFIG_INVALID');
        const problems = (err.details?.problems ?? []) as string[];
        for (const name of ['RINGFAAS_WORKER_PORT', 'RINGFAAS_RUNTIME', 'RINGFAAS_WORKER_MEMORY_MB', 'RINGFAAS_WORKER_ID', 'RINGFAAS_STORAGE_CONNECTION_STRING']) {
          assert.ok(problems.some((p) => p.startsWith(name)), `${name} missing from ${problems.join(' | ')}`);
        }
        return true;
      },
    );
  });

  test('checks across variables are reported with the others, not instead of them', () => {
    assert.throws(
      () => loadWorkerConfig({ RINGFAAS_WORKER_HOST: '0.0.0.0', RINGFAAS_HEARTBEAT_MS: '4000', RINGFAAS_WORKER_PORT: 'x', RINGFAAS_STORAGE_CONNECTION_STRING: 'x' }),
      (err: unknown) => {
        assert.ok(isRfError(err));
        const problems = (err.details?.problems ?? []) as string[];
        assert.equal(problems.length, 3, problems.join(' | '));
        assert.ok(problems.some((p) => p.startsWith('RINGFAAS_WORKER_PORT must be a number')));
        assert.ok(problems.some((p) => p.startsWith('RINGFAAS_CLUSTER_KEY is required when RINGFAAS_WORKER_HOST')));
        assert.ok(problems.some((p) => p.startsWith('RINGFAAS_HEARTBEAT_MS must be at most half of RINGFAAS_MEMBERSHIP_TTL_MS')));
        return true;
      },
    );
  });

  test('keep-alive, hand-off and the Docker engine: defaults and values', () => {
    const defaults = loadWorkerConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'x' });
    assert.deepEqual([defaults.keepAlivePolicy, defaults.keepAliveTimeScale, defaults.warmHandoff, defaults.dockerHost, defaults.membershipTtlMs], ['hazard', 1, true, undefined, 5000]);
    const set = loadWorkerConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'x', RINGFAAS_KEEPALIVE_POLICY: 'hybrid', RINGFAAS_KEEPALIVE_TIME_SCALE: '60', RINGFAAS_WARM_HANDOFF: '0', DOCKER_HOST: ' unix:///tmp/d.sock ' });
    assert.deepEqual([set.keepAlivePolicy, set.keepAliveTimeScale, set.warmHandoff, set.dockerHost], ['hybrid', 60, false, 'unix:///tmp/d.sock']);
  });
});
