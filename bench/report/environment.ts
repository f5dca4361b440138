/** Collects the environment a benchmark ran in (Node, CPU, git SHA). */
import { cpus, hostname, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import type { BenchEnvironment } from './result.ts';

function git(args: string[], cwd: string): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // not a git checkout (e.g. an unpacked tarball): reported as unknown
    return undefined;
  }
}

/** The environment of this process; `repoDir` is where git is asked for the SHA. */
export function collectEnvironment(repoDir: string): BenchEnvironment {
  const cpuList = cpus();
  // docs/benchmarks.md is left out: every run rewrites it, so a run after a run is not a changed tree.
  const status = git(['status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)docs/benchmarks.md'], repoDir);
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cpuCount: cpuList.length,
    totalMemoryMb: Math.round(totalmem() / 1024 / 1024),
    gitSha: git(['rev-parse', 'HEAD'], repoDir) ?? 'unknown',
    gitDirty: status !== undefined && status.length > 0,
    hostname: hostname(),
  };
}
