/**
 * What every `ringfaas bench <scenario>` command does around its scenario: start the target
 * launcher when the scenario needs one (Ctrl-C closes it), show progress, record the result
 * (JSON, Markdown, HTML, and docs/benchmarks.md unless --no-docs), print the summary and the
 * files, and on failure print the coded error and exit non-zero.
 */
import { join } from 'node:path';
import { isRfError } from '../errors/index.ts';
import { repositoryRoot } from './platform/children.ts';
import type { PlatformSettings, TargetLauncher } from './platform/targets.ts';
import { createProgress, type Progress } from './report/progress.ts';
import type { ScenarioOutput } from './report/result.ts';
import { recordRun } from './run.ts';
import { reproduceCommand } from './reproduce.ts';

export interface ScenarioCommand {
  scenario: string;
  resultsDir: string;
  /** Regenerate docs/benchmarks.md. */
  docs: boolean;
  /** The platform of a platform scenario: recorded with the result; its component logs are named. */
  settings?: PlatformSettings;
  /** Start a TargetLauncher on `settings` for the scenario. */
  launcher?: boolean;
  /** Planned seconds of the progress display; none without. */
  progressSeconds?: number;
}

/** What the scenario's body is given. */
export interface ScenarioContext {
  /** Set when `launcher` was asked for. */
  launcher: TargetLauncher | undefined;
  progress: Progress;
}

const NO_PROGRESS: Progress = { update: () => undefined, note: () => undefined, stop: () => undefined };

/** Runs one scenario command (see the header). */
export async function runScenarioCommand(command: ScenarioCommand, body: (context: ScenarioContext) => Promise<ScenarioOutput>): Promise<void> {
  const { scenario, settings } = command;
  // Platform code is loaded only when a scenario runs, so `ringfaas --help` stays light.
  const launcher = command.launcher === true && settings !== undefined ? new (await import('./platform/targets.ts')).TargetLauncher(settings) : undefined;
  const stopOnSignal = (): void => {
    void launcher?.close().finally(() => process.exit(130));
  };
  if (launcher !== undefined) process.once('SIGINT', stopOnSignal);
  const logs = settings === undefined ? '' : `component logs: ${settings.logDir}\n`;
  try {
    const { files, result } = await recordRun(
      {
        scenario,
        reproduce: reproduceCommand(process.argv, process.env),
        resultsDir: command.resultsDir,
        ...(command.docs ? { docPath: join(repositoryRoot, 'docs', 'benchmarks.md') } : {}),
      },
      async () => {
        const progress = command.progressSeconds === undefined ? NO_PROGRESS : createProgress(command.progressSeconds);
        let output: ScenarioOutput;
        try {
          output = await body({ launcher, progress });
        } finally {
          progress.stop();
        }
        if (settings === undefined) return output;
        const { workers, workerMemoryMb, coldPoolSize, runtime, functionMemoryMb, layout } = settings;
        return { ...output, settings: { ...output.settings, platform: { layout: layout ?? 'processes', runtime, workers, workerMemoryMb, coldPoolSize, functionMemoryMb } } };
      },
    );
    process.stdout.write(`${result.summary.map((s) => `  ${s}`).join('\n')}\n`);
    process.stdout.write(`results: ${files.json}\n         ${files.markdown}\n         ${files.html}\n`);
    process.stdout.write(logs);
  } catch (err: unknown) {
    process.stderr.write(`bench ${scenario} failed: ${isRfError(err) ? `${err.code}: ` : ''}${err instanceof Error ? err.message : String(err)}\n`);
    process.stderr.write(logs);
    process.exitCode = 1;
  } finally {
    process.off('SIGINT', stopOnSignal);
    await launcher?.close();
  }
}
