/**
 * The pool against real ProcessRuntime containers: LIFO reuse, no thundering herd, the cold
 * pool, capacity, eviction, waiting, idle expiry (injected clock), new versions, deletion, and
 * failures that cost one container.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../clock/index.ts';
import { invokeOnPool, runOnLease } from '../invoke.ts';
import type { Lease, PoolFunction } from '../pool/index.ts';
import { Code, CountingRuntime, poolFn, testProcessRuntime, until } from './worker-fixtures.ts';
import { ok, poolSuite, rejectsWith } from './pool-fixture.ts';

const input = Buffer.from('{"hello":"world"}');

describe('ContainerPool (process runtime)', () => {
  const runtime = new CountingRuntime(testProcessRuntime());
  const makePool = poolSuite(runtime);

  test('repeated sequential calls reuse the same container', async () => {
    const pool = makePool();
    const fn = poolFn(Code.echo());
    const first = ok(await invokeOnPool(pool, fn, input));
    assert.equal(first.start, 'cold-create');
    assert.deepEqual((first.output as { input: unknown }).input, { hello: 'world' });
    assert.deepEqual(first.logs.lines, ['echo v1']);
    for (let i = 0; i < 5; i++) {
      const again = ok(await invokeOnPool(pool, fn, input));
      assert.equal(again.start, 'warm');
      assert.equal(again.instanceId, first.instanceId);
    }
  });

  test('the warm stack is LIFO: the most recently released container is taken first', async () => {
    const pool = makePool();
    const fn = poolFn(Code.echo());
    const [a, b] = await Promise.all([pool.acquire(fn), pool.acquire(fn)]);
    assert.notEqual(a.instanceId, b.instanceId);
    pool.release(a);
    pool.release(b);
    assert.deepEqual(pool.idleInstances(fn.id, fn.version), [b.instanceId, a.instanceId]);
    const next = await pool.acquire(fn);
    assert.equal(next.instanceId, b.instanceId);
    assert.equal(next.start, 'warm');
    pool.release(next);
    const again = await pool.acquire(fn);
    assert.equal(again.instanceId, b.instanceId, 'b sits on top again, a sinks');
    pool.release(again);
  });

  test('15 concurrent calls to a new function start at most 15 containers; later calls reuse them', async () => {
    // No bound on creations at once here (pool-creations.test.ts has its tests): 15 containers.
    const pool = makePool({ capacityMb: 4096, maxCreating: 64 });
    const fn = poolFn(Code.slow());
    const startedBefore = runtime.started;
    const slowInput = Buffer.from('{"ms":300}');
    const first = await Promise.all(Array.from({ length: 15 }, () => invokeOnPool(pool, fn, slowInput)));
    for (const r of first) ok(r);
    const started = runtime.started - startedBefore;
    assert.ok(started <= 15, `started ${started}`);
    const startedAfterFirst = runtime.started;
    // A start whose request was served by a released container (an orphan) may still be running
    // on a loaded machine: it lands on the stack too.
    await until(() => pool.warmIdle === started, 'every container of the first burst idle');
    const instances = new Set(pool.idleInstances(fn.id, fn.version));
    const second = await Promise.all(Array.from({ length: 15 }, () => invokeOnPool(pool, fn, slowInput)));
    for (const r of second) {
      assert.equal(ok(r).start, 'warm');
      assert.ok(instances.has(r.instanceId), 'a later call ran on a container of the first burst');
    }
    assert.equal(runtime.started, startedAfterFirst, 'no container was started for the second burst');
  });

  test('a cold start takes a pre-started pool container, and the pool refills in the background', async () => {
    const pool = makePool({ coldPoolSize: 2, capacityMb: 1024 });
    await pool.fill();
    assert.equal(pool.coldPoolIdle, 2);
    assert.equal(pool.reservedMb, 256);
    const fn = poolFn(Code.echo(), { memoryMb: 256 });
    const result = ok(await invokeOnPool(pool, fn, input));
    assert.equal(result.start, 'cold-pool');
    await until(() => pool.coldPoolIdle === 2, 'the cold pool to refill');
    assert.equal(pool.reservedMb, 256 + 2 * 128, 'the specialised container reserves its function memory, the pool its own');
  });

  test('at capacity with no idle container the pool answers RF_WORKER_AT_CAPACITY at once', async () => {
    const pool = makePool({ capacityMb: 256 });
    const fn = poolFn(Code.echo());
    const held = await Promise.all([pool.acquire(fn), pool.acquire(fn)]);
    await rejectsWith(pool.acquire(fn), 'RF_WORKER_AT_CAPACITY');
    await rejectsWith(pool.acquire(poolFn(Code.echo())), 'RF_WORKER_AT_CAPACITY');
    held.forEach((l) => pool.release(l));
    const again = await pool.acquire(fn);
    assert.equal(again.start, 'warm');
    pool.release(again);
  });

  test("idle containers of other functions are evicted, oldest first, when memory is short", async () => {
    const pool = makePool({ capacityMb: 384 });
    const a = poolFn(Code.echo('a'));
    const b = poolFn(Code.echo('b'));
    const la = await pool.acquire(a);
    const lb = await pool.acquire(b);
    pool.release(la); // a idle first: the oldest
    pool.release(lb);
    const c = poolFn(Code.echo('c'), { memoryMb: 256 });
    const lc = await pool.acquire(c); // 384 - 256 = 128 free: one eviction needed, then two
    assert.equal(lc.start, 'cold-create');
    assert.equal(pool.reservedMb, 384);
    assert.deepEqual(pool.idleInstances(a.id, 1), [], 'a (idle longest) was evicted');
    assert.deepEqual(pool.idleInstances(b.id, 1), [lb.instanceId], 'b stayed');
    pool.release(lc);
  });

  test('busy containers and the function\'s own idle containers are never evicted', async () => {
    const pool = makePool({ capacityMb: 256 });
    const a = poolFn(Code.echo('a'));
    const busy = await pool.acquire(a);
    const idle = await pool.acquire(a);
    pool.release(idle);
    const big = poolFn(Code.echo('big'), { memoryMb: 256 });
    await rejectsWith(pool.acquire(big), 'RF_WORKER_AT_CAPACITY');
    assert.deepEqual(pool.idleInstances(a.id, 1), [idle.instanceId], 'nothing was evicted for a request that could not be served');
    pool.release(busy);
  });

  test('with x-ringfaas-wait-ms a request queues and is served when a container is released', async () => {
    const pool = makePool({ capacityMb: 128 });
    const fn = poolFn(Code.echo());
    const held = await pool.acquire(fn);
    const waiting = pool.acquire(fn, { waitMs: 10_000 });
    assert.equal(pool.queued, 1);
    pool.release(held);
    const served = await waiting;
    assert.equal(served.instanceId, held.instanceId);
    assert.equal(served.start, 'warm');
    pool.release(served);
  });

  test('a queued request for another function is served when memory frees (evicting the released container)', async () => {
    const pool = makePool({ capacityMb: 128 });
    const a = poolFn(Code.echo('a'));
    const b = poolFn(Code.echo('b'));
    const held = await pool.acquire(a);
    const waiting = invokeOnPool(pool, b, input, { waitMs: 10_000 });
    pool.release(held);
    const result = ok(await waiting);
    assert.equal((result.output as { tag: string }).tag, 'b');
    assert.deepEqual(pool.idleInstances(a.id, 1), []);
  });

  test('a queued request gets RF_WORKER_AT_CAPACITY when its wait passes', async () => {
    const pool = makePool({ capacityMb: 128 });
    const fn = poolFn(Code.echo());
    const held = await pool.acquire(fn);
    await rejectsWith(pool.acquire(fn, { waitMs: 30 }), 'RF_WORKER_AT_CAPACITY');
    assert.equal(pool.queued, 0);
    pool.release(held);
  });

  test('an idle container expires after its idleTimeoutMs (injected clock) and its memory is freed', async () => {
    const clock = new ManualClock();
    const pool = makePool({ clock, scheduler: clock });
    const fn = poolFn(Code.echo(), { idleTimeoutMs: 60_000 });
    const lease = await pool.acquire(fn);
    pool.release(lease);
    assert.equal(pool.reservedMb, 128);
    clock.advance(59_999);
    assert.deepEqual(pool.idleInstances(fn.id, 1), [lease.instanceId], 'not yet');
    clock.advance(1);
    assert.deepEqual(pool.idleInstances(fn.id, 1), []);
    assert.equal(pool.reservedMb, 0);
    assert.equal(pool.containerCount, 0);
  });

  test('each container expires on its own time; the sweep re-arms for the next one', async () => {
    const clock = new ManualClock();
    const pool = makePool({ clock, scheduler: clock });
    const short = poolFn(Code.echo(), { idleTimeoutMs: 1000 });
    const long = poolFn(Code.echo(), { idleTimeoutMs: 5000 });
    const [ls, ll] = await Promise.all([pool.acquire(short), pool.acquire(long)]);
    pool.release(ll);
    clock.advance(500);
    pool.release(ls);
    clock.advance(1000);
    assert.equal(pool.warmIdle, 1, 'the short one expired at 1500');
    clock.advance(3499);
    assert.equal(pool.warmIdle, 1);
    clock.advance(1);
    assert.equal(pool.warmIdle, 0);
  });

  test('a new version retires old containers: idle at once, busy when released; the next call runs the new code', async () => {
    const pool = makePool();
    const v1 = poolFn(Code.echo('v1'));
    const v2: PoolFunction = { ...poolFn(Code.echo('v2')), id: v1.id, version: 2 };
    const [busy, idle] = await Promise.all([pool.acquire(v1), pool.acquire(v1)]);
    pool.release(idle);
    assert.equal(pool.retire(v1.id, 2), 1);
    assert.deepEqual(pool.idleInstances(v1.id, 1), []);
    pool.release(busy);
    assert.equal(pool.containerCount, 0, 'the busy v1 container went when released');
    const result = ok(await invokeOnPool(pool, v2, input));
    assert.equal((result.output as { tag: string }).tag, 'v2');
    assert.equal(result.version, 2);
  });

  test('removing a function removes its containers and fails its waiting requests', async () => {
    const pool = makePool({ capacityMb: 128 });
    const fn = poolFn(Code.echo());
    const held = await pool.acquire(fn);
    const waiting = pool.acquire(fn, { waitMs: 10_000 });
    pool.removeFunction(fn.id);
    await rejectsWith(waiting, 'RF_WORKER_FUNCTION_NOT_FOUND');
    pool.release(held);
    assert.equal(pool.containerCount, 0);
    assert.equal(pool.reservedMb, 0);
  });

  test('a function larger than the whole capacity is RF_WORKER_FUNCTION_TOO_LARGE', async () => {
    const pool = makePool({ capacityMb: 512 });
    await rejectsWith(pool.acquire(poolFn(Code.echo(), { memoryMb: 1024 })), 'RF_WORKER_FUNCTION_TOO_LARGE');
  });

  test('code that does not load fails with RF_FUNCTION_LOAD_FAILED and frees its memory', async () => {
    const pool = makePool();
    await rejectsWith(pool.acquire(poolFn(Code.broken())), 'RF_FUNCTION_LOAD_FAILED');
    assert.equal(pool.reservedMb, 0);
    assert.equal(pool.containerCount, 0);
  });

  test('throwing, hanging and crashing functions get their codes; a healthy function keeps answering', async () => {
    const pool = makePool();
    const healthy = poolFn(Code.echo());
    const throws = poolFn(Code.throws());
    const hangs = poolFn(Code.hangs(), { timeoutMs: 300 });
    const crashes = poolFn(Code.crashes());
    const warmUp = ok(await invokeOnPool(pool, healthy, input));

    const [t1, hang, crash, h1] = await Promise.all([
      invokeOnPool(pool, throws, input),
      invokeOnPool(pool, hangs, input),
      invokeOnPool(pool, crashes, input),
      invokeOnPool(pool, healthy, input),
    ]);
    assert.equal(t1.state === 'error' && t1.error.code, 'RF_FUNCTION_ERROR');
    assert.match(t1.state === 'error' ? t1.error.message : '', /boom/);
    assert.equal(hang.state === 'error' && hang.error.code, 'RF_WORKER_INVOKE_TIMEOUT');
    assert.equal(hang.state === 'error' && hang.error.status, 504);
    assert.equal(crash.state === 'error' && crash.error.code, 'RF_FUNCTION_CRASHED');
    assert.equal(crash.state === 'error' && crash.error.status, 502);
    assert.equal(ok(h1).instanceId, warmUp.instanceId);

    // A function error keeps the container; a timeout and a crash cost theirs.
    const t2 = await invokeOnPool(pool, throws, input);
    assert.equal(t2.instanceId, t1.instanceId);
    assert.equal(t2.start, 'warm');
    assert.deepEqual(pool.idleInstances(hangs.id, 1), []);
    assert.deepEqual(pool.idleInstances(crashes.id, 1), []);
    const hangAgain = await invokeOnPool(pool, hangs, input);
    assert.notEqual(hangAgain.instanceId, hang.instanceId, 'the timed-out container was replaced');
    assert.equal(pool.status().functions.reduce((n, f) => n + f.busy, 0), 0);
    assert.equal(ok(await invokeOnPool(pool, healthy, input)).instanceId, warmUp.instanceId);
    assert.equal(pool.reservedMb, 128 * 2, 'only the healthy and the throwing containers remain');
  });

  test('drain finishes running executions, removes every container, and refuses new work', async () => {
    const pool = makePool({ coldPoolSize: 1 });
    await pool.fill();
    const fn = poolFn(Code.slow());
    const idle = await pool.acquire(fn);
    pool.release(idle);
    const lease: Lease = await pool.acquire(fn);
    const running = runOnLease(pool, lease, Buffer.from('{"ms":200}'));
    const drained = pool.drain();
    await rejectsWith(pool.acquire(fn), 'RF_WORKER_DRAINING');
    ok(await running);
    await drained;
    assert.equal(pool.containerCount, 0);
    assert.equal(pool.reservedMb, 0);
  });
});
