/**
 * The invoke channel under a hostile or unlucky peer (review of the channel): a peer without the
 * cluster key, a keyed peer's partial frames, a worker draining with channels open, and the
 * router's channel closed while it opens. Real worker (startWorker, ProcessRuntime), real sockets.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMemoryStores } from '../../storage/index.ts';
import { startWorker, type RunningWorker, INVOKE_CHANNEL_PATH, INVOKE_CHANNEL_PROTOCOL, CLUSTER_KEY_HEADER } from '../../worker/index.ts';
import { ChannelError, WorkerChannel } from '../worker-channel.ts';
import { Code, deploy, fnId, quietLogger, testProcessRuntime } from '../../worker/test/worker-fixtures.ts';

const KEY = 'k'.repeat(40);

/** A raw connection to the worker that keeps its own side open after the worker's FIN (allowHalfOpen). */
function rawPeer(address: string): { socket: Socket; received: Promise<string>; closed: Promise<void> } {
  const port = Number(new URL(address).port);
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  socket.on('error', () => undefined);
  let seen = '';
  const received = new Promise<string>((resolve) => {
    socket.on('data', (d: Buffer) => {
      seen += d.toString('latin1');
      if (seen.includes('\r\n\r\n')) resolve(seen);
    });
    socket.on('end', () => resolve(seen));
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received, closed };
}

function upgradeHead(key: string | undefined): string {
  return `GET ${INVOKE_CHANNEL_PATH} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${INVOKE_CHANNEL_PROTOCOL}\r\n${key === undefined ? '' : `${CLUSTER_KEY_HEADER}: ${key}\r\n`}\r\n`;
}

describe('invoke channel review', () => {
  const runtime = testProcessRuntime();
  const stores = createMemoryStores();
  const workers: RunningWorker[] = [];
  const channels: WorkerChannel[] = [];
  const channel = (worker: RunningWorker): WorkerChannel => {
    const c = new WorkerChannel({ address: worker.address, connectTimeoutMs: 2000, maxAnswerBytes: 1024 * 1024, clusterKey: KEY });
    channels.push(c);
    return c;
  };
  const request = (functionId: string, input: unknown, waitMs = 0) => ({ functionId, requestId: `t-${functionId}`, waitMs, details: false, reportIdle: false, input: Buffer.from(JSON.stringify(input)) });
  const start = async (name: string, maxQueue?: number): Promise<RunningWorker> => {
    const w = await startWorker({ id: `${name}-${process.pid}`, capacityMb: 128, coldPoolSize: 0, runtime, stores, logger: quietLogger(), clusterKey: KEY, heartbeatMs: 100, drainTimeoutMs: 2000, ...(maxQueue === undefined ? {} : { maxQueue }) });
    workers.push(w);
    return w;
  };
  after(async () => {
    await Promise.all(channels.map((c) => c.close()));
    await Promise.all(workers.map((w) => w.close()));
    await runtime.close();
  });

  test('a peer without the key that keeps its side open after the 401 is disconnected, and does not hold up the drain', async () => {
    const worker = await start('nokey-drain');
    const peer = rawPeer(worker.address);
    peer.socket.write(upgradeHead('x'.repeat(40)));
    assert.match(await peer.received, /^HTTP\/1\.1 401 /);
    const drained = worker.drain().then(() => 'drained');
    const outcome = await Promise.race([drained, sleep(8000, 'hung')]);
    peer.socket.destroy();
    await drained;
    assert.equal(outcome, 'drained', 'the drain finished although a refused peer kept its connection open');
  });

  test('a refused upgrade\'s connection is closed by the worker even when the peer keeps its side open', async () => {
    const worker = await start('nokey-hold');
    const peers = [rawPeer(worker.address), rawPeer(worker.address)];
    peers[0]?.socket.write(upgradeHead('x'.repeat(40)));
    peers[1]?.socket.write(upgradeHead(undefined).replace(INVOKE_CHANNEL_PROTOCOL, 'websocket'));
    assert.match((await peers[0]?.received) ?? '', /^HTTP\/1\.1 401 /);
    assert.match((await peers[1]?.received) ?? '', /^HTTP\/1\.1 (401|404) /);
    const connections = (): Promise<number> => new Promise((resolve, reject) => worker.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    const deadline = Date.now() + 4000;
    while ((await connections()) > 0 && Date.now() < deadline) await sleep(50);
    assert.equal(await connections(), 0, 'the worker holds no connection of a peer it refused');
    for (const p of peers) p.socket.destroy();
  });

  test('more open invocations than the worker allows on one channel: the extra ones are refused at capacity (spilled), the others are not failed', async () => {
    const worker = await start('streams', 6000);
    const slow = fnId('streams');
    await deploy(stores, slow, Code.slow());
    const c = channel(worker);
    const running = c.request(request(slow, { ms: 1500 }), 30_000);
    await sleep(300);
    // 4096 open streams is the worker's default bound: one running, the rest queued for 1 s
    const queued = Array.from({ length: 4100 }, () => c.request(request(slow, { ms: 1 }, 1000), 30_000).then((a) => a, (err: unknown) => err));
    const outcomes = await Promise.all([running.then((a) => a, (err: unknown) => err), ...queued]);
    const broken = outcomes.filter((o) => o instanceof ChannelError);
    assert.equal(broken.length, 0, `invocations failed with the connection: ${String(broken[0])}`);
    const statuses = new Set(outcomes.map((o) => (o as { status: number }).status));
    assert.deepEqual([...statuses].sort(), [200, 429]);
    for (const o of outcomes) {
      const a = o as { status: number; headers: Record<string, string> };
      if (a.status === 429) assert.equal(a.headers['x-ringfaas-refusal'], 'at-capacity', 'a refusal the router spills on');
    }
  });

  test('a router channel closed once its requests are answered leaves no connection open at either end', async () => {
    const worker = await start('close-idle');
    const id = fnId('close-idle');
    await deploy(stores, id, Code.echo());
    const c = channel(worker);
    assert.equal((await c.request(request(id, {}), 30_000)).status, 200);
    await c.close();
    const connections = (): Promise<number> => new Promise((resolve, reject) => worker.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    const deadline = Date.now() + 3000;
    while ((await connections()) > 0 && Date.now() < deadline) await sleep(50);
    assert.equal(await connections(), 0, 'the worker kept its side of a channel the router closed');
  });

  test('a router channel closed while it opens leaves no connection open at the worker', async () => {
    const worker = await start('close-opening');
    const id = fnId('close-opening');
    await deploy(stores, id, Code.echo());
    const c = channel(worker);
    const sent = c.request(request(id, {}), 30_000).then((a) => a.status, (err: unknown) => err);
    await c.close();
    const outcome = await sent;
    assert.ok(outcome === 200 || (outcome instanceof ChannelError && outcome.reason === 'connect'), String(outcome));
    const connections = (): Promise<number> => new Promise((resolve, reject) => worker.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    const deadline = Date.now() + 3000;
    while ((await connections()) > 0 && Date.now() < deadline) await sleep(50);
    assert.equal(await connections(), 0, 'the closed channel\'s connection was left open');
  });

  test('close() called twice while a request is open: both resolve once it is answered', async () => {
    const worker = await start('close-twice');
    const slow = fnId('close-twice');
    await deploy(stores, slow, Code.slow());
    const c = channel(worker);
    const answered = c.request(request(slow, { ms: 300 }), 30_000);
    await sleep(100);
    const closes = Promise.all([c.close(), c.close()]).then(() => 'closed');
    assert.equal((await answered).status, 200);
    assert.equal(await Promise.race([closes, sleep(3000, 'hung')]), 'closed');
  });

  test('a drain with a channel open: the running invocation is answered on it, a new one is refused as draining (a refusal), the drain completes', async () => {
    const worker = await start('drain-open');
    const slow = fnId('drain-open');
    await deploy(stores, slow, Code.slow());
    const c = channel(worker);
    const running = c.request(request(slow, { ms: 1000 }), 30_000);
    await sleep(300);
    const drained = worker.drain().then(() => 'drained');
    await sleep(50);
    const refused = await c.request(request(slow, { ms: 1 }), 30_000);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['x-ringfaas-refusal'], 'draining');
    assert.equal((await running).status, 200);
    assert.equal(await Promise.race([drained, sleep(10_000, 'hung')]), 'drained');
    await assert.rejects(c.request(request(slow, {}), 5000), (err) => err instanceof ChannelError && (err.reason === 'connect' || err.reason === 'refused'));
  });
});
