/**
 * Result files: `<dir>/<ISO time>-<scenario>.json` plus `.md` and `.html` next to it, and the
 * lookup of the latest result of each scenario (for docs/benchmarks.md).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RfError } from '../../errors/index.ts';
import { BenchErrors } from '../errors.ts';
import type { BenchResult } from './result.ts';
import { renderMarkdown } from './markdown.ts';
import { renderHtml } from './html.ts';

export interface WrittenResult {
  json: string;
  markdown: string;
  html: string;
}

/** A file-name-safe ISO time: 2025-01-31T12-00-00-000Z. */
export function fileTime(iso: string): string {
  return iso.replace(/[:.]/g, '-');
}

/** Writes the JSON, Markdown and HTML of one run; answers the three paths. */
export async function writeResult(dir: string, result: BenchResult): Promise<WrittenResult> {
  await mkdir(dir, { recursive: true });
  const base = join(dir, `${fileTime(result.startedAt)}-${result.scenario}`);
  const paths = { json: `${base}.json`, markdown: `${base}.md`, html: `${base}.html` };
  await writeFile(paths.json, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(paths.markdown, renderMarkdown(result));
  await writeFile(paths.html, renderHtml(result));
  return paths;
}

function isBenchResult(v: unknown): v is BenchResult {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.scenario === 'string' &&
    typeof r.title === 'string' &&
    typeof r.startedAt === 'string' &&
    typeof r.environment === 'object' &&
    Array.isArray(r.tables) &&
    Array.isArray(r.charts) &&
    Array.isArray(r.summary)
  );
}

/** Reads and checks one result file. */
export async function readResult(path: string): Promise<BenchResult> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err: unknown) {
    throw new RfError(BenchErrors.RESULT_INVALID, `cannot read result file ${path}`, { cause: err });
  }
  if (!isBenchResult(parsed)) throw new RfError(BenchErrors.RESULT_INVALID, `${path} is not a benchmark result`);
  return parsed;
}

/** The latest result of each scenario in `dir` (by file name, which starts with the time). */
export async function latestResults(dir: string): Promise<Map<string, BenchResult>> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch (err: unknown) {
    if ((err as { code?: unknown }).code === 'ENOENT') return new Map();
    throw err;
  }
  const latest = new Map<string, BenchResult>();
  for (const name of names) {
    let result: BenchResult;
    try {
      result = await readResult(join(dir, name));
    } catch {
      continue; // a foreign or half-written file in the results folder is not a result
    }
    latest.set(result.scenario, result);
  }
  return latest;
}
