/**
 * A TCP proxy for fault tests: sits between one process and one service (e.g. Azurite's Table
 * or Blob port) and passes, stalls or resets its connections, so a test makes the path fail
 * instead of mocking the client.
 *
 * - pass: bytes flow both ways.
 * - stall: new connections are accepted and never answered; bytes on open ones are dropped
 *   (a paused or partitioned service: the client sees nothing until its own deadline).
 *   Connections that dropped bytes are closed when the mode changes again.
 * - reset: every open connection is destroyed and new ones are accepted and closed at once.
 * - refuse: every open connection is destroyed and the proxy stops listening, so new ones are
 *   refused (ECONNREFUSED, as a host that rejects the route); any other mode listens again on
 *   the same port.
 *
 * `setUpstream(port)` re-points new connections (a service restarted on another port).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'stall' | 'reset' | 'refuse';

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  /** Dropped bytes while stalled: the stream is broken, close it on the next change. */
  broken: boolean;
}

export class FaultProxy {
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  #upstreamPort: number;
  #mode: ProxyMode = 'pass';
  port = 0;

  constructor(upstreamPort: number) {
    this.#upstreamPort = upstreamPort;
    this.#server = createServer((client) => this.#accept(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    this.port = typeof address === 'object' && address !== null ? address.port : 0;
    return this.port;
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  setMode(mode: ProxyMode): void {
    const was = this.#mode;
    this.#mode = mode;
    if (mode === 'refuse' && was !== 'refuse') this.#server.close();
    if (mode !== 'refuse' && was === 'refuse') this.#server.listen(this.port, '127.0.0.1');
    for (const pair of [...this.#pairs]) {
      if (mode === 'reset' || mode === 'refuse' || pair.broken || (mode === 'pass' && pair.upstream === undefined)) this.#close(pair);
    }
  }

  setUpstream(port: number): void {
    this.#upstreamPort = port;
  }

  async close(): Promise<void> {
    for (const pair of [...this.#pairs]) this.#close(pair);
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#mode === 'reset' || this.#mode === 'refuse') {
      client.destroy();
      return;
    }
    const pair: Pair = { client, upstream: undefined, broken: false };
    this.#pairs.add(pair);
    client.on('error', () => this.#close(pair));
    client.on('close', () => this.#close(pair));
    if (this.#mode === 'pass') this.#connectUpstream(pair);
    client.on('data', (chunk: Buffer) => {
      if (this.#mode !== 'pass' || pair.upstream === undefined) {
        pair.broken = true;
        return;
      }
      pair.upstream.write(chunk);
    });
  }

  #connectUpstream(pair: Pair): void {
    const upstream = connect(this.#upstreamPort, '127.0.0.1');
    pair.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => {
      if (this.#mode !== 'pass') {
        pair.broken = true;
        return;
      }
      pair.client.write(chunk);
    });
    upstream.on('error', () => this.#close(pair));
    upstream.on('close', () => this.#close(pair));
  }

  #close(pair: Pair): void {
    if (!this.#pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}

/** Proxies for one process's view of Azurite: its own Blob and Table paths. */
export class AzuriteFaultPath {
  readonly blob: FaultProxy;
  readonly table: FaultProxy;

  constructor(blobPort: number, tablePort: number) {
    this.blob = new FaultProxy(blobPort);
    this.table = new FaultProxy(tablePort);
  }

  async listen(): Promise<void> {
    await Promise.all([this.blob.listen(), this.table.listen()]);
  }

  /** The same connection string with its Blob and Table endpoints through these proxies. */
  through(connectionString: string): string {
    return connectionString
      .replace(/(BlobEndpoint=https?:\/\/[^;]+?:)\d+/, `$1${this.blob.port}`)
      .replace(/(TableEndpoint=https?:\/\/[^;]+?:)\d+/, `$1${this.table.port}`);
  }

  setMode(mode: ProxyMode): void {
    this.blob.setMode(mode);
    this.table.setMode(mode);
  }

  setUpstream(blobPort: number, tablePort: number): void {
    this.blob.setUpstream(blobPort);
    this.table.setUpstream(tablePort);
  }

  async close(): Promise<void> {
    await Promise.all([this.blob.close(), this.table.close()]);
  }
}
