/**
 * The invoke channel end to end: the router's WorkerChannel against a real worker (startWorker,
 * ProcessRuntime containers, in-memory stores, a cluster key): answers, the key checked on the
 * upgrade, a withdrawn wait, and a frame over the worker's bound closing only its connection.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createMemoryStores } from '../../storage/index.ts';
import { startWorker, type RunningWorker, INVOKE_CHANNEL_PATH, INVOKE_CHANNEL_PROTOCOL, CLUSTER_KEY_HEADER } from '../../worker/index.ts';
import { ChannelError, WorkerChannel } from '../worker-channel.ts';
import { ClientLeft } from '../client-left.ts';
import { Code, deploy, fnId, quietLogger, testProcessRuntime } from '../../worker/test/worker-fixtures.ts';

const KEY = 'k'.repeat(40);

describe('invoke channel', () => {
  const runtime = testProcessRuntime();
  const stores = createMemoryStores();
  let worker: RunningWorker;
  const channels: WorkerChannel[] = [];
  const channel = (key: string | null = KEY): WorkerChannel => {
    const c = new WorkerChannel({ address: worker.address, connectTimeoutMs: 2000, maxAnswerBytes: 1024 * 1024, ...(key === null ? {} : { clusterKey: key }) });
    channels.push(c);
    return c;
  };
  const request = (functionId: string, input: unknown, waitMs = 0) => ({ functionId, requestId: `t-${functionId}`, waitMs, details: false, reportIdle: false, input: Buffer.from(JSON.stringify(input)) });

  before(async () => {
    // one 128 MB container at a time: a second invocation waits or is refused
    worker = await startWorker({ id: `chan-${process.pid}`, capacityMb: 128, coldPoolSize: 0, runtime, stores, logger: quietLogger(), clusterKey: KEY, heartbeatMs: 100 });
  });
  after(async () => {
    await Promise.all(channels.map((c) => c.close()));
    await worker.close();
    await runtime.close();
  });

  test('an invocation over the channel is answered as over HTTP: status, the worker\'s headers, its load, the body', async () => {
    const id = fnId('chan');
    await deploy(stores, id, Code.echo('over-channel'));
    const c = channel();
    const answers = await Promise.all([1, 2, 3].map((n) => c.request(request(id, { n }, 10_000), 30_000)));
    for (const [i, a] of answers.entries()) {
      assert.equal(a.status, 200);
      assert.equal(a.headers['x-ringfaas-worker'], worker.id);
      assert.equal(a.headers['content-type'], 'application/json');
      assert.ok(['cold-create', 'cold-pool', 'warm'].includes(a.headers['x-ringfaas-start'] as string));
      assert.equal(a.headers['x-ringfaas-instance'], undefined, 'no detail header unless asked');
      assert.ok(Number.isInteger(a.load));
      const body = JSON.parse(a.body.toString()) as { output: { input: { n: number }; tag: string } };
      assert.deepEqual(body.output.input, { n: i + 1 });
      assert.equal(body.output.tag, 'over-channel');
    }
    assert.equal(worker.pool.status().functions.find((f) => f.functionId === id)?.idle, 1, 'one container served the three, one after the other');
  });

  test('the cluster key is checked on the upgrade: a wrong or missing key gets 401 and no frame is read', async () => {
    const id = fnId('nokey');
    await deploy(stores, id, Code.echo());
    for (const key of ['x'.repeat(40), null]) {
      const c = channel(key);
      await assert.rejects(c.request(request(id, {}), 5000), (err) => err instanceof ChannelError && err.reason === 'refused' && err.status === 401);
      assert.equal(c.refusedStatus(), 401, 'the refusal is remembered for a moment (the router asks over HTTP meanwhile)');
    }
    assert.equal(worker.pool.status().functions.find((f) => f.functionId === id), undefined, 'nothing ran');
  });

  test('a CANCEL withdraws a request waiting for a container; the worker answers it cancelled and serves on', async () => {
    const slow = fnId('slow');
    await deploy(stores, slow, Code.slow());
    const c = channel();
    const first = c.request(request(slow, { ms: 1500 }), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const leave = new ClientLeft();
    const second = c.request(request(slow, { ms: 10 }, 20_000), 30_000, leave);
    await new Promise((resolve) => setTimeout(resolve, 200));
    leave.leave();
    await assert.rejects(second, (err) => err instanceof ChannelError && err.reason === 'aborted');
    assert.equal((await first).status, 200);
    const metrics = await worker.registry.metrics();
    assert.match(metrics, /ringfaas_worker_invocations_total\{result="cancelled"\} 1/);
  });

  test('a frame over the worker\'s bound closes that connection only; other channels and HTTP serve on', async () => {
    const id = fnId('bound');
    await deploy(stores, id, Code.echo());
    const port = Number(new URL(worker.address).port);
    const socket = connect({ host: '127.0.0.1', port });
    const closed = new Promise<string>((resolve) => {
      let seen = '';
      socket.on('data', (d: Buffer) => {
        seen += d.toString('latin1');
        if (seen.includes('\r\n\r\n') && !seen.includes('sent')) {
          seen += 'sent';
          // a REQUEST claiming 1 GiB: refused from its length field
          socket.write(Buffer.from('4000000001000000010000', 'hex'));
        }
      });
      socket.on('close', () => resolve(seen));
      socket.on('error', () => undefined);
    });
    socket.write(`GET ${INVOKE_CHANNEL_PATH} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${INVOKE_CHANNEL_PROTOCOL}\r\n${CLUSTER_KEY_HEADER}: ${KEY}\r\n\r\n`);
    assert.match(await closed, /^HTTP\/1\.1 101 /);
    const a = await channel().request(request(id, { after: true }), 30_000);
    assert.equal(a.status, 200);
  });
});
