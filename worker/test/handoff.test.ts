/**
 * Warm hand-off (worker/handoff) with real workers (startWorker, ProcessRuntime containers,
 * in-memory stores): after a join, the moved functions that ran in the last minute start warm
 * on their new home; after a drain, the drained worker's hot functions start warm on their
 * next home. Cold starts are counted from the worker's x-ringfaas-start answer header; with no
 * hand-off each of these first calls would be a cold start (a new home holds no container).
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { Ring } from '../../ring/index.ts';
import { createMemoryStores } from '../../storage/index.ts';
import type { WorkerRow } from '../../storage/types.ts';
import { startWorker, type RunningWorker } from '../start-worker.ts';
import { WorkerHeaders } from '../../contract/index.ts';
import { Code, deploy, fnId, quietLogger, testProcessRuntime, until } from './worker-fixtures.ts';

const KEY = `h15-handoff-key-${process.pid}-0123456789abcdef`;

async function invoke(base: string, id: string): Promise<{ status: number; start: string }> {
  const res = await request(`${base}/invoke/${encodeURIComponent(id)}`, {
    method: 'POST',
    body: '{"n":1}',
    headers: { 'content-type': 'application/json', 'x-ringfaas-cluster-key': KEY },
  });
  await res.body.text();
  return { status: res.statusCode, start: String(res.headers[WorkerHeaders.start]) };
}

describe('warm hand-off between real workers', () => {
  const runtime = testProcessRuntime();
  const stores = createMemoryStores();
  const workers: RunningWorker[] = [];
  const start = async (id: string): Promise<RunningWorker> => {
    const w = await startWorker({ id, capacityMb: 4096, coldPoolSize: 1, runtime, stores, logger: quietLogger(), heartbeatMs: 200, clusterKey: KEY, warmHandoff: true, drainTimeoutMs: 5000 });
    workers.push(w);
    return w;
  };
  after(async () => {
    for (const w of workers) await w.close();
    await runtime.close();
  });

  test('join: the moved functions invoked in the last minute are warm on the new worker; drain: the hot ones are warm on their next home', async () => {
    const a = await start(`h15-ho-a-${process.pid}`);
    const ids = Array.from({ length: 12 }, () => fnId('ho'));
    for (const id of ids) await deploy(stores, id, Code.echo('ho'));
    for (const id of ids) assert.equal((await invoke(a.address, id)).status, 200);

    // join: b warms, before it registers, the functions whose home becomes b
    const b = await start(`h15-ho-b-${process.pid}`);
    const rows = (await stores.membership.list()) as WorkerRow[];
    const ring = new Ring(rows.filter((r) => r.state === 'active'));
    const moved = ids.filter((id) => ring.home(id) === b.id);
    assert.ok(moved.length > 0, 'some homes moved to the new worker');
    const joinStarts = await Promise.all(moved.map((id) => invoke(b.address, id)));
    assert.deepEqual(joinStarts.map((s) => s.status), moved.map(() => 200));
    const coldAfterJoin = joinStarts.filter((s) => s.start !== 'warm').length;
    assert.equal(coldAfterJoin, 0, `cold starts of moved functions after the join: ${coldAfterJoin} of ${moved.length}`);

    // drain: functions only b ran are warmed on a (their next home) before b leaves
    const onlyB = Array.from({ length: 4 }, () => fnId('hob'));
    for (const id of onlyB) await deploy(stores, id, Code.echo('hob'));
    for (const id of onlyB) assert.equal((await invoke(b.address, id)).status, 200);
    await b.drain();
    await until(async () => (await stores.membership.get(b.id))?.state !== 'active', 'b left the ring');
    const drainStarts = await Promise.all(onlyB.map((id) => invoke(a.address, id)));
    assert.deepEqual(drainStarts.map((s) => s.status), onlyB.map(() => 200));
    const coldAfterDrain = drainStarts.filter((s) => s.start !== 'warm').length;
    assert.equal(coldAfterDrain, 0, `cold starts of b's hot functions on a after the drain: ${coldAfterDrain} of ${onlyB.length}`);
  });
});
