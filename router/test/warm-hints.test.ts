/** WarmHints (router/warm-hints.ts) on an injected clock. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WarmHints } from '../warm-hints.ts';

function hints(options: { ttlMs?: number; maxFunctions?: number } = {}): { h: WarmHints; clock: { t: number } } {
  const clock = { t: 1000 };
  return { h: new WarmHints({ now: () => clock.t, ...options }), clock };
}

test('the first worker of the order reported with an idle container wins; each request sent takes one', () => {
  const { h } = hints();
  h.reported('f', 'w2', '2 10');
  h.reported('f', 'w1', '0 11');
  assert.equal(h.firstWarm('f', ['w1', 'w2', 'w3']), 'w2');
  h.taken('f', 'w2');
  assert.equal(h.firstWarm('f', ['w1', 'w2', 'w3']), 'w2');
  h.taken('f', 'w2');
  assert.equal(h.firstWarm('f', ['w1', 'w2', 'w3']), undefined, 'both idle containers were taken');
  assert.equal(h.firstWarm('g', ['w1', 'w2']), undefined, 'another function knows nothing');
});

test('an older report (lower sequence) does not replace a newer one', () => {
  const { h } = hints();
  h.reported('f', 'w1', '3 20');
  h.reported('f', 'w1', '0 19');
  assert.equal(h.firstWarm('f', ['w1']), 'w1');
  h.reported('f', 'w1', '0 21');
  assert.equal(h.firstWarm('f', ['w1']), undefined);
});

test('estimates expire; after that any report applies (a restarted worker counts from 0 again)', () => {
  const { h, clock } = hints({ ttlMs: 5000 });
  h.reported('f', 'w1', '2 900');
  clock.t += 5001;
  assert.equal(h.firstWarm('f', ['w1']), undefined, 'an expired estimate counts as nothing idle');
  h.reported('f', 'w1', '1 3');
  assert.equal(h.firstWarm('f', ['w1']), 'w1', 'the restarted worker\'s low sequence number applied');
});

test('a refusal empties the estimate, forgetting a worker drops it, malformed reports are ignored', () => {
  const { h } = hints();
  h.reported('f', 'w1', '4 1');
  h.refused('f', 'w1');
  assert.equal(h.firstWarm('f', ['w1']), undefined);
  h.reported('f', 'w2', '4 1');
  h.forgetWorker('w2');
  assert.equal(h.firstWarm('f', ['w2']), undefined);
  for (const bad of ['', '4', 'x 1', '-1 2', '1.5 2', '2 y', undefined, ['1 2']]) h.reported('f', 'w3', bad);
  assert.equal(h.firstWarm('f', ['w3']), undefined);
});

test('at most maxFunctions functions are tracked, the least recently reported dropped first', () => {
  const { h } = hints({ maxFunctions: 2 });
  h.reported('a', 'w1', '1 1');
  h.reported('b', 'w1', '1 2');
  h.reported('a', 'w1', '1 3');
  h.reported('c', 'w1', '1 4');
  assert.equal(h.size, 2);
  assert.equal(h.firstWarm('b', ['w1']), undefined, 'b was the least recently reported');
  assert.equal(h.firstWarm('a', ['w1']), 'w1');
  assert.equal(h.firstWarm('c', ['w1']), 'w1');
});
