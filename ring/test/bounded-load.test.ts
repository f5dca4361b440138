import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadBound, planSpill } from '../index.ts';

test('the worked example of the header', () => {
  const loads: Record<string, number> = { w1: 5, w2: 3, w3: 0, w4: 0 };
  const plan = planSpill({ candidates: ['w1', 'w3', 'w2', 'w4'], loadOf: (id) => loads[id] ?? 0, totalLoad: 8, workerCount: 4 });
  assert.equal(plan.bound, 3);
  assert.deepEqual(plan.order, ['w3', 'w4', 'w1', 'w2']);
  assert.equal(plan.skipped, 1);
  const idle = planSpill({ candidates: ['w1', 'w3', 'w2', 'w4'], loadOf: () => 0, totalLoad: 0, workerCount: 4 });
  assert.equal(idle.bound, 1);
  assert.deepEqual(idle.order, ['w1', 'w3', 'w2', 'w4']);
  assert.equal(idle.skipped, 0);
});

test('c = Infinity disables the check; no workers gives a zero bound', () => {
  assert.equal(loadBound(100, 2, Number.POSITIVE_INFINITY), Number.POSITIVE_INFINITY);
  assert.equal(loadBound(5, 0), 0);
  const plan = planSpill({ candidates: ['a', 'b'], loadOf: () => 1000, totalLoad: 2000, workerCount: 2, c: Number.POSITIVE_INFINITY });
  assert.deepEqual(plan.order, ['a', 'b']);
});

const loadsArb = fc.array(fc.nat({ max: 50 }), { minLength: 1, maxLength: 40 });

test('plan: a permutation of the candidates, under-bound ones first and in preference order', () => {
  fc.assert(
    fc.property(loadsArb, fc.double({ min: 1, max: 3, noNaN: true }), (loads, c) => {
      const ids = loads.map((_, i) => `w${i}`);
      const loadOf = (id: string): number => loads[Number(id.slice(1))] ?? 0;
      const total = loads.reduce((a, b) => a + b, 0);
      const plan = planSpill({ candidates: ids, loadOf, totalLoad: total, workerCount: ids.length, c });
      assert.deepEqual([...plan.order].sort(), [...ids].sort());
      const under = ids.filter((id) => loadOf(id) < plan.bound);
      const over = ids.filter((id) => loadOf(id) >= plan.bound);
      assert.deepEqual(plan.order, [...under, ...over]);
      // with every worker as a candidate, someone is always under the bound
      assert.ok(under.length > 0, `nobody under bound ${plan.bound} with loads ${loads}`);
      assert.equal(plan.skipped, ids.indexOf(plan.order[0] as string));
      // the bound never lets one worker hold more than c × average (+ rounding)
      assert.ok(plan.bound <= Math.ceil((c * (total + 1)) / ids.length));
    }),
    { numRuns: 500 },
  );
});

test('placing requests one by one keeps every worker within the bound', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 30 }), fc.integer({ min: 1, max: 300 }), fc.nat(), (n, requests, seed) => {
      const loads = new Array<number>(n).fill(0);
      let total = 0;
      for (let r = 0; r < requests; r++) {
        // every request prefers the same home: the worst case for balance
        const home = seed % n;
        const candidates = Array.from({ length: n }, (_, i) => `w${(home + i) % n}`);
        const plan = planSpill({ candidates, loadOf: (id) => loads[Number(id.slice(1))] ?? 0, totalLoad: total, workerCount: n });
        const chosen = Number((plan.order[0] as string).slice(1));
        loads[chosen] = (loads[chosen] ?? 0) + 1;
        total++;
        assert.ok((loads[chosen] ?? 0) <= plan.bound);
      }
      assert.ok(Math.max(...loads) <= Math.ceil((1.25 * total) / n) + 1);
    }),
    { numRuns: 100 },
  );
});

test("rule 'floor': never over c × the average when an integer allows it, never under the average rounded up; the default is unchanged", () => {
  // the header's examples
  assert.equal(loadBound(8, 4, 1.25, 'floor'), 3);
  assert.equal(loadBound(199, 100, 1.25, 'floor'), 2);
  assert.equal(loadBound(199, 100, 1.25), 3);
  assert.equal(loadBound(0, 4, 1.25, 'floor'), 1);
  fc.assert(
    fc.property(fc.nat({ max: 100_000 }), fc.integer({ min: 1, max: 2000 }), fc.double({ min: 1, max: 3, noNaN: true }), (total, n, c) => {
      const floor = loadBound(total, n, c, 'floor');
      const avg = (total + 1) / n;
      assert.ok(floor >= Math.ceil(avg), 'under the average rounded up: nobody might be under it');
      assert.ok(floor <= Math.max(Math.ceil(avg), c * avg), 'over c × the average where ceil(avg) is not');
      assert.ok(floor <= loadBound(total, n, c));
      assert.equal(loadBound(total, n, c), Math.ceil(c * avg));
    }),
    { numRuns: 500 },
  );
});

test("rule 'floor': with every worker a candidate someone is still under the bound", () => {
  fc.assert(
    fc.property(loadsArb, (loads) => {
      const ids = loads.map((_, i) => `w${i}`);
      const total = loads.reduce((a, b) => a + b, 0);
      const plan = planSpill({ candidates: ids, loadOf: (id) => loads[Number(id.slice(1))] ?? 0, totalLoad: total, workerCount: ids.length, rule: 'floor' });
      assert.ok(ids.some((id) => (loads[Number(id.slice(1))] ?? 0) < plan.bound));
      assert.equal(plan.bound, loadBound(total, ids.length, 1.25, 'floor'));
    }),
    { numRuns: 500 },
  );
});
