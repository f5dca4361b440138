/** The bounded queue window's estimate, admission and room (router/async-window.ts), on an injected clock. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueueWindow } from '../async-window.ts';

/** A queue whose depth the test sets, counting its reads. */
function fakeDepth(initial: number): { queue: { depth: () => Promise<number> }; set: (n: number) => void; reads: () => number } {
  let depth = initial;
  let reads = 0;
  return {
    queue: {
      depth: async () => {
        reads++;
        return depth;
      },
    },
    set: (n) => (depth = n),
    reads: () => reads,
  };
}

test('admits while the estimate is under the window, then parks', async () => {
  let now = 0;
  const q = fakeDepth(6);
  const window = new QueueWindow({ queue: q.queue, size: 8, clock: () => now });
  assert.equal(await window.admit(), true); // 6 read + 0 → 7
  assert.equal(await window.admit(), true); // 7 → 8
  assert.equal(await window.admit(), false); // 8: full
  assert.equal(window.takeParkedHint(), true);
  assert.equal(window.takeParkedHint(), false);
  assert.equal(q.reads(), 1, 'one read per refresh interval');
  // A second later the queue drained: read again, admitted again.
  q.set(0);
  now += 1000;
  assert.equal(await window.admit(), true);
  assert.equal(q.reads(), 2);
});

test('concurrent callers share one depth read and never admit past the window', async () => {
  const q = fakeDepth(0);
  const window = new QueueWindow({ queue: q.queue, size: 5, clock: () => 0 });
  const answers = await Promise.all(Array.from({ length: 20 }, () => window.admit()));
  assert.equal(answers.filter(Boolean).length, 5);
  assert.equal(q.reads(), 1);
});

test('room: nothing until the estimate is under half the window, then what is left', async () => {
  let now = 0;
  const q = fakeDepth(5);
  const window = new QueueWindow({ queue: q.queue, size: 10, clock: () => now });
  assert.equal(await window.room(), 0);
  q.set(3);
  now += 1000;
  assert.equal(await window.room(), 7);
  window.sent(4); // 7 estimated now: above half
  assert.equal(await window.room(), 0);
});

test('a failed depth read is the caller’s failure (accept answers 503), and the next call reads again', async () => {
  let fail = true;
  const window = new QueueWindow({
    queue: { depth: async () => (fail ? Promise.reject(new Error('queue down')) : 0) },
    size: 4,
    clock: () => 0,
  });
  await assert.rejects(window.admit(), /queue down/);
  fail = false;
  assert.equal(await window.admit(), true);
});

/** A queue whose depth reads the test answers by hand, one at a time. */
function manualDepth(): { queue: { depth: () => Promise<number> }; answer: (n: number) => void; reads: () => number } {
  const pending: Array<(n: number) => void> = [];
  let reads = 0;
  return {
    queue: {
      depth: () => {
        reads++;
        return new Promise<number>((resolve) => pending.push(resolve));
      },
    },
    answer: (n) => pending.shift()?.(n),
    reads: () => reads,
  };
}

test('messages sent while a read is in flight stay counted when it arrives', async () => {
  let now = 0;
  const q = manualDepth();
  const window = new QueueWindow({ queue: q.queue, size: 10, clock: () => now });
  const first = window.room();
  window.sent(4); // sent meanwhile: the count, asked for before, may not hold them
  q.answer(0);
  assert.equal(await first, 6, 'the 4 sent during the read are counted');
  now += 1000;
  const second = window.room();
  q.answer(4); // now the count holds them: they are not counted twice
  assert.equal(await second, 6);
});

test('a read that arrives stale (a paused process, a slow store) is read again before the feeder trusts it', async () => {
  let now = 0;
  const q = manualDepth();
  const window = new QueueWindow({ queue: q.queue, size: 10, clock: () => now });
  const room = window.room();
  // The read was asked for at 0; the answer (an empty queue then) arrives 5 s later, when the
  // queue holds 9 (another process accepted meanwhile).
  now = 5000;
  q.answer(0);
  await new Promise((r) => setImmediate(r));
  assert.equal(q.reads(), 2, 'read again');
  q.answer(9);
  assert.equal(await room, 0, 'no room on the fresh read');
  // Accept takes a stale answer as it is (it parks or admits one message, not a window).
  now = 10_000;
  const admitted = window.admit();
  now = 15_000;
  q.answer(0);
  assert.equal(await admitted, true);
  assert.equal(q.reads(), 3);
});
