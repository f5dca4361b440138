import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FixedKeepAlive, GreedyDualKeepAlive, HazardKeepAlive, HybridHistogramKeepAlive, createKeepAlivePolicy } from '../keepalive/index.ts';

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

/** Feeds `policy` calls of `fn` separated by the given idle times (each call runs 100 ms). */
function feed(p: HazardKeepAlive, fn: string, idleTimesMs: readonly number[], memoryMb = 128): number {
  let t = 0;
  for (const it of idleTimesMs) {
    p.onInvocationStart(fn, t, { ...info, memoryMb });
    t += 100;
    p.onIdle(fn, t);
    t += it;
  }
  p.onInvocationStart(fn, t, { ...info, memoryMb });
  return t;
}

test('hazard: the header examples (a timer pre-warmed, a rare function unloaded at once, a bursty one held a minute); a lone IT is not a window', () => {
  const p = new HazardKeepAlive();
  feed(p, 'timer', Array.from({ length: 20 }, () => 9.9 * MIN));
  assert.deepEqual(p.windows('timer'), { prewarmMs: 9 * MIN, keepAliveMs: 1 * MIN });
  feed(p, 'rare', [20, 70, 130, 190, 250, 300, 45, 160].map((m) => m * MIN));
  assert.deepEqual(p.windows('rare'), { prewarmMs: 0, keepAliveMs: 0 });
  // bursty: 6 ITs under a minute, 4 spread over hours
  feed(p, 'bursty', [59_900, 59_900, 59_900, 59_900, 59_900, 59_900, 70 * MIN, 130 * MIN, 170 * MIN, 200 * MIN]);
  assert.deepEqual(p.windows('bursty'), { prewarmMs: 0, keepAliveMs: 1 * MIN });
  // fewer ITs in bounds than the run count: all of those in bounds make the run (the OOB one lies in none)
  feed(p, 'one-and-oob', [30_000, 300 * MIN]);
  assert.deepEqual(p.windows('one-and-oob'), { prewarmMs: 0, keepAliveMs: 1 * MIN });
  // without the run count, each of these lone ITs' bins would be held (1/4 > the cost of one bin)
  feed(p, 'sparse', [40, 100, 170].map((m) => m * MIN));
  assert.deepEqual(p.windows('sparse'), { prewarmMs: 0, keepAliveMs: 0 });
});

test('hazard: every idle time is sampled; a quick second call after each long gap is learned, where one sample a minute saw the long gaps only', () => {
  const p = new HazardKeepAlive();
  // pairs: a call, a second 5 s after it, then 40 min to 3 h idle: half the ITs are 5 s
  const long = [40, 70, 100, 130, 160, 190].map((m) => m * MIN);
  feed(p, 'pairs', long.flatMap((gap) => [5_000, gap]));
  // held through bin 0 (p = 0.5 against its cost 0.033); sampled once a minute, each 5 s IT but
  // the first came within a minute of the last sample: one short IT among 7, unloaded at once
  assert.deepEqual(p.windows('pairs'), { prewarmMs: 0, keepAliveMs: 1 * MIN });
});

test('hazard: a frequent function is held; the price scales with memory and the keep-alive setting; a new function gets the setting', () => {
  const p = new HazardKeepAlive();
  const gaps = [3, 7, 2, 11, 5, 4, 9, 6, 1, 8].map((m) => m * MIN + 1000);
  feed(p, 'often', gaps);
  const held = p.windows('often');
  assert.equal(held.prewarmMs, 0, 'no call came within a minute, but a pre-warm so soon is not worth a container start');
  assert.ok(held.prewarmMs + held.keepAliveMs >= 12 * MIN, `held past the longest gap: ${held.keepAliveMs}`);
  feed(p, 'often-large', gaps, 8 * 1024);
  assert.ok(p.windows('often-large').keepAliveMs < held.keepAliveMs, 'a container 64x larger is worth holding for less time');
  assert.ok(p.windows('often', 1 * MIN).keepAliveMs < held.keepAliveMs, 'memory priced higher (a 1 min setting): held less');
  const fresh = new HazardKeepAlive();
  fresh.onInvocationStart('new', 0, info);
  assert.deepEqual(fresh.onIdle('new', 100, 20 * MIN), { prewarmMs: 0, keepAliveMs: 20 * MIN }, 'no IT yet: the function\'s own setting');
  // a setting under one bin (10 s): priced, calls 2 s apart would never be held (a bin costs
  // 10 × 128 / 256 = 5 calls' worth); the policy keeps the setting instead
  feed(p, 'short', Array.from({ length: 10 }, () => 2000));
  assert.deepEqual(p.windows('short', 10_000), { prewarmMs: 0, keepAliveMs: 10_000 });
  assert.ok(p.windows('short', MIN).keepAliveMs > 0, 'from one bin up, priced: held');
});

test('hazard: each concurrency rank learns its own idle times; a container that is not the last is never unloaded for a pre-warm', () => {
  const p = new HazardKeepAlive();
  // the first container is needed every few minutes, a second one (two calls at once) about every 2-5 h
  let t = 0;
  const secondGaps = [20, 70, 130, 190, 250].map((m) => m * MIN);
  for (const gap of secondGaps) {
    p.onInvocationStart('f', t, { ...info, running: 1 });
    p.onInvocationStart('f', t + 10, { ...info, running: 2 });
    p.onIdle('f', t + 100, 15 * MIN, 1, 1); // the second container goes idle, one still runs
    p.onIdle('f', t + 200, 15 * MIN, 1, 0);
    for (let at = t + 3 * MIN; at < t + gap; at += 3 * MIN) {
      p.onInvocationStart('f', at, { ...info, running: 1 });
      p.onIdle('f', at + 100, 15 * MIN, 1, 0);
    }
    t += gap;
  }
  assert.deepEqual(p.windows('f', 15 * MIN, 2, false), { prewarmMs: 0, keepAliveMs: 0 }, 'the second container: unloaded at once');
  assert.ok(p.windows('f', 15 * MIN, 1, false).keepAliveMs >= 3 * MIN, 'the first: held past its gap');
  // a timer's container while another of the function is loaded: held from the idle moment
  feed(p, 'timer', Array.from({ length: 20 }, () => 9.9 * MIN));
  assert.deepEqual(p.windows('timer', 15 * MIN, 1, false), { prewarmMs: 0, keepAliveMs: 10 * MIN });
});

test('hazard: state is bounded by histograms; the least recently started function goes with all its ranks', () => {
  const p = new HazardKeepAlive({ maxFunctions: 2 }); // 4 histograms
  const learned = MIN; // 4 ITs under a minute: held 1 min
  const gaps = [59_900, 59_900, 59_900, 59_900];
  feed(p, 'a', gaps);
  p.onInvocationStart('a', 10 * MIN, { ...info, running: 2 });
  p.onInvocationStart('a', 10 * MIN, { ...info, running: 3 }); // a: 3 histograms
  feed(p, 'b', gaps); // 4
  assert.equal(p.windows('a').keepAliveMs, learned);
  feed(p, 'c', gaps); // 5: a goes, its 3 ranks with it
  assert.deepEqual(p.windows('a'), { prewarmMs: 0, keepAliveMs: 15 * MIN }, 'a forgotten: the setting');
  assert.deepEqual(p.windows('a', 15 * MIN, 2), { prewarmMs: 0, keepAliveMs: 15 * MIN });
  p.forget('b'); // c's histogram alone
  for (const fn of ['d', 'e', 'f']) feed(p, fn, gaps); // 4: nothing to drop
  for (const fn of ['c', 'd', 'e', 'f']) assert.equal(p.windows(fn).keepAliveMs, learned, fn);
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
