/**
 * Consecutive free ports for a test that starts `ringfaas dev`, whose routers listen on
 * RINGFAAS_PORT, RINGFAAS_PORT + 1, ...
 *
 * A port from `listen(0)` is in the kernel's ephemeral range, and so is the port after it: by
 * the time the launcher's second router binds it, a worker listening on port 0 or any outgoing
 * connection may hold it (a CI run failed so: "router-2 exited (code 1) while starting"). These
 * ports are taken below that range, where the kernel hands nothing out by itself; each is
 * checked free, all at once, before they are returned.
 */
import { createServer, type Server } from 'node:net';
import { readFileSync } from 'node:fs';

const LOWEST = 20_000;
const ATTEMPTS = 50;

/** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > LOWEST ? first : 32_768;
  } catch {
    return 32_768;
  }
}

function listenOn(host: string, port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen({ host, port, exclusive: true }, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** `count` consecutive ports on `host`, all free when returned; the first is returned. */
export async function freePortRun(host: string, count: number): Promise<number> {
  const top = ephemeralStart() - count;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const base = LOWEST + Math.floor(Math.random() * (top - LOWEST));
    const held: Server[] = [];
    for (let port = base; port < base + count; port++) {
      const server = await listenOn(host, port);
      if (server === undefined) break;
      held.push(server);
    }
    await Promise.all(held.map(close));
    if (held.length === count) return base;
  }
  throw new Error(`no ${count} consecutive free ports on ${host} after ${ATTEMPTS} tries`);
}
