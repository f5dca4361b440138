/**
 * What the swarm tests share: the docker command, polling with a deadline, calls to a router
 * with the test's API key, and a second Docker engine in a network namespace (a test host:
 * its own netns with a veth pair to the first engine's, its own mount namespace where /run
 * is its own folder, so containers it starts that mount /var/run/docker.sock get its socket;
 * its own data root, exec root, socket and pid file).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/** Runs `docker <args>` (against `host` when given) and returns its trimmed stdout. */
export async function docker(args: string[], host?: string): Promise<string> {
  const full = host === undefined ? args : ['-H', host, ...args];
  return (await run('docker', full, { maxBuffer: 16 * 1024 * 1024 })).stdout.trim();
}

/** Polls `probe` until it gives a value, at most `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export interface CallResult {
  status: number;
  json: any;
  headers: Headers;
}

/** A JSON call to a router with the API key. */
export async function call(apiKey: string, url: string, method: string, body?: unknown, timeoutMs = 60_000): Promise<CallResult> {
  const res = await fetch(url, {
    method,
    // the detail headers: the tests read the spills and the serving router
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'x-ringfaas-details': '1' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/** The workers in a router's ring. */
export async function ringWorkers(apiKey: string, url: string): Promise<Array<{ id: string; address: string }>> {
  const { json } = await call(apiKey, `${url}/workers`, 'GET', undefined, 10_000);
  return (json.workers as Array<{ id: string; address: string; inRing: boolean }>).filter((w) => w.inRing);
}

/** A Docker engine in its own network and mount namespaces. */
export interface NamespacedEngine {
  name: string;
  /** The engine's address on the veth pair (the first engine's side is `hostAddress`). */
  address: string;
  hostAddress: string;
  /** `unix://…` for docker -H. */
  socket: string;
  /** Stops the engine (SIGTERM, then SIGKILL after graceMs); resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** Stops it if running and removes the namespace, the veth pair and its folders. */
  remove(): Promise<void>;
}

/**
 * Starts a dockerd in a new network namespace `name` (veth `<name>a`/`<name>b`, addresses
 * 10.211.<subnet>.1 on this side and 10.211.<subnet>.2 inside). `name` at most 12 characters.
 * Needs root, iproute2, nsenter and unshare.
 */
export async function startNamespacedEngine(name: string, subnet: number): Promise<NamespacedEngine> {
  const dir = join('/tmp', `${name}-engine`);
  const hostAddress = `10.211.${subnet}.1`;
  const address = `10.211.${subnet}.2`;
  await mkdir(join(dir, 'run'), { recursive: true });
  await mkdir(join(dir, 'data'), { recursive: true });
  const ip = (...args: string[]): Promise<unknown> => run('ip', args);
  await ip('netns', 'add', name);
  await ip('link', 'add', `${name}a`, 'type', 'veth', 'peer', 'name', `${name}b`);
  await ip('link', 'set', `${name}b`, 'netns', name);
  await ip('addr', 'add', `${hostAddress}/24`, 'dev', `${name}a`);
  await ip('link', 'set', `${name}a`, 'up');
  await ip('netns', 'exec', name, 'ip', 'addr', 'add', `${address}/24`, 'dev', `${name}b`);
  await ip('netns', 'exec', name, 'ip', 'link', 'set', `${name}b`, 'up');
  await ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  // nsenter, not `ip netns exec` (which remounts /sys and hides the cgroups); /run becomes
  // this engine's folder in a private mount namespace.
  const script = join(dir, 'start.sh');
  await writeFile(
    script,
    `#!/bin/sh\nmount --make-rprivate /\nmount --bind ${dir}/run /run\n` +
      `exec dockerd --data-root ${dir}/data --exec-root /run/docker-exec --pidfile /run/docker.pid -H unix:///run/docker.sock --bridge=none --iptables=false --ip-masq=false\n`,
    { mode: 0o755 },
  );
  const { openSync, closeSync } = await import('node:fs');
  const logFd = openSync(join(dir, 'dockerd.log'), 'a');
  const child: ChildProcess = spawn('nsenter', [`--net=/var/run/netns/${name}`, 'unshare', '-m', script], { stdio: ['ignore', logFd, logFd], detached: true });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const socket = `unix://${dir}/run/docker.sock`;
  await waitFor(`the engine ${name}`, 120_000, async () => ((await docker(['info', '--format', '{{.ServerVersion}}'], socket)) !== '' ? true : undefined));
  // The engine's private mount namespace (child.pid is dockerd: nsenter, unshare and sh exec).
  const mountNs = await readlink(`/proc/${child.pid}/ns/mnt`).catch(() => undefined);
  let stopped = false;
  const stop = async (graceMs = 30_000): Promise<void> => {
    if (stopped) return exited;
    stopped = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  const remove = async (): Promise<void> => {
    await stop(15_000).catch(() => undefined);
    if (mountNs !== undefined) await killEngineTree(mountNs);
    await run('ip', ['netns', 'delete', name]).catch(() => undefined);
    await run('ip', ['link', 'delete', `${name}a`]).catch(() => undefined);
    // Leftover overlay mounts lived in the engine's private mount namespace, gone with it.
    if (existsSync(dir)) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  return { name, address, hostAddress, socket, stop, remove };
}

/**
 * SIGKILLs what a stopped engine left running: every process still in its mount namespace
 * (containerd and the containers' shims outlive a dockerd stopped or killed mid-shutdown) and
 * their descendants (the containers' processes, in namespaces of their own). Without it, each
 * run left its function containers running on the host. Never the caller's own namespace.
 */
async function killEngineTree(mountNs: string): Promise<void> {
  if (mountNs === (await readlink('/proc/self/ns/mnt').catch(() => undefined))) return;
  const parents = new Map<number, number>();
  const doomed = new Set<number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue; // gone meanwhile
    parents.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    if ((await readlink(`/proc/${pid}/ns/mnt`).catch(() => undefined)) === mountNs) doomed.add(pid);
  }
  for (let grew = doomed.size > 0; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!doomed.has(pid) && doomed.has(ppid)) {
        doomed.add(pid);
        grew = true;
      }
    }
  }
  for (const pid of doomed) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Removes what an earlier run killed before its clean-up left behind: network namespaces named
 * like this harness's (`rf<4 hex>n<digit>`), their veth pairs and folders, when no engine of
 * theirs still runs (a live one is left alone). Returns the names removed.
 */
export async function removeStaleEngines(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']).catch(() => ({ stdout: '' }));
  const removed: string[] = [];
  for (const name of stdout.split('\n').map((l) => l.split(' ')[0] ?? '')) {
    if (!/^rf[0-9a-f]{4}n\d$/.test(name)) continue;
    const pids = (await run('ip', ['netns', 'pids', name]).catch(() => ({ stdout: '' }))).stdout.trim();
    if (pids !== '') continue;
    await run('ip', ['netns', 'delete', name]).catch(() => undefined);
    await run('ip', ['link', 'delete', `${name}a`]).catch(() => undefined);
    await rm(join('/tmp', `${name}-engine`), { recursive: true, force: true }).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}
