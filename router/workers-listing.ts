/**
 * The body of `GET /workers`: every worker one router knows (its last read rows and its ring),
 * with what the router knows of its traffic.
 */
import { isLiveRow, type Ring } from '../ring/index.ts';
import type { WorkerRow } from '../storage/index.ts';
import type { WorkerTraffic } from './worker-traffic.ts';

/** One worker as this router sees it (GET /workers). */
export interface WorkerViewEntry {
  id: string;
  address: string;
  /**
   * The row's state, or `gone` when the row says active but its heartbeat is older than the
   * TTL (the worker stopped heartbeating: dead, or cut off from the table).
   */
  state: WorkerRow['state'] | 'gone';
  capacityMb: number;
  heartbeatAgeMs: number;
  /** On this router's ring (active, fresh heartbeat). */
  inRing: boolean;
  suspect: boolean;
  /** Draining as far as this router knows (row state, or a drain it started). */
  draining: boolean;
  inFlight: number;
  reportedLoad: number | null;
  vnodes: number;
  /** Share of the hash circle owned (0..1). */
  share: number;
}

/** What the listing is made of. */
export interface WorkersListingInput {
  ring: Ring<WorkerRow>;
  /** The last read row of each worker. */
  rowsById: ReadonlyMap<string, WorkerRow>;
  traffic: WorkerTraffic;
  /** Workers this router is draining. */
  localDraining: { has(id: string): boolean };
  now: number;
  ttlMs: number;
}

/** Every worker known, sorted by id. */
export function listWorkers(input: WorkersListingInput): WorkerViewEntry[] {
  const { ring, rowsById, traffic, localDraining, now, ttlMs } = input;
  const shares = ring.shares();
  const ids = new Set([...rowsById.keys(), ...ring.ids]);
  return [...ids].sort().map((id) => {
    const row = (rowsById.get(id) ?? ring.members.get(id)) as WorkerRow;
    const t = traffic.entry(id);
    const inRing = ring.has(id);
    return {
      id,
      address: row.address,
      state: row.state === 'active' && !isLiveRow(row, now, ttlMs) ? 'gone' : row.state,
      capacityMb: row.capacityMb,
      heartbeatAgeMs: now - row.heartbeatAt,
      inRing,
      suspect: t?.suspectSince !== undefined,
      draining: row.state === 'draining' || localDraining.has(id),
      inFlight: t?.inFlight ?? 0,
      reportedLoad: t === undefined || t.reportedAt === 0 ? null : t.reportedLoad,
      vnodes: inRing ? ring.pointsPerWorker / 4 : 0,
      share: shares.get(id) ?? 0,
    };
  });
}
