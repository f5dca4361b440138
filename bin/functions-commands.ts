/**
 * `ringfaas deploy | ls | get | rm | invoke`: the functions API from the command line.
 * Talks to RINGFAAS_URL (default http://127.0.0.1:8080) with RINGFAAS_API_KEY; errors are
 * printed as `code: message` and exit non-zero.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { zipSync } from 'fflate';
import { Command, InvalidArgumentError } from 'commander';
import { callApi, CliFailure, cliAction, processIo, type CommandIo } from './api-client.ts';
import { invokeAsync } from './invocations-commands.ts';

/** Where the commands read their settings and write their output (the process's by default). */
export interface FunctionCommandsIo extends CommandIo {
  stdin: () => Promise<string>;
}

const defaultIo: FunctionCommandsIo = {
  ...processIo(),
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function envPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError('must be KEY=VALUE');
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

/** Zips a folder with its files at the zip's root (skipping .git), deterministic times. */
function zipDirectory(dir: string): Buffer {
  const files: Record<string, [Uint8Array, { mtime: Date }]> = {};
  const walk = (current: string): void => {
    for (const name of readdirSync(current)) {
      if (name === '.git') continue;
      const path = join(current, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile()) files[relative(dir, path).split(sep).join('/')] = [readFileSync(path), { mtime: new Date('1980-01-01T00:00:00Z') }];
    }
  };
  walk(dir);
  if (files['index.js'] === undefined) throw new CliFailure('ENOINDEX', `${dir} has no index.js at its root`);
  const zip = zipSync(files, { level: 6 });
  return Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength);
}

/** The code part of a deploy body from a .js file, a folder or a .zip. */
function codeOf(path: string): { code: string } | { zipFile: string } {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new CliFailure('ENOENT', `${path} does not exist`);
  }
  if (stat.isDirectory()) return { zipFile: zipDirectory(path).toString('base64') };
  if (path.endsWith('.zip')) return { zipFile: readFileSync(path).toString('base64') };
  return { code: readFileSync(path, 'utf8') };
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Registers the function commands on the `ringfaas` program. */
export function registerFunctionCommands(program: Command, io: FunctionCommandsIo = defaultIo): void {
  const run = cliAction(io);

  program
    .command('deploy')
    .description('deploy a function from a .js file (its index.js), a folder (zipped, index.js at its root) or a .zip')
    .argument('<path>', 'file.js, folder or .zip')
    .option('--name <name>', 'function name, [A-Za-z0-9-_]{1,64}')
    .option('--memory <mb>', 'memory in MB, 128..4096 (default 128 on create)', positiveInt)
    .option('--timeout <ms>', 'per-invocation timeout in ms (default 60000)', positiveInt)
    .option('--idle-timeout <ms>', 'idle warm containers are removed after this long (default 900000)', positiveInt)
    .option('--env <KEY=VALUE>', 'environment variable for the function (repeatable)', envPair)
    .option('--update <id>', 'deploy a new version of an existing function instead of creating one')
    .option('--max-retries <n>', 'retries of a failed asynchronous invocation, 0..10 (default 2)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 10) throw new InvalidArgumentError('must be an integer 0..10');
      return n;
    })
    .action(
      run(async (path: string, opts: { name?: string; memory?: number; timeout?: number; idleTimeout?: number; env?: Record<string, string>; update?: string; maxRetries?: number }) => {
        const body: Record<string, unknown> = { ...codeOf(path) };
        if (opts.name !== undefined) body.name = opts.name;
        if (opts.memory !== undefined) body.memorySize = opts.memory;
        else if (opts.update === undefined) body.memorySize = 128;
        if (opts.timeout !== undefined) body.timeoutMs = opts.timeout;
        if (opts.idleTimeout !== undefined) body.idleTimeoutMs = opts.idleTimeout;
        if (opts.env !== undefined) body.env = opts.env;
        if (opts.maxRetries !== undefined) body.maxRetries = opts.maxRetries;
        const answer =
          opts.update === undefined
            ? await callApi(io, 'POST', '/functions', body)
            : await callApi(io, 'PUT', `/functions/${encodeURIComponent(opts.update)}`, body);
        io.stdout(json(answer.body));
      }),
    );

  program
    .command('ls')
    .description('list the functions')
    .option('--json', 'print the records as JSON')
    .action(
      run(async (opts: { json?: boolean }) => {
        // Page by page (the router answers at most 1000 per page), following nextToken.
        const records: Array<Record<string, unknown>> = [];
        let token: string | null = null;
        do {
          const query: string = `?limit=1000${token === null ? '' : `&continuationToken=${encodeURIComponent(token)}`}`;
          const { body } = await callApi(io, 'GET', `/functions${query}`);
          const page = body as { functions?: unknown; nextToken?: unknown } | undefined;
          if (Array.isArray(body)) {
            records.push(...(body as Array<Record<string, unknown>>)); // a router without paging
            break;
          }
          records.push(...(Array.isArray(page?.functions) ? (page.functions as Array<Record<string, unknown>>) : []));
          token = typeof page?.nextToken === 'string' ? page.nextToken : null;
        } while (token !== null);
        if (opts.json === true) {
          io.stdout(json(records));
          return;
        }
        const rows = [['ID', 'NAME', 'VERSION', 'MEMORY', 'TIMEOUT', 'UPDATED']];
        for (const r of records) rows.push([r.id, r.name, r.version, `${String(r.memorySize)}MB`, `${String(r.timeoutMs)}ms`, r.updatedAt].map(String));
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
        io.stdout(rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n');
      }),
    );

  program
    .command('get')
    .description('show a function record')
    .argument('<id>', 'function id')
    .action(
      run(async (id: string) => {
        io.stdout(json((await callApi(io, 'GET', `/functions/${encodeURIComponent(id)}`)).body));
      }),
    );

  program
    .command('rm')
    .description('delete a function, its code and its containers')
    .argument('<id>', 'function id')
    .action(
      run(async (id: string) => {
        await callApi(io, 'DELETE', `/functions/${encodeURIComponent(id)}`);
        io.stdout(`deleted ${id}\n`);
      }),
    );

  program
    .command('invoke')
    .description("invoke a function and print its output; the input is JSON ('-' reads it from stdin, default {})")
    .argument('<id>', 'function id')
    .argument('[json]', "input as JSON, or '-' for stdin", '{}')
    .option('--logs', "print the function's log lines to stderr")
    .option('--full', 'print the whole answer ({"output","logs"}) instead of the output alone')
    .option('--async', 'queue it (Prefer: respond-async) and print the invocation id and status')
    .option('--wait', 'with --async: poll until it is done and print it as `invocations get` does')
    .option('--idempotency-key <key>', 'with --async: a repeated request with this key returns the first invocation')
    .action(
      run(async (id: string, input: string, opts: { logs?: boolean; full?: boolean; async?: boolean; wait?: boolean; idempotencyKey?: string }) => {
        const payload = input === '-' ? await io.stdin() : input;
        if (opts.async === true || opts.wait === true) {
          await invokeAsync(io, id, payload, { wait: opts.wait === true, ...(opts.idempotencyKey === undefined ? {} : { idempotencyKey: opts.idempotencyKey }) });
          return;
        }
        const answer = await callApi(io, 'POST', `/functions/${encodeURIComponent(id)}/invoke`, payload);
        const body = answer.body as { output?: unknown; logs?: { lines?: unknown } };
        if (opts.logs === true && Array.isArray(body.logs?.lines)) {
          for (const line of body.logs.lines) io.stderr(`${String(line)}\n`);
        }
        io.stdout(json(opts.full === true ? body : body.output));
      }),
    );
}
