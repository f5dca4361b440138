import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planSpill, smoothLoad, SustainedLoad } from '../index.ts';

const close = (a: number, b: number, eps = 1e-9): void => assert.ok(Math.abs(a - b) <= eps, `${a} ≠ ${b}`);

test('smoothLoad: the exact average of a constant load; no time, no change', () => {
  close(smoothLoad(0, 2, 10_000, 10_000), 2 * (1 - Math.exp(-1)));
  close(smoothLoad(3, 3, 5_000, 10_000), 3);
  assert.equal(smoothLoad(1.5, 7, 0, 10_000), 1.5);
  // two steps equal one step of their sum (the average is exact between changes)
  close(smoothLoad(smoothLoad(0.4, 2, 3_000, 10_000), 2, 4_000, 10_000), smoothLoad(0.4, 2, 7_000, 10_000));
});

test('the worked example of the header', () => {
  const s = new SustainedLoad({ c: 1.25, windowMs: 10_000 });
  s.membership([{ id: 'w1', load: 0 }, { id: 'w2', load: 0 }, { id: 'w3', load: 0 }], 0);
  s.changed('w1', 2, 0);
  s.changed('w2', 2, 0);
  close(s.smoothedOf('w1', 10_000), 2 * (1 - Math.exp(-1)));
  close(s.smoothedMean(10_000), (4 * (1 - Math.exp(-1))) / 3);
  close(s.threshold(10_000), 1.25 * s.smoothedMean(10_000));
  const loads: Record<string, number> = { w1: 2, w2: 2, w3: 0 };
  const plan = planSpill({ candidates: ['w1', 'w2', 'w3'], loadOf: (id) => loads[id] ?? 0, totalLoad: 4, workerCount: 3, held: s.heldAt(10_000) });
  assert.equal(plan.bound, 3);
  assert.deepEqual(plan.order, ['w3', 'w1', 'w2']);
  assert.equal(plan.accepting, 1);
  assert.equal(plan.skipped, 2);
  // a burst that began at 9 s is under the floor of 1 at 10 s: nobody held
  const burst = new SustainedLoad({ c: 1.25, windowMs: 10_000 });
  burst.membership([{ id: 'w1', load: 0 }, { id: 'w2', load: 0 }, { id: 'w3', load: 0 }], 0);
  burst.changed('w1', 2, 9_000);
  burst.changed('w2', 2, 9_000);
  const calm = planSpill({ candidates: ['w1', 'w2', 'w3'], loadOf: (id) => loads[id] ?? 0, totalLoad: 4, workerCount: 3, held: burst.heldAt(10_000) });
  assert.deepEqual(calm.order, ['w1', 'w2', 'w3']);
});

test('the smoothed mean is the mean of the workers’ averages, through changes, joins and departures', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ worker: fc.nat({ max: 7 }), load: fc.nat({ max: 6 }), dtMs: fc.nat({ max: 20_000 }), member: fc.boolean() }), { minLength: 1, maxLength: 60 }),
      (steps) => {
        const s = new SustainedLoad({ c: 1.25, windowMs: 7_000 });
        const loads = new Map<string, number>();
        let now = 0;
        s.membership([], 0);
        for (const st of steps) {
          now += st.dtMs;
          const id = `w${st.worker}`;
          if (st.member) {
            // toggle membership of this worker
            if (loads.has(id)) loads.delete(id);
            else loads.set(id, st.load);
            s.membership([...loads].map(([i, load]) => ({ id: i, load })), now);
          } else if (loads.has(id)) {
            loads.set(id, st.load);
            s.changed(id, st.load, now);
          }
          const ids = [...loads.keys()];
          const mean = ids.length === 0 ? 0 : ids.reduce((a, i) => a + s.smoothedOf(i, now), 0) / ids.length;
          close(s.smoothedMean(now), mean, 1e-6);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('held workers: behind the accepting ones, before the over-bound ones, each group in preference order; some worker always accepts', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ load: fc.nat({ max: 8 }), since: fc.nat({ max: 60_000 }) }), { minLength: 1, maxLength: 30 }), fc.double({ min: 1, max: 2, noNaN: true }), (ws, c) => {
      const s = new SustainedLoad({ c, windowMs: 10_000, floorLoad: 0 });
      const ids = ws.map((_, i) => `w${i}`);
      s.membership(ids.map((id) => ({ id, load: 0 })), 0);
      // changes in time order (the clock never goes back)
      [...ws.keys()].sort((a, b) => (ws[a]?.since ?? 0) - (ws[b]?.since ?? 0)).forEach((i) => s.changed(`w${i}`, ws[i]?.load ?? 0, ws[i]?.since ?? 0));
      const now = 60_000;
      const loadOf = (id: string): number => ws[Number(id.slice(1))]?.load ?? 0;
      const total = ws.reduce((a, w) => a + w.load, 0);
      const heldTest = s.heldAt(now);
      const plan = planSpill({ candidates: ids, loadOf, totalLoad: total, workerCount: ids.length, c, held: heldTest });
      const accepting = ids.filter((id) => loadOf(id) < plan.bound && !heldTest(id));
      const held = ids.filter((id) => loadOf(id) < plan.bound && heldTest(id));
      const over = ids.filter((id) => loadOf(id) >= plan.bound);
      assert.deepEqual(plan.order, [...accepting, ...held, ...over]);
      assert.equal(plan.accepting, accepting.length);
      // the first worker tried is under the instantaneous bound (every worker a candidate)
      assert.ok(loadOf(plan.order[0] as string) < plan.bound);
      assert.equal(plan.skipped, ids.indexOf(plan.order[0] as string));
      // not every worker is held: some average is at most the mean
      assert.ok(ids.some((id) => !heldTest(id)));
    }),
    { numRuns: 500 },
  );
});

test('a hot home sheds just enough to hold its average near c × the mean, and keeps bursts', () => {
  // two workers, a steady stream that prefers w1: one request arrives every 100 ms and runs
  // 1 s (10 in flight); the rule without `held` keeps w1 at the integer bound
  const run = (useHeld: boolean): { avg1: number; avg2: number } => {
    const s = new SustainedLoad({ c: 1.2, windowMs: 5_000 });
    const load = [0, 0];
    const ends: Array<{ at: number; w: number }> = [];
    s.membership([{ id: 'w0', load: 0 }, { id: 'w1', load: 0 }], 0);
    const integral = [0, 0];
    let last = 0;
    const advance = (t: number): void => {
      integral[0]! += load[0]! * (t - last);
      integral[1]! += load[1]! * (t - last);
      last = t;
    };
    for (let t = 0; t < 120_000; t += 100) {
      for (let e = ends.findIndex((x) => x.at <= t); e !== -1; e = ends.findIndex((x) => x.at <= t)) {
        const { at, w } = ends.splice(e, 1)[0]!;
        advance(at);
        load[w]!--;
        s.changed(`w${w}`, load[w]!, at);
      }
      advance(t);
      const plan = planSpill({ candidates: ['w0', 'w1'], loadOf: (id) => load[Number(id.slice(1))]!, totalLoad: load[0]! + load[1]!, workerCount: 2, c: 1.25, ...(useHeld ? { held: s.heldAt(t) } : {}) });
      const w = Number(plan.order[0]!.slice(1));
      load[w]!++;
      s.changed(`w${w}`, load[w]!, t);
      ends.push({ at: t + 1000, w });
      ends.sort((a, b) => a.at - b.at);
    }
    advance(120_000);
    return { avg1: integral[0]! / 120_000, avg2: integral[1]! / 120_000 };
  };
  const plain = run(false);
  const held = run(true);
  const ratio = (r: { avg1: number; avg2: number }): number => Math.max(r.avg1, r.avg2) / ((r.avg1 + r.avg2) / 2);
  // without it w0 sits at ceil(1.25 × 11 / 2) = 7: 1.4 × the mean of 5
  assert.ok(ratio(plain) > 1.3, `plain ${ratio(plain)}`);
  assert.ok(ratio(held) < 1.25, `held ${ratio(held)}`);
  assert.ok(ratio(held) > 1.05, `the home still takes more than its share: ${ratio(held)}`);
});

test('options are checked', () => {
  assert.throws(() => new SustainedLoad({ c: 0.9 }), RangeError);
  assert.throws(() => new SustainedLoad({ c: 1.2, windowMs: 0 }), RangeError);
});

test('ExecutionTimes: the worked example, unknown keys, the key bound', async () => {
  const { ExecutionTimes } = await import('../index.ts');
  const t = new ExecutionTimes({ alpha: 0.25, maxKeys: 2 });
  assert.equal(t.expectedMs('f'), undefined);
  t.observe('f', 1000);
  t.observe('f', 3000);
  assert.equal(t.expectedMs('f'), 1500);
  t.observe('g', 10);
  t.observe('f', 1500); // f observed last: g is the oldest
  t.observe('h', 20);
  assert.equal(t.size, 2);
  assert.equal(t.expectedMs('g'), undefined);
  assert.equal(t.expectedMs('f'), 1500);
  assert.throws(() => new ExecutionTimes({ alpha: 0 }), RangeError);
});

test('requestShare and heldAt: a request expected to run a whole window counts as one more request', () => {
  const s = new SustainedLoad({ c: 1.25, windowMs: 10_000 });
  assert.equal(s.requestShare(2_500), 0.25);
  assert.equal(s.requestShare(600_000), 1);
  s.membership([{ id: 'a', load: 2 }, { id: 'b', load: 2 }], 0);
  // both average 2 (= the mean): under 1.25 × 2 = 2.5 alone, over it with a long request
  assert.equal(s.heldAt(1_000)('a'), false);
  assert.equal(s.heldAt(1_000, s.requestShare(2_000))('a'), false);
  assert.equal(s.heldAt(1_000, s.requestShare(60_000))('a'), true);
  assert.equal(s.requestShare(undefined), 1, 'not known yet: a whole request');
});

test('withCurrent: a worker whose load just rose is held before its average follows', () => {
  for (const withCurrent of [false, true]) {
    const s = new SustainedLoad({ c: 1.25, windowMs: 10_000, withCurrent });
    s.membership([{ id: 'a', load: 1 }, { id: 'b', load: 1 }, { id: 'c', load: 1 }], 0);
    s.changed('a', 3, 60_000); // a burst of two long requests on a
    // a second later a's average is still 1.19 (threshold 1.25 × 1.06 = 1.33); its load is 3
    const held = s.heldAt(61_000);
    assert.equal(held('a'), withCurrent, `withCurrent ${withCurrent}`);
    // asked on the averages alone (warm first's home slack), whatever the option
    assert.equal(s.heldAt(61_000, 0, false)('a'), false, `withCurrent ${withCurrent}, averages alone`);
  }
});

test('the floor: a worker averaging floorLoad or less is never held, whatever its load now or the request', () => {
  const s = new SustainedLoad({ c: 1.25, windowMs: 30_000, withCurrent: true });
  s.membership([{ id: 'a', load: 0 }, { id: 'b', load: 0 }], 0);
  s.changed('a', 3, 1_000); // a burst of three on a, a second old at 2 s: a averages 0.1
  const held = s.heldAt(2_000, s.requestShare(undefined));
  assert.equal(held('a'), false, 'at the start of a burst the instantaneous bound alone decides');
  // 60 s later a averages ~2.6 (> the floor) and its load is 3: held for a long request
  assert.equal(s.heldAt(61_000, 1)('a'), true);
});
