import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { Ring, isLiveRow, type RingMemberRow } from '../index.ts';

const KEYS = Array.from({ length: 4000 }, (_, i) => `fn-${i.toString(36)}-${(i * 7919).toString(16)}`);

function row(id: string, overrides: Partial<RingMemberRow> = {}): RingMemberRow {
  return { id, address: `http://127.0.0.1:${7000 + id.length}/${id}`, capacityMb: 1024, state: 'active', heartbeatAt: 1_000, ...overrides };
}

/** 1..maxN distinct worker ids. */
const workerIds = (minN: number, maxN: number) =>
  fc.uniqueArray(fc.stringMatching(/^[a-z0-9-]{1,12}$/), { minLength: minN, maxLength: maxN });

function homes(ring: Ring, keys: readonly string[]): Map<string, string> {
  return new Map(keys.map((k) => [k, ring.home(k) as string]));
}

test('spread: each of N workers owns its fair share of the circle within tolerance', () => {
  fc.assert(
    fc.property(workerIds(2, 24), (ids) => {
      const ring = new Ring(ids.map((id) => row(id)));
      const fair = 1 / ids.length;
      let sum = 0;
      for (const [id, share] of ring.shares()) {
        sum += share;
        assert.ok(share > fair * 0.6 && share < fair * 1.5, `${id} owns ${share}, fair ${fair}`);
      }
      assert.ok(Math.abs(sum - 1) < 1e-9);
    }),
    { numRuns: 60 },
  );
});

test('spread: keys land on every worker about evenly', () => {
  fc.assert(
    fc.property(workerIds(2, 12), (ids) => {
      const ring = new Ring(ids.map((id) => row(id)));
      const counts = new Map<string, number>();
      for (const key of KEYS) counts.set(ring.home(key) as string, (counts.get(ring.home(key) as string) ?? 0) + 1);
      const fair = KEYS.length / ids.length;
      for (const id of ids) {
        const count = counts.get(id) ?? 0;
        assert.ok(count > fair * 0.55 && count < fair * 1.55, `${id} got ${count} keys, fair ${fair}`);
      }
    }),
    { numRuns: 40 },
  );
});

test('join: about 1/(N+1) of keys move, all of them to the new worker', () => {
  fc.assert(
    fc.property(workerIds(2, 16), fc.stringMatching(/^new-[a-z0-9]{1,6}$/), (ids, added) => {
      const before = homes(new Ring(ids.map((id) => row(id))), KEYS);
      const after = homes(new Ring([...ids, added].map((id) => row(id))), KEYS);
      let moved = 0;
      for (const key of KEYS) {
        if (before.get(key) === after.get(key)) continue;
        moved++;
        assert.equal(after.get(key), added, `key ${key} moved between two old workers`);
      }
      const expected = KEYS.length / (ids.length + 1);
      assert.ok(moved > expected * 0.5 && moved < expected * 1.6, `moved ${moved}, expected about ${expected}`);
    }),
    { numRuns: 40 },
  );
});

test('leave: about 1/N of keys move, exactly those of the leaving worker, to their next in line', () => {
  fc.assert(
    fc.property(workerIds(3, 16), fc.nat(), (ids, pick) => {
      const full = new Ring(ids.map((id) => row(id)));
      const gone = ids[pick % ids.length] as string;
      const reduced = new Ring(ids.filter((id) => id !== gone).map((id) => row(id)));
      let moved = 0;
      for (const key of KEYS) {
        const list = full.preferenceList(key, 2);
        const was = list[0];
        const now = reduced.home(key);
        if (was === gone) {
          moved++;
          assert.equal(now, list[1], 'a key of the leaving worker goes to its next distinct worker clockwise');
        } else {
          assert.equal(now, was, 'a key of a staying worker does not move');
        }
      }
      const expected = KEYS.length / ids.length;
      assert.ok(moved > expected * 0.5 && moved < expected * 1.6, `moved ${moved}, expected about ${expected}`);
    }),
    { numRuns: 40 },
  );
});

test('keys named like Object.prototype members map to workers', () => {
  const ring = new Ring(['a', 'b'].map((id) => row(id)));
  for (const key of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    assert.ok(ring.has(ring.home(key) as string), key);
    assert.equal(ring.preferenceList(key, 1)[0], ring.home(key));
  }
});

test('preference lists: distinct workers, home first, length min(k, n)', () => {
  fc.assert(
    fc.property(workerIds(1, 20), fc.string(), fc.integer({ min: 0, max: 25 }), (ids, key, k) => {
      const ring = new Ring(ids.map((id) => row(id)));
      const list = ring.preferenceList(key, k);
      assert.equal(list.length, Math.min(k, ids.length));
      assert.equal(new Set(list).size, list.length);
      if (k > 0) assert.equal(list[0], ring.home(key));
      assert.deepEqual(ring.preferenceList(key).slice(0, list.length), list, 'a shorter list is a prefix of the full one');
      for (const id of list) assert.ok(ring.has(id));
    }),
    { numRuns: 200 },
  );
});

test('preference lists differ by function: every worker is home of some, and orders vary', () => {
  fc.assert(
    fc.property(workerIds(3, 10), (ids) => {
      const ring = new Ring(ids.map((id) => row(id)));
      const lists = KEYS.slice(0, 1000).map((key) => ring.preferenceList(key));
      assert.equal(new Set(lists.map((l) => l[0])).size, ids.length, 'every worker is some function home');
      assert.ok(new Set(lists.map((l) => l[1])).size === ids.length, 'every worker is some function second');
      assert.ok(new Set(lists.map((l) => l.join(','))).size > ids.length, 'more distinct orders than workers');
    }),
    { numRuns: 30 },
  );
});

test('deterministic: two routers building from the same rows (any order) agree', () => {
  fc.assert(
    fc.property(workerIds(1, 20).chain((ids) => fc.tuple(fc.constant(ids), fc.shuffledSubarray(ids, { minLength: ids.length }))), ([ids, shuffled]) => {
      const a = Ring.fromMembership(ids.map((id) => row(id)), { now: 2_000 });
      const b = Ring.fromMembership(shuffled.map((id) => row(id)), { now: 2_000 });
      assert.deepEqual(a.ids, b.ids);
      assert.ok(a.sameMembers(b));
      for (const key of KEYS.slice(0, 300)) assert.deepEqual(a.preferenceList(key), b.preferenceList(key));
    }),
    { numRuns: 50 },
  );
});

test('fromMembership keeps only active rows with a heartbeat within the TTL', () => {
  const rows = [
    row('a', { heartbeatAt: 10_000 }),
    row('b', { heartbeatAt: 5_000 }), // exactly at the TTL edge: live
    row('c', { heartbeatAt: 4_999 }), // past the TTL
    row('d', { state: 'draining', heartbeatAt: 10_000 }),
    row('a', { heartbeatAt: 9_000, address: 'http://old' }), // duplicate id: the freshest wins
  ];
  const ring = Ring.fromMembership(rows, { now: 10_000, ttlMs: 5_000 });
  assert.deepEqual(ring.ids, ['a', 'b']);
  assert.equal(ring.members.get('a')?.address, row('a').address);
  assert.equal(isLiveRow(row('x', { heartbeatAt: 0 }), 5_001), false);
  const empty = Ring.fromMembership([], { now: 0 });
  assert.equal(empty.size, 0);
  assert.equal(empty.home('f'), undefined);
  assert.deepEqual(empty.preferenceList('f'), []);
});

test('the hash is injectable and vnodes set the points per worker', () => {
  let calls = 0;
  const sha = (key: string): Uint8Array => {
    calls++;
    return createHash('sha256').update(key).digest();
  };
  const ring = new Ring(['a', 'b', 'c'].map((id) => row(id)), { hash: sha, vnodes: 10 });
  assert.equal(ring.pointsPerWorker, 40);
  assert.ok(calls >= 30);
  const md5 = new Ring(['a', 'b', 'c'].map((id) => row(id)), { vnodes: 10 });
  const differ = KEYS.slice(0, 200).some((key) => ring.home(key) !== md5.home(key));
  assert.ok(differ, 'another hash places keys differently');
  assert.throws(() => new Ring([row('a')], { vnodes: 0 }), RangeError);
});
