/**
 * The "limit" reference of the compare benchmark: the same number of HTTP hops as a platform
 * (client → hop 1 → hop 2 → container), with no platform logic, to the same kind of
 * container and shim.
 *
 * - hop 1 (the router's place): raw node:http; forwards the body to hop 2 over one undici
 *   keep-alive Pool and answers what hop 2 answered (status, body, content-type).
 * - hop 2 (the worker's place): raw node:http; holds `containers` pre-started containers with
 *   the function loaded, takes a free one from a plain array, calls the shim over its Unix
 *   socket (ContainerHandle.invoke, the worker's own client), gives it back.
 *
 * What the platforms do on top of this and the limit does not: metadata lookup, warm-stack
 * bookkeeping, ring or Redis discovery, headers, metrics, timeouts, logs.
 */
import { EMPTY_INPUT_JSON } from '../../contract/index.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { unpackCode, writeCode, type ContainerHandle, type ContainerRuntime } from '../../worker/index.ts';

export interface RunningHop {
  url: string;
  close(): Promise<void>;
}

function listen(server: Server, host: string): Promise<string> {
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve(`http://${host}:${(server.address() as AddressInfo).port}`));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/** Hop 1: a bare proxy to `next` (path and body passed through). */
export async function startProxyHop(options: { next: string; host?: string }): Promise<RunningHop> {
  const pool = new Pool(options.next, { keepAliveTimeout: 60_000 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      pool
        .request({ method: 'POST', path: req.url ?? '/', headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks) })
        .then(async (answer) => {
          const body = Buffer.from(await answer.body.arrayBuffer());
          res.writeHead(answer.statusCode, { 'content-type': 'application/json', 'content-length': body.length });
          res.end(body);
        })
        .catch(() => {
          res.writeHead(502).end();
        });
    });
  });
  const url = await listen(server, options.host ?? '127.0.0.1');
  return {
    url,
    async close() {
      await closeServer(server);
      await pool.close();
    },
  };
}

export interface ContainerHopOptions {
  runtime: ContainerRuntime;
  /** The function's code zip. */
  zip: Buffer;
  /** Containers to pre-start (one per concurrent caller). */
  containers: number;
  memoryMb: number;
  host?: string;
  /** Label id for the containers (removed again on close). */
  ownerId: string;
}

/** Hop 2: calls a pre-started container's shim directly. */
export async function startContainerHop(options: ContainerHopOptions): Promise<RunningHop> {
  const { runtime } = options;
  await runtime.removeLeftovers(options.ownerId);
  await runtime.prepare();
  const files = await unpackCode(options.zip);
  const all = await Promise.all(
    Array.from({ length: options.containers }, async (_, i) => {
      const handle = await runtime.start({ instanceId: `limit${i}`, workerId: options.ownerId, memoryMb: options.memoryMb, network: false });
      await writeCode(handle.codeDir, files);
      await handle.load({ functionId: 'limit', version: 1, memoryMb: options.memoryMb, timeoutMs: 60_000, env: {} });
      return handle;
    }),
  );
  const free: ContainerHandle[] = [...all];
  const waiting: Array<(h: ContainerHandle) => void> = [];
  const take = (): Promise<ContainerHandle> => {
    const h = free.pop();
    return h !== undefined ? Promise.resolve(h) : new Promise((resolve) => waiting.push(resolve));
  };
  const give = (h: ContainerHandle): void => {
    const next = waiting.shift();
    if (next !== undefined) next(h);
    else free.push(h);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const input = chunks.length === 0 ? Buffer.from(EMPTY_INPUT_JSON) : Buffer.concat(chunks);
      void take().then(async (handle) => {
        try {
          const result = await handle.invoke(input, Date.now() + 60_000);
          const body =
            result.state === 'ok'
              ? JSON.stringify({ output: result.output ?? null, logs: result.logs })
              : JSON.stringify({ error: { code: result.code, message: result.message } });
          res.writeHead(result.state === 'ok' ? 200 : 500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        } catch {
          res.writeHead(502).end();
        } finally {
          give(handle);
        }
      });
    });
  });
  const url = await listen(server, options.host ?? '127.0.0.1');
  return {
    url,
    async close() {
      await closeServer(server);
      await Promise.allSettled(all.map((h) => h.remove()));
    },
  };
}
