/**
 * The pool's bounds against real ProcessRuntime containers: a load that never finishes is a
 * 504 within the function's timeout and frees its container; a caller that leaves withdraws
 * its queued claim; a drain with a stuck execution ends within its bound; a container
 * answering without end is cut off at the output bound and destroyed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isRfError } from '../../errors/index.ts';
import { invokeOnPool } from '../invoke.ts';
import { CountingRuntime, poolFn, testProcessRuntime } from './worker-fixtures.ts';
import { poolSuite } from './pool-fixture.ts';

describe('ContainerPool containment (process runtime)', () => {
  const runtime = new CountingRuntime(testProcessRuntime());
  const makePool = poolSuite(runtime, { capacityMb: 1024 });

  test('a module whose top level never ends: 504 RF_WORKER_INVOKE_TIMEOUT (phase load), container removed, memory returned', async () => {
    const pool = makePool();
    const fn = poolFn('for (;;) {}\nmodule.exports = () => 1;', { timeoutMs: 1000 });
    const started = performance.now();
    await assert.rejects(invokeOnPool(pool, fn, Buffer.from('{}')), (err: unknown) => {
      assert.ok(isRfError(err));
      assert.equal(err.code, 'RF_WORKER_INVOKE_TIMEOUT');
      assert.equal(err.status, 504);
      assert.equal(err.details?.phase, 'load');
      return true;
    });
    assert.ok(performance.now() - started < 1000 + 15_000);
    assert.equal(pool.reservedMb, 0, 'its memory is returned at once');
    assert.equal(pool.containerCount, 0);
  });

  test('a caller that leaves withdraws its queued claim: RF_WORKER_REQUEST_CANCELLED, nothing queued', async () => {
    const pool = makePool({ capacityMb: 128 });
    const fn = poolFn('module.exports = () => 1;');
    const held = await pool.acquire(fn);
    const left = new AbortController();
    const waiting = pool.acquire(fn, { waitMs: 60_000, signal: left.signal });
    assert.equal(pool.queued, 1);
    left.abort();
    await assert.rejects(waiting, (err: unknown) => isRfError(err) && err.code === 'RF_WORKER_REQUEST_CANCELLED');
    assert.equal(pool.queued, 0);
    assert.equal(pool.load, 1);
    pool.release(held);
  });

  test('a drain with an execution stuck in an endless loop ends within its bound and removes it', async () => {
    const pool = makePool({ drainTimeoutMs: 300 });
    const fn = poolFn('module.exports = () => { for (;;) {} };', { timeoutMs: 600_000 });
    const running = invokeOnPool(pool, fn, Buffer.from('{}'));
    while (pool.busy === 0) await new Promise((r) => setTimeout(r, 20));
    const started = performance.now();
    await pool.drain();
    assert.ok(performance.now() - started < 300 + 10_000);
    assert.equal(pool.containerCount, 0);
    assert.equal(pool.reservedMb, 0);
    const result = await running;
    assert.equal(result.state, 'error');
  });

  test('a container answering without end is cut at the output bound: RF_FUNCTION_OUTPUT_TOO_LARGE, container destroyed', async () => {
    const pool = makePool({ maxOutputBytes: 64 * 1024 });
    const fn = poolFn(`
      const http = require('node:http');
      const end = http.ServerResponse.prototype.end;
      const writeHead = http.ServerResponse.prototype.writeHead;
      let armed = false;
      http.ServerResponse.prototype.writeHead = function (...args) { return armed ? this : writeHead.apply(this, args); };
      http.ServerResponse.prototype.end = function () {
        if (!armed) return end.apply(this, arguments);
        const res = this;
        res.removeHeader('content-length');
        writeHead.call(res, 200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(1 << 16, 0x61);
        let sent = 0;
        res.on('error', () => {});
        const pump = () => { while (sent < (64 << 20)) { sent += chunk.length; if (!res.write(chunk)) { res.once('drain', pump); return; } } end.call(res); };
        pump();
      };
      module.exports = () => { armed = true; return 1; };`);
    const result = await invokeOnPool(pool, fn, Buffer.from('{}'));
    assert.equal(result.state, 'error');
    assert.equal(result.state === 'error' ? result.error.code : '', 'RF_FUNCTION_OUTPUT_TOO_LARGE');
    assert.equal(pool.containerCount, 0, 'the container was destroyed');
    assert.equal(pool.reservedMb, 0);
  });
});
