/**
 * The heartbeat over the real in-memory membership store and an injected clock: the row, its
 * refresh, draining, removal; failures are survived, and failures are recorded as one degraded period in StorageHealth.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryMembershipStore } from '../../storage/index.ts';
import type { MembershipStore, WorkerRow, WorkerState } from '../../storage/types.ts';
import { RfError } from '../../errors/index.ts';
import { StorageErrors } from '../../storage/errors.ts';
import { ManualClock } from '../../clock/index.ts';
import { Heartbeat } from '../heartbeat.ts';
import { StorageHealth } from '../../storage/health.ts';
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
  const health = new StorageHealth({ log: quietLogger(), clock });
  const hb = new Heartbeat({
    membership,
    row: { id: 'w1', address: 'http://127.0.0.1:1', capacityMb: 2048 },
    intervalMs: 1000,
    ttlMs: 5000,
    logger: quietLogger(),
    clock,
    scheduler: clock,
    health,
  });
  return { clock, membership, hb, health };
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

  test('failures are never thrown and change nothing served: one degraded period, recorded in health, ended by a success', async () => {
    const { clock, membership, hb, health } = setup();
    await hb.start();
    assert.equal(health.degraded, false);
    membership.failing = true;
    clock.advance(1000);
    await hb.beat();
    assert.equal(health.degraded, true, 'the first failure starts the degraded period');
    const since = health.describe().degradedSince;
    clock.advance(6000);
    await hb.beat();
    await hb.beat();
    assert.equal(health.describe().degradedSince, since, 'one period while it lasts');
    assert.ok(health.describe().failures >= 3);
    membership.failing = false;
    await hb.beat();
    assert.deepEqual(health.describe(), { degraded: false, degradedSince: null, failures: 0 });
    assert.equal((await membership.get('w1'))?.heartbeatAt, clock.now());
    membership.failing = true;
    await hb.stop(); // a failing removal is survived too
  });
});
