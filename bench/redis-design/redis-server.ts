/**
 * A throw-away redis-server for the Redis design: on a free loopback port, no persistence
 * (--save '' --appendonly no), stopped with the benchmark. Used when RINGFAAS_REDIS_URL is
 * not given.
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { RfError } from '../../errors/index.ts';
import { BenchErrors } from '../errors.ts';
import { freePort as freePortOn } from '../../storage/index.ts';

export interface RunningRedisServer {
  url: string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (closed again before it is answered). */
export function freePort(): Promise<number> {
  return freePortOn('127.0.0.1');
}

/** Starts `redis-server` (from PATH, or `binary`) and waits until it answers PING. */
export async function startRedisServer(options: { binary?: string; timeoutMs?: number } = {}): Promise<RunningRedisServer> {
  const port = await freePort();
  const child = spawn(
    options.binary ?? 'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let failure: unknown;
  child.once('error', (err) => (failure = err));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    if (failure !== undefined || child.exitCode !== null) {
      throw new RfError(BenchErrors.COMPONENT_START_FAILED, 'redis-server could not be started (is it installed?)', { cause: failure });
    }
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined); // not listening yet: connect() rejects, we retry
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new RfError(BenchErrors.COMPONENT_START_FAILED, 'redis-server did not answer in time');
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      probe.disconnect();
    }
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
