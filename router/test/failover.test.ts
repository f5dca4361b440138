/**
 * A worker killed under load: a fixture worker in a child process is killed with SIGKILL while
 * requests run. Failures are bounded to what it had in flight (each answered 502
 * RF_RING_WORKER_UNREACHABLE, never re-sent), the next requests route around it at once
 * (suspect), and the ring drops it once its heartbeat lapses.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MemoryMembershipStore } from '../../storage/index.ts';
import { RingInvoker } from '../ring-invoker.ts';
import { RingView } from '../ring-view.ts';
import { startFixtureWorker, heartbeat, quietLogger, testContext, runLoad, eventually, type FixtureWorker } from './ring-worker-fixture.ts';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('kill -9 of a worker under load: errors bounded to its in-flight requests, the ring drops it', async () => {
  const script = fileURLToPath(new URL('./ring-child-worker.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, 'victim', '16'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const firstLine = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', () => reject(new Error('child worker exited before listening')));
  });
  const victim = { id: 'victim', address: (JSON.parse(firstLine) as { address: string }).address };
  const others: FixtureWorker[] = [];
  for (const id of ['s-1', 's-2', 's-3']) others.push(await startFixtureWorker({ id, slots: 16 }));
  cleanups.push(() => Promise.all(others.map((w) => w.close())).then(() => undefined));

  const membership = new MemoryMembershipStore();
  let victimAlive = true;
  const beats = heartbeat(membership, () => (victimAlive ? [victim, ...others] : others), 100);
  cleanups.push(() => beats.stop());
  await new Promise((resolve) => setTimeout(resolve, 150));
  const view = new RingView({ membership, log: quietLogger(), pollIntervalMs: 100, ttlMs: 1000 });
  await view.start();
  const forwarder = new RingInvoker({ view, routerId: 'r' });
  cleanups.push(async () => {
    view.stop();
    await forwarder.close();
  });
  assert.equal(view.ring.size, 4);

  let hold: Promise<void> | undefined;
  let stop = false;
  let droppedAt: number | undefined;
  let okAfterDrop = 0;
  const load = runLoad({
    concurrency: 12,
    maxRequests: 20_000,
    stop: () => stop,
    gate: async () => {
      if (hold !== undefined) await hold;
    },
    send: async (i) => {
      const res = await forwarder.invoke(`fn-${i % 50}`, Buffer.from(JSON.stringify({ sleepMs: 20 })), testContext());
      if (droppedAt !== undefined && res.status === 200) okAfterDrop++;
      return res;
    },
  });
  await eventually(() => (view.describe().find((w) => w.id === 'victim')?.inFlight ?? 0) > 0, 5000, 'load on the victim');
  // New requests are held for the instant of the kill, so that "in flight at the kill" is exact.
  let release: () => void = () => undefined;
  hold = new Promise((resolve) => (release = resolve));
  const inFlightAtKill = view.describe().find((w) => w.id === 'victim')?.inFlight ?? 0;
  child.kill('SIGKILL');
  victimAlive = false;
  await exited;
  await new Promise((resolve) => setTimeout(resolve, 20));
  hold = undefined;
  release();
  await eventually(() => !view.ring.has('victim'), 10_000, 'the ring to drop the victim');
  droppedAt = Date.now();
  // The others serve on: counted, not timed (a loaded machine serves fewer per second).
  await eventually(() => okAfterDrop >= 50, 30_000, 'the others serving once the ring dropped the victim');
  stop = true;
  const result = await load;

  assert.ok(inFlightAtKill > 0);
  assert.ok(result.failures.length <= inFlightAtKill, `${result.failures.length} failures, ${inFlightAtKill} in flight at the kill`);
  for (const f of result.failures) assert.equal(f.code, 'RF_RING_WORKER_UNREACHABLE');
  assert.equal(result.failures.filter((f) => f.at > (droppedAt as number)).length, 0, 'no failure once the ring dropped it');
  assert.ok(view.isSuspect('victim') || !view.ring.has('victim'));
});
