/**
 * ClientLeft: the flag, its listeners (once, removable) and the AbortSignal made on demand,
 * aborted whether it was made before or after the client left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientLeft } from '../client-left.ts';

test('listeners run once when the client leaves; a removed one does not run; leaving twice changes nothing', () => {
  const left = new ClientLeft();
  const calls: string[] = [];
  left.onLeave(() => calls.push('a'));
  const removeB = left.onLeave(() => calls.push('b'));
  removeB();
  assert.equal(left.left, false);
  left.leave();
  left.leave();
  assert.equal(left.left, true);
  assert.deepEqual(calls, ['a']);
  // After leaving, a new listener is not called (callers check `left` first).
  left.onLeave(() => calls.push('late'));
  assert.deepEqual(calls, ['a']);
});

test('the signal aborts when the client leaves, whether it was read before or only after', () => {
  const early = new ClientLeft();
  const signal = early.signal;
  let aborted = 0;
  signal.addEventListener('abort', () => aborted++);
  assert.equal(signal.aborted, false);
  early.leave();
  assert.equal(signal.aborted, true);
  assert.equal(aborted, 1);
  assert.equal(early.signal, signal, 'one signal per client');

  const late = new ClientLeft();
  late.leave();
  assert.equal(late.signal.aborted, true);
});
