/**
 * Asynchronous invocations from the command line (docs/async.md): `ringfaas invoke --async
 * [--wait]`, `ringfaas invocations get|ls|retry`, and `ringfaas dispatcher` (a standalone
 * dispatcher process). Talks to RINGFAAS_URL with RINGFAAS_API_KEY as the other commands do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError } from 'commander';
import { callApi, CliFailure, commandGroup, processIo, type CommandIo } from './api-client.ts';

const FINAL = new Set(['succeeded', 'failed', 'dead']);

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Polls GET /invocations/{iid} until it is final or `timeoutMs` passed; answers the last view. */
export async function waitDone(io: Pick<CommandIo, 'env'>, iid: string, options: { timeoutMs: number; pollMs?: number }): Promise<Record<string, unknown>> {
  const deadline = Date.now() + options.timeoutMs;
  let pollMs = options.pollMs ?? 200;
  for (;;) {
    const view = (await callApi(io, 'GET', `/invocations/${encodeURIComponent(iid)}`)).body as Record<string, unknown>;
    if (FINAL.has(String(view.status))) return view;
    if (Date.now() > deadline) throw new CliFailure('WAIT_TIMEOUT', `invocation ${iid} is still ${String(view.status)} after ${options.timeoutMs} ms`);
    await sleep(pollMs);
    pollMs = Math.min(2000, Math.round(pollMs * 1.5));
  }
}

/** `ringfaas invoke --async [--wait]`. A failed or dead invocation waited for exits non-zero. */
export async function invokeAsync(io: CommandIo, fnId: string, payload: string, options: { wait: boolean; idempotencyKey?: string; timeoutMs?: number }): Promise<void> {
  const headers: Record<string, string> = { prefer: 'respond-async' };
  if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
  const answer = await callApi(io, 'POST', `/functions/${encodeURIComponent(fnId)}/invoke`, payload, headers);
  const body = answer.body as { invocationId: string; status: string };
  if (!options.wait) {
    io.stdout(json(body));
    return;
  }
  const view = await waitDone(io, body.invocationId, { timeoutMs: options.timeoutMs ?? 3_600_000 });
  io.stdout(json(view));
  if (view.status !== 'succeeded') process.exitCode = 1;
}

/** `ringfaas invocations get`: the invocation's view now, or with --wait once it is final. */
async function showInvocation(io: CommandIo, iid: string, opts: { wait?: boolean; timeout: number }): Promise<void> {
  const view = opts.wait === true ? await waitDone(io, iid, { timeoutMs: opts.timeout }) : (await callApi(io, 'GET', `/invocations/${encodeURIComponent(iid)}`)).body;
  io.stdout(json(view));
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** Registers `invocations` and `dispatcher`. */
export function registerInvocationsCommands(program: Command, io: CommandIo = processIo()): void {
  const { group: invocations, run } = commandGroup(program, io, 'invocations', 'asynchronous invocations: get, ls, retry');

  invocations
    .command('get')
    .description('show an invocation: status, attempts, timestamps, output or error')
    .argument('<iid>', 'invocation id')
    .option('--wait', 'poll until it is done')
    .option('--timeout <ms>', 'with --wait: give up after this long', positiveInt, 3_600_000)
    .action(run((iid: string, opts: { wait?: boolean; timeout: number }) => showInvocation(io, iid, opts)));

  invocations
    .command('ls')
    .description('list invocations, newest last; one page (--next for the following one)')
    .option('--function <id>', 'only this function')
    .option('--status <status>', 'queued, running, succeeded, failed or dead')
    .option('--limit <n>', 'page size, 1..1000', positiveInt, 100)
    .option('--next <token>', 'the continuation token a previous page printed')
    .option('--json', 'print the page as JSON')
    .action(
      run(async (opts: { function?: string; status?: string; limit: number; next?: string; json?: boolean }) => {
        const query = new URLSearchParams({ limit: String(opts.limit) });
        if (opts.function !== undefined) query.set('functionId', opts.function);
        if (opts.status !== undefined) query.set('status', opts.status);
        if (opts.next !== undefined) query.set('continuationToken', opts.next);
        const page = (await callApi(io, 'GET', `/invocations?${query}`)).body as { items: Array<Record<string, unknown>>; nextToken?: string };
        if (opts.json === true) {
          io.stdout(json(page));
          return;
        }
        const rows = [['INVOCATION', 'FUNCTION', 'STATUS', 'ATTEMPTS', 'ACCEPTED', 'FINISHED']];
        for (const i of page.items) rows.push([i.invocationId, i.functionId, i.status, i.attempts, i.acceptedAt, i.finishedAt ?? '-'].map(String));
        const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
        io.stdout(rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + '\n');
        if (page.nextToken !== undefined) io.stdout(`more: ringfaas invocations ls --next ${page.nextToken}\n`);
      }),
    );

  invocations
    .command('retry')
    .description('queue a dead or failed invocation again (maxRetries more attempts)')
    .argument('<iid>', 'invocation id')
    .option('--wait', 'poll until it is done')
    .action(
      run(async (iid: string, opts: { wait?: boolean }) => {
        const view = (await callApi(io, 'POST', `/invocations/${encodeURIComponent(iid)}/retry`)).body;
        io.stdout(json(opts.wait === true ? await waitDone(io, iid, { timeoutMs: 3_600_000 }) : view));
      }),
    );

  program
    .command('dispatcher')
    .description('run a standalone asynchronous-invocation dispatcher (RINGFAAS_STORAGE_CONNECTION_STRING, RINGFAAS_ASYNC_CONCURRENCY)')
    .action(async () => {
      const { asyncDispatcherMain: main } = await import('../router/index.ts');
      await main(process.env);
    });
}
