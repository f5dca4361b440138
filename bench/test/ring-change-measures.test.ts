/**
 * The ring-change bench's measures (bench/ring-change-measures.ts) on hand-made samples: which
 * functions count for the drain, and whether their first call after it was cold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coldFirstCalls, drainFirstCalls, ranOnlyOn, type Sample } from '../ring-change-measures.ts';

let clock = 1_000;
function sample(functionId: string, worker: string | undefined, start: string | undefined = 'warm', ok = true): Sample {
  clock += 10;
  return { latencyMs: 5, ok, code: ok ? '' : 'RF_X', start, worker, functionId, at: clock };
}

test('ranOnlyOn: a call on the worker and none elsewhere; a failed call elsewhere does not count', () => {
  const on = [sample('f', 'x', 'cold-pool'), sample('f', 'x'), sample('g', 'x'), sample('g', 'a'), sample('h', 'a', undefined, false), sample('h', 'x')];
  assert.equal(ranOnlyOn('f', 'x', on, on), true);
  assert.equal(ranOnlyOn('g', 'x', on, on), false, 'g spilled to a');
  assert.equal(ranOnlyOn('h', 'x', on, on), true, 'a failed call ran nowhere');
  assert.equal(ranOnlyOn('z', 'x', on, on), false, 'never called');
});

test('coldFirstCalls: the first successful call in time order on an accepted worker, and every cold one there', () => {
  const late = sample('f', 'a', 'warm');
  const early = sample('f', 'a', 'cold-create');
  const calls = [late, early, sample('f', 'x', 'cold-pool'), sample('g', 'a', 'warm'), sample('g', 'a', 'cold-pool')];
  // `early` was answered after `late` here: order by time, not by array position
  early.at = late.at - 1;
  const r = coldFirstCalls(calls, new Set(['f', 'g']), (w) => w !== 'x');
  assert.deepEqual(r.firstCalls.map((c) => [c.functionId, c.start]), [['f', 'cold-create'], ['g', 'warm']]);
  assert.equal(r.coldFirstCalls, 1);
  assert.equal(r.coldStarts, 2);
  assert.equal(r.functions, 2);
});

test('drainFirstCalls: only functions that ran nowhere but the drained worker count; first calls on the next home or elsewhere', () => {
  const nextHome = new Map([['f', 'a'], ['g', 'b'], ['h', 'a'], ['k', 'b']]);
  const before = [sample('f', 'x', 'cold-pool'), sample('f', 'x'), sample('g', 'x', 'cold-pool'), sample('h', 'x'), sample('h', 'a'), sample('k', 'x')];
  // f warm on its next home; g cold on its next home; k spilled past its next home (b) to a, cold
  const after = [sample('f', 'a', 'warm'), sample('g', 'b', 'cold-pool'), sample('h', 'a', 'warm'), sample('k', 'a', 'cold-create'), sample('g', 'b', 'warm')];
  const r = drainFirstCalls(['f', 'g', 'h', 'k', 'never'], 'x', before, after, (fn) => nextHome.get(fn));
  assert.equal(r.called, 5);
  assert.equal(r.functions, 3, 'f, g and k: h also ran on a, never did not run');
  assert.deepEqual(r.firstCalls.map((c) => [c.functionId, c.worker, c.start]), [['f', 'a', 'warm'], ['g', 'b', 'cold-pool'], ['k', 'a', 'cold-create']]);
  assert.equal(r.coldFirstCalls, 2);
  assert.equal(r.onNextHome, 2, 'k was served off its next home');
  // a call still on the drained worker after the drain began is not a first call elsewhere
  const r2 = drainFirstCalls(['f'], 'x', before, [sample('f', 'x', 'warm'), sample('f', 'a', 'cold-pool')], (fn) => nextHome.get(fn));
  assert.deepEqual(r2.firstCalls.map((c) => [c.worker, c.start]), [['a', 'cold-pool']]);
});
