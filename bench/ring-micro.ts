/**
 * Micro-benchmarks of the ring's per-request cost (tinybench): a function's home, its
 * preference list, the bounded-load spill plan, and the whole router-side decision (list +
 * plan) at 10, 100 and 1000 workers; plus the one-off cost of building a ring on a change.
 * `runRingMicro()` answers the results; `ringfaas bench` (bench/cli.ts) reports them.
 */
import { Bench } from 'tinybench';
import { Ring, planSpill, type RingMemberRow } from '../ring/index.ts';

export interface RingMicroOptions {
  /** Ring sizes. Default [10, 100, 1000]. */
  sizes?: number[];
  /** Time per task, ms. Default 300. */
  timeMs?: number;
  /** Distinct function ids looked up (cycled). Default 10 000. */
  keys?: number;
  /** Candidates tried per request (the forwarder's maxCandidates). Default 16. */
  candidates?: number;
}

/** One task's result; `state` mirrors tinybench's. */
export type RingMicroResult =
  | {
      state: 'completed';
      workers: number;
      task: string;
      /** Mean cost of one call, ns. */
      meanNs: number;
      p50Ns: number;
      p99Ns: number;
      opsPerSec: number;
      runs: number;
    }
  | { state: 'failed'; workers: number; task: string; reason: string };

function members(n: number): RingMemberRow[] {
  return Array.from({ length: n }, (_, i) => ({ id: `worker-${i}`, address: `http://10.0.${i >> 8}.${i & 255}:7000`, capacityMb: 4096, state: 'active', heartbeatAt: 0 }));
}

/** Runs the ring micro-benchmarks. */
export async function runRingMicro(options: RingMicroOptions = {}): Promise<RingMicroResult[]> {
  const sizes = options.sizes ?? [10, 100, 1000];
  const keyCount = options.keys ?? 10_000;
  const k = options.candidates ?? 16;
  const keys = Array.from({ length: keyCount }, (_, i) => `fn-${i.toString(36)}`);
  const results: RingMicroResult[] = [];
  for (const n of sizes) {
    const rows = members(n);
    const ring = new Ring(rows);
    // loads as a router would see them under moderate traffic: 0..7 in flight per worker
    const loads = new Map(ring.ids.map((id, i) => [id, (i * 7) % 8]));
    const totalLoad = [...loads.values()].reduce((a, b) => a + b, 0);
    const loadOf = (id: string): number => loads.get(id) ?? 0;
    const lists = keys.slice(0, 1000).map((key) => ring.preferenceList(key, k));
    let i = 0;
    let sink = 0;
    const bench = new Bench({ time: options.timeMs ?? 300, warmupTime: 50 });
    bench
      .add('home', () => {
        sink += ring.home(keys[i++ % keyCount] as string)?.length ?? 0;
      })
      .add(`preferenceList(k=${k})`, () => {
        sink += ring.preferenceList(keys[i++ % keyCount] as string, k).length;
      })
      .add(`planSpill(${k} candidates)`, () => {
        sink += planSpill({ candidates: lists[i++ % lists.length] as string[], loadOf, totalLoad, workerCount: n }).order.length;
      })
      .add('route (list + plan)', () => {
        const candidates = ring.preferenceList(keys[i++ % keyCount] as string, k);
        sink += planSpill({ candidates, loadOf, totalLoad, workerCount: n }).order.length;
      })
      .add('build ring', () => {
        sink += new Ring(rows).size;
      });
    await bench.run();
    for (const task of bench.tasks) {
      const r = task.result;
      if (r.state === 'completed') {
        results.push({
          state: 'completed',
          workers: n,
          task: task.name,
          meanNs: r.latency.mean * 1e6,
          p50Ns: r.latency.p50 * 1e6,
          p99Ns: r.latency.p99 * 1e6,
          opsPerSec: r.throughput.mean,
          runs: Math.round(r.totalTime / r.period),
        });
      } else {
        results.push({ state: 'failed', workers: n, task: task.name, reason: r.state === 'errored' ? r.error.message : r.state });
      }
    }
    if (sink === -1) throw new Error('unreachable'); // keeps the work observable
  }
  return results;
}
