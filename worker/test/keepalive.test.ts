import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FixedKeepAlive, GreedyDualKeepAlive, HybridHistogramKeepAlive, createKeepAlivePolicy } from '../keepalive/index.ts';

const MIN = 60_000;
const info = { memoryMb: 128, cold: false, coldStartMs: 500 };

test('fixed: the same window for every function, oldest idle evicted first', () => {
  const p = new FixedKeepAlive({ keepAliveMs: 15 * MIN });
  assert.deepEqual(p.onIdle('f', 0), { prewarmMs: 0, keepAliveMs: 15 * MIN });
  assert.ok(p.evictionPriority('f', 1000, 5000) < p.evictionPriority('g', 2000, 5000));
});

test('hybrid: a periodic function gets a pre-warm window and a short keep-alive (the header example)', () => {
  const p = new HybridHistogramKeepAlive();
  let t = 0;
  for (let i = 0; i < 8; i++) {
    p.onInvocationStart('timer', t, info);
    t += 100; // runs 100 ms
    const w = p.onIdle('timer', t);
    if (i < 2) assert.equal(w.prewarmMs, 0, 'too few samples: fallback');
    t += 9.9 * MIN;
  }
  const w = p.windows('timer');
  assert.equal(w.representative, true);
  assert.equal(w.prewarmMs, 9 * MIN * 0.9);
  assert.equal(w.keepAliveMs, Math.ceil(10 * MIN * 1.1) - 9 * MIN * 0.9);
});

test('hybrid: a spread-out histogram (low CoV) falls back to the fixed window', () => {
  const p = new HybridHistogramKeepAlive({ fallbackKeepAliveMs: 15 * MIN });
  let t = 0;
  // idle times 0..239 minutes, one in every bin: CoV 0
  for (let i = 0; i < 240; i++) {
    p.onInvocationStart('spread', t, info);
    p.onIdle('spread', t);
    t += i * MIN + 1;
  }
  const w = p.windows('spread');
  assert.equal(w.representative, false);
  assert.deepEqual({ prewarmMs: w.prewarmMs, keepAliveMs: w.keepAliveMs }, { prewarmMs: 0, keepAliveMs: 15 * MIN });
});

test('hybrid: idle times beyond the range are out of bounds and force the fallback', () => {
  const p = new HybridHistogramKeepAlive({ fallbackKeepAliveMs: 10 * MIN });
  let t = 0;
  for (let i = 0; i < 10; i++) {
    p.onInvocationStart('rare', t, info);
    p.onIdle('rare', t);
    t += 5 * 3_600_000;
  }
  assert.equal(p.windows('rare').representative, false);
  assert.equal(p.onIdle('rare', t).keepAliveMs, 10 * MIN);
});

test('hybrid: frequent calls keep the container loaded (no pre-warm) for the 99th percentile', () => {
  const p = new HybridHistogramKeepAlive();
  let t = 0;
  for (let i = 0; i < 100; i++) {
    p.onInvocationStart('hot', t, info);
    p.onIdle('hot', t + 10);
    t += 10 + (i % 10 === 0 ? 3 * MIN + 5000 : 20_000);
  }
  const w = p.windows('hot');
  assert.equal(w.representative, true);
  assert.equal(w.prewarmMs, 0);
  assert.equal(w.keepAliveMs, Math.ceil(4 * MIN * 1.1));
});

test('greedy-dual: priority = clock + frequency x cost / size, and eviction inflates the clock (header example)', () => {
  const p = new GreedyDualKeepAlive();
  for (let i = 0; i < 4; i++) p.onInvocationStart('f', i, { memoryMb: 256, cold: false, coldStartMs: 500 });
  p.onInvocationStart('g', 5, { memoryMb: 128, cold: true, coldStartMs: 500 });
  const pf = p.evictionPriority('f', 0, 10);
  const pg = p.evictionPriority('g', 0, 10);
  assert.equal(pf, (4 * 500) / 256);
  assert.equal(pg, 500 / 128);
  assert.ok(pg < pf);
  p.onEvict('g', pg);
  assert.equal(p.clock, pg);
  p.onInvocationStart('g', 20, { memoryMb: 128, cold: true, coldStartMs: 500 });
  assert.equal(p.evictionPriority('g', 0, 30), pg + (2 * 500) / 128);
  assert.equal(p.onIdle('g', 30).keepAliveMs, Number.POSITIVE_INFINITY);
});

test('createKeepAlivePolicy scales the hybrid windows by the time scale', () => {
  const p = createKeepAlivePolicy('hybrid', { idleTimeoutMs: 15_000, timeScale: 60 }) as HybridHistogramKeepAlive;
  assert.equal(p.binMs, 1000);
  assert.equal(p.binCount, 240);
  assert.equal(p.onIdle('new', 0).keepAliveMs, 15_000);
  assert.equal(createKeepAlivePolicy('fixed', { idleTimeoutMs: 1234 }).onIdle('x', 0).keepAliveMs, 1234);
});
