/**
 * The pool's warm-ups (worker/pool/warm-ups.ts) on a fake runtime and a manual clock: a
 * warm-up reserves only spare memory above the headroom, runs a bounded number of starts at
 * once, gives way to traffic (queued starts dropped, unused warm containers evicted first),
 * and a request of a warming function counts on its start. handoff-guard.test.ts checks the
 * same rules through real workers and real containers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeFn, fakePool, settle } from './fake-runtime.ts';
import type { PoolFunction } from '../pool/index.ts';

// The bound on creations at once has its own tests (pool-creations.test.ts); here it is
// out of the way.
const setup: typeof fakePool = (options = {}) => fakePool({ maxCreating: 64, ...options });

/** One container of each function, run and released a second apart (idle since 0, 1, 2 ... s from now). */
async function idleInTurn(pool: ReturnType<typeof fakePool>['pool'], clock: ReturnType<typeof fakePool>['clock'], fns: readonly PoolFunction[]): Promise<void> {
  for (const fn of fns) {
    pool.release(await pool.acquire(fn));
    clock.advance(1000);
  }
}

describe('warm-ups (fake runtime, manual clock)', () => {
  test('at most warmUpConcurrency starts run at once; one container of every function first, then the rest', async () => {
    const { pool, runtime } = setup({ capacityMb: 4096, warmUpConcurrency: 2 });
    runtime.holdStarts = true;
    const [f, g, h] = [fakeFn(), fakeFn(), fakeFn()];
    const batch = pool.warmUp([{ fn: f, count: 3 }, { fn: g, count: 1 }, { fn: h, count: 2 }]);
    await settle();
    let most = 0;
    const order: string[] = [];
    while (runtime.held('start') > 0) {
      most = Math.max(most, pool.warmUps.running);
      assert.ok(runtime.held('start') <= 2, `starts at once: ${runtime.held('start')}`);
      runtime.finish('start', 1);
      await settle();
    }
    for (const c of runtime.containers) order.push(c.loaded!.functionId);
    assert.equal(most, 2);
    assert.ok(batch.done);
    assert.equal(batch.begun, 6);
    assert.deepEqual(order.slice(0, 3).sort(), [f.id, g.id, h.id].sort(), 'one of each first');
    assert.deepEqual(pool.status().functions.map((s) => [s.functionId, s.idle]).sort(), [[f.id, 3], [g.id, 1], [h.id, 2]].sort());
  });

  test('a function with no container here is warmed before another container of one already loaded', async () => {
    const { pool, runtime } = setup({ capacityMb: 4096, warmUpConcurrency: 1 });
    const [f, g] = [fakeFn(), fakeFn()];
    pool.release(await pool.acquire(f));
    runtime.holdStarts = true;
    pool.warmUp([{ fn: f, count: 3 }, { fn: g, count: 1 }]);
    await settle();
    while (runtime.held('start') > 0) {
      runtime.finish('start', 1);
      await settle();
    }
    const loadedOrder = runtime.containers.slice(1).map((c) => c.loaded!.functionId);
    assert.deepEqual(loadedOrder, [g.id, f.id, f.id], "g's first container before f's second and third");
  });

  test("a hand-off's older items (idleForMs over the grace) start after every container of its recent ones", async () => {
    const { pool, runtime } = setup({ capacityMb: 4096, warmUpConcurrency: 1 });
    const [older, recent] = [fakeFn(), fakeFn()];
    runtime.holdStarts = true;
    pool.warmUp([{ fn: older, count: 1, idleForMs: 300_000 }, { fn: recent, count: 2, idleForMs: 1000 }]);
    await settle();
    while (runtime.held('start') > 0) {
      runtime.finish('start', 1);
      await settle();
    }
    assert.deepEqual(runtime.containers.map((c) => c.loaded!.functionId), [recent.id, recent.id, older.id]);
  });

  test('a warm-up reserves only spare memory above the headroom, and evicts nothing', async () => {
    // capacity 1024, headroom 25 % = 256; 512 held by traffic
    const { pool } = setup({ warmUpConcurrency: 8 });
    const busy = fakeFn({ memoryMb: 512 });
    const lease = await pool.acquire(busy);
    const batch = pool.warmUp([{ fn: fakeFn(), count: 8 }]);
    await settle();
    assert.ok(batch.done);
    assert.equal(batch.begun, 2, '512 free: two 128 MB containers keep 256 free');
    assert.equal(pool.reservedMb, 768);
    assert.equal(batch.dropped, 6);
    pool.release(lease);
  });

  test("with no spare memory, a hand-off's function (idleForMs within a minute) takes the place of containers idle since before it was asked, least recently used first, never of one used since; other warm-ups evict nothing", async () => {
    // capacity 1024, headroom 256; six functions' containers go idle at 0, 1, ... 5 s: 768 held, 256 free
    const { pool, clock, runtime, removed } = setup({ warmUpConcurrency: 1 });
    const idleFns = Array.from({ length: 6 }, () => fakeFn());
    await idleInTurn(pool, clock, idleFns);
    clock.advance(4000); // now 10 s
    const plain = pool.warmUp([{ fn: fakeFn(), count: 1 }]);
    const stale = pool.warmUp([{ fn: fakeFn(), count: 1, idleForMs: 61_000 }]);
    await settle();
    assert.equal(plain.dropped, 1, 'no last use given: nothing evicted, nothing warmed');
    assert.equal(stale.dropped, 1, 'last used over a minute ago, before every container here went idle: nothing gives way');
    runtime.holdStarts = true;
    const hot = fakeFn();
    const batch = pool.warmUp([{ fn: hot, count: 6, idleForMs: 7500 }]);
    await settle();
    // traffic uses two of the idle functions after the hand-off was asked
    clock.advance(1000);
    for (const fn of idleFns.slice(4)) pool.release(await pool.acquire(fn));
    runtime.holdStarts = false;
    runtime.finish('start');
    await settle();
    assert.ok(batch.done);
    assert.equal(batch.begun, 4);
    assert.equal(batch.dropped, 2, 'the fifth would need a container used after the hand-off was asked');
    assert.deepEqual(removed, ['evicted', 'evicted', 'evicted', 'evicted']);
    const idleOf = new Map(pool.status().functions.map((f) => [f.functionId, f.idle]));
    assert.deepEqual(idleFns.map((fn) => idleOf.get(fn.id) ?? 0), [0, 0, 0, 0, 1, 1], 'the four least recently used went');
    assert.equal(idleOf.get(hot.id), 4);
    assert.equal(pool.reservedMb, 768, 'the memory in use is the same: the headroom stays free');
  });

  test("an older hand-off item (idleForMs over a minute: warm on the peer, not called lately) takes the place of containers idle longer only, and is not held", async () => {
    // capacity 1024 (headroom 256) all held by eight idle 128 MB containers (kept 10 min), idle since 0..7 s; now 100 s
    const { pool, clock, removed } = setup({ warmUpConcurrency: 1 });
    const idleFns = Array.from({ length: 8 }, () => fakeFn({ idleTimeoutMs: 600_000 }));
    await idleInTurn(pool, clock, idleFns);
    clock.advance(92_000);
    const warmOnPeer = fakeFn();
    // it went idle on the peer 96.5 s ago (at 3.5 s): only the four idle since 0..3 s are older
    const batch = pool.warmUp([{ fn: warmOnPeer, count: 6, idleForMs: 96_500 }]);
    await settle();
    assert.equal(batch.begun, 4);
    assert.equal(batch.dropped, 2, 'no container idle longer than the item is left');
    assert.deepEqual(removed, ['evicted', 'evicted', 'evicted', 'evicted']);
    const idleOf = new Map(pool.status().functions.map((f) => [f.functionId, f.idle]));
    assert.deepEqual(idleFns.map((fn) => idleOf.get(fn.id) ?? 0), [0, 0, 0, 0, 1, 1, 1, 1], 'the four idle longest went');
    assert.equal(pool.reservedMb, 1024, 'the memory free stays as it was');
    // not held: a request short of memory evicts its unused containers first
    pool.release(await pool.acquire(fakeFn()));
    const after = new Map(pool.status().functions.map((f) => [f.functionId, f.idle]));
    assert.equal(after.get(warmOnPeer.id), 3, "one of the hand-off's unused containers made room");
    assert.deepEqual(idleFns.map((fn) => after.get(fn.id) ?? 0), [0, 0, 0, 0, 1, 1, 1, 1]);
  });

  test('on a full worker a hot function from a peer takes the place of as much memory as it starts, one for one, not of the headroom too', async () => {
    // capacity 1024 (headroom 256) all held by eight idle 128 MB containers, idle since 0..7 s
    const { pool, clock, removed } = setup({ warmUpConcurrency: 1 });
    const idleFns = Array.from({ length: 8 }, () => fakeFn());
    await idleInTurn(pool, clock, idleFns);
    assert.equal(pool.reservedMb, 1024);
    const hot = fakeFn();
    const batch = pool.warmUp([{ fn: hot, count: 2, idleForMs: 500 }]);
    await settle();
    assert.equal(batch.begun, 2, 'each start evicts one container, not the 384 MB that would leave the headroom free');
    assert.deepEqual(removed, ['evicted', 'evicted']);
    const idleOf = new Map(pool.status().functions.map((f) => [f.functionId, f.idle]));
    assert.deepEqual(idleFns.map((fn) => idleOf.get(fn.id) ?? 0), [0, 0, 1, 1, 1, 1, 1, 1], 'the two least recently used went');
    assert.equal(pool.reservedMb, 1024, 'the memory free stays as it was');
  });

  test("a hand-off's unused container goes after every other idle one for its grace, then by when it went idle; a plain warm-up's goes first", async () => {
    // capacity 1024, grace 5 s: idle 128 MB containers of a and b (idle since 0 s, 1 s); at 10 s
    // a hand-off loads h and a plain warm-up loads p; at 11 s c goes idle (after h)
    const { pool, clock } = setup({ warmUpConcurrency: 2, handOffGraceMs: 5000 });
    // the warm hand-off takes its window of recent use from here (worker/handoff/handoff.ts)
    assert.equal(pool.handOffGraceMs, 5000);
    const [a, b, c] = [fakeFn(), fakeFn(), fakeFn()];
    pool.release(await pool.acquire(a));
    clock.advance(1000);
    pool.release(await pool.acquire(b));
    clock.advance(9000);
    const [h, p] = [fakeFn(), fakeFn()];
    pool.warmUp([{ fn: h, count: 1, idleForMs: 2000 }]);
    pool.warmUp([{ fn: p, count: 1 }]);
    await settle();
    clock.advance(1000);
    pool.release(await pool.acquire(c));
    assert.equal(pool.reservedMb, 640);
    const loaded = (): string[] => pool.status().functions.filter((f) => f.idle + f.busy > 0).map((f) => f.functionId).sort();
    // 512 MB needs 128 more: p, the plain warm-up's, goes first
    const first = await pool.acquire(fakeFn({ memoryMb: 512 }));
    assert.deepEqual(loaded(), [a.id, b.id, c.id, h.id, first.fn.id].sort());
    // 384 MB needs 384 more: a, b and c, though c went idle after h
    const second = await pool.acquire(fakeFn({ memoryMb: 384 }));
    assert.deepEqual(loaded(), [h.id, first.fn.id, second.fn.id].sort());
    pool.release(second);
    // past its grace h is ranked by when it went idle (10 s): before the 384 MB one (11 s)
    clock.advance(5000);
    const third = await pool.acquire(fakeFn({ memoryMb: 128 }));
    assert.deepEqual(loaded(), [first.fn.id, second.fn.id, third.fn.id].sort());
    pool.release(first);
    pool.release(third);
  });

  test("one warm container per function first: a hand-off's first container here may take the least recently used idle place even when every container was used since the ask; a second may not", async () => {
    // capacity 1024, headroom 256: six functions' containers idle (768 held, 256 free)
    const { pool, clock, runtime, removed } = setup({ warmUpConcurrency: 1 });
    const idleFns = Array.from({ length: 6 }, () => fakeFn());
    await idleInTurn(pool, clock, idleFns);
    runtime.holdStarts = true;
    const [a, hot] = [fakeFn(), fakeFn()];
    const batch = pool.warmUp([{ fn: a, count: 1, idleForMs: 500 }, { fn: hot, count: 2, idleForMs: 500 }]);
    await settle();
    // a's start took the place of the container idle longest (idle since before the ask) and runs;
    // meanwhile the load uses every other container
    clock.advance(1000);
    for (const fn of idleFns.slice(1)) pool.release(await pool.acquire(fn));
    runtime.holdStarts = false;
    runtime.finish('start');
    await settle();
    assert.ok(batch.done);
    assert.equal(batch.begun, 2, "a's, and hot's first though every container here was used since the ask");
    assert.equal(batch.dropped, 1, "hot's second would need a container used since the ask");
    assert.deepEqual(removed, ['evicted', 'evicted']);
    const idleOf = new Map(pool.status().functions.map((f) => [f.functionId, f.idle]));
    assert.deepEqual(idleFns.map((fn) => idleOf.get(fn.id) ?? 0), [0, 0, 1, 1, 1, 1], 'the least recently used went: idleFns[1], used first after the ask');
    assert.equal(idleOf.get(hot.id), 1);
    assert.equal(pool.reservedMb, 768);
  });

  test("a hand-off's start never takes the place of the last idle container of another function of the same hand-off", async () => {
    // capacity 1024 all held by eight idle 128 MB containers, idle since 0..7 s; the first, m's,
    // is a function whose home had moved away and now comes back with the drain
    const { pool, clock, removed } = setup({ warmUpConcurrency: 1 });
    const idleFns = Array.from({ length: 8 }, () => fakeFn());
    await idleInTurn(pool, clock, idleFns);
    const [m, x] = [idleFns[0]!, fakeFn()];
    const batch = pool.warmUp([{ fn: m, count: 1, idleForMs: 500 }, { fn: x, count: 1, idleForMs: 500 }]);
    await settle();
    assert.equal(batch.begun, 1, "x's start");
    assert.deepEqual(removed, ['evicted']);
    const idleOf = new Map(pool.status().functions.map((f) => [f.functionId, f.idle]));
    assert.deepEqual(idleFns.map((fn) => idleOf.get(fn.id) ?? 0), [1, 0, 1, 1, 1, 1, 1, 1], "m's container, least recently used, stayed; the next one went");
    assert.equal(idleOf.get(x.id), 1);
  });

  test('traffic first: a request finding too little memory drops the queued warm-up starts, and unused warm containers are evicted first', async () => {
    const { pool, runtime, removed } = setup({ warmUpConcurrency: 1 });
    runtime.holdStarts = true;
    const warmFns = [fakeFn(), fakeFn(), fakeFn()];
    const batch = pool.warmUp(warmFns.map((fn) => ({ fn, count: 1 })));
    await settle();
    assert.equal(runtime.held('start'), 1);
    runtime.finish('start', 1);
    await settle();
    assert.equal(runtime.held('start'), 1, 'the next warm-up start began');
    // traffic: 768 MB needed, 128 + 128 reserved by the warm-ups, 768 free: the request
    // fits (no pressure) and the warm-up's third start stays queued
    runtime.holdStarts = false;
    const big = await pool.acquire(fakeFn({ memoryMb: 768 }));
    assert.equal(big.start, 'cold-create');
    assert.equal(pool.warmUps.queued, 1);
    // traffic needing more than is free: the queued start is dropped, the idle unused warm
    // container is evicted rather than the request refused
    const other = await pool.acquire(fakeFn({ memoryMb: 128 }));
    assert.equal(other.start, 'cold-create');
    assert.equal(pool.warmUps.queued, 0);
    assert.deepEqual(removed, ['evicted']);
    runtime.finish('start');
    await settle();
    assert.ok(batch.done);
    assert.equal(batch.dropped, 1);
    pool.release(big);
    pool.release(other);
  });

  test("a request finding too little memory drops the plain warm-up's queued starts but not a hand-off's, which then begin in the place of containers idle since before it was asked", async () => {
    // capacity 1024 (headroom 256): six idle 128 MB containers, idle since 0..5 s, 256 free; now 10 s
    const { pool, clock, runtime } = setup({ warmUpConcurrency: 1 });
    const idleFns = Array.from({ length: 6 }, () => fakeFn());
    await idleInTurn(pool, clock, idleFns);
    clock.advance(4000);
    runtime.holdStarts = true;
    const hot = fakeFn();
    const handOff = pool.warmUp([{ fn: hot, count: 3, idleForMs: 5500 }]); // last ran 5.5 s ago on the peer
    const plain = pool.warmUp([{ fn: fakeFn(), count: 1 }]);
    await settle();
    assert.equal(runtime.held('start'), 1, "the hand-off's first start runs, in the place of the container idle since 0 s");
    // a 512 MB request: 256 free, too little: the plain start is dropped, the hand-off's stay;
    // the request evicts the least recently used idle containers (1 s, 2 s)
    runtime.holdStarts = false;
    const big = await pool.acquire(fakeFn({ memoryMb: 512 }));
    assert.equal(plain.dropped, 1);
    assert.equal(pool.warmUps.queued, 2);
    runtime.finish('start');
    await settle();
    assert.ok(handOff.done);
    assert.equal(handOff.begun, 3, 'each later start took the place of the least recently used idle container (3 s, 4 s)');
    const idleOf = new Map(pool.status().functions.map((f) => [f.functionId, f.idle]));
    assert.deepEqual(idleFns.map((fn) => idleOf.get(fn.id) ?? 0), [0, 0, 0, 0, 0, 1]);
    assert.equal(idleOf.get(hot.id), 3);
    pool.release(big);
  });

  test('last resort: a request gives up warm-up starts in progress that no request counts on, and none of it fails', async () => {
    // capacity 1024 (headroom 256); traffic holds 512; two warm-up starts hold 256 more
    const { pool, runtime, removed } = setup({ warmUpConcurrency: 2 });
    const held = await pool.acquire(fakeFn({ memoryMb: 512 }));
    runtime.holdStarts = true;
    const [g, h] = [fakeFn(), fakeFn()];
    const batch = pool.warmUp([{ fn: g, count: 1 }, { fn: h, count: 1 }]);
    await settle();
    assert.equal(pool.warmUps.running, 2);
    assert.equal(pool.reservedMb, 768);
    // 384 MB needed, 256 free, nothing idle or pooled: one warm-up start is given up
    const big = pool.acquire(fakeFn({ memoryMb: 384 }));
    await settle();
    assert.deepEqual(removed, ['evicted']);
    // a request of the function whose warm-up start was given up starts its own; the other
    // warm-up start goes for its memory
    const ofG = pool.acquire(g);
    await settle();
    assert.deepEqual(removed, ['evicted', 'evicted']);
    assert.equal(pool.reservedMb, 1024);
    runtime.finish('start');
    const [a, b] = await Promise.all([big, ofG]);
    assert.equal(a.start, 'cold-create');
    assert.equal(b.start, 'cold-create');
    await settle();
    assert.ok(batch.done);
    assert.equal(pool.warmUps.running, 0);
    assert.equal(pool.warmIdle, 0, 'the given-up starts left nothing behind');
    assert.equal(pool.reservedMb, 1024);
    pool.release(a);
    pool.release(b);
    pool.release(held);
  });

  test('a request of a function whose warm-up start runs counts on it; the container is then no longer a warm-up one', async () => {
    const { pool, runtime, removed } = setup({ capacityMb: 1024 });
    runtime.holdStarts = true;
    const f = fakeFn();
    pool.warmUp([{ fn: f, count: 1 }]);
    await settle();
    const call = pool.acquire(f);
    await settle();
    assert.equal(runtime.started, 1, 'no second start');
    runtime.finish('start');
    const lease = await call;
    assert.equal(lease.start, 'cold-create');
    pool.release(lease);
    // now used: an ordinary idle container. A later warm-up's unused one (idle more recently)
    // is evicted before it when a request needs the memory.
    runtime.holdStarts = false;
    const g = fakeFn();
    pool.warmUp([{ fn: g, count: 1 }]);
    await settle();
    const [fIdle] = pool.idleInstances(f.id, f.version);
    const [gIdle] = pool.idleInstances(g.id, g.version);
    const big = await pool.acquire(fakeFn({ memoryMb: 896 }));
    assert.equal(big.start, 'cold-create');
    assert.deepEqual(removed, ['evicted']);
    assert.equal(runtime.container(gIdle!).removed, true, "the warm-up's unused container went");
    assert.equal(runtime.container(fIdle!).removed, false, 'the used one stayed');
    pool.release(big);
  });

  test('a drain drops the queued warm-up starts; a cancelled batch drops its own', async () => {
    const { pool, runtime } = setup({ capacityMb: 4096, warmUpConcurrency: 1 });
    runtime.holdStarts = true;
    const a = pool.warmUp([{ fn: fakeFn(), count: 3 }]);
    const b = pool.warmUp([{ fn: fakeFn(), count: 2 }]);
    await settle();
    assert.deepEqual([a.queued, b.queued], [2, 2]);
    b.cancel();
    assert.deepEqual([a.queued, b.queued, b.dropped], [2, 0, 2]);
    const drained = pool.drain();
    assert.equal(a.queued, 0);
    runtime.finish('start');
    await drained;
    assert.ok(a.done && b.done);
    assert.equal(runtime.started, 1);
  });
});
