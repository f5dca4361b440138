import { test } from 'node:test';
import assert from 'node:assert/strict';
import { histogram, median, percentile, summarizeStage, type Sample } from '../load/stats.ts';
import { parseInvokeBody } from '../load/client.ts';

test('percentile uses the nearest rank', () => {
  const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentile(values, 50), 5);
  assert.equal(percentile(values, 90), 9);
  assert.equal(percentile(values, 99), 10);
  assert.equal(percentile(values, 100), 10);
  assert.equal(percentile([7], 50), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('median of odd and even counts, unsorted input', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test('histogram counts every value once', () => {
  const buckets = histogram([0, 1, 2, 3, 4, 5, 6, 7, 8, 10], 5);
  assert.equal(buckets.length, 5);
  assert.equal(buckets.reduce((n, b) => n + b.count, 0), 10);
  assert.equal(buckets[0]?.fromMs, 0);
  assert.equal(buckets[4]?.toMs, 10);
  assert.deepEqual(histogram([], 3), []);
});

test('summarizeStage: throughput, percentiles, instances, cold starts, errors', () => {
  const ok = (latencyMs: number, instanceId: string, start?: string): Sample => ({
    atMs: 0,
    latencyMs,
    status: 200,
    instanceId,
    worker: 'w1',
    functionMs: 0.1,
    ...(start === undefined ? {} : { start }),
  });
  const seen = new Set<string>();
  const first = summarizeStage([ok(10, 'a', 'cold-pool'), ok(2, 'a', 'warm'), ok(3, 'a', 'warm'), { atMs: 1, latencyMs: 1, status: 429, error: 'RF_WORKER_AT_CAPACITY' }], 1, 2000, seen);
  assert.equal(first.requests, 4);
  assert.equal(first.errors, 1);
  assert.equal(first.throughputRps, 1.5);
  assert.equal(first.p50Ms, 3);
  assert.equal(first.maxMs, 10);
  assert.equal(first.instances, 1);
  assert.equal(first.newInstances, 1);
  assert.equal(first.coldStarts, 1);
  assert.deepEqual(first.workers, { w1: 3 });
  assert.deepEqual(first.errorCodes, { RF_WORKER_AT_CAPACITY: 1 });
  assert.equal(first.functionP50Ms, 0.1);
  // Without start headers (a foreign platform) a cold start is an instance not seen before.
  const second = summarizeStage([ok(1, 'a'), ok(1, 'b'), ok(1, 'b')], 2, 1000, seen);
  assert.equal(second.coldStarts, 1);
  assert.equal(second.newInstances, 1);
  assert.equal(second.instances, 2);
});

test('parseInvokeBody reads the seed answer, a bare output and an error', () => {
  assert.deepEqual(parseInvokeBody('{"output":{"instanceId":"x","durationMs":0.5},"logs":{}}'), { instanceId: 'x', durationMs: 0.5 });
  assert.deepEqual(parseInvokeBody('{"instanceId":"y"}'), { instanceId: 'y' });
  assert.deepEqual(parseInvokeBody('{"error":{"code":"RF_X","message":"m"}}'), { errorCode: 'RF_X' });
  assert.deepEqual(parseInvokeBody('not json'), {});
});
