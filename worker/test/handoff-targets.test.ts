/**
 * The warm hand-off's targets (worker/handoff/targets.ts) on the real ring of ring/: the
 * header's worked example on its real ids, and the rules checked against rings built apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ring, type RingMemberRow } from '../../ring/index.ts';
import { drainTarget, joinTargets, placeIn } from '../handoff/index.ts';

function ringOf(ids: readonly string[]): Ring {
  return new Ring(ids.map((id): RingMemberRow => ({ id, address: '', capacityMb: 0, state: 'active', heartbeatAt: 0 })));
}

test("worked example, drain: b leaves {a, b, c}; f6 (b its home) goes to its next home a, f4 (b at k = 1) to c, not to its home a", () => {
  const abc = ringOf(['a', 'b', 'c']);
  assert.deepEqual(abc.preferenceList('f4'), ['a', 'b', 'c'], 'the example holds on this ring');
  assert.deepEqual(abc.preferenceList('f6'), ['b', 'a', 'c']);
  assert.equal(drainTarget(abc, 'b', 'f6'), 'a');
  assert.equal(drainTarget(abc, 'b', 'f4'), 'c');
  // the homes-only rule this replaces would have said a for both
  assert.equal(ringOf(['a', 'c']).home('f4'), 'a');
});

test('worked example, join: d joins {a, b, c}; f5 (d at k = 1 before b) to b\'s count, f7 (home moved) to the largest count, homes first', () => {
  const abcd = ringOf(['a', 'b', 'c', 'd']);
  assert.deepEqual(abcd.preferenceList('f5'), ['a', 'd', 'b', 'c'], 'the example holds on this ring');
  assert.deepEqual(abcd.preferenceList('f7'), ['d', 'a', 'b', 'c']);
  const reports = [
    { peerId: 'a', functions: [{ functionId: 'f5', count: 3 }, { functionId: 'f7', count: 1 }] },
    { peerId: 'b', functions: [{ functionId: 'f5', count: 2 }, { functionId: 'f7', count: 2 }] },
  ];
  assert.deepEqual(joinTargets(abcd, 'd', reports), [{ functionId: 'f7', count: 2 }, { functionId: 'f5', count: 2 }]);
});

test('join: only the peer right after the new worker counts; a function the new worker does not precede is left', () => {
  const abcd = ringOf(['a', 'b', 'c', 'd']);
  assert.deepEqual(abcd.preferenceList('f4'), ['a', 'b', 'd', 'c']);
  // f4: d at k = 2, c right after it; b before d, a (home) before d: neither counts
  assert.deepEqual(joinTargets(abcd, 'd', [{ peerId: 'b', functions: [{ functionId: 'f4', count: 4 }] }, { peerId: 'a', functions: [{ functionId: 'f4', count: 5 }] }]), []);
  assert.deepEqual(joinTargets(abcd, 'd', [{ peerId: 'c', functions: [{ functionId: 'f4', count: 3 }] }]), [{ functionId: 'f4', count: 3 }]);
  // f5: c is at k + 2, not right after d
  assert.deepEqual(joinTargets(abcd, 'd', [{ peerId: 'c', functions: [{ functionId: 'f5', count: 1 }] }]), []);
  assert.deepEqual(joinTargets(abcd, 'd', []), []);
});

test('drain, on 30 workers: k + 1 of the first 17; the home on the ring without the leaving worker when it is first, absent or last there', () => {
  const ids = Array.from({ length: 30 }, (_, i) => `w${i}`);
  const ring = ringOf(ids);
  const without = ringOf(ids.filter((id) => id !== 'w7'));
  const seen = { home: 0, spill: 0, absent: 0, last: 0 };
  for (let i = 0; i < 3000; i++) {
    const key = `fn-${i}`;
    const list = ring.preferenceList(key, 17);
    const k = list.indexOf('w7');
    const target = drainTarget(ring, 'w7', key);
    if (k === 0) seen.home++;
    else if (k > 0 && k < 16) seen.spill++;
    else if (k === 16) seen.last++;
    else seen.absent++;
    if (k >= 0 && k < 16) assert.equal(target, list[k + 1], key);
    else assert.equal(target, without.home(key), key);
    // for k = 0 that is also the next home of the homes-only rule
    if (k === 0) assert.equal(target, without.home(key), key);
  }
  assert.ok(seen.home > 0 && seen.spill > 0 && seen.absent > 0 && seen.last > 0, JSON.stringify(seen));
});

test('placeIn: the position and the worker after it; -1 and none when not among the first `length`', () => {
  const abcd = ringOf(['a', 'b', 'c', 'd']);
  assert.deepEqual(placeIn(abcd, 'd', 'f5', 4), { k: 1, next: 'b' });
  assert.deepEqual(placeIn(abcd, 'c', 'f5', 4), { k: 3, next: undefined });
  assert.deepEqual(placeIn(abcd, 'c', 'f5', 2), { k: -1, next: undefined });
  assert.equal(drainTarget(ringOf(['a']), 'a', 'f5'), undefined, 'no other worker');
});
