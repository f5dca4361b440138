/** ManualClock: time moves only on advance(), timers run in time order, cancelled ones never. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../index.ts';

test('timers run in time order when advance() passes them, at their own time', () => {
  const clock = new ManualClock(1000);
  const ran: Array<[string, number]> = [];
  clock.setTimer(300, () => ran.push(['c', clock.now()]));
  clock.setTimer(100, () => ran.push(['a', clock.now()]));
  clock.setTimer(100, () => ran.push(['b', clock.now()]));
  clock.advance(99);
  assert.deepEqual(ran, []);
  clock.advance(150);
  assert.deepEqual(ran, [['a', 1100], ['b', 1100]], 'same time: in the order set');
  assert.equal(clock.now(), 1249);
  assert.equal(clock.pendingTimers, 1);
});

test('a cancelled timer never runs; a timer set by a callback runs when due in the same advance', () => {
  const clock = new ManualClock(0);
  const ran: number[] = [];
  clock.setTimer(10, () => ran.push(0)).cancel();
  clock.setTimer(10, () => clock.setTimer(10, () => ran.push(clock.now())));
  clock.advance(25);
  assert.deepEqual(ran, [20]);
  assert.equal(clock.pendingTimers, 0);
});
