/**
 * Test support for the real components a test needs (Docker, Azurite, Redis).
 *
 * Locally a test whose component is missing skips and says why; in CI (`.ci/run` sets
 * RINGFAAS_REQUIRE_SERVICES=1) the same test fails, so a green CI always means the real
 * component was exercised.
 */
import { connect } from 'node:net';
import { existsSync } from 'node:fs';

/** Whether a missing service must fail the test instead of skipping it. */
export function servicesRequired(): boolean {
  return process.env.RINGFAAS_REQUIRE_SERVICES === '1';
}

/**
 * Returns a skip reason for `node:test` (`{ skip: reason }`) when the service is missing and
 * skipping is allowed; throws when it is missing and CI requires it; `false` when present.
 */
export function skipUnless(available: boolean, service: string, why: string): string | false {
  if (available) return false;
  const reason = `${service} is not available: ${why}`;
  if (servicesRequired()) throw new Error(`RINGFAAS_REQUIRE_SERVICES=1 but ${reason}`);
  return reason;
}

/** The Docker engine socket (DOCKER_HOST unix:// or the default). */
export function dockerSocketPath(): string {
  const host = process.env.DOCKER_HOST;
  if (host !== undefined && host.startsWith('unix://')) return host.slice('unix://'.length);
  return '/var/run/docker.sock';
}

export function dockerAvailable(): boolean {
  return existsSync(dockerSocketPath());
}

/** The Redis URL tests use: RINGFAAS_REDIS_URL, else 127.0.0.1:6390 (what .ci/run starts). */
export function testRedisUrl(): string {
  return process.env.RINGFAAS_REDIS_URL ?? 'redis://127.0.0.1:6390';
}

/** Resolves true when a TCP connection to host:port opens within timeoutMs. */
export function tcpReachable(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function redisAvailable(): Promise<boolean> {
  const url = new URL(testRedisUrl());
  return tcpReachable(url.hostname, Number(url.port || 6379));
}
