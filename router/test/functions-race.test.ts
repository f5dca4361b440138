/**
 * Two routers updating one function at once with the same If-Match, on real stores (Azurite,
 * and the in-memory stores for comparison): exactly one 200 and one 412, and the record, GET
 * and the stored code blob all agree with the winner. Before code blobs were create-only, the
 * loser's upload of the same version number replaced the winner's blob.
 *
 * The Azure case starts its own in-memory Azurite (an npm dependency; skipped, with the
 * reason, only when the package is missing, and failing then under RINGFAAS_REQUIRE_SERVICES=1).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { azuriteSkip, openTestStores, type TestStores, type TestStoresKind } from '../../testing/stores.ts';
import type { ArtifactStore, FunctionStore, Stores } from '../../storage/types.ts';
import { call, jsonInit, startTestApp, type TestApp } from './app-harness.ts';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Hooks {
  /** Awaited before each functions.update. */
  beforeUpdate?: () => Promise<void>;
  /** Called once each functions.update has settled, either way. */
  afterUpdate?: () => void;
  /** Called once each artifacts.put has settled, either way. */
  afterPut?: () => void;
}

/** The same stores, with hooks around two calls (composition; the stores are the real ones). */
function hooked(stores: Pick<Stores, 'functions' | 'artifacts'>, hooks: Hooks): Pick<Stores, 'functions' | 'artifacts'> {
  const { functions, artifacts } = stores;
  const hookedFunctions: FunctionStore = {
    create: (record) => functions.create(record),
    get: (id) => functions.get(id),
    list: () => functions.list(),
    listPage: (options) => functions.listPage(options),
    update: async (record, etag) => {
      await hooks.beforeUpdate?.();
      try {
        return await functions.update(record, etag);
      } finally {
        hooks.afterUpdate?.();
      }
    },
    delete: (id, etag) => functions.delete(id, etag),
  };
  const hookedArtifacts: ArtifactStore = {
    put: async (id, version, zip) => {
      try {
        await artifacts.put(id, version, zip);
      } finally {
        hooks.afterPut?.();
      }
    },
    get: (id, version) => artifacts.get(id, version),
    delete: (id, version) => artifacts.delete(id, version),
    deleteAll: (id) => artifacts.deleteAll(id),
    listVersions: () => artifacts.listVersions(),
  };
  return { functions: hookedFunctions, artifacts: hookedArtifacts };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const kinds: Array<[TestStoresKind, string | false]> = [
  ['memory', false],
  ['azure', azuriteSkip()],
];

for (const [kind, skip] of kinds) {
  describe(`concurrent PUTs with one If-Match through two routers (${kind} stores)`, { skip }, () => {
    let backing: TestStores;
    before(async () => {
      backing = await openTestStores(kind);
    });
    after(async () => {
      await backing?.close();
    });

    /** Creates a function through `app` and answers its id. */
    async function createFunction(app: TestApp): Promise<string> {
      const created = await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 0' }));
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body.id as string;
    }

    /** The record, GET and the stored blob agree with the answer of the winning PUT. */
    async function assertWinner(app: TestApp, id: string, winner: { version: number; codeSha256: string }): Promise<void> {
      const { artifacts, functions } = backing.stores;
      const got = await call(`${app.url}/functions/${id}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.version, winner.version);
      assert.equal(got.body.codeSha256, winner.codeSha256);
      assert.equal(got.headers.get('etag'), `"v${winner.version}"`);
      assert.equal((await functions.get(id))?.record.codeSha256, winner.codeSha256);
      assert.equal(sha(await artifacts.get(id, winner.version)), winner.codeSha256, 'the blob is the winner code');
    }

    test('racing freely: one 200, one 412, and the record and blob are the winner', async () => {
      const a = await startTestApp({ stores: backing.stores });
      const b = await startTestApp({ stores: backing.stores });
      try {
        for (let round = 0; round < 5; round++) {
          const id = await createFunction(a);
          const [ra, rb] = await Promise.all([
            call(`${a.url}/functions/${id}`, jsonInit('PUT', { code: `module.exports = () => 'a${round}'` }, { 'if-match': '"v1"' })),
            call(`${b.url}/functions/${id}`, jsonInit('PUT', { code: `module.exports = () => 'b${round}'` }, { 'if-match': '"v1"' })),
          ]);
          assert.deepEqual([ra.status, rb.status].sort(), [200, 412], `round ${round}: ${JSON.stringify([ra.body, rb.body])}`);
          const [won, lost] = ra.status === 200 ? [ra, rb] : [rb, ra];
          assert.equal(won.body.version, 2);
          assert.equal(lost.body.error.code, 'RF_ROUTER_PRECONDITION_FAILED');
          assert.equal(lost.body.error.details.version, 2);
          await assertWinner(a, id, won.body);
          await assert.rejects(backing.stores.artifacts.get(id, 3), { code: 'RF_STORAGE_NOT_FOUND' });
        }
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('the loser uploads between the winner upload and record write: 412, the winner blob untouched', async () => {
      // A uploads version 2 and is held before its record write until B's upload of version 2
      // has settled, and B's record write (if it gets there) waits for A's: the interleaving in
      // which B's upload used to replace A's blob under A's record.
      const aUpdating = deferred();
      const aUpdated = deferred();
      const bUploaded = deferred();
      let armed = false;
      const a = await startTestApp({
        stores: hooked(backing.stores, {
          beforeUpdate: async () => {
            aUpdating.resolve();
            await bUploaded.promise;
          },
          afterUpdate: () => aUpdated.resolve(),
        }),
      });
      const b = await startTestApp({
        stores: hooked(backing.stores, {
          afterPut: () => {
            if (armed) bUploaded.resolve();
          },
          beforeUpdate: () => aUpdated.promise,
        }),
      });
      try {
        const id = await createFunction(a);
        armed = true;
        const pendingA = call(`${a.url}/functions/${id}`, jsonInit('PUT', { code: "module.exports = () => 'a'" }, { 'if-match': '"v1"' }));
        await aUpdating.promise;
        const rb = await call(`${b.url}/functions/${id}`, jsonInit('PUT', { code: "module.exports = () => 'b'" }, { 'if-match': '"v1"' }));
        const ra = await pendingA;
        assert.equal(ra.status, 200, JSON.stringify(ra.body));
        assert.equal(ra.body.version, 2);
        assert.equal(rb.status, 412, JSON.stringify(rb.body));
        assert.equal(rb.body.error.code, 'RF_ROUTER_PRECONDITION_FAILED');
        assert.deepEqual(rb.body.error.details, { version: 2, etag: '"v2"' });
        await assertWinner(a, id, ra.body);
        await assert.rejects(backing.stores.artifacts.get(id, 3), { code: 'RF_STORAGE_NOT_FOUND' });
        // The function goes on: a later update is version 3, its blob its own.
        const next = await call(`${b.url}/functions/${id}`, jsonInit('PUT', { code: "module.exports = () => 'c'" }, { 'if-match': '"v2"' }));
        assert.equal(next.status, 200);
        await assertWinner(a, id, next.body);
        assert.equal(next.body.version, 3);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
