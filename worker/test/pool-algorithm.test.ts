/**
 * The pool's algorithm on a fake runtime and a manual clock: fast, deterministic, no process
 * and no sleeping. Claims (warm LIFO, no thundering herd, the wait queue's bound and timeout,
 * a client leaving), start paths (cold-pool take vs fresh start, load timeout, a failed start),
 * the cold pool's refill and its pause after failures, idle expiry, eviction under memory
 * pressure, and the drain. The real-runtime suites (pool.test.ts, pool-docker, -containment,
 * -keepalive) check the same pool against real containers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Lease } from '../pool/index.ts';
import { fakeFn, fakePool, settle } from './fake-runtime.ts';
import { rejectsWith } from './pool-fixture.ts';

const setup = fakePool;

/** Whether the promise has settled by now (after the pool's pending work ran). */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await settle();
  return done;
}

describe('ContainerPool algorithm (fake runtime, manual clock)', () => {
  test('claims: a cold start, then warm reuse of the same container', async () => {
    const { pool, runtime } = setup();
    const fn = fakeFn();
    const first = await pool.acquire(fn);
    assert.equal(first.start, 'cold-create');
    assert.equal(runtime.containers[0]!.loaded?.functionId, fn.id);
    pool.release(first);
    const again = await pool.acquire(fn);
    assert.equal(again.start, 'warm');
    assert.equal(again.instanceId, first.instanceId);
    assert.equal(runtime.started, 1);
  });

  test('claims: the warm stack is LIFO, most recently released first', async () => {
    const { pool } = setup();
    const fn = fakeFn();
    const [a, b, c] = await Promise.all([pool.acquire(fn), pool.acquire(fn), pool.acquire(fn)]);
    pool.release(a!);
    pool.release(c!);
    pool.release(b!);
    assert.deepEqual(pool.idleInstances(fn.id, fn.version), [b!.instanceId, c!.instanceId, a!.instanceId]);
    const next = await pool.acquire(fn);
    assert.equal(next.instanceId, b!.instanceId);
    pool.release(next);
    assert.equal((await pool.acquire(fn)).instanceId, b!.instanceId, 'b is on top again');
  });

  test('claims: N concurrent cold requests start N containers; a released one serves a waiting request and its start lands on the stack', async () => {
    const { pool, runtime } = setup({ maxCreating: 64 }); // the bound has its own tests (pool-creations)
    const fn = fakeFn();
    const warm = await pool.acquire(fn);
    runtime.holdStarts = true;
    const waiting = [pool.acquire(fn), pool.acquire(fn), pool.acquire(fn)];
    await settle();
    assert.equal(runtime.held('start'), 3, 'one start per request, no more');
    pool.release(warm);
    const served = await waiting[0]!;
    assert.equal(served.start, 'warm');
    assert.equal(served.instanceId, warm.instanceId);
    runtime.finish('start');
    const [b, c] = await Promise.all([waiting[1]!, waiting[2]!]);
    assert.equal(b.start, 'cold-create');
    assert.equal(c.start, 'cold-create');
    await settle();
    assert.equal(runtime.started, 4);
    assert.equal(pool.warmIdle, 1, 'the orphaned start went on the stack');
    assert.equal(pool.load, 3);
  });

  test('claims: a request arriving while an orphaned start runs counts on it instead of starting another', async () => {
    const { pool, runtime } = setup();
    const fn = fakeFn();
    const warm = await pool.acquire(fn);
    runtime.holdStarts = true;
    const waiting = pool.acquire(fn);
    await settle();
    pool.release(warm); // serves the waiting request; its start is now an orphan
    assert.equal((await waiting).instanceId, warm.instanceId);
    const late = pool.acquire(fn);
    await settle();
    assert.equal(runtime.held('start'), 1, 'no second start');
    runtime.finish('start');
    assert.equal((await late).start, 'cold-create');
    assert.equal(runtime.started, 2);
  });

  test('claims: at capacity a request fails at once, or waits waitMs on the clock, in a bounded queue', async () => {
    const { pool, clock } = setup({ capacityMb: 256, maxQueue: 1 });
    const fn = fakeFn();
    const held = await Promise.all([pool.acquire(fn), pool.acquire(fn)]);
    await rejectsWith(pool.acquire(fn), 'RF_WORKER_AT_CAPACITY');
    const queued = pool.acquire(fn, { waitMs: 1000 });
    assert.equal(pool.queued, 1);
    await rejectsWith(pool.acquire(fn, { waitMs: 1000 }), 'RF_WORKER_AT_CAPACITY'); // the queue is full
    clock.advance(999);
    assert.equal(await isSettled(queued), false, 'still waiting at 999 ms');
    clock.advance(1);
    await rejectsWith(queued, 'RF_WORKER_AT_CAPACITY');
    assert.equal(pool.queued, 0);
    const second = pool.acquire(fn, { waitMs: 1000 });
    pool.release(held[0]!);
    const lease = await second;
    assert.equal(lease.instanceId, held[0]!.instanceId, 'a released container goes to the queued request');
    assert.equal(lease.start, 'warm');
  });

  test('claims: a request whose client left is withdrawn from the queue', async () => {
    const { pool } = setup({ capacityMb: 128 });
    const fn = fakeFn();
    await pool.acquire(fn);
    const abort = new AbortController();
    const queued = pool.acquire(fn, { waitMs: 60_000, signal: abort.signal });
    assert.equal(pool.queued, 1);
    abort.abort();
    await rejectsWith(queued, 'RF_WORKER_REQUEST_CANCELLED');
    assert.equal(pool.queued, 0);
    assert.equal(pool.load, 1);
  });

  test('start paths: a pooled container is specialised (resized, loaded) and the cold pool refills', async () => {
    const { pool, runtime, removed } = setup({ coldPoolSize: 2 });
    await pool.fill();
    assert.equal(pool.coldPoolIdle, 2);
    assert.equal(pool.reservedMb, 256);
    const fn = fakeFn({ memoryMb: 512 });
    const lease = await pool.acquire(fn);
    assert.equal(lease.start, 'cold-pool');
    const c = runtime.container(lease.instanceId);
    assert.equal(c.memoryMb, 512, 'resized to the function');
    assert.equal(c.loaded?.functionId, fn.id);
    await settle();
    assert.equal(runtime.started, 3, 'one replacement started');
    assert.equal(pool.coldPoolIdle, 2);
    assert.equal(pool.reservedMb, 512 + 256);
    // 768 reserved: the next 512 MB function needs +384 on a pooled container, 256 are free,
    // so the other pooled container is evicted for it (pooled ones are speculative).
    const second = await pool.acquire(fakeFn({ memoryMb: 512 }));
    assert.equal(second.start, 'cold-pool');
    await settle();
    assert.deepEqual(removed, ['evicted']);
    assert.equal(pool.reservedMb, 1024);
    assert.equal(pool.coldPoolIdle, 0, 'no memory left to refill');
    assert.equal(runtime.started, 3);
  });

  test('start paths: a load that never ends fails 504 at the function timeout on the clock and frees its memory', async () => {
    const { pool, runtime, clock, removed } = setup();
    runtime.holdLoads = true;
    const fn = fakeFn({ timeoutMs: 3000 });
    const claim = pool.acquire(fn);
    await settle();
    clock.advance(2999);
    assert.equal(await isSettled(claim), false);
    clock.advance(1);
    await rejectsWith(claim, 'RF_WORKER_INVOKE_TIMEOUT');
    assert.equal(pool.reservedMb, 0);
    assert.deepEqual(removed, ['load-timeout']);
  });

  test('start paths: a failed start fails the request counting on it, and only that one', async () => {
    const { pool, runtime } = setup();
    const fn = fakeFn();
    runtime.failStarts = 1;
    const [failed, good] = await Promise.allSettled([pool.acquire(fn), pool.acquire(fn)]);
    assert.equal(failed.status, 'rejected');
    assert.equal((failed as PromiseRejectedResult).reason.code, 'RF_WORKER_CONTAINER_START_FAILED');
    assert.equal(good.status, 'fulfilled');
    assert.equal(pool.reservedMb, 128);
  });

  test('cold pool: after a failed start the refill pauses refillBackoffMs on the clock, then tries again', async () => {
    const { pool, runtime, clock } = setup({ coldPoolSize: 1, refillBackoffMs: 5000 });
    runtime.failStarts = 1;
    await pool.fill();
    assert.equal(runtime.started, 1);
    assert.equal(pool.coldPoolIdle, 0);
    clock.advance(4999);
    await settle();
    assert.equal(runtime.started, 1, 'no retry inside the pause');
    clock.advance(1);
    await settle();
    assert.equal(runtime.started, 2);
    assert.equal(pool.coldPoolIdle, 1);
  });

  test('idle expiry: one sweep removes each idle container at its idleTimeoutMs, re-armed for the next', async () => {
    const { pool, runtime, clock, removed } = setup();
    const fn = fakeFn({ idleTimeoutMs: 60_000 });
    const [a, b] = await Promise.all([pool.acquire(fn), pool.acquire(fn)]);
    pool.release(a!);
    clock.advance(10_000);
    pool.release(b!);
    clock.advance(49_999);
    assert.equal(pool.warmIdle, 2);
    clock.advance(1);
    assert.deepEqual(pool.idleInstances(fn.id, 1), [b!.instanceId], 'a expired at 60 s');
    await settle();
    assert.equal(runtime.container(a!.instanceId).removed, true);
    clock.advance(10_000);
    assert.equal(pool.warmIdle, 0);
    assert.deepEqual(removed, ['expired', 'expired']);
    assert.equal(pool.reservedMb, 0);
  });

  test('eviction: under memory pressure pooled containers go first, then other functions\u2019 idle ones, oldest first', async () => {
    const { pool, clock, removed } = setup({ capacityMb: 512, coldPoolSize: 1 });
    await pool.fill();
    const [f, g, h] = [fakeFn(), fakeFn(), fakeFn()];
    const fl = await pool.acquire(f); // the pooled one, specialised; the refill takes another 128
    await settle();
    const gl = await pool.acquire(g);
    const hl = await pool.acquire(h);
    pool.release(fl);
    clock.advance(1000);
    pool.release(gl);
    clock.advance(1000);
    pool.release(hl);
    assert.equal(pool.reservedMb, 512);
    const big = await pool.acquire(fakeFn({ memoryMb: 256 }));
    assert.equal(big.start, 'cold-pool', 'the pooled container was resized, not evicted');
    assert.deepEqual(removed, ['evicted'], 'one idle container, the oldest');
    assert.deepEqual(pool.idleInstances(f.id, 1), [], 'f idled first');
    assert.equal(pool.warmIdle, 2);
  });

  test('eviction: nothing is evicted when evicting everything would not free enough', async () => {
    const { pool, removed } = setup({ capacityMb: 384 });
    const idle = await pool.acquire(fakeFn());
    pool.release(idle);
    await pool.acquire(fakeFn());
    await rejectsWith(pool.acquire(fakeFn({ memoryMb: 384 })), 'RF_WORKER_AT_CAPACITY');
    assert.deepEqual(removed, []);
    assert.equal(pool.warmIdle, 1);
  });

  test('drain: refuses new claims, removes idle and pooled at once, waits for in-flight', async () => {
    const { pool, removed } = setup({ coldPoolSize: 1 });
    await pool.fill();
    const fn = fakeFn();
    const [busy, idle] = await Promise.all([pool.acquire(fn), pool.acquire(fn)]);
    pool.release(idle!);
    const drained = pool.drain();
    assert.equal(pool.state, 'draining');
    await rejectsWith(pool.acquire(fn), 'RF_WORKER_DRAINING');
    assert.deepEqual(removed.sort(), ['drained', 'drained']);
    assert.equal(await isSettled(drained), false, 'an execution still runs');
    pool.release(busy!);
    await drained;
    assert.equal(pool.containerCount, 0);
    assert.equal(pool.reservedMb, 0);
  });

  test('drain: past drainTimeoutMs on the clock a stuck execution is removed and the drain ends', async () => {
    const { pool, clock, removed } = setup({ drainTimeoutMs: 30_000 });
    const stuck: Lease = await pool.acquire(fakeFn());
    const drained = pool.drain();
    clock.advance(29_999);
    assert.equal(await isSettled(drained), false);
    clock.advance(1);
    await drained;
    assert.deepEqual(removed, ['drain-timeout']);
    assert.equal(pool.busy, 0);
    pool.release(stuck); // late: finds nothing
    assert.equal(pool.busy, 0);
  });
});
