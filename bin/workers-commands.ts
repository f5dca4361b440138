/**
 * `ringfaas workers ls | add | drain | rm`: the ring's operations API from the command line.
 * Talks to RINGFAAS_URL (default http://127.0.0.1:8080) with `Authorization: Bearer
 * $RINGFAAS_API_KEY` when set; errors are printed as `code: message` and exit non-zero.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { WorkerViewEntry } from '../router/index.ts';
import { callApi, commandGroup, processIo, type CommandIo } from './api-client.ts';

/** Where the commands read their settings and write their output (the process's by default). */
export type WorkersCommandsIo = CommandIo;

function capacity(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 128) throw new InvalidArgumentError('must be an integer number of MB, at least 128');
  return n;
}

/** A worker of `GET /workers`, as the router describes it. */
type ListedWorker = WorkerViewEntry;

function table(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') + '\n';
}

/** A human status of a worker: in ring, suspect, draining, or gone (heartbeat lapsed). */
function statusOf(w: ListedWorker): string {
  if (w.draining) return 'draining';
  if (w.suspect) return w.inRing ? 'suspect' : 'dead';
  return w.inRing ? 'active' : 'gone';
}

/** Registers `ringfaas workers …` on the program. */
export function registerWorkersCommands(program: Command, io: WorkersCommandsIo = processIo()): void {
  const { group: workers, run } = commandGroup(program, io, 'workers', 'the worker ring: list, add, drain and remove workers');

  workers
    .command('ls')
    .description('the ring as the router at RINGFAAS_URL sees it')
    .option('--json', 'print the listing as JSON')
    .action(
      run(async (opts: { json?: boolean }) => {
        const listing = (await callApi(io, 'GET', '/workers')).body as { router?: string; ringSize?: number; workers?: ListedWorker[] };
        if (opts.json === true) {
          io.stdout(`${JSON.stringify(listing, null, 2)}\n`);
          return;
        }
        const rows = [['ID', 'ADDRESS', 'STATUS', 'CAPACITY', 'IN-FLIGHT', 'LOAD', 'SHARE', 'HEARTBEAT']];
        for (const w of listing.workers ?? []) {
          rows.push([
            w.id,
            w.address,
            statusOf(w),
            `${w.capacityMb}MB`,
            String(w.inFlight),
            w.reportedLoad === null ? '-' : String(w.reportedLoad),
            `${(w.share * 100).toFixed(1)}%`,
            `${(w.heartbeatAgeMs / 1000).toFixed(1)}s ago`,
          ]);
        }
        io.stdout(`router ${listing.router ?? '?'}: ${listing.ringSize ?? 0} worker(s) on the ring\n`);
        io.stdout(table(rows));
      }),
    );

  workers
    .command('add')
    .description('add a running worker to the ring (it must answer GET <address>/healthz)')
    .argument('<address>', 'base URL of the worker, e.g. http://127.0.0.1:7001')
    .option('--id <id>', "the worker's id (default: what the worker reports)")
    .option('--capacity <mb>', 'memory the worker may reserve, MB (default: what the worker reports)', capacity)
    .action(
      run(async (address: string, opts: { id?: string; capacity?: number }) => {
        const body: Record<string, unknown> = { address };
        if (opts.id !== undefined) body.id = opts.id;
        if (opts.capacity !== undefined) body.capacityMb = opts.capacity;
        const row = (await callApi(io, 'POST', '/workers', body)).body as { id?: string; address?: string };
        io.stdout(`added ${String(row.id)} at ${String(row.address)}\n`);
      }),
    );

  const drain = (verb: string) =>
    run(async (id: string) => {
      const answer = (await callApi(io, 'DELETE', `/workers/${encodeURIComponent(id)}`)).body as {
        drained?: boolean;
        reachable?: boolean;
        inFlight?: number | null;
        waitedMs?: number;
      };
      const how = answer.reachable === false ? 'it was not reachable' : answer.drained === true ? 'in-flight work finished' : `${String(answer.inFlight)} invocation(s) still running at the drain timeout`;
      io.stdout(`${verb} ${id} after ${String(answer.waitedMs)} ms (${how})\n`);
    });

  workers
    .command('drain')
    .description('drain a worker: no new work, wait for its in-flight invocations, then remove it from the ring')
    .argument('<id>', 'worker id')
    .action(drain('drained'));

  workers
    .command('rm')
    .description('remove a worker from the ring (drains it first; a dead worker is removed at once)')
    .argument('<id>', 'worker id')
    .action(drain('removed'));
}
