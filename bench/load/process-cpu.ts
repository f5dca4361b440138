/**
 * CPU time of the processes behind a target, read from /proc (Linux), so that a benchmark can
 * say where each request's CPU goes: router, workers, hops, and the load generator itself.
 * Containers are left out (the same shim runs the same function for every target).
 */
import { readFileSync } from 'node:fs';

/** A process of a target, by the name the report gives it. */
export interface TargetProcess {
  name: string;
  pid: number;
}

/** /proc reports times in USER_HZ ticks, 100 per second on Linux. */
const MS_PER_TICK = 10;

/** User + system CPU time of a process, ms; undefined when it cannot be read (gone, not Linux). */
export function processCpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces) start at ") ": state is field 3,
  // utime field 14, stime field 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) * MS_PER_TICK : undefined;
}

/** The load generator's own CPU time, ms (this process). */
function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

export const LOAD_GENERATOR = 'load generator';

/** Starts a CPU measurement over `processes` and this process; `stop()` answers ms by name. */
export function measureCpu(processes: readonly TargetProcess[]): { stop(): Record<string, number> } {
  const before = new Map(processes.map((p) => [p.name, processCpuMs(p.pid)]));
  const ownBefore = ownCpuMs();
  return {
    stop() {
      const used: Record<string, number> = { [LOAD_GENERATOR]: ownCpuMs() - ownBefore };
      for (const p of processes) {
        const start = before.get(p.name);
        const end = processCpuMs(p.pid);
        if (start !== undefined && end !== undefined) used[p.name] = end - start;
      }
      return used;
    },
  };
}
