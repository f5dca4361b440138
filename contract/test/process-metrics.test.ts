/**
 * The process metrics every component serves (contract/process-metrics.ts): prom-client's
 * defaults are registered, the event-loop delay among them, and docs/operations.md states the
 * sample period the code uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { EVENT_LOOP_SAMPLE_MS, collectProcessMetrics } from '../index.ts';

test('collectProcessMetrics registers the default process metrics, event-loop delay included', async () => {
  const registry = new Registry();
  collectProcessMetrics(registry);
  const text = await registry.metrics();
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
    assert.match(text, new RegExp(`^${name} `, 'm'), name);
  }
});

test('the event loop is sampled more coarsely than prom-client\'s 10 ms, and docs/operations.md says how often', () => {
  assert.ok(EVENT_LOOP_SAMPLE_MS >= 50, 'a 10 ms timer wakes every idle process 100 times a second');
  const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  assert.match(doc, new RegExp(`event-loop delay is sampled every ${EVENT_LOOP_SAMPLE_MS} ms`));
});
