/**
 * The platform image's entry point: `node dist/deploy/entrypoint.js <role> [args]`, role one of
 * `router`, `worker`, `azurite`, `cli`. It is the `main` of a container, so it alone reads the
 * environment here, and it does three things before handing over to the role's own main:
 *
 * - **Secrets from files.** Every `RINGFAAS_<NAME>_FILE=<path>` (a Docker Swarm or Kubernetes
 *   secret mounted as a file) sets `RINGFAAS_<NAME>` to the file's content (at most 64 KiB,
 *   trailing white space trimmed). A variable set both ways is an error: which one wins would
 *   be a guess.
 * - **A worker's advertised address on Swarm.** `RINGFAAS_WORKER_ADVERTISE=swarm-node` sets
 *   `RINGFAAS_WORKER_ADDRESS` to `http://<this node's Swarm address>:<RINGFAAS_WORKER_PORT>`,
 *   the address the node's engine reports (`docker info` → Swarm.NodeAddr): a worker on the
 *   host network is reached there by routers on every node.
 * - **One port per router task.** With `RINGFAAS_TASK_SLOT=<n>` (Swarm's `{{.Task.Slot}}`), a
 *   router listens on `RINGFAAS_PORT + n - 1`: several routers on one node's host network
 *   (where published ports are not available) each get their own port, the first on
 *   RINGFAAS_PORT.
 * - **The embedded Azurite as a service** (`azurite`): Blob and Table on
 *   RINGFAAS_AZURITE_HOST (default 0.0.0.0), RINGFAAS_AZURITE_BLOB_PORT (10000) and
 *   RINGFAAS_AZURITE_TABLE_PORT (10002), data under RINGFAAS_AZURITE_DATA_DIR (/data), started
 *   within RINGFAAS_AZURITE_START_TIMEOUT_MS (300000). For
 *   trials only: its account key is Azurite's public development key.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import Docker from 'dockerode';

/** The largest secret file read (a connection string or a list of API keys is far smaller). */
const MAX_SECRET_BYTES = 64 * 1024;
/** How long the worker's advertised address may take to learn from the Docker engine. */
const SWARM_ADDRESS_TIMEOUT_MS = 10_000;

/** Thrown for a problem with the container's configuration; printed as `code: message`. */
class EntrypointConfigError extends Error {
  readonly code = 'RF_CONFIG_INVALID';
}

/** Returns env with every `RINGFAAS_*_FILE` replaced by the named file's content. */
export function resolveSecretFiles(env: Readonly<Record<string, string | undefined>>, readFile: (path: string) => Buffer = readFileSync): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  const problems: string[] = [];
  for (const [name, path] of Object.entries(env)) {
    if (!name.startsWith('RINGFAAS_') || !name.endsWith('_FILE') || path === undefined || path === '') continue;
    const target = name.slice(0, -'_FILE'.length);
    if (env[target] !== undefined && env[target] !== '') {
      problems.push(`${target} and ${name} are both set`);
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = readFile(path);
    } catch (err) {
      problems.push(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      continue;
    }
    if (bytes.length > MAX_SECRET_BYTES) {
      problems.push(`${name}: ${path} is larger than ${MAX_SECRET_BYTES} bytes`);
      continue;
    }
    out[target] = bytes.toString('utf8').trimEnd();
    delete out[name];
  }
  if (problems.length > 0) throw new EntrypointConfigError(`invalid container configuration: ${problems.join('; ')}`);
  return out;
}

/** This node's Swarm address as its Docker engine reports it. */
async function swarmNodeAddress(docker: Docker): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EntrypointConfigError('the Docker engine did not report its Swarm address in time')), SWARM_ADDRESS_TIMEOUT_MS);
  });
  try {
    const info = (await Promise.race([docker.info(), timeout])) as { Swarm?: { NodeAddr?: string; LocalNodeState?: string } };
    const addr = info.Swarm?.NodeAddr;
    if (info.Swarm?.LocalNodeState !== 'active' || addr === undefined || addr === '') {
      throw new EntrypointConfigError('RINGFAAS_WORKER_ADVERTISE=swarm-node, but this Docker engine is not an active Swarm node');
    }
    return addr.includes(':') ? `[${addr}]` : addr;
  } finally {
    clearTimeout(timer);
  }
}

/** Applies RINGFAAS_TASK_SLOT to RINGFAAS_PORT (see the module comment). */
export function resolveRouterPort(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const slotText = env.RINGFAAS_TASK_SLOT?.trim();
  if (slotText === undefined || slotText === '') return env;
  const slot = Number(slotText);
  const base = Number(env.RINGFAAS_PORT?.trim() || 8080);
  if (!Number.isInteger(slot) || slot < 1 || !Number.isInteger(base) || base < 1 || base + slot - 1 > 65535) {
    throw new EntrypointConfigError(`RINGFAAS_TASK_SLOT (${slotText}) must be a positive integer, RINGFAAS_PORT + slot - 1 at most 65535`);
  }
  const { RINGFAAS_TASK_SLOT: _slot, ...rest } = env;
  return { ...rest, RINGFAAS_PORT: String(base + slot - 1) };
}

/** Sets RINGFAAS_WORKER_ADDRESS from the Swarm node address when asked to. */
export async function resolveWorkerAddress(env: Record<string, string | undefined>, docker: () => Docker = () => new Docker()): Promise<Record<string, string | undefined>> {
  const mode = env.RINGFAAS_WORKER_ADVERTISE?.trim();
  if (mode === undefined || mode === '') return env;
  if (mode !== 'swarm-node') throw new EntrypointConfigError(`RINGFAAS_WORKER_ADVERTISE must be swarm-node (got ${mode})`);
  if (env.RINGFAAS_WORKER_ADDRESS?.trim()) throw new EntrypointConfigError('RINGFAAS_WORKER_ADDRESS and RINGFAAS_WORKER_ADVERTISE are both set');
  const port = Number(env.RINGFAAS_WORKER_PORT);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new EntrypointConfigError('RINGFAAS_WORKER_ADVERTISE=swarm-node needs a fixed RINGFAAS_WORKER_PORT (1..65535)');
  }
  return { ...env, RINGFAAS_WORKER_ADDRESS: `http://${await swarmNodeAddress(docker())}:${port}` };
}

async function runAzurite(env: Record<string, string | undefined>): Promise<number> {
  const { startAzurite } = await import('../storage/index.ts');
  const { pino } = await import('pino');
  const log = pino({ base: { service: 'azurite' } });
  const handle = await startAzurite({
    host: env.RINGFAAS_AZURITE_HOST || '0.0.0.0',
    blobPort: Number(env.RINGFAAS_AZURITE_BLOB_PORT || 10000),
    tablePort: Number(env.RINGFAAS_AZURITE_TABLE_PORT || 10002),
    dataDir: env.RINGFAAS_AZURITE_DATA_DIR || '/data',
    // Generous: a loaded node starts Azurite slowly, and a restart costs more than a wait.
    startTimeoutMs: Number(env.RINGFAAS_AZURITE_START_TIMEOUT_MS || 300_000),
    log,
  });
  log.info({ blobPort: handle.blobPort, tablePort: handle.tablePort }, 'azurite listening');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await handle.stop();
  return 0;
}

/** Runs the role; resolves with the process's exit code (undefined: the role's main exits itself). */
export async function main(argv: readonly string[], processEnv: Readonly<Record<string, string | undefined>>): Promise<number | undefined> {
  const [role, ...rest] = argv;
  let env = resolveSecretFiles(processEnv);
  switch (role) {
    case 'router': {
      env = resolveRouterPort(env);
      const router = await import('../router/main.ts');
      await router.main(rest, env as NodeJS.ProcessEnv);
      return undefined;
    }
    case 'worker': {
      env = await resolveWorkerAddress(env);
      const worker = await import('../worker/main.ts');
      return worker.main(env);
    }
    case 'azurite':
      return runAzurite(env);
    case 'cli': {
      // The CLI reads process.env itself: hand it the resolved secrets there.
      Object.assign(process.env, env);
      process.argv = [process.argv[0] ?? 'node', 'ringfaas', ...rest];
      await import('../bin/cli.ts');
      return undefined;
    }
    default:
      process.stderr.write('usage: entrypoint <router|worker|azurite|cli> [args]\n');
      return 2;
  }
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      if (code !== undefined) process.exit(code);
    },
    (err: unknown) => {
      const code = (err as { code?: unknown }).code;
      process.stderr.write(`ringfaas: ${typeof code === 'string' ? `${code}: ` : ''}${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
