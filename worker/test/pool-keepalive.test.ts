/**
 * The pool with a keep-alive policy, on real ProcessRuntime containers and an injected clock:
 * the hybrid policy unloads a periodic function's container when it goes idle and pre-warms
 * it before the next call (which is then warm); fixed keeps the function's idleTimeoutMs;
 * Greedy-Dual keeps containers until memory is needed and evicts the lowest priority first;
 * prewarm() loads containers for a hand-off.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../clock/index.ts';
import { invokeOnPool, type InvocationResult } from '../invoke.ts';
import { FixedKeepAlive, GreedyDualKeepAlive, HybridHistogramKeepAlive } from '../keepalive/index.ts';
import { Code, CountingRuntime, poolFn, testProcessRuntime, until } from './worker-fixtures.ts';
import { ok, poolSuite } from './pool-fixture.ts';

const input = Buffer.from('{}');
const MIN = 60_000;

const start = (r: InvocationResult): string => ok(r).start;

describe('ContainerPool keep-alive policies (process runtime, injected clock)', () => {
  const runtime = new CountingRuntime(testProcessRuntime());
  const makePool = poolSuite(runtime, { capacityMb: 1024 });

  test('hybrid: a function called every 10 min is unloaded when idle and pre-warmed before its next call', async () => {
    const clock = new ManualClock();
    const pool = makePool({ clock, scheduler: clock, keepAlive: new HybridHistogramKeepAlive() });
    const fn = poolFn(Code.echo(), { idleTimeoutMs: 15 * MIN });
    const starts: string[] = [];
    for (let i = 0; i < 5; i++) {
      starts.push(start(await invokeOnPool(pool, fn, input)));
      clock.advance(9.9 * MIN - 50);
      await until(() => pool.warmIdle === 1 || i < 2, 'the pre-warm (a real start) to be ready');
      clock.advance(50);
    }
    assert.equal(starts[0], 'cold-create');
    assert.deepEqual(starts.slice(3), ['warm', 'warm'], `starts: ${starts.join(',')}`);
    // between calls the container was not loaded the whole time: right after a call it is gone
    start(await invokeOnPool(pool, fn, input));
    clock.advance(1000);
    assert.equal(pool.warmIdle, 0, 'unloaded during the pre-warm window');
    assert.equal(pool.reservedMb, 0);
  });

  test('fixed: the function idleTimeoutMs applies, as without a policy', async () => {
    const clock = new ManualClock();
    const pool = makePool({ clock, scheduler: clock, keepAlive: new FixedKeepAlive({ keepAliveMs: 15 * MIN }) });
    const fn = poolFn(Code.echo(), { idleTimeoutMs: 2 * MIN });
    start(await invokeOnPool(pool, fn, input));
    clock.advance(2 * MIN - 1);
    assert.equal(pool.warmIdle, 1);
    clock.advance(1);
    assert.equal(pool.warmIdle, 0);
  });

  test('greedy-dual: no expiry; under memory pressure the lowest priority is evicted first', async () => {
    const clock = new ManualClock();
    const pool = makePool({ clock, scheduler: clock, keepAlive: new GreedyDualKeepAlive(), capacityMb: 512 });
    const hot = poolFn(Code.echo('hot'), { memoryMb: 256 });
    const rare = poolFn(Code.echo('rare'), { memoryMb: 128 });
    for (let i = 0; i < 4; i++) start(await invokeOnPool(pool, hot, input));
    start(await invokeOnPool(pool, rare, input));
    clock.advance(24 * 60 * MIN);
    assert.equal(pool.warmIdle, 2, 'still loaded a day later');
    // hot: 4 x 500 / 256 = 7.8 ; rare: 500 / 128 = 3.9 -> rare goes first
    const big = poolFn(Code.echo('big'), { memoryMb: 256 });
    assert.equal(start(await invokeOnPool(pool, big, input)), 'cold-create');
    assert.deepEqual(pool.idleInstances(rare.id, 1), []);
    assert.equal(pool.idleInstances(hot.id, 1).length, 1);
  });

  test('prewarm() loads containers to a count with no request (hand-off), and the next calls are warm', async () => {
    const clock = new ManualClock();
    const pool = makePool({ clock, scheduler: clock });
    const fn = poolFn(Code.echo('handoff'));
    assert.equal(pool.prewarm(fn, 5 * MIN, 2), 2);
    await until(() => pool.warmIdle === 2, 'two pre-warmed containers');
    assert.equal(start(await invokeOnPool(pool, fn, input)), 'warm');
    clock.advance(5 * MIN);
    assert.equal(pool.warmIdle, 1, 'the unused pre-warmed container expired after its keep-alive; the used one keeps the function idleTimeoutMs');
  });
});
