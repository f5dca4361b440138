/**
 * The function cache over the real in-memory stores: one load per version (single-flight),
 * bounded, and invalidations / deletions that race a load never leave an old or deleted
 * function in the cache.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryArtifactStore, MemoryFunctionStore } from '../../storage/index.ts';
import type { FunctionPage, FunctionStore, StoredFunction, FunctionRecord } from '../../storage/types.ts';
import { RfError, isRfError } from '../../errors/index.ts';
import { StorageErrors } from '../../storage/errors.ts';
import { StorageHealth } from '../../storage/health.ts';
import { ManualClock } from '../../clock/index.ts';
import { quietLogger } from './worker-fixtures.ts';
import type { FunctionChange } from '../function-cache.ts';
import { FunctionCache } from '../function-cache.ts';
import { Code, deploy } from './worker-fixtures.ts';

/** A real FunctionStore that counts reads and can hold them until released. */
class GatedStore implements FunctionStore {
  reads = 0;
  /** Every read fails with RF_STORAGE_UNAVAILABLE (a storage outage). */
  down = false;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  readonly #inner: FunctionStore;
  constructor(inner: FunctionStore) {
    this.#inner = inner;
  }
  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }
  release(): void {
    this.#gate = undefined;
    this.#open?.();
  }
  async get(id: string): Promise<StoredFunction | undefined> {
    this.reads++;
    if (this.down) throw new RfError(StorageErrors.UNAVAILABLE, 'storage is down');
    const value = await this.#inner.get(id);
    if (this.#gate !== undefined) await this.#gate;
    return value;
  }
  create(r: FunctionRecord): Promise<StoredFunction> {
    return this.#inner.create(r);
  }
  list(): Promise<FunctionRecord[]> {
    return this.#inner.list();
  }
  listPage(options: { limit: number; continuationToken?: string }): Promise<FunctionPage> {
    return this.#inner.listPage(options);
  }
  update(r: FunctionRecord, etag: string): Promise<StoredFunction> {
    return this.#inner.update(r, etag);
  }
  delete(id: string, etag?: string): Promise<boolean> {
    return this.#inner.delete(id, etag);
  }
}

function setup(maxEntries?: number) {
  const inner = new MemoryFunctionStore();
  const functions = new GatedStore(inner);
  const artifacts = new MemoryArtifactStore();
  // Each entry counts 1 byte here, so maxBytes is an entry count.
  const cache = new FunctionCache({ functions, artifacts, ...(maxEntries === undefined ? {} : { maxBytes: maxEntries, sizeOf: () => 1 }) });
  // Tests deploy straight to the inner store: only the cache's reads are counted and held.
  return { functions, artifacts, cache, stores: { functions: inner, artifacts } };
}

describe('FunctionCache', () => {
  test('concurrent first calls share one load; later calls read nothing', async () => {
    const { functions, cache, stores } = setup();
    await deploy(stores, 'f', Code.echo());
    const all = await Promise.all(Array.from({ length: 10 }, () => cache.get('f')));
    assert.equal(functions.reads, 1);
    assert.ok(all.every((e) => e === all[0]));
    assert.equal(all[0]!.fn.files.some((f) => f.path === 'index.js'), true);
    await cache.get('f');
    assert.equal(cache.peek('f'), all[0]);
    assert.equal(functions.reads, 1, 'the warm path does not touch storage');
  });

  test('an unknown function is RF_WORKER_FUNCTION_NOT_FOUND and is not cached', async () => {
    const { cache } = setup();
    await assert.rejects(cache.get('nope'), (err: unknown) => isRfError(err) && err.code === 'RF_WORKER_FUNCTION_NOT_FOUND');
    assert.equal(cache.size, 0);
  });

  test('invalidate drops an older version; the next get loads the new one', async () => {
    const { cache, stores } = setup();
    await deploy(stores, 'f', Code.echo('v1'));
    assert.equal((await cache.get('f')).record.version, 1);
    await deploy(stores, 'f', Code.echo('v2'));
    cache.invalidate('f', 2);
    assert.equal(cache.peek('f'), undefined);
    assert.equal((await cache.get('f')).record.version, 2);
    cache.invalidate('f', 2);
    assert.equal(cache.peek('f')?.record.version, 2, 'an invalidation of the cached version keeps it');
  });

  test('a load that read the old record before an invalidation re-reads instead of caching it', async () => {
    const { functions, cache, stores } = setup();
    await deploy(stores, 'f', Code.echo('v1'));
    functions.hold();
    const loading = cache.get('f');
    await new Promise((r) => setImmediate(r)); // the read of v1 is done and held
    await deploy(stores, 'f', Code.echo('v2'));
    cache.invalidate('f', 2);
    functions.release();
    const entry = await loading;
    assert.equal(entry.record.version, 2);
    assert.equal(cache.peek('f')?.record.version, 2);
    assert.equal(functions.reads, 2, 'the load read twice');
  });

  test('a load racing a delete does not resurrect the function', async () => {
    const { functions, cache, stores } = setup();
    await deploy(stores, 'f', Code.echo());
    functions.hold();
    const loading = cache.get('f');
    await new Promise((r) => setImmediate(r));
    await stores.functions.delete('f');
    cache.delete('f');
    functions.release();
    await assert.rejects(loading, (err: unknown) => isRfError(err) && err.code === 'RF_WORKER_FUNCTION_NOT_FOUND');
    assert.equal(cache.peek('f'), undefined);
  });

  test('bounded: least recently used functions are dropped past maxBytes', async () => {
    const { cache, stores } = setup(2);
    for (const id of ['a', 'b', 'c']) await deploy(stores, id, Code.echo());
    await cache.get('a');
    await cache.get('b');
    cache.peek('a'); // a is now more recent than b
    await cache.get('c');
    assert.equal(cache.size, 2);
    assert.ok(cache.peek('a'));
    assert.equal(cache.peek('b'), undefined);
    assert.equal(cache.bytes, 2);
  });

  test('a code zip without index.js is RF_FUNCTION_LOAD_FAILED', async () => {
    const { cache, stores, artifacts } = setup();
    await deploy(stores, 'f', Code.echo());
    const { zipSync, strToU8 } = await import('fflate');
    await artifacts.delete('f', 1); // code blobs are create-only: replace version 1 by hand
    await artifacts.put('f', 1, Buffer.from(zipSync({ 'main.js': strToU8('1') })));
    await assert.rejects(cache.get('f'), (err: unknown) => isRfError(err) && err.code === 'RF_FUNCTION_LOAD_FAILED');
  });
});

describe('FunctionCache: bounded staleness and storage outages', () => {
  function staleSetup() {
    const clock = new ManualClock();
    const inner = new MemoryFunctionStore();
    const functions = new GatedStore(inner);
    const artifacts = new MemoryArtifactStore();
    const health = new StorageHealth({ log: quietLogger(), clock });
    const changes: Array<[string, FunctionChange]> = [];
    const cache = new FunctionCache({
      functions,
      artifacts,
      revalidateMs: 2000,
      health,
      clock,
      scheduler: clock,
      onChange: (id, change) => changes.push([id, change]),
    });
    return { clock, functions, cache, health, changes, stores: { functions: inner, artifacts } };
  }

  test('with the push lost, the sweep finds a PUT within the bound and reports it; peek never serves an entry older than the bound', async () => {
    const { clock, cache, changes, stores } = staleSetup();
    await deploy(stores, 'f', Code.echo('v1'));
    await cache.get('f');
    cache.start();
    await deploy(stores, 'f', Code.echo('v2')); // no invalidate(): the push is lost
    clock.advance(500);
    assert.equal(cache.peek('f')?.record.version, 1, 'within the bound, the cached version');
    clock.advance(600); // the sweep at 1000 ms revalidates f (used since its validation)
    // The revalidation reads and unpacks on its own (unpacking is asynchronous): wait for it, bounded.
    for (let i = 0; i < 500 && cache.peek('f')?.record.version !== 2; i++) await new Promise((r) => setTimeout(r, 2));
    assert.equal(cache.peek('f')?.record.version, 2);
    assert.deepEqual(changes, [['f', { kind: 'updated', version: 2 }]]);
    cache.stop();
  });

  test('an entry unused past the bound is revalidated by get() before it is served; a DELETE found so is reported', async () => {
    const { clock, cache, changes, stores } = staleSetup();
    await deploy(stores, 'f', Code.echo());
    await cache.get('f');
    await stores.functions.delete('f');
    clock.advance(2001);
    assert.equal(cache.peek('f'), undefined, 'too old for the warm path');
    await assert.rejects(cache.get('f'), (err: unknown) => isRfError(err) && err.code === 'RF_WORKER_FUNCTION_NOT_FOUND');
    assert.deepEqual(changes, [['f', { kind: 'deleted' }]]);
    assert.equal(cache.size, 0);
  });

  test('storage down: cached functions keep being served at their last version however old; the bound applies again once storage answers', async () => {
    const { clock, functions, cache, health, stores } = staleSetup();
    await deploy(stores, 'f', Code.echo('v1'));
    await cache.get('f');
    functions.down = true;
    clock.advance(60_000);
    const during = await cache.get('f'); // the revalidation fails: the stale entry is answered
    assert.equal(during.record.version, 1);
    assert.equal(health.degraded, true);
    assert.equal(cache.peek('f')?.record.version, 1, 'while degraded, peek serves without I/O');
    const reads = functions.reads;
    for (let i = 0; i < 100; i++) cache.peek('f');
    assert.equal(functions.reads, reads, 'no storage read per invocation while degraded');
    await assert.rejects(cache.get('other'), (err: unknown) => isRfError(err) && err.code === 'RF_STORAGE_UNAVAILABLE');
    await deploy(stores, 'f', Code.echo('v2'));
    functions.down = false;
    health.succeeded('workers.upsert'); // e.g. a heartbeat got through
    assert.equal(cache.peek('f'), undefined, 'storage answers: the old entry is not served without revalidation');
    assert.equal((await cache.get('f')).record.version, 2);
  });

  test('the byte bound holds whatever the number of functions', async () => {
    const clock = new ManualClock();
    const stores = { functions: new MemoryFunctionStore(), artifacts: new MemoryArtifactStore() };
    const cache = new FunctionCache({ ...stores, maxBytes: 64 * 1024, clock, scheduler: clock });
    for (let i = 0; i < 200; i++) {
      await deploy(stores, `f${i}`, Code.echo(`v${i}`));
      await cache.get(`f${i}`);
      assert.ok(cache.bytes <= 64 * 1024);
    }
    assert.ok(cache.size < 200 && cache.size > 5, `kept ${cache.size}`);
  });
});
