/**
 * Runs the hand-off-misses analysis (handoff-misses.ts) on the placement runs' setup (the
 * generator, sized worker memory, join at 1/3, drain at 1/2, death at 4/5 of the run, fixed
 * 15 min keep-alive) and prints the tally as JSON:
 *
 *   node --import tsx bench/simulate/handoff-misses-cli.ts WORKERS FUNCTIONS_PER_WORKER MINUTES WINDOW_MIN SEED[,SEED...] [home|successor] [warm|recent]
 *
 * (the next to last argument: SimulationOptions.handoffTarget, default successor, the worker's
 * hand-off; home: its earlier rule; the last: SimulationOptions.handoffScope, default warm, the
 * worker's; recent: the last minute only, its earlier rule)
 */
import { handoffMisses, type MissTally } from './handoff-misses.ts';
import { sizedWorkload } from './sized-workload.ts';
import type { SimulateBenchOptions } from './scenario.ts';

const [workers = 100, perWorker = 10, minutes = 12, windowMin = 2] = process.argv.slice(2, 6).map(Number);
const seeds = (process.argv[6] ?? '1').split(',').map(Number);
const handoffTarget = process.argv[7] === 'home' ? 'home' : 'successor';
const handoffScope = process.argv[8] === 'recent' ? 'recent' : 'warm';
const tally: MissTally = { caused: new Map(), saved: new Map(), lastStartAgoS: [], offHomeOnControlWorker: 0 };
for (const seed of seeds) {
  const s = await sizedWorkload({ functionsPerWorker: perWorker } as SimulateBenchOptions, workers, minutes, seed);
  handoffMisses(
    {
      workload: s.workload,
      workers,
      workerMemoryMb: s.workerMemoryMb,
      placement: 'ringfaas',
      keepAlive: { name: 'fixed', keepAliveMin: 15 },
      seed,
      durationMin: minutes,
      warmupMin: Math.round(minutes / 6),
      events: [
        { atMin: Math.round(minutes / 3), kind: 'join' },
        { atMin: Math.round(minutes / 2), kind: 'drain' },
        { atMin: Math.round((minutes * 4) / 5), kind: 'die' },
      ],
      windowMin,
      handoffTarget,
      handoffScope,
    },
    tally,
  );
}
const ago = [...tally.lastStartAgoS].sort((a, b) => a - b);
console.log(
  JSON.stringify(
    {
      workers,
      perWorker,
      minutes,
      windowMin,
      seeds,
      handoffTarget,
      handoffScope,
      caused: Object.fromEntries(tally.caused),
      saved: Object.fromEntries(tally.saved),
      net: Object.fromEntries([...new Set([...tally.caused.keys(), ...tally.saved.keys()])].map((k) => [k, (tally.caused.get(k) ?? 0) - (tally.saved.get(k) ?? 0)])),
      lastStartAgoS: ago,
      offHomeOnControlWorker: tally.offHomeOnControlWorker,
    },
    null,
    1,
  ),
);
