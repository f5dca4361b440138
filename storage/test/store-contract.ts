/**
 * The one contract every Stores implementation passes (in-memory and Azure alike).
 *
 * The stores are opened once per suite and shared by its cases, so every case works on ids
 * of its own and never assumes the store is otherwise empty.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { FunctionRecord, Stores, WorkerRow } from '../types.ts';

/** Opens the stores under test, and releases whatever backs them. */
export interface StoresFactory {
  open(): Promise<Stores>;
  /** Called after `stores.close()`. */
  release?(): Promise<void>;
}

const uid = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

export function sampleRecord(overrides: Partial<FunctionRecord> = {}): FunctionRecord {
  const now = new Date().toISOString();
  return {
    id: uid('fn'),
    name: 'contract-fn',
    memorySize: 256,
    timeoutMs: 60_000,
    idleTimeoutMs: 900_000,
    version: 1,
    codeSha256: 'a'.repeat(64),
    codeSize: 1234,
    createdAt: now,
    updatedAt: now,
    env: { GREETING: 'hello', QUOTES: `"'; \\ ünïcode = % &`, EMPTY: '' },
    ...overrides,
  };
}

function sampleWorker(overrides: Partial<WorkerRow> = {}): WorkerRow {
  return {
    id: uid('worker'),
    address: 'http://127.0.0.1:7001',
    capacityMb: 8192,
    state: 'active',
    heartbeatAt: 1_764_000_000_123,
    startedAt: 1_763_999_999_001,
    ...overrides,
  };
}

/** Registers the contract suite for one implementation. */
export function storeContract(name: string, factory: StoresFactory): void {
  describe(`storage contract: ${name}`, () => {
    let stores: Stores;
    before(async () => {
      stores = await factory.open();
    });
    after(async () => {
      await stores?.close();
      await factory.release?.();
    });

    describe('FunctionStore', () => {
      test('create then get returns the same record and an etag', async () => {
        const record = sampleRecord();
        const created = await stores.functions.create(record);
        assert.deepEqual(created.record, record);
        assert.equal(typeof created.etag, 'string');
        assert.ok(created.etag.length > 0);
        const got = await stores.functions.get(record.id);
        assert.deepEqual(got, created);
      });

      test('get of an unknown id is undefined', async () => {
        assert.equal(await stores.functions.get(uid('missing')), undefined);
      });

      test('list holds every created record', async () => {
        const a = sampleRecord({ name: 'list-a' });
        const b = sampleRecord({ name: 'list-b', env: {} });
        await stores.functions.create(a);
        await stores.functions.create(b);
        const listed = await stores.functions.list();
        assert.deepEqual(listed.find((r) => r.id === a.id), a);
        assert.deepEqual(listed.find((r) => r.id === b.id), b);
      });

      test('listPage walks every record exactly once, page by page, in id order; a foreign token is RF_STORAGE_BAD_TOKEN', async () => {
        const created = await Promise.all(Array.from({ length: 23 }, (_, i) => stores.functions.create(sampleRecord({ name: `page-${i}` }))));
        const seen: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const page = await stores.functions.listPage({ limit: 7, ...(token === undefined ? {} : { continuationToken: token }) });
          assert.ok(page.records.length <= 7);
          seen.push(...page.records.map((r) => r.id));
          token = page.nextToken;
          pages++;
          assert.ok(pages < 1000, 'the walk ends');
        } while (token !== undefined);
        assert.equal(new Set(seen).size, seen.length, 'no record twice');
        for (const c of created) assert.ok(seen.includes(c.record.id), `record ${c.record.id} listed`);
        assert.deepEqual(seen, [...seen].sort(), 'id order');
        assert.equal(seen.length, (await stores.functions.list()).length, 'the pages hold what list() holds');
        await assert.rejects(stores.functions.listPage({ limit: 5, continuationToken: 'not a token\n' }), { code: 'RF_STORAGE_BAD_TOKEN' });
      });

      test('create of a taken id fails with RF_STORAGE_ALREADY_EXISTS and changes nothing', async () => {
        const record = sampleRecord();
        const created = await stores.functions.create(record);
        await assert.rejects(stores.functions.create({ ...record, name: 'other' }), { code: 'RF_STORAGE_ALREADY_EXISTS' });
        assert.deepEqual(await stores.functions.get(record.id), created);
      });

      test('update with the current etag replaces the record and changes the etag', async () => {
        const record = sampleRecord();
        const created = await stores.functions.create(record);
        const next = { ...record, version: 2, codeSize: 99, env: { ONLY: 'this' }, updatedAt: new Date().toISOString() };
        const updated = await stores.functions.update(next, created.etag);
        assert.deepEqual(updated.record, next);
        assert.notEqual(updated.etag, created.etag);
        assert.deepEqual(await stores.functions.get(record.id), updated);
      });

      test('update with a stale etag fails with RF_STORAGE_CONFLICT and changes nothing', async () => {
        const record = sampleRecord();
        const created = await stores.functions.create(record);
        const updated = await stores.functions.update({ ...record, version: 2 }, created.etag);
        await assert.rejects(stores.functions.update({ ...record, version: 3 }, created.etag), {
          code: 'RF_STORAGE_CONFLICT',
        });
        assert.deepEqual(await stores.functions.get(record.id), updated);
      });

      test('update of an unknown id fails with RF_STORAGE_NOT_FOUND', async () => {
        const record = sampleRecord();
        const created = await stores.functions.create(record);
        assert.equal(await stores.functions.delete(record.id), true);
        await assert.rejects(stores.functions.update(record, created.etag), { code: 'RF_STORAGE_NOT_FOUND' });
        assert.equal(await stores.functions.get(record.id), undefined);
      });

      test('concurrent updates with the same etag: exactly one wins, the others conflict', async () => {
        for (let round = 0; round < 5; round += 1) {
          const record = sampleRecord();
          const created = await stores.functions.create(record);
          const attempts = [2, 3, 4, 5].map((codeSize) =>
            stores.functions.update({ ...record, version: 2, codeSize }, created.etag),
          );
          const results = await Promise.allSettled(attempts);
          const won = results.filter((r) => r.status === 'fulfilled');
          const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
          assert.equal(won.length, 1, `round ${round}: exactly one update must win`);
          for (const r of lost) assert.equal((r.reason as { code?: string }).code, 'RF_STORAGE_CONFLICT');
          const winner = (won[0] as PromiseFulfilledResult<{ record: FunctionRecord; etag: string }>).value;
          assert.deepEqual(await stores.functions.get(record.id), winner);
        }
      });

      test('delete: a stale etag conflicts, the current one removes, a second delete is false', async () => {
        const record = sampleRecord();
        const created = await stores.functions.create(record);
        const updated = await stores.functions.update({ ...record, version: 2 }, created.etag);
        await assert.rejects(stores.functions.delete(record.id, created.etag), { code: 'RF_STORAGE_CONFLICT' });
        assert.deepEqual(await stores.functions.get(record.id), updated);
        assert.equal(await stores.functions.delete(record.id, updated.etag), true);
        assert.equal(await stores.functions.get(record.id), undefined);
        assert.equal(await stores.functions.delete(record.id), false);
        assert.equal(await stores.functions.delete(record.id, updated.etag), false);
        assert.equal((await stores.functions.list()).some((r) => r.id === record.id), false);
      });

      test('delete without an etag removes whatever is there', async () => {
        const record = sampleRecord();
        await stores.functions.create(record);
        assert.equal(await stores.functions.delete(record.id), true);
        assert.equal(await stores.functions.get(record.id), undefined);
      });

      test('ids with characters Table keys forbid round-trip', async () => {
        const record = sampleRecord({ id: `${uid('fn')}/a#b?c\\d %` });
        const created = await stores.functions.create(record);
        assert.deepEqual(await stores.functions.get(record.id), created);
        assert.ok((await stores.functions.list()).some((r) => r.id === record.id));
        const updated = await stores.functions.update({ ...record, version: 2 }, created.etag);
        assert.equal(await stores.functions.delete(record.id, updated.etag), true);
        assert.equal(await stores.functions.get(record.id), undefined);
      });

      test('callers never share state with the store', async () => {
        const record = sampleRecord();
        const created = await stores.functions.create(record);
        record.env.GREETING = 'mutated';
        created.record.name = 'mutated';
        const got = await stores.functions.get(record.id);
        assert.equal(got?.record.env.GREETING, 'hello');
        assert.equal(got?.record.name, 'contract-fn');
      });
    });

    describe('ArtifactStore', () => {
      test('one artifact per version, each read back byte for byte', async () => {
        const id = uid('fn');
        const v1 = randomBytes(1024);
        const v2 = randomBytes(3 * 1024 * 1024);
        await stores.artifacts.put(id, 1, v1);
        await stores.artifacts.put(id, 2, v2);
        assert.deepEqual(await stores.artifacts.get(id, 1), v1);
        assert.deepEqual(await stores.artifacts.get(id, 2), v2);
      });

      test('put of an existing version is refused and leaves the first blob', async () => {
        const id = uid('fn');
        await stores.artifacts.put(id, 1, Buffer.from('first'));
        await assert.rejects(stores.artifacts.put(id, 1, Buffer.from('second')), { code: 'RF_STORAGE_ALREADY_EXISTS' });
        await assert.rejects(stores.artifacts.put(id, 1, Buffer.from('first')), { code: 'RF_STORAGE_ALREADY_EXISTS' });
        assert.equal((await stores.artifacts.get(id, 1)).toString(), 'first');
        // Other versions of the same function are free; a deleted version can be written again.
        await stores.artifacts.put(id, 2, Buffer.from('two'));
        await stores.artifacts.delete(id, 1);
        await stores.artifacts.put(id, 1, Buffer.from('again'));
        assert.equal((await stores.artifacts.get(id, 1)).toString(), 'again');
      });

      test('concurrent puts of one version: exactly one wins and its bytes are stored', async () => {
        for (let round = 0; round < 5; round += 1) {
          const id = uid('fn');
          const zips = [0, 1, 2, 3].map(() => randomBytes(64 * 1024));
          const results = await Promise.allSettled(zips.map((zip) => stores.artifacts.put(id, 1, zip)));
          const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
          assert.equal(won.length, 1, `round ${round}: exactly one put must win`);
          for (const r of results) {
            if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'RF_STORAGE_ALREADY_EXISTS');
          }
          assert.deepEqual(await stores.artifacts.get(id, 1), zips[won[0]!]);
        }
      });

      test('get of an absent version fails with RF_STORAGE_NOT_FOUND', async () => {
        const id = uid('fn');
        await assert.rejects(stores.artifacts.get(id, 1), { code: 'RF_STORAGE_NOT_FOUND' });
        await stores.artifacts.put(id, 1, Buffer.from('x'));
        await assert.rejects(stores.artifacts.get(id, 2), { code: 'RF_STORAGE_NOT_FOUND' });
      });

      test('delete removes one version, and is quiet when absent', async () => {
        const id = uid('fn');
        await stores.artifacts.put(id, 1, Buffer.from('one'));
        await stores.artifacts.put(id, 2, Buffer.from('two'));
        await stores.artifacts.delete(id, 1);
        await assert.rejects(stores.artifacts.get(id, 1), { code: 'RF_STORAGE_NOT_FOUND' });
        assert.equal((await stores.artifacts.get(id, 2)).toString(), 'two');
        await stores.artifacts.delete(id, 1);
        await stores.artifacts.delete(uid('never'), 7);
      });

      test('deleteAll removes every version of one function only', async () => {
        const id = uid('fn');
        // Same leading characters: deleteAll must not match by a bare string prefix.
        const neighbour = `${id}0`;
        for (const v of [1, 2, 3]) await stores.artifacts.put(id, v, Buffer.from(`v${v}`));
        await stores.artifacts.put(neighbour, 1, Buffer.from('keep'));
        await stores.artifacts.deleteAll(id);
        for (const v of [1, 2, 3]) await assert.rejects(stores.artifacts.get(id, v), { code: 'RF_STORAGE_NOT_FOUND' });
        assert.equal((await stores.artifacts.get(neighbour, 1)).toString(), 'keep');
        await stores.artifacts.deleteAll(id);
        await stores.artifacts.deleteAll(uid('never'));
      });
    });

    describe('MembershipStore', () => {
      test('upsert then get and list', async () => {
        const row = sampleWorker();
        await stores.membership.upsert(row);
        assert.deepEqual(await stores.membership.get(row.id), row);
        assert.deepEqual((await stores.membership.list()).find((r) => r.id === row.id), row);
      });

      test('upsert replaces the row (a heartbeat)', async () => {
        const row = sampleWorker();
        await stores.membership.upsert(row);
        const beat = { ...row, heartbeatAt: row.heartbeatAt + 1000, address: 'http://127.0.0.1:7002' };
        await stores.membership.upsert(beat);
        assert.deepEqual(await stores.membership.get(row.id), beat);
        assert.equal((await stores.membership.list()).filter((r) => r.id === row.id).length, 1);
      });

      test('ids with characters outside the usual set round-trip', async () => {
        const row = sampleWorker({ id: `${uid('w')}/host#1?x\\y %` });
        await stores.membership.upsert(row);
        assert.deepEqual(await stores.membership.get(row.id), row);
        assert.ok((await stores.membership.list()).some((r) => r.id === row.id));
        assert.equal(await stores.membership.remove(row.id), true);
      });

      test('setState changes only the state; unknown workers fail with RF_STORAGE_NOT_FOUND', async () => {
        const row = sampleWorker();
        await stores.membership.upsert(row);
        await stores.membership.setState(row.id, 'draining');
        assert.deepEqual(await stores.membership.get(row.id), { ...row, state: 'draining' });
        await stores.membership.setState(row.id, 'active');
        assert.deepEqual(await stores.membership.get(row.id), row);
        await assert.rejects(stores.membership.setState(uid('missing'), 'draining'), { code: 'RF_STORAGE_NOT_FOUND' });
        assert.equal(await stores.membership.get(uid('missing')), undefined);
      });

      test('remove deletes the row; a second remove is false', async () => {
        const row = sampleWorker();
        await stores.membership.upsert(row);
        assert.equal(await stores.membership.remove(row.id), true);
        assert.equal(await stores.membership.get(row.id), undefined);
        assert.equal((await stores.membership.list()).some((r) => r.id === row.id), false);
        assert.equal(await stores.membership.remove(row.id), false);
      });
    });
  });
}
