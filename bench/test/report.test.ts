import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { renderMarkdown } from '../report/markdown.ts';
import { renderHtml } from '../report/html.ts';
import { niceTicks, renderChart } from '../report/svg.ts';
import { latestResults, readResult, writeResult } from '../report/files.ts';
import { collectEnvironment } from '../report/environment.ts';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { markedSections, renderBenchmarksDoc, writeBenchmarksDoc } from '../report/docs.ts';
import type { BenchResult } from '../report/result.ts';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function fixture(scenario: string, startedAt: string): BenchResult {
  return {
    scenario,
    title: `Fixture ${scenario}`,
    startedAt,
    finishedAt: startedAt,
    environment: { node: 'v20.0.0', platform: 'linux', arch: 'x64', cpuModel: 'Test CPU', cpuCount: 2, totalMemoryMb: 1024, gitSha: 'abcdef1234567890', gitDirty: false, hostname: 'h' },
    settings: { stages: [1, 2] },
    reproduce: `ringfaas bench ${scenario}`,
    summary: ['ratio 1.5 <met>'],
    tables: [{ title: 'Stages', columns: ['callers', 'req/s', 'note'], rows: [[1, 123.456, 'a|b'], [2, 0.01234, null]] }],
    charts: [
      { title: 'Throughput', kind: 'line', xLabel: 'callers', yLabel: 'req/s', series: [{ name: 'ringfaas', points: [[1, 100], [2, 180]] }], marker: { axis: 'x', value: 1.5, label: 'm' } },
      { title: 'Bars', kind: 'bar', xLabel: 'round', yLabel: 'req/s', series: [{ name: 'a', points: [[1, 3]] }, { name: 'b', points: [[1, 4]] }] },
    ],
    raw: { any: true },
  };
}

test('Markdown has the title, environment, summary and a well-formed table', () => {
  const md = renderMarkdown(fixture('concurrency', '2025-01-01T00:00:00.000Z'));
  assert.match(md, /^# Fixture concurrency/);
  assert.match(md, /Node v20\.0\.0 .* 2 × Test CPU/);
  assert.match(md, /- ratio 1\.5 <met>/);
  assert.match(md, /\| callers \| req\/s \| note \|\n\|---\|---\|---\|\n\| 1 \| 123\.5 \| a\\\|b \|\n\| 2 \| 0\.0123 \| – \|/);
  assert.match(md, /Reproduce: `ringfaas bench concurrency`/);
});

test('HTML is self-contained with inline SVG charts and escaped text', () => {
  const html = renderHtml(fixture('compare', '2025-01-01T00:00:00.000Z'));
  assert.match(html, /^<!doctype html>/);
  assert.equal((html.match(/<svg /g) ?? []).length, 2);
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/);
  assert.match(html, /ratio 1\.5 &lt;met&gt;/);
  assert.match(html, /<table>/);
});

test('charts: nice ticks cover the maximum; every series is drawn', () => {
  assert.deepEqual(niceTicks(9), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0), [0, 1]);
  const svg = renderChart({ title: 't', kind: 'line', xLabel: 'x', yLabel: 'y', series: [{ name: 's1', points: [[1, 1], [2, 2]] }, { name: 's2', points: [[1, 3]] }] });
  assert.match(svg, /<path d="M/);
  assert.equal((svg.match(/<circle /g) ?? []).length, 3);
  assert.doesNotMatch(svg, /__[YH]\(/);
  const bars = renderChart({ title: 'b', kind: 'bar', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [[0, 1], [1, 2]] }] });
  assert.equal((bars.match(/<rect [^>]*><title>/g) ?? []).length, 2);
});

test('result files are written, read back, and the latest per scenario feeds docs/benchmarks.md', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rf-bench-report-'));
  dirs.push(dir);
  const older = await writeResult(dir, fixture('compare', '2025-01-01T00:00:00.000Z'));
  await writeResult(dir, { ...fixture('compare', '2025-01-02T00:00:00.000Z'), summary: ['newest'] });
  await writeResult(dir, fixture('backoff', '2025-01-01T00:00:00.000Z'));
  await writeFile(join(dir, 'junk.json'), '{"not":"a result"}');
  assert.match(older.json, /2025-01-01T00-00-00-000Z-compare\.json$/);
  assert.match(await readFile(older.markdown, 'utf8'), /# Fixture compare/);
  assert.match(await readFile(older.html, 'utf8'), /<svg /);
  assert.equal((await readResult(older.json)).scenario, 'compare');
  await assert.rejects(readResult(join(dir, 'junk.json')), { code: 'RF_BENCH_RESULT_INVALID' });
  const latest = await latestResults(dir);
  assert.deepEqual([...latest.keys()].sort(), ['backoff', 'compare']);
  assert.deepEqual(latest.get('compare')?.summary, ['newest']);
  const doc = renderBenchmarksDoc(latest, '## Analysis\n\nprofile notes');
  assert.ok(doc.indexOf('## Fixture compare') < doc.indexOf('## Fixture backoff'), 'compare comes first');
  assert.match(doc, /## Reproduce/);
  assert.match(doc, /## Analysis\n\nprofile notes/);
  const docPath = join(dir, 'benchmarks.md');
  await writeBenchmarksDoc(docPath, latest, join(dir, 'missing-analysis.md'));
  assert.match(await readFile(docPath, 'utf8'), /- newest/);
  assert.deepEqual(await latestResults(join(dir, 'nope')), new Map());
});

test('a run regenerates its own section and keeps the sections of scenarios with no result (bench/results/ is not in the repository)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rf-bench-doc-'));
  dirs.push(dir);
  const docPath = join(dir, 'benchmarks.md');
  const earlier = new Map([
    ['compare', { ...fixture('compare', '2025-01-01T00:00:00.000Z'), summary: ['old compare'] }],
    ['soak', { ...fixture('soak', '2025-01-01T00:00:00.000Z'), summary: ['soak from another machine'] }],
  ]);
  await writeBenchmarksDoc(docPath, earlier);
  await writeBenchmarksDoc(docPath, new Map([['compare', { ...fixture('compare', '2025-02-01T00:00:00.000Z'), summary: ['new compare'] }]]));
  const doc = await readFile(docPath, 'utf8');
  assert.match(doc, /- new compare/);
  assert.doesNotMatch(doc, /old compare/);
  assert.match(doc, /- soak from another machine/, 'the soak section is kept');
  assert.equal(doc.match(/## Fixture soak/g)?.length, 1);
  assert.ok(doc.indexOf('## Fixture compare') < doc.indexOf('## Fixture soak'));
  assert.deepEqual([...markedSections(doc).keys()], ['compare', 'soak']);
});

test('docs/benchmarks.md is what a regeneration with no new result writes: intro, bench/analysis.md verbatim, every section marked', async () => {
  const root = resolve(import.meta.dirname, '..', '..');
  const doc = await readFile(join(root, 'docs', 'benchmarks.md'), 'utf8');
  const analysis = await readFile(join(root, 'bench', 'analysis.md'), 'utf8');
  const kept = markedSections(doc);
  assert.ok(kept.size >= 10, `${kept.size} marked sections`);
  assert.equal(renderBenchmarksDoc(new Map(), analysis, kept), doc);
});

test('a tree whose only change is docs/benchmarks.md (every run rewrites it) is not reported as changed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rf-bench-env-'));
  dirs.push(dir);
  const git = (...args: string[]): string => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir, encoding: 'utf8' });
  git('init', '-q');
  await mkdir(join(dir, 'docs'));
  await writeFile(join(dir, 'docs', 'benchmarks.md'), 'a\n');
  await writeFile(join(dir, 'code.ts'), 'a\n');
  git('add', '.');
  git('commit', '-qm', 'c');
  assert.equal(collectEnvironment(dir).gitDirty, false);
  await writeFile(join(dir, 'docs', 'benchmarks.md'), 'b\n');
  assert.equal(collectEnvironment(dir).gitDirty, false, 'the doc the run rewrites');
  await writeFile(join(dir, 'code.ts'), 'b\n');
  assert.equal(collectEnvironment(dir).gitDirty, true, 'a changed source file');
});
