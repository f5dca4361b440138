/** RouterStatsStore: the same contract on the memory store and on Azure Table Storage (Azurite). */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { azuriteSkip, openTestStores, type TestStores, type TestStoresKind } from '../../testing/stores.ts';

for (const kind of ['memory', 'azure'] as TestStoresKind[]) {
  describe(`RouterStatsStore (${kind})`, { skip: kind === 'azure' ? azuriteSkip() : false }, () => {
    let t: TestStores;
    before(async () => {
      t = await openTestStores(kind);
    });
    after(() => t?.close());

    test('upsert replaces a router row, list answers every row, remove deletes', async () => {
      const store = t.stores.routers!;
      const stats = JSON.stringify({ bucketMs: 2000, b: [[1, 2, 3, 4, 5, 6]] });
      await store.upsert({ id: 'router/1', updatedAt: 1_764_000_000_123, stats: 'old' });
      await store.upsert({ id: 'router/1', updatedAt: 1_764_000_000_456, stats });
      await store.upsert({ id: 'router-2', updatedAt: 1, stats: '{}' });
      const rows = (await store.list()).sort((a, b) => a.id.localeCompare(b.id));
      assert.deepEqual(rows, [
        { id: 'router-2', updatedAt: 1, stats: '{}' },
        { id: 'router/1', updatedAt: 1_764_000_000_456, stats },
      ]);
      assert.equal(await store.remove('router-2'), true);
      assert.equal(await store.remove('router-2'), false);
      assert.deepEqual((await store.list()).map((r) => r.id), ['router/1']);
    });
  });
}
