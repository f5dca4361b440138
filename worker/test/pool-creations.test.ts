/**
 * The bound on containers being created at once (starts.ts, `maxCreating`), on the fake
 * runtime and a manual clock: requests, the cold pool's refill and warm-ups all count against
 * it; a request past it evicts nothing, waits (at least CREATION_WAIT_MS), and is served by a
 * released container of its function or by the next creation.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isRfError } from '../../errors/index.ts';
import { CREATION_PLACE_MS } from '../pool/starts.ts';
import { fakeFn, fakePool, settle } from './fake-runtime.ts';

describe('ContainerPool: containers being created at once (fake runtime, manual clock)', () => {
  test('past the bound a request evicts nothing and waits (at least 10 s, even asked not to) until the next creation serves it, then 429 naming the creations', async () => {
    const { pool, runtime, clock, removed } = fakePool({ maxCreating: 2 });
    const idleFn = fakeFn();
    pool.release(await pool.acquire(idleFn)); // an idle container that eviction could take
    runtime.holdStarts = true;
    const [f1, f2, f3, f4] = [fakeFn(), fakeFn(), fakeFn(), fakeFn()];
    const first = pool.acquire(f1);
    const second = pool.acquire(f2);
    await settle();
    assert.equal(runtime.held('start'), 2);

    const held = pool.acquire(f3); // no waitMs: a worker busy creating holds it all the same
    const queued = pool.acquire(f4, { waitMs: 1000 });
    await settle();
    assert.equal(runtime.started, 3, 'no third creation began');
    assert.deepEqual(removed, [], 'nothing was evicted for a request that could not start');
    assert.equal(pool.idleCount(idleFn), 1);

    clock.advance(9_999);
    await settle();
    runtime.finish('start', 1);
    await settle();
    assert.equal(runtime.started, 4, "one creation ended: the first held request's begins");
    clock.advance(1);
    await assert.rejects(queued, (err: unknown) => {
      assert.ok(isRfError(err));
      assert.equal(err.code, 'RF_WORKER_AT_CAPACITY');
      assert.match(err.message, /2 containers being created/);
      assert.equal((err.details as { creating: number }).creating, 2);
      return true;
    });
    runtime.finish('start');
    const leases = await Promise.all([first, second, held]);
    assert.deepEqual(leases.map((l) => l.start), ['cold-create', 'cold-create', 'cold-create']);
    assert.equal(pool.idleCount(idleFn), 1);
  });

  test('past the bound a request of a busy function is served by its release, warm, and starts nothing', async () => {
    const { pool, runtime } = fakePool({ maxCreating: 1 });
    const fn = fakeFn();
    const busy = await pool.acquire(fn);
    runtime.holdStarts = true;
    const other = pool.acquire(fakeFn());
    await settle();
    const waiting = pool.acquire(fn, { waitMs: 10_000 });
    await settle();
    assert.equal(runtime.started, 2, 'fn has no idle container, yet no creation began for it');
    pool.release(busy);
    const lease = await waiting;
    assert.equal(lease.start, 'warm');
    assert.equal(lease.instanceId, busy.instanceId);
    assert.equal(runtime.started, 2);
    runtime.finish('start');
    await other;
  });

  test("the cold pool's refill waits for the bound and goes on as creations end", async () => {
    const { pool, runtime } = fakePool({ maxCreating: 2, coldPoolSize: 3 });
    runtime.holdStarts = true;
    const filling = pool.fill();
    await settle();
    assert.equal(runtime.held('start'), 2, 'two of the three pooled containers are created at once');
    runtime.finish('start', 1);
    await settle();
    assert.equal(runtime.held('start'), 2, 'the third begins when one ends');
    runtime.finish('start');
    await filling;
    await settle();
    assert.equal(pool.status().coldPool.idle, 3);
  });

  test('warm-ups wait for the bound rather than being dropped, and begin as creations end', async () => {
    const { pool, runtime } = fakePool({ maxCreating: 1, capacityMb: 4096 });
    runtime.holdStarts = true;
    const creating = pool.acquire(fakeFn());
    const batch = pool.warmUp([{ fn: fakeFn(), count: 1 }, { fn: fakeFn(), count: 1 }]);
    await settle();
    assert.equal(runtime.held('start'), 1, "only the request's creation runs");
    assert.equal(batch.queued, 2);
    for (let ended = 1; ended <= 3; ended++) {
      runtime.finish('start', 1);
      await settle();
      assert.equal(runtime.held('start'), ended < 3 ? 1 : 0, `after ${ended} creations ended`);
    }
    await creating;
    assert.ok(batch.done);
    assert.equal(batch.begun, 2);
    assert.equal(batch.dropped, 0);
  });

  test('a creation the engine never answers gives its place up after CREATION_PLACE_MS', async () => {
    const { pool, runtime, clock } = fakePool({ maxCreating: 1 });
    runtime.holdStarts = true;
    const hung = pool.acquire(fakeFn());
    const next = pool.acquire(fakeFn(), { waitMs: 60_000 });
    await settle();
    assert.equal(runtime.started, 1);
    clock.advance(CREATION_PLACE_MS - 1);
    await settle();
    assert.equal(runtime.started, 1, 'the place is still held');
    clock.advance(1);
    await settle();
    assert.equal(runtime.started, 2, 'past the bound the waiting request creates');
    runtime.finish('start');
    assert.equal((await next).start, 'cold-create');
    assert.equal((await hung).start, 'cold-create');
  });
});
