/**
 * RecentInvocations (worker/handoff/recent.ts): the hot set and the recent peak concurrency a
 * warm hand-off asks for, with times given explicitly (no clock).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentInvocations, recordingPolicy } from '../handoff/index.ts';
import { HazardKeepAlive, createKeepAlivePolicy } from '../keepalive/index.ts';

test('concurrency: the peak in flight over the last one to two windows (the header example)', () => {
  const r = new RecentInvocations({ windowMs: 60_000 });
  r.record('f', 0);
  r.record('f', 1000);
  assert.equal(r.concurrency('f', 1000), 2);
  r.ended('f', 1);
  r.ended('f', 0);
  assert.equal(r.concurrency('f', 2000), 2, 'the peak stays for its window');
  r.record('f', 70_000);
  assert.equal(r.concurrency('f', 70_000), 2, 'the previous window counts');
  r.ended('f', 0);
  assert.equal(r.concurrency('f', 130_000), 1, 'two windows on, only the later one counts');
  assert.equal(r.concurrency('g', 0), 0, 'never started');
});

test('concurrency: a start never seen ending is corrected at the next idle step', () => {
  const r = new RecentInvocations({ windowMs: 60_000 });
  // three starts; one container handed straight to a waiting request, one failed and removed:
  // only one idle step is seen, and it says no other container of f is loaded
  for (let i = 0; i < 3; i++) r.record('f', i);
  r.ended('f', 0);
  r.record('f', 200_000);
  assert.equal(r.concurrency('f', 200_000), 1, 'in flight went back to 0, not 2');
});

test('since: most recent first, older ones left out; bounded by maxFunctions', () => {
  const r = new RecentInvocations({ maxFunctions: 2 });
  r.record('a', 10);
  r.record('b', 20);
  r.record('a', 30);
  assert.deepEqual(r.since(15), ['a', 'b']);
  assert.deepEqual(r.since(25), ['a']);
  r.record('c', 40);
  assert.deepEqual(r.since(0), ['c', 'a'], 'b, the least recently started, was dropped');
  assert.equal(r.lastStart('b'), undefined);
});

test('recordingPolicy: starts and idle steps reach the record; the windows are the inner policy’s', () => {
  const r = new RecentInvocations();
  const inner = createKeepAlivePolicy('fixed');
  const p = recordingPolicy(inner, r);
  p.onInvocationStart('f', 5, { memoryMb: 128, cold: true, coldStartMs: 500 });
  p.onInvocationStart('f', 6, { memoryMb: 128, cold: true, coldStartMs: 500 });
  assert.deepEqual(p.onIdle('f', 7, 1234, 1), inner.onIdle('f', 7, 1234, 1));
  assert.equal(r.lastStart('f'), 6);
  assert.equal(r.concurrency('f', 7), 2);
  p.onInvocationStart('f', 8, { memoryMb: 128, cold: false, coldStartMs: 500 });
  assert.equal(r.concurrency('f', 8), 2, 'one ended, one started: still 2 in flight at most');
});

test('recordingPolicy passes every argument on: a rank-learning policy behind it sees the concurrency at starts and idles', () => {
  const MIN = 60_000;
  const direct = new HazardKeepAlive();
  const wrapped = new HazardKeepAlive();
  const p = recordingPolicy(wrapped, new RecentInvocations());
  // a second container needed every ~2-5 h (two calls at once), its idle times learned on rank 2
  let t = 0;
  for (const gap of [20, 70, 130, 190, 250].map((m) => m * MIN)) {
    for (const policy of [direct, p]) {
      policy.onInvocationStart('f', t, { memoryMb: 128, cold: false, coldStartMs: 500, running: 1 });
      policy.onInvocationStart('f', t + 10, { memoryMb: 128, cold: false, coldStartMs: 500, running: 2 });
      policy.onIdle('f', t + 100, 15 * MIN, 1, 1);
      policy.onIdle('f', t + 200, 15 * MIN, 1, 0);
    }
    t += gap;
  }
  assert.deepEqual(direct.windows('f', 15 * MIN, 2, false), { prewarmMs: 0, keepAliveMs: 0 }, 'learned: the second container is not worth holding');
  assert.deepEqual(wrapped.windows('f', 15 * MIN, 2, false), direct.windows('f', 15 * MIN, 2, false));
});
