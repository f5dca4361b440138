/**
 * The heartbeat over the real in-memory membership store and an injected clock: the row, its
 * refresh, draining, removal; failures are survived, and a lapse past the TTL fires onStale.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryMembershipStore } from '../../storage/index.ts';
import type { MembershipStore, WorkerRow, WorkerState } from '../../storage/types.ts';
import { RfError } from '../../errors/index.ts';
import { StorageErrors } from '../../storage/errors.ts';
import { ManualClock } from '../clock.ts';
import { Heartbeat } from '../heartbeat.ts';
import { quietLogger } from './worker-fixtures.ts';

/** A real membership store whose writes can be made to fail (storage outage). */
class FlakyMembership implements MembershipStore {
  failing = false;
  readonly inner = new MemoryMembershipStore();
  #check(): void {
    if (this.failing) throw new RfError(StorageErrors.UNAVAILABLE, 'storage is down');
  }
  async upsert(row: WorkerRow): Promise<void> {
    this.#check();
    return this.inner.upsert(row);
  }
  get(id: string): Promise<WorkerRow | undefined> {
    return this.inner.get(id);
  }
  list(): Promise<WorkerRow[]> {
    return this.inner.list();
  }
  async setState(id: string, state: WorkerState): Promise<void> {
    this.#check();
    return this.inner.setState(id, state);
  }
  async remove(id: string): Promise<boolean> {
    this.#check();
    return this.inner.remove(id);
  }
}

function setup() {
  const clock = new ManualClock();
  const membership = new FlakyMembership();
  let stale = 0;
  const hb = new Heartbeat({
    membership,
    row: { id: 'w1', address: 'http://127.0.0.1:1', capacityMb: 2048 },
    intervalMs: 1000,
    ttlMs: 5000,
    logger: quietLogger(),
    clock,
    scheduler: clock,
    onStale: () => stale++,
  });
  return { clock, membership, hb, stale: () => stale };
}

describe('Heartbeat', () => {
  test('registers at start, refreshes on the interval, marks draining, removes the row on stop', async () => {
    const { clock, membership, hb } = setup();
    await hb.start();
    const row = await membership.get('w1');
    assert.deepEqual({ ...row }, { id: 'w1', address: 'http://127.0.0.1:1', capacityMb: 2048, state: 'active', heartbeatAt: clock.now(), startedAt: clock.now() });
    const startedAt = clock.now();
    clock.advance(1000);
    await hb.beat();
    assert.equal((await membership.get('w1'))?.heartbeatAt, startedAt + 1000);
    assert.equal((await membership.get('w1'))?.startedAt, startedAt);
    await hb.setDraining();
    assert.equal((await membership.get('w1'))?.state, 'draining');
    await hb.stop();
    assert.equal(await membership.get('w1'), undefined);
    assert.equal(clock.pendingTimers, 0, 'no timer left behind');
  });

  test('failures are logged, never thrown; past the TTL onStale fires once, and again on recovery', async () => {
    const { clock, membership, hb, stale } = setup();
    await hb.start();
    membership.failing = true;
    clock.advance(4000);
    await hb.beat();
    assert.equal(stale(), 0, 'within the TTL');
    clock.advance(2000);
    await hb.beat();
    assert.equal(stale(), 1, 'past the TTL');
    clock.advance(3000);
    await hb.beat();
    assert.equal(stale(), 1, 'once while it lasts');
    membership.failing = false;
    await hb.beat();
    assert.equal(stale(), 2, 'once more when back on the rings');
    assert.equal((await membership.get('w1'))?.heartbeatAt, clock.now());
    membership.failing = true;
    await hb.stop(); // a failing removal is survived too
  });
});
