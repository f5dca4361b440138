/**
 * Start-up time of a router and a worker, from source through tsx (`npm start`'s way) vs
 * compiled (`npm run build`, plain node, what the images run), alternated run after run
 * against one Azurite:
 *
 *   npm run build && node --import tsx deploy/bench/startup.ts [--runs 5]
 *
 * Time from spawn to the component's "listening" log line (the router: `router listening`, the
 * worker: `worker listening`, with the process runtime so that no container start is in it).
 * Prints each run and the medians as JSON lines on stdout. Every child is killed (SIGKILL) once
 * timed, or after 120 s.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startAzurite } from '../../storage/index.ts';
import { freePort } from '../../storage/index.ts';

const root = join(import.meta.dirname, '..', '..');
const TIMEOUT_MS = 120_000;

type Role = 'router' | 'worker';
type Form = 'tsx' | 'dist';

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Spawns one component and resolves with the ms until its listening line. */
async function timeStart(role: Role, form: Form, connectionString: string, run: number): Promise<number> {
  const main = form === 'tsx' ? ['--import', 'tsx', join(root, role, 'main.ts')] : [join(root, 'dist', role, 'main.js')];
  const port = await freePort('127.0.0.1');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    RINGFAAS_STORAGE_CONNECTION_STRING: connectionString,
    RINGFAAS_LOG_LEVEL: 'info',
    ...(role === 'router'
      ? { RINGFAAS_HOST: '127.0.0.1', RINGFAAS_PORT: String(port), RINGFAAS_ROUTER_ID: `startup-${form}-${run}` }
      : { RINGFAAS_WORKER_HOST: '127.0.0.1', RINGFAAS_WORKER_PORT: String(port), RINGFAAS_WORKER_ID: `startup-${form}-${run}`, RINGFAAS_RUNTIME: 'process', RINGFAAS_COLD_POOL_SIZE: '0' }),
  };
  const startedAt = performance.now();
  const child = spawn(process.execPath, main, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const line = `${role} listening`;
  try {
    return await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${role} (${form}) did not log '${line}' within ${TIMEOUT_MS} ms: ${out.slice(-500)}`)), TIMEOUT_MS);
      const onData = (chunk: Buffer): void => {
        out = (out + chunk.toString('utf8')).slice(-64 * 1024);
        if (out.includes(line)) {
          clearTimeout(timer);
          resolve(performance.now() - startedAt);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${role} (${form}) exited (${code}): ${out.slice(-500)}`));
      });
    });
  } finally {
    child.removeAllListeners('exit');
    child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--runs');
  const runs = i > 0 ? Math.max(1, Number(process.argv[i + 1]) || 5) : 5;
  if (!existsSync(join(root, 'dist', 'router', 'main.js'))) throw new Error('no dist/: run `npm run build` first');
  const azurite = await startAzurite({ startTimeoutMs: 120_000 });
  const times: Record<string, number[]> = {};
  try {
    for (let run = 1; run <= runs; run++) {
      // Alternated: tsx first on odd runs, dist first on even ones.
      const forms: Form[] = run % 2 === 1 ? ['tsx', 'dist'] : ['dist', 'tsx'];
      for (const role of ['router', 'worker'] as const) {
        for (const form of forms) {
          const ms = Math.round(await timeStart(role, form, azurite.connectionString, run));
          (times[`${role} ${form}`] ??= []).push(ms);
          process.stdout.write(`${JSON.stringify({ run, role, form, ms })}\n`);
        }
      }
    }
  } finally {
    await azurite.stop();
  }
  const medians = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  process.stdout.write(`${JSON.stringify({ medians, runs })}\n`);
}

await main();
