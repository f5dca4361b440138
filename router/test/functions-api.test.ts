/**
 * Function CRUD through the HTTP app on the in-memory stores: create (code and seed-style
 * zipFile), read, list, update (versions, ETag/If-Match, notifier before the answer,
 * concurrent updates on one and on two routers), delete (record, blobs, notifier), a new
 * function under the id of a deleted one. Then createFunctionsApi itself, for what HTTP
 * cannot stage: code left by an update that failed after its upload, and store writes that
 * landed although the store answered an error.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { RfError } from '../../errors/index.ts';
import { MemoryArtifactStore, MemoryFunctionStore, StorageErrors } from '../../storage/index.ts';
import type { FunctionStore, Stores } from '../../storage/types.ts';
import { createFunctionsApi, TAKEN_VERSION_WAIT_MS, type FunctionsApi } from '../functions-api.ts';
import type { RequestContext } from '../invoker.ts';
import { call, jsonInit, makeZip, RecordingNotifier, startTestApp, type TestApp } from './app-harness.ts';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function newStores(): Pick<Stores, 'functions' | 'artifacts'> {
  return { functions: new MemoryFunctionStore(), artifacts: new MemoryArtifactStore() };
}

describe('functions CRUD (memory stores)', () => {
  let stores: Pick<Stores, 'functions' | 'artifacts'>;
  let app: TestApp;
  before(async () => {
    stores = newStores();
    app = await startTestApp({ stores });
  });
  after(() => app.close());

  test('POST with code answers 201, Location, ETag and a full record; the code blob is stored', async () => {
    const res = await call(`${app.url}/functions`, jsonInit('POST', { name: 'hello', memorySize: 256, code: 'module.exports = (i) => i', env: { A: 'b' } }));
    assert.equal(res.status, 201);
    const record = res.body;
    assert.match(record.id, /^[a-z2-7]{16}$/);
    assert.equal(res.headers.get('location'), `/functions/${record.id}`);
    assert.equal(res.headers.get('etag'), '"v1"');
    assert.equal(record.name, 'hello');
    assert.equal(record.memorySize, 256);
    assert.equal(record.timeoutMs, 60000);
    assert.equal(record.idleTimeoutMs, 900000);
    assert.equal(record.version, 1);
    assert.deepEqual(record.env, { A: 'b' });
    assert.equal(record.createdAt, record.updatedAt);
    const blob = await stores.artifacts.get(record.id, 1);
    assert.equal(record.codeSha256, sha(blob));
    assert.equal(record.codeSize, blob.length);
    assert.ok(res.headers.get('x-request-id'));
    assert.ok(!JSON.stringify(record).match(/AccountKey|sig=|SharedAccessSignature/));
  });

  test('POST seed-style (zipFile + displayName) stores the zip as sent', async () => {
    const zip = makeZip({ 'index.js': 'exports.handler = async () => 1', 'lib/util.js': 'module.exports = 2' });
    const res = await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 512, zipFile: zip.toString('base64'), displayName: 'seed-fn' }));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.name, 'seed-fn');
    assert.equal(res.body.codeSha256, sha(zip));
    assert.deepEqual(await stores.artifacts.get(res.body.id, 1), zip);
  });

  test('GET one and GET all answer the stored records', async () => {
    const created = (await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 0' }))).body;
    assert.equal(created.name, created.id, 'the name defaults to the id');
    const one = await call(`${app.url}/functions/${created.id}`);
    assert.equal(one.status, 200);
    assert.deepEqual(one.body, created);
    assert.equal(one.headers.get('etag'), '"v1"');
    const all = await call(`${app.url}/functions`);
    assert.equal(all.status, 200);
    assert.ok(Array.isArray(all.body));
    assert.ok(all.body.some((r: { id: string }) => r.id === created.id));
  });

  test('PUT makes a new version, keeps absent fields, notifies, removes the old blob', async () => {
    const created = (await call(`${app.url}/functions`, jsonInit('POST', { name: 'upd', memorySize: 256, timeoutMs: 1000, code: 'module.exports = () => 1' }))).body;
    const res = await call(`${app.url}/functions/${created.id}`, jsonInit('PUT', { code: 'module.exports = () => 2', env: { X: '1' } }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.version, 2);
    assert.equal(res.headers.get('etag'), '"v2"');
    assert.equal(res.body.name, 'upd');
    assert.equal(res.body.memorySize, 256);
    assert.equal(res.body.timeoutMs, 1000);
    assert.deepEqual(res.body.env, { X: '1' });
    assert.equal(res.body.createdAt, created.createdAt);
    assert.notEqual(res.body.codeSha256, created.codeSha256);
    assert.equal(sha(await stores.artifacts.get(created.id, 2)), res.body.codeSha256);
    await assert.rejects(stores.artifacts.get(created.id, 1), { code: 'RF_STORAGE_NOT_FOUND' });
    assert.deepEqual(app.notifier.events.filter((e) => e.functionId === created.id), [{ kind: 'updated', functionId: created.id, version: 2 }]);
    assert.equal((await stores.functions.get(created.id))?.record.version, 2);
  });

  test('PUT awaits the notifier before it answers', async () => {
    const created = (await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 1' }))).body;
    let release!: () => void;
    app.notifier.gate = new Promise<void>((r) => (release = r));
    const notified = new Promise<void>((r) => (app.notifier.onCall = r));
    let answered = false;
    const pending = call(`${app.url}/functions/${created.id}`, jsonInit('PUT', { code: 'module.exports = () => 2' })).then((r) => {
      answered = true;
      return r;
    });
    await notified;
    await new Promise((r) => setTimeout(r, 50)); // give a premature answer every chance to arrive
    assert.equal(answered, false, 'the PUT answered before the notifier finished');
    release();
    const res = await pending;
    app.notifier.gate = undefined;
    app.notifier.onCall = undefined;
    assert.equal(res.status, 200);
    assert.equal(res.body.version, 2);
  });

  test('If-Match: the current ETag updates, a stale one answers 412 and changes nothing', async () => {
    const created = (await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 1' }))).body;
    const ok = await call(`${app.url}/functions/${created.id}`, jsonInit('PUT', { code: 'module.exports = () => 2' }, { 'if-match': '"v1"' }));
    assert.equal(ok.status, 200);
    const stale = await call(`${app.url}/functions/${created.id}`, jsonInit('PUT', { code: 'module.exports = () => 3' }, { 'if-match': '"v1"' }));
    assert.equal(stale.status, 412);
    assert.equal(stale.body.error.code, 'RF_ROUTER_PRECONDITION_FAILED');
    assert.equal(stale.body.error.details.version, 2);
    const now = await stores.functions.get(created.id);
    assert.equal(now?.record.version, 2);
    assert.equal(now?.record.codeSha256, ok.body.codeSha256);
    await assert.rejects(stores.artifacts.get(created.id, 3), { code: 'RF_STORAGE_NOT_FOUND' });
    const staleDelete = await call(`${app.url}/functions/${created.id}`, { method: 'DELETE', headers: { 'if-match': '"v1"' } });
    assert.equal(staleDelete.status, 412);
    assert.ok(await stores.functions.get(created.id));
  });

  test('concurrent PUTs on one router become consecutive versions, none lost', async () => {
    const created = (await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 0' }))).body;
    const answers = await Promise.all(
      [1, 2, 3, 4].map((n) => call(`${app.url}/functions/${created.id}`, jsonInit('PUT', { code: `module.exports = () => ${n}` }))),
    );
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200]);
    assert.deepEqual(answers.map((a) => a.body.version).sort(), [2, 3, 4, 5]);
    const final = await stores.functions.get(created.id);
    assert.equal(final?.record.version, 5);
    assert.equal(sha(await stores.artifacts.get(created.id, 5)), final?.record.codeSha256);
  });

  test('concurrent PUTs through two routers on the same stores: both land as distinct versions', async () => {
    const other = await startTestApp({ stores });
    try {
      for (let round = 0; round < 5; round++) {
        const created = (await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 0' }))).body;
        const [a, b] = await Promise.all([
          call(`${app.url}/functions/${created.id}`, jsonInit('PUT', { code: `module.exports = () => 'a${round}'` })),
          call(`${other.url}/functions/${created.id}`, jsonInit('PUT', { code: `module.exports = () => 'b${round}'` })),
        ]);
        assert.equal(a.status, 200);
        assert.equal(b.status, 200);
        assert.deepEqual([a.body.version, b.body.version].sort(), [2, 3]);
        const final = await stores.functions.get(created.id);
        const last = a.body.version === 3 ? a.body : b.body;
        assert.equal(final?.record.version, 3);
        assert.equal(final?.record.codeSha256, last.codeSha256);
        assert.equal(sha(await stores.artifacts.get(created.id, 3)), last.codeSha256);
      }
    } finally {
      await other.close();
    }
  });

  test('DELETE removes the record and every blob and notifies; then 404', async () => {
    const created = (await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 1' }))).body;
    await call(`${app.url}/functions/${created.id}`, jsonInit('PUT', { code: 'module.exports = () => 2' }));
    const res = await fetch(`${app.url}/functions/${created.id}`, { method: 'DELETE' });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), '');
    assert.equal(await stores.functions.get(created.id), undefined);
    await assert.rejects(stores.artifacts.get(created.id, 2), { code: 'RF_STORAGE_NOT_FOUND' });
    assert.ok(app.notifier.events.some((e) => e.kind === 'deleted' && e.functionId === created.id));
    const again = await call(`${app.url}/functions/${created.id}`, { method: 'DELETE' });
    assert.equal(again.status, 404);
    assert.equal(again.body.error.code, 'RF_ROUTER_FUNCTION_NOT_FOUND');
    assert.equal((await call(`${app.url}/functions/${created.id}`)).status, 404);
  });

  test('an unknown id answers 404 RF_ROUTER_FUNCTION_NOT_FOUND on GET, PUT and DELETE', async () => {
    for (const init of [{ method: 'GET' }, jsonInit('PUT', { code: 'module.exports = () => 1' }), { method: 'DELETE' }]) {
      const res = await call(`${app.url}/functions/nosuchfunction00`, init);
      assert.equal(res.status, 404, init.method);
      assert.equal(res.body.error.code, 'RF_ROUTER_FUNCTION_NOT_FOUND');
    }
    await assert.rejects(stores.artifacts.get('nosuchfunction00', 1), { code: 'RF_STORAGE_NOT_FOUND' });
  });
});

describe('functions CRUD: a new function under the id of a deleted one', () => {
  test('deploy after delete reuses the id from version 1; code left under it is never overwritten', async () => {
    const stores = newStores();
    const ids = ['sameid', 'sameid', 'sameid', 'otherid'];
    const app = await startTestApp({ stores, newId: () => ids.shift() ?? 'spare' });
    try {
      const first = await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 1' }));
      assert.equal(first.body.id, 'sameid');
      assert.equal((await call(`${app.url}/functions/sameid`, jsonInit('PUT', { code: 'module.exports = () => 2' }))).body.version, 2);
      assert.equal((await fetch(`${app.url}/functions/sameid`, { method: 'DELETE' })).status, 204);
      await assert.rejects(stores.artifacts.get('sameid', 2), { code: 'RF_STORAGE_NOT_FOUND' });

      const again = await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 256, code: "module.exports = () => 'again'" }));
      assert.equal(again.status, 201, JSON.stringify(again.body));
      assert.equal(again.body.id, 'sameid');
      assert.equal(again.body.version, 1);
      assert.equal(sha(await stores.artifacts.get('sameid', 1)), again.body.codeSha256);
      const updated = await call(`${app.url}/functions/sameid`, jsonInit('PUT', { code: "module.exports = () => 'again 2'" }, { 'if-match': '"v1"' }));
      assert.equal(updated.status, 200);
      assert.equal(updated.body.version, 2);
      assert.equal(sha(await stores.artifacts.get('sameid', 2)), updated.body.codeSha256);

      // Delete again, and suppose the blob removal missed version 1 (or a late upload put it back).
      assert.equal((await fetch(`${app.url}/functions/sameid`, { method: 'DELETE' })).status, 204);
      const leftover = Buffer.from('leftover');
      await stores.artifacts.put('sameid', 1, leftover);
      const third = await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 3' }));
      assert.equal(third.status, 201);
      assert.equal(third.body.id, 'otherid', 'an id whose version 1 is taken is passed over');
      assert.equal(sha(await stores.artifacts.get('otherid', 1)), third.body.codeSha256);
      assert.deepEqual(await stores.artifacts.get('sameid', 1), leftover);
      assert.equal(await stores.functions.get('sameid'), undefined);
    } finally {
      await app.close();
    }
  });
});

describe('createFunctionsApi: writes that failed or landed midway', () => {
  const ctx: RequestContext = { requestId: 'test', log: pino({ level: 'silent' }) };
  const zipOf = (n: number): string => `module.exports = () => ${n}`;

  function api(stores: Pick<Stores, 'functions' | 'artifacts'>, sleeps: number[] = []): FunctionsApi {
    return createFunctionsApi({
      stores,
      notifier: new RecordingNotifier(),
      limits: { maxUnpackedBytes: 1 << 20 },
      clock: Date.now,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
  }

  /** A real function store whose next write lands and is then answered with `err` (as after an SDK retry of it). */
  function landsThenFails(inner: FunctionStore, err: () => RfError): FunctionStore & { armed: boolean } {
    const store = {
      armed: false,
      create: async (record: Parameters<FunctionStore['create']>[0]) => {
        const stored = await inner.create(record);
        if (!store.armed) return stored;
        store.armed = false;
        throw err();
      },
      get: (id: string) => inner.get(id),
      list: () => inner.list(),
      listPage: (options: Parameters<FunctionStore['listPage']>[0]) => inner.listPage(options),
      update: async (record: Parameters<FunctionStore['update']>[0], etag: string) => {
        const stored = await inner.update(record, etag);
        if (!store.armed) return stored;
        store.armed = false;
        throw err();
      },
      delete: (id: string, etag?: string) => inner.delete(id, etag),
    };
    return store;
  }

  test('a version number taken by an update that failed after its upload is skipped, after a wait', async () => {
    const stores = newStores();
    const sleeps: number[] = [];
    const functions = api(stores, sleeps);
    const created = await functions.create({ memorySize: 128, code: zipOf(1) }, ctx);
    const orphan = Buffer.from('code of a failed update');
    await stores.artifacts.put(created.id, 2, orphan);

    const updated = await functions.update(created.id, { code: zipOf(2) }, '"v1"', ctx);
    assert.equal(updated.version, 3);
    assert.ok(sleeps.reduce((a, b) => a + b, 0) >= TAKEN_VERSION_WAIT_MS, `waited ${sleeps.join('+')} ms`);
    assert.equal(sha(await stores.artifacts.get(created.id, 3)), updated.codeSha256);
    assert.deepEqual((await stores.functions.get(created.id))?.record, updated);
    // The replaced version and the skipped one are gone; nothing names them.
    await assert.rejects(stores.artifacts.get(created.id, 1), { code: 'RF_STORAGE_NOT_FOUND' });
    await assert.rejects(stores.artifacts.get(created.id, 2), { code: 'RF_STORAGE_NOT_FOUND' });

    sleeps.length = 0;
    const next = await functions.update(created.id, { code: zipOf(3) }, '"v3"', ctx);
    assert.equal(next.version, 4);
    assert.deepEqual(sleeps, []);
  });

  test('an update whose record write landed but was answered as a conflict is the update, not a 412', async () => {
    const inner = new MemoryFunctionStore();
    const flaky = landsThenFails(inner, () => new RfError(StorageErrors.CONFLICT, 'stale etag (the retry of a write that landed)'));
    const stores = { functions: flaky, artifacts: new MemoryArtifactStore() };
    const functions = api(stores);
    const created = await functions.create({ memorySize: 128, code: zipOf(1) }, ctx);
    flaky.armed = true;
    const updated = await functions.update(created.id, { code: zipOf(2) }, '"v1"', ctx);
    assert.equal(updated.version, 2);
    assert.deepEqual((await inner.get(created.id))?.record, updated);
    assert.equal(sha(await stores.artifacts.get(created.id, 2)), updated.codeSha256);
  });

  test('a create whose record write landed but was answered as a duplicate is the create, not a second function', async () => {
    const inner = new MemoryFunctionStore();
    const flaky = landsThenFails(inner, () => new RfError(StorageErrors.ALREADY_EXISTS, 'exists (the retry of a write that landed)'));
    const stores = { functions: flaky, artifacts: new MemoryArtifactStore() };
    flaky.armed = true;
    const created = await api(stores).create({ memorySize: 128, code: zipOf(1) }, ctx);
    assert.deepEqual(await inner.list(), [created]);
    assert.equal(sha(await stores.artifacts.get(created.id, 1)), created.codeSha256);
    assert.equal(stores.artifacts.size, 1);
  });

  test('a create refused for a taken id removes only its own blob and draws another id', async () => {
    const stores = newStores();
    const ids = ['taken', 'taken', 'fresh'];
    const functions = createFunctionsApi({
      stores,
      notifier: new RecordingNotifier(),
      limits: { maxUnpackedBytes: 1 << 20 },
      clock: Date.now,
      newId: () => ids.shift() ?? 'spare',
    });
    const first = await functions.create({ memorySize: 128, code: zipOf(1) }, ctx);
    const second = await functions.update('taken', { code: zipOf(2) }, undefined, ctx);
    assert.equal(second.version, 2);
    // 'taken' is at version 2 (its version 1 is gone): the new create's version-1 upload
    // succeeds, its record write is refused, and its own blob must go, not the function's.
    const other = await functions.create({ memorySize: 128, code: zipOf(9) }, ctx);
    assert.equal(other.id, 'fresh');
    assert.equal(first.id, 'taken');
    await assert.rejects(stores.artifacts.get('taken', 1), { code: 'RF_STORAGE_NOT_FOUND' });
    assert.equal(sha(await stores.artifacts.get('taken', 2)), second.codeSha256);
    assert.equal(sha(await stores.artifacts.get('fresh', 1)), other.codeSha256);
  });
});
