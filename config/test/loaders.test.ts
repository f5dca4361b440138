/**
 * The table and the loaders agree: each loader reads exactly the variables the table marks for
 * its component (an environment that records what is read), the dispatcher's are among the
 * router's, every problem comes back at once, and a secret's value is never echoed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_VARIABLES, VARIABLES, readVariables, type Component } from '../index.ts';
import { loadRouterConfig } from '../../router/index.ts';
import { loadWorkerConfig } from '../../worker/index.ts';
import { loadDevConfig } from '../../bin/dev.ts';
import { KEEPALIVE_POLICY_NAMES } from '../../worker/keepalive/index.ts';
import { KEEPALIVE_POLICIES } from '../index.ts';

/** An environment holding `values` that records every name read from it. */
function recording(values: Record<string, string>): { env: Record<string, string | undefined>; read: Set<string> } {
  const read = new Set<string>();
  const env = new Proxy(values as Record<string, string | undefined>, {
    get(target, name) {
      if (typeof name === 'string') read.add(name);
      return target[name as string];
    },
  });
  return { env, read };
}

const marked = (component: Component): string[] => ALL_VARIABLES.filter((v) => v.readBy.includes(component)).map((v) => v.name).sort();

test('each loader reads exactly the variables the table marks for it', () => {
  const router = recording({ RINGFAAS_STORAGE_CONNECTION_STRING: 'x' });
  loadRouterConfig(router.env, [], { routerId: 'r' });
  assert.deepEqual([...router.read].sort(), marked('router'));
  const worker = recording({ RINGFAAS_STORAGE_CONNECTION_STRING: 'x' });
  loadWorkerConfig(worker.env);
  assert.deepEqual([...worker.read].sort(), marked('worker'));
  const launcher = recording({});
  loadDevConfig(launcher.env);
  assert.deepEqual([...launcher.read].sort(), marked('launcher'));
  // The dispatcher runs loadRouterConfig: what it uses is part of what the router reads.
  assert.deepEqual(marked('dispatcher').filter((name) => !marked('router').includes(name)), []);
});

test('every entry names its readers, a doc line and the accepted values; names are unique', () => {
  const names = ALL_VARIABLES.map((v) => v.name);
  assert.equal(new Set(names).size, names.length);
  for (const v of ALL_VARIABLES) {
    assert.ok(v.readBy.length > 0, v.name);
    assert.ok(v.doc.length > 0 && !v.doc.includes('\n'), v.name);
    assert.ok(v.accepts.length > 0, v.name);
    for (const component of Object.keys(v.views ?? {})) assert.ok(v.readBy.includes(component as Component), `${v.name}: a view for ${component}, which does not read it`);
    // A default is a value the variable accepts.
    if (v.default !== undefined) assert.ok(v.schema.safeParse(v.default).success, `${v.name}: default ${v.default} refused`);
  }
});

test("the table's keep-alive policies are the worker's", () => {
  assert.deepEqual([...KEEPALIVE_POLICIES].sort(), [...KEEPALIVE_POLICY_NAMES].sort());
});

test('every problem is reported at once, one per variable, naming it', () => {
  const { problems } = readVariables(
    { RINGFAAS_PORT: 'eighty', RINGFAAS_ORPHAN_SWEEP_MS: '-5', RINGFAAS_LOG_LEVEL: 'loud', RINGFAAS_ASYNC_RESULT_TTL: '2y' },
    'router',
    {
      port: VARIABLES.RINGFAAS_PORT,
      sweep: VARIABLES.RINGFAAS_ORPHAN_SWEEP_MS,
      level: VARIABLES.RINGFAAS_LOG_LEVEL,
      ttl: VARIABLES.RINGFAAS_ASYNC_RESULT_TTL,
      storage: VARIABLES.RINGFAAS_STORAGE_CONNECTION_STRING,
    },
  );
  assert.deepEqual(problems, [
    'RINGFAAS_PORT must be a number',
    'RINGFAAS_ORPHAN_SWEEP_MS must be 0 (off) or 1000..86400000',
    'RINGFAAS_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    'RINGFAAS_ASYNC_RESULT_TTL must be ms or a duration like 90s, 30m, 24h, 7d',
    'RINGFAAS_STORAGE_CONNECTION_STRING is required',
  ]);
});

test('values are trimmed, an empty one is unset, and a component reads its own view', () => {
  const set = { port: VARIABLES.RINGFAAS_PORT, host: VARIABLES.RINGFAAS_HOST };
  assert.deepEqual(readVariables({ RINGFAAS_PORT: ' 9000 ', RINGFAAS_HOST: '  ' }, 'router', set).values, { port: 9000, host: '127.0.0.1' });
  assert.deepEqual(readVariables({}, 'dispatcher', set).values, { port: 0, host: '127.0.0.1' });
  assert.deepEqual(readVariables({ RINGFAAS_PORT: '0' }, 'launcher', set).problems, ['RINGFAAS_PORT must be 1..65535']);
});

test("a secret's value never appears in a problem", () => {
  const secrets = ALL_VARIABLES.filter((v) => v.secret === true);
  assert.deepEqual(secrets.map((v) => v.name).sort(), ['RINGFAAS_API_KEYS', 'RINGFAAS_CLUSTER_KEY', 'RINGFAAS_STORAGE_CONNECTION_STRING']);
  const leaked = 'sEcReT value with spaces';
  const env = { RINGFAAS_API_KEYS: leaked, RINGFAAS_CLUSTER_KEY: leaked, RINGFAAS_STORAGE_CONNECTION_STRING: 'AccountKey=x' };
  for (const load of [() => loadRouterConfig(env, [], { routerId: 'r' }), () => loadWorkerConfig(env), () => loadDevConfig(env)]) {
    assert.throws(load, (err: Error & { details?: { problems?: string[] } }) => {
      assert.ok(!err.message.includes('sEcReT'), err.message);
      assert.ok((err.details?.problems ?? []).length > 0);
      return true;
    });
  }
});

test('the launcher: its defaults, its own port range, its admin key, its runtime checked before anything starts', () => {
  const config = loadDevConfig({});
  assert.deepEqual(
    [config.port, config.host, config.routers, config.workers, config.workerPrefix, config.dataDir, config.readyTimeoutMs, config.runtime, config.connectionString, config.apiKey],
    [8080, '127.0.0.1', 2, 3, 'worker-', '.ringfaas', 120_000, 'auto', undefined, undefined],
  );
  assert.equal(loadDevConfig({ RINGFAAS_API_KEYS: 'invoke-key-1:invoke, admin-key-1 ' }).apiKey, 'admin-key-1');
  assert.throws(() => loadDevConfig({ RINGFAAS_PORT: '0', RINGFAAS_RUNTIME: 'vm', RINGFAAS_WORKERS: '99' }), (err: Error & { code?: string; details?: { problems?: string[] } }) => {
    assert.equal(err.code, 'RF_CONFIG_INVALID');
    assert.match(err.message, /^invalid launcher configuration: /);
    assert.deepEqual(err.details?.problems, ['RINGFAAS_PORT must be 1..65535', 'RINGFAAS_WORKERS must be 1..32', 'RINGFAAS_RUNTIME must be one of auto, docker, process']);
    return true;
  });
});

test('the dispatcher: a free port, its own id, a concurrency of at least 1', () => {
  const config = loadRouterConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'x' }, [], { routerId: 'dispatcher-x' }, 'dispatcher');
  assert.deepEqual([config.port, config.routerId, config.async.concurrency], [0, 'dispatcher-x', 4]);
  assert.equal(loadRouterConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'x', RINGFAAS_PORT: '9100' }, [], { routerId: 'd' }, 'dispatcher').port, 9100);
  assert.throws(() => loadRouterConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'x', RINGFAAS_ASYNC_CONCURRENCY: '0' }, [], { routerId: 'd' }, 'dispatcher'), {
    code: 'RF_CONFIG_INVALID',
    message: 'invalid dispatcher configuration: RINGFAAS_ASYNC_CONCURRENCY must be 1..256',
  });
  assert.equal(loadRouterConfig({ RINGFAAS_STORAGE_CONNECTION_STRING: 'x', RINGFAAS_ASYNC_CONCURRENCY: '0' }, [], { routerId: 'r' }).async.concurrency, 0);
});

test('warm first when spilling: on unless RINGFAAS_WARM_FIRST=0; another value is a problem', () => {
  const base = { RINGFAAS_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' };
  assert.equal(loadRouterConfig(base, [], { routerId: 'r' }).warmFirst, true);
  assert.equal(loadRouterConfig({ ...base, RINGFAAS_WARM_FIRST: '0' }, [], { routerId: 'r' }).warmFirst, false);
  assert.equal(loadRouterConfig({ ...base, RINGFAAS_WARM_FIRST: '0' }, [], { routerId: 'd' }, 'dispatcher').warmFirst, false);
  assert.throws(() => loadRouterConfig({ ...base, RINGFAAS_WARM_FIRST: 'maybe' }, [], { routerId: 'r' }), /RINGFAAS_WARM_FIRST/);
});
