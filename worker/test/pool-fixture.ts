/**
 * What the pool tests share: a pool factory bound to one runtime whose pools are closed (and
 * the runtime too) after the suite, and the assertions on results and refusals.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { isRfError } from '../../errors/index.ts';
import { ContainerPool, type PoolOptions } from '../pool/index.ts';
import type { InvocationResult } from '../invoke.ts';
import type { ContainerRuntime } from '../runtime.ts';
import { quietLogger } from './worker-fixtures.ts';

/**
 * Registers the suite's before/after hooks on `runtime` (call inside describe()) and answers a
 * factory of pools over it: `defaults` then each test's own options.
 */
export function poolSuite(runtime: ContainerRuntime, defaults: Partial<PoolOptions> = {}): (options?: Partial<PoolOptions>) => ContainerPool {
  const pools: ContainerPool[] = [];
  before(() => runtime.prepare());
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await runtime.close();
  });
  return (options = {}) => {
    const pool = new ContainerPool({ workerId: `pool-test-${process.pid}`, runtime, capacityMb: 2048, coldPoolSize: 0, logger: quietLogger(), ...defaults, ...options });
    pools.push(pool);
    return pool;
  };
}

/** The result, which must be a success. */
export function ok(result: InvocationResult): Extract<InvocationResult, { state: 'ok' }> {
  if (result.state !== 'ok') assert.fail(`expected ok, got ${result.error.code}: ${result.error.message}`);
  return result;
}

/** Fails unless `promise` rejects with an RfError of `code`. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isRfError(err), `expected an RfError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}
