/**
 * Seconds-long smoke runs of the scenarios against real components (Azurite, child-process
 * routers and workers on the process runtime, Redis), checking the files they write and their
 * shape. No timing assertions: the figures themselves are the benchmarks' business.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisAvailable, skipUnless, testRedisUrl } from '../../testing/services.ts';
import { TargetLauncher, parseTarget, type PlatformSettings } from '../platform/targets.ts';
import { recordRun } from '../run.ts';
import { silentProgress } from '../report/progress.ts';
import { runConcurrency } from '../scenarios/concurrency.ts';
import { runBackoff } from '../scenarios/backoff.ts';
import { runCompare } from '../scenarios/compare.ts';
import { runBurst, startsAfterFullBurst, type BurstRun } from '../scenarios/burst.ts';
import type { BenchResult } from '../report/result.ts';

const skipRedis = skipUnless(await redisAvailable(), 'Redis', `nothing answers at ${testRedisUrl()}`);
let dir: string;
let launcher: TargetLauncher;

function settings(extra: Partial<PlatformSettings> = {}): PlatformSettings {
  return {
    workers: 1,
    workerMemoryMb: 1024,
    coldPoolSize: 1,
    runtime: 'process',
    functionMemoryMb: 128,
    limitContainers: 2,
    redisUrl: testRedisUrl(),
    logDir: join(dir, 'logs'),
    logLevel: 'warn',
    readyTimeoutMs: 60_000,
    // One process per platform on in-memory stores: runs without Azure storage, and fast.
    layout: 'shared',
    ...extra,
  };
}

async function checkFiles(files: { json: string; markdown: string; html: string }, scenario: string): Promise<BenchResult> {
  const result = JSON.parse(await readFile(files.json, 'utf8')) as BenchResult;
  assert.equal(result.scenario, scenario);
  assert.equal(result.environment.node, process.version);
  assert.ok(result.environment.cpuCount >= 1);
  assert.match(result.environment.gitSha, /^([0-9a-f]{40}|unknown)$/);
  assert.ok(result.tables.length > 0 && result.charts.length > 0);
  assert.match(await readFile(files.markdown, 'utf8'), new RegExp(`^# ${result.title.replace(/[()]/g, '.')}`));
  const html = await readFile(files.html, 'utf8');
  assert.match(html, /<svg /);
  assert.doesNotMatch(html, /<script/);
  return result;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rf-bench-smoke-'));
  launcher = new TargetLauncher(settings());
});

after(async () => {
  await launcher?.close();
  await rm(dir, { recursive: true, force: true });
});

test('concurrency: stages [1, 2] × 1 s against ringfaas and redis-design', { skip: skipRedis }, async () => {
  const { files, result } = await recordRun({ scenario: 'concurrency', reproduce: 'test', resultsDir: dir }, () =>
    runConcurrency({ targets: [parseTarget('ringfaas'), parseTarget('redis-design')], stages: [1, 2], stageMs: 1000, launcher, progress: silentProgress }),
  );
  await checkFiles(files, 'concurrency');
  const raw = result.raw as { targets: Array<{ target: string; stages: Array<{ concurrency: number; requests: number; errors: number }> }> };
  assert.deepEqual(raw.targets.map((t) => t.target), ['ringfaas', 'redis-design']);
  for (const t of raw.targets) {
    assert.deepEqual(t.stages.map((s) => s.concurrency), [1, 2]);
    assert.ok(t.stages.every((s) => s.requests > 0), `${t.target} answered in every stage`);
    assert.equal(t.stages.reduce((n, s) => n + s.errors, 0), 0, `${t.target} without errors`);
  }
  // The summary reads issue 12's target: throughput at the most callers against the peak.
  for (const line of result.summary) assert.match(line, /at 2 callers \d+ req\/s, [01]\.\d{3} of the peak \(target ≥ 0\.9: (met|NOT met)\)/);
});

test('backoff: a gap beyond the scaled idle timeout finds its container expired', async () => {
  const backoffLauncher = new TargetLauncher(settings({ idleTimeoutMs: 1000 }));
  try {
    const { files, result } = await recordRun({ scenario: 'backoff', reproduce: 'test', resultsDir: dir }, () =>
      // scale 900: idle timeout 1 s; gaps of 1 and 30 seed minutes = 67 ms and 2 s
      runBackoff({ target: parseTarget('ringfaas'), gapsMinutes: [1, 30], timeScale: 900, launcher: backoffLauncher, progress: silentProgress }),
    );
    await checkFiles(files, 'backoff');
    const raw = result.raw as { idleTimeoutMs: number; gaps: Array<{ gapMinutes: number; cold: boolean; expectedExpired: boolean; status: number }> };
    assert.equal(raw.idleTimeoutMs, 1000);
    assert.deepEqual(raw.gaps.map((g) => [g.gapMinutes, g.status, g.expectedExpired]), [[1, 200, false], [30, 200, true]]);
    assert.equal(raw.gaps[1]?.cold, true, 'the container expired during the long gap');
  } finally {
    await backoffLauncher.close();
  }
});

test('compare: a warm-up round, then 1 round of stages [2, 2] × 1 s, with ratios', { skip: skipRedis }, async () => {
  const { files, result } = await recordRun({ scenario: 'compare', reproduce: 'test', resultsDir: dir }, () =>
    runCompare({ targets: ['ringfaas', 'redis-design', 'limit'].map(parseTarget), rounds: 1, warmupRounds: 1, stages: [2, 2], stageMs: 1000, launcher, progress: silentProgress }),
  );
  await checkFiles(files, 'compare');
  const raw = result.raw as { checks: Array<{ name: string; value: number | null; met: boolean | null }>; missed: string[]; summaries: Array<{ target: string; throughputRps: number }> };
  assert.deepEqual(raw.summaries.map((s) => s.target).sort(), ['limit', 'redis-design', 'ringfaas']);
  const rounds = (raw.summaries as unknown as Array<{ rounds: Array<{ round: number }> }>).map((s) => s.rounds.map((r) => r.round));
  assert.deepEqual(rounds, [[1], [1], [1]], 'the warm-up round is not counted');
  // Every target of issue 12 is checked; each has a value in this run but the CPU ratios, which
  // need each component in its own process (this smoke hosts a platform in one).
  assert.equal(raw.checks.length, 7);
  for (const c of raw.checks) assert.equal(typeof c.value, c.name.includes('CPU') ? 'object' : 'number', c.name);
  assert.deepEqual(raw.missed, raw.checks.filter((c) => c.met === false).map((c) => c.name));
  assert.ok(result.tables.some((t) => t.title === 'Ratios'));
});

test('burst: 2 workers, bursts of 4 calls, each burst after a fully served one starts nothing', async () => {
  const burstLauncher = new TargetLauncher(settings({ workers: 2 }));
  try {
    const { files, result } = await recordRun({ scenario: 'burst', reproduce: 'test', resultsDir: dir }, () =>
      runBurst({ launcher: burstLauncher, callers: [4], repeats: 1, bursts: 3, functionMs: 300, functionMemoryMb: 128, progress: silentProgress }),
    );
    await checkFiles(files, 'burst');
    const run = (result.raw as { runs: BurstRun[] }).runs[0] as BurstRun;
    assert.equal(run.bursts.length, 3);
    assert.equal(run.bursts.reduce((n, b) => n + b.errors, 0), 0);
    assert.ok(run.bursts.every((b) => b.containers >= 1 && b.containers <= 4));
    assert.ok(startsAfterFullBurst(run).every((n) => n === 0), JSON.stringify(run));
  } finally {
    await burstLauncher.close();
  }
});
