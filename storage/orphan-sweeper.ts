/**
 * Removes code objects that no function record names and never will: the blob of a create
 * whose record write failed (and whose clean-up failed too), the blob of an update that
 * failed or stalled after its upload, versions replaced by an update or left by a delete whose
 * blob removal failed during an outage.
 *
 * Rule: a stored version is an orphan when no record has that id, or the record of that id is
 * at another version, AND it was written more than `graceMs` ago. The grace covers every
 * write in progress: a create uploads its blob before its record, an update uploads version
 * N+1 before its record moves to it, and each finishes (or gives up) within the storage
 * deadlines, far below the grace. A version below the record's is an old one no reader needs
 * once the grace is over (a worker that loaded the record just before the update re-reads on
 * RF_STORAGE_NOT_FOUND).
 *
 * Worked example (grace 10 min, sweep every 10 min): a PUT uploads f/5.zip at 12:00 and its
 * record write fails; f's record stays at v4. The sweep at 12:04 sees 5 ≠ 4 but the blob is
 * 4 min old: kept. The sweep at 12:14 removes it. An orphan lives at most grace + interval.
 *
 * Routers run it on a timer (router/main.ts); several routers sweeping at once only repeat
 * idempotent deletes. A sweep during a storage outage fails and is retried at the next tick.
 */
import type { ArtifactStore, FunctionStore } from './types.ts';

export interface OrphanSweepOptions {
  functions: Pick<FunctionStore, 'list'>;
  artifacts: Pick<ArtifactStore, 'listVersions' | 'delete'>;
  /** A version written less than this long ago is never removed. */
  graceMs: number;
  /** ms since the epoch. */
  now: number;
}

/** What one sweep did. */
export interface OrphanSweepResult {
  scanned: number;
  removed: Array<{ functionId: string; version: number }>;
}

/** One sweep; see the file header. */
export async function sweepOrphans(options: OrphanSweepOptions): Promise<OrphanSweepResult> {
  const [records, stored] = await Promise.all([options.functions.list(), options.artifacts.listVersions()]);
  const current = new Map(records.map((r) => [r.id, r.version]));
  const removed: OrphanSweepResult['removed'] = [];
  for (const blob of stored) {
    if (current.get(blob.functionId) === blob.version) continue;
    if (options.now - blob.writtenAt <= options.graceMs) continue;
    await options.artifacts.delete(blob.functionId, blob.version);
    removed.push({ functionId: blob.functionId, version: blob.version });
  }
  return { scanned: stored.length, removed };
}
