/**
 * Runs one scenario and records it: times, environment, the JSON/Markdown/HTML files, and
 * (unless told not to) docs/benchmarks.md regenerated from the latest results.
 */
import { join } from 'node:path';
import { collectEnvironment } from './report/environment.ts';
import { latestResults, writeResult, type WrittenResult } from './report/files.ts';
import { writeBenchmarksDoc } from './report/docs.ts';
import type { BenchResult, ScenarioOutput } from './report/result.ts';
import { repositoryRoot } from './platform/children.ts';

export interface RecordOptions {
  scenario: string;
  /** The command line that reproduces the run. */
  reproduce: string;
  resultsDir: string;
  /** docs/benchmarks.md to regenerate (from RESULTS_DIR, the project's results); undefined = leave it. */
  docPath?: string;
}

/** The project's results (bench/results/): docs/benchmarks.md's sections are made from these (a scenario with none keeps its section). */
export const RESULTS_DIR = join(repositoryRoot, 'bench', 'results');

/** Runs `body`, writes its result files, regenerates the docs; answers the result and paths. */
export async function recordRun(options: RecordOptions, body: () => Promise<ScenarioOutput>): Promise<{ result: BenchResult; files: WrittenResult }> {
  const startedAt = new Date().toISOString();
  const output = await body();
  const result: BenchResult = {
    scenario: options.scenario,
    startedAt,
    finishedAt: new Date().toISOString(),
    environment: collectEnvironment(repositoryRoot),
    reproduce: options.reproduce,
    ...output,
  };
  const files = await writeResult(options.resultsDir, result);
  // From the project's results, never from another folder's: a run written elsewhere (a
  // scratch --results-dir) must not replace the doc's other sections with its one result.
  if (options.docPath !== undefined) await regenerateDocs(RESULTS_DIR, options.docPath);
  return { result, files };
}

/** Regenerates docs/benchmarks.md from the latest result of each scenario. */
export async function regenerateDocs(resultsDir: string, docPath: string): Promise<void> {
  await writeBenchmarksDoc(docPath, await latestResults(resultsDir), join(repositoryRoot, 'bench', 'analysis.md'));
}
