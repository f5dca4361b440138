/**
 * The embedded Azure Storage emulator: Azurite's Blob, Table and Queue services, each run as a child
 * process of ours on loopback.
 *
 * Azurite has no public in-process API, so we run its own CLI entry points
 * (`dist/src/blob/main.js`, `dist/src/table/main.js`) under a tiny wrapper that ties the
 * child's life to ours: the wrapper holds a pipe on its stdin, and when that pipe closes (we
 * called `stop()`, or we died, even by SIGKILL) it asks Azurite to shut down cleanly (SIGINT,
 * which saves the on-disk database) and exits. Ports are chosen by us (Azurite's Table
 * service cannot report a port picked by the OS), so a port asked as 0 is a free port found
 * just before the start; if another process takes it in between, the start fails clearly.
 *
 * Azurite's own output never reaches our stdout: it goes to `<dataDir>/azurite.log` when a
 * data folder is given, and is dropped otherwise (the last lines are kept in memory for the
 * error raised when a service fails to start).
 *
 * One unit (over 350 lines): the emulator's processes, from free ports and start to readiness and stop, share
 * one lifecycle (a half-started Azurite must be stopped by the code that started it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { RfError, ConfigErrors } from '../errors/index.ts';
import { StorageErrors } from './errors.ts';

/** Azurite's well-known development account (public, documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** Folder for Azurite's data (kept across restarts) and its log; absent = in memory. */
  dataDir?: string;
  /** Listening address, default 127.0.0.1. */
  host?: string;
  /** Blob service port; 0 (default) picks a free port. */
  blobPort?: number;
  /** Table service port; 0 (default) picks a free port. */
  tablePort?: number;
  /** Queue service port (asynchronous invocations); 0 (default) picks a free port. */
  queuePort?: number;
  /** Start the Queue service (default true; tests that need only Table and Blob skip it). */
  queue?: boolean;
  /** How long to wait for each service to accept connections, default 15000 ms. */
  startTimeoutMs?: number;
  /**
   * The account key of `devstoreaccount1` (base64), given to Azurite as AZURITE_ACCOUNTS so the
   * public well-known key no longer opens it. Default: the well-known key (tests, in memory).
   */
  accountKey?: string;
  /**
   * Where to report start, stop and an unexpected exit of a service (Azurite's own output
   * never goes here: see the module comment). Default: silent.
   */
  log?: Logger;
}

/** A running Azurite. */
export interface AzuriteHandle {
  /** Connection string for the dev account (with its key) on these endpoints. */
  connectionString: string;
  blobPort: number;
  tablePort: number;
  /** 0 when the Queue service was not started. */
  queuePort: number;
  /**
   * The services' process ids (blob, table, then queue when started), for tests that kill
   * them as an operator would. SIGTERM saves the data first, as stop() does; SIGKILL loses the
   * writes of up to the last 5 s (Azurite saves its database every 5 s: docs/storage.md).
   */
  pids: number[];
  /** Resolves when every service process has exited (stopped, killed or crashed). */
  exited: Promise<void>;
  /** Stops the services (data on disk is saved first) and waits for the processes to exit. */
  stop(): Promise<void>;
}

/** Connection string of the Azurite dev account for the given endpoints (and key: the well-known one by default). */
export function azuriteConnectionString(host: string, blobPort: number, tablePort: number, accountKey: string = AZURITE_ACCOUNT_KEY, queuePort?: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${accountKey};` +
    `BlobEndpoint=http://${h}:${blobPort}/${AZURITE_ACCOUNT_NAME};` +
    `TableEndpoint=http://${h}:${tablePort}/${AZURITE_ACCOUNT_NAME};` +
    (queuePort === undefined ? '' : `QueueEndpoint=http://${h}:${queuePort}/${AZURITE_ACCOUNT_NAME};`)
  );
}

/**
 * Runs inside the child: ties its life to our stdin pipe, then loads Azurite's CLI entry
 * (given as the first argument) with the remaining arguments as its command line.
 */
const WRAPPER = `
const main = process.argv[1];
process.argv = [process.argv[0], main, ...process.argv.slice(2)];
// Azurite closes (and saves its database) on its first SIGINT only; this listener keeps a
// second one (a Ctrl-C reaching the whole process group, then our own) from killing the
// process in the middle of that save.
process.on('SIGINT', () => {});
let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  process.stdin.destroy();
  setTimeout(() => process.exit(0), 4000).unref();
  process.emit('SIGINT', 'SIGINT');
};
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
// A SIGTERM (an operator's kill): Azurite's Blob and Queue services close on it themselves, and
// two closes at once race its database save (a blob acknowledged before the kill was missing
// after the restart); so only the Table service, which ignores SIGTERM, is asked through SIGINT.
process.on('SIGTERM', () => {
  if (process.listenerCount('SIGTERM') === 1) return shutdown();
  if (stopping) return;
  stopping = true;
  process.stdin.destroy();
  setTimeout(() => process.exit(0), 4000).unref();
});
require(main);
`;

type Service = 'blob' | 'table' | 'queue';

const STOP_GRACE_MS = 6000;
const TAIL_BYTES = 4096;

/** Finds a free TCP port on `host` (listen on 0, read it, close). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Resolves true when an Azurite service answers HTTP on host:port (its `Server` header says
 * so): a bare TCP accept could be another process holding the port.
 */
function azuriteAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest({ host, port, path: `/${AZURITE_ACCOUNT_NAME}`, method: 'GET', timeout: 1000, agent: false }, (res) => {
      res.resume();
      const server = res.headers.server;
      resolve(typeof server === 'string' && server.startsWith('Azurite'));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

interface RunningService {
  service: Service;
  child: ChildProcess;
  exited: Promise<void>;
  tail(): string;
  hasExited(): boolean;
}

function startService(
  service: Service,
  azuriteDir: string,
  args: string[],
  log: WriteStream | undefined,
  accountKey: string | undefined,
): RunningService {
  const main = join(azuriteDir, 'dist', 'src', service, 'main.js');
  // AZURITE_ACCOUNTS replaces Azurite's accounts (the well-known key included) with ours.
  const env = accountKey === undefined ? process.env : { ...process.env, AZURITE_ACCOUNTS: `${AZURITE_ACCOUNT_NAME}:${accountKey}` };
  const child = spawn(process.execPath, ['-e', WRAPPER, main, ...args], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    windowsHide: true,
    // Its own process group: a Ctrl-C to ours must not close storage while the workers
    // still drain (and remove their membership rows); we stop it last, and the stdin pipe
    // still ends it if we die.
    detached: true,
  });
  let tail = '';
  let exited = false;
  const collect = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
    log?.write(chunk);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  // A closed pipe on our side (the child died) must not crash us.
  child.stdin?.on('error', () => {});
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (err) => {
      tail = `${tail}\n${err.message}`.slice(-TAIL_BYTES);
      exited = true;
      resolve();
    });
  });
  return { service, child, exited: exitedPromise, tail: () => tail, hasExited: () => exited };
}

async function stopService(running: RunningService): Promise<void> {
  if (running.hasExited()) return;
  running.child.stdin?.end();
  const timer = setTimeout(() => running.child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await running.exited;
  } finally {
    clearTimeout(timer);
  }
}

async function waitListening(
  service: Service,
  running: RunningService,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (running.hasExited()) {
      throw new RfError(StorageErrors.UNAVAILABLE, `Azurite ${service} service exited during start-up: ${running.tail().trim()}`);
    }
    if (await azuriteAnswers(host, port)) return;
    if (Date.now() >= deadline) {
      throw new RfError(
        StorageErrors.UNAVAILABLE,
        `Azurite ${service} service did not answer on ${host}:${port} within ${timeoutMs} ms: ${running.tail().trim()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Attempts at a start when we chose the ports (another process may take one in between). */
const PORT_ATTEMPTS = 3;

/**
 * Starts Azurite's Blob, Table and Queue services on loopback and resolves once all accept
 * connections (about a second). Data lives in `dataDir` (kept across restarts) or in memory.
 * Fails with RF_STORAGE_UNAVAILABLE (with Azurite's last output) when a service cannot start.
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteHandle> {
  // Azurite falls back to the well-known key, silently, on an account string it cannot parse.
  if (options.accountKey !== undefined && !/^[A-Za-z0-9+/]{40,}={0,2}$/.test(options.accountKey)) {
    throw new RfError(ConfigErrors.INVALID, 'the Azurite account key must be base64 (at least 40 characters)');
  }
  const host = options.host ?? '127.0.0.1';
  const fixedBlob = options.blobPort !== undefined && options.blobPort !== 0 ? options.blobPort : undefined;
  const fixedTable = options.tablePort !== undefined && options.tablePort !== 0 ? options.tablePort : undefined;
  const fixedQueue = options.queuePort !== undefined && options.queuePort !== 0 ? options.queuePort : undefined;
  // A port the caller chose stays taken on a retry: only a start on ports we picked is retried.
  const attempts = fixedBlob === undefined && fixedTable === undefined && fixedQueue === undefined ? PORT_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt += 1) {
    const blobPort = fixedBlob ?? (await freePort(host));
    let tablePort = fixedTable ?? (await freePort(host));
    while (tablePort === blobPort) tablePort = await freePort(host);
    let queuePort = options.queue === false ? 0 : (fixedQueue ?? (await freePort(host)));
    while (queuePort !== 0 && (queuePort === blobPort || queuePort === tablePort)) queuePort = await freePort(host);
    try {
      return await startOnce(options, host, blobPort, tablePort, queuePort);
    } catch (err) {
      if (attempt >= attempts) throw err;
      options.log?.warn({ err, blobPort, tablePort, queuePort, attempt }, 'azurite start failed, retrying on other ports');
    }
  }
}

async function startOnce(options: AzuriteOptions, host: string, blobPort: number, tablePort: number, queuePort: number): Promise<AzuriteHandle> {
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  const startedAt = Date.now();
  const azuriteDir = dirname(createRequire(import.meta.url).resolve('azurite/package.json'));

  const common = ['--skipApiVersionCheck', '--loose', '--disableTelemetry', '--disableProductStyleUrl'];
  let log: WriteStream | undefined;
  if (options.dataDir !== undefined) {
    mkdirSync(options.dataDir, { recursive: true });
    common.push('--location', options.dataDir);
    log = createWriteStream(join(options.dataDir, 'azurite.log'), { flags: 'a' });
    log.on('error', () => {});
  } else {
    common.push('--inMemoryPersistence', '--silent');
  }

  const blob = startService('blob', azuriteDir, ['--blobHost', host, '--blobPort', String(blobPort), ...common], log, options.accountKey);
  const table = startService('table', azuriteDir, ['--tableHost', host, '--tablePort', String(tablePort), ...common], log, options.accountKey);
  const queue = queuePort === 0 ? undefined : startService('queue', azuriteDir, ['--queueHost', host, '--queuePort', String(queuePort), ...common], log, options.accountKey);
  // Belt and braces for a normal exit of our process; a crash is covered by the stdin pipe.
  const onExit = (): void => {
    blob.child.kill('SIGINT');
    table.child.kill('SIGINT');
    queue?.child.kill('SIGINT');
  };
  process.once('exit', onExit);

  let stopped: Promise<void> | undefined;
  // A service dying on its own leaves storage calls failing with RF_STORAGE_UNAVAILABLE;
  // say why once, with Azurite's last words.
  for (const running of queue === undefined ? [blob, table] : [blob, table, queue]) {
    void running.exited.then(() => {
      if (stopped === undefined) {
        const { exitCode, signalCode } = running.child;
        const output = running.tail().trim();
        options.log?.error({ service: running.service, exitCode, signalCode, output }, 'azurite service exited unexpectedly');
      }
    });
  }
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await Promise.all([stopService(blob), stopService(table), ...(queue === undefined ? [] : [stopService(queue)])]);
      options.log?.debug({ blobPort, tablePort, queuePort }, 'azurite stopped');
      process.removeListener('exit', onExit);
      if (log !== undefined) await new Promise<void>((resolve) => log.end(resolve));
    })();
    return stopped;
  };

  try {
    await Promise.all([
      waitListening('blob', blob, host, blobPort, startTimeoutMs),
      waitListening('table', table, host, tablePort, startTimeoutMs),
      ...(queue === undefined ? [] : [waitListening('queue', queue, host, queuePort, startTimeoutMs)]),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  options.log?.debug(
    { host, blobPort, tablePort, queuePort, dataDir: options.dataDir ?? null, startMs: Date.now() - startedAt },
    'azurite started',
  );
  const services = queue === undefined ? [blob, table] : [blob, table, queue];
  return {
    connectionString: azuriteConnectionString(host, blobPort, tablePort, options.accountKey, queue === undefined ? undefined : queuePort),
    blobPort,
    tablePort,
    queuePort,
    pids: services.map((s) => s.child.pid).filter((pid): pid is number => pid !== undefined),
    exited: Promise.all(services.map((s) => s.exited)).then(() => undefined),
    stop,
  };
}
