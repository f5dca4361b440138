/**
 * Child processes of a benchmark: the platform's own mains (router/main.ts, worker/main.ts)
 * and the bench's (bench/platform/child-main.ts), each a separate Node process as in
 * production, so that on a small machine the load generator, the router and each worker
 * compete for the CPU as they would for real. Output goes to one log file per child.
 * They are started by the launcher `npm start` uses (bin/process-launcher.ts); this file
 * holds the benchmark's readiness waits.
 */
import { RfError } from '../../errors/index.ts';
import { BenchErrors } from '../errors.ts';
import { SOURCE_ROOT, type LaunchedChild } from '../../bin/index.ts';

/** The checkout, where docs/, bench/analysis.md and bench/results/ live (dist/ holds none of them when compiled). */
export const repositoryRoot = SOURCE_ROOT;

/** A child of the benchmark, started with `launchMain` (bin/process-launcher.ts). */
export type Child = LaunchedChild;

/** Waits for child-main.ts's `{ ready: true, url }` message. */
export function waitReady(child: Child, timeoutMs: number): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new RfError(BenchErrors.COMPONENT_START_FAILED, `${child.name} ${why}; see ${child.logFile}`));
    };
    const timer = setTimeout(() => fail('was not ready in time'), timeoutMs);
    child.process.on('message', (msg: unknown) => {
      const m = msg as { ready?: unknown; url?: unknown };
      if (m.ready === true && typeof m.url === 'string') {
        clearTimeout(timer);
        resolveUrl(m.url);
      }
    });
    void child.exited.then((code) => fail(`exited (code ${code})`));
  });
}

/** Polls `url` until it answers 2xx and `accept(body)` holds. */
export async function waitHttp(url: string, deadline: number, accept: (body: unknown) => boolean = () => true, name = url): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok && accept(await res.json().catch(() => undefined))) return;
    } catch {
      // not listening yet: poll again until the deadline
    }
    if (Date.now() > deadline) throw new RfError(BenchErrors.COMPONENT_START_FAILED, `${name} was not ready in time`);
    await new Promise((r) => setTimeout(r, 150));
  }
}
