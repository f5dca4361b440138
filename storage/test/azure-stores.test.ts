/**
 * The storage contract on the Azure stores against a real Azurite (in memory, started by the
 * project's own startAzurite), plus what only the Azure side has: outages answered with
 * RF_STORAGE_UNAVAILABLE instead of hanging, no credential in records or messages, and data
 * kept on disk across an Azurite restart.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { TableClient } from '@azure/data-tables';
import {
  AZURITE_ACCOUNT_KEY,
  AzureTableFunctionStore,
  azuriteConnectionString,
  openStores,
  startAzurite,
  type AzuriteHandle,
} from '../index.ts';
import { startTestAzurite } from '../../testing/stores.ts';
import { AzuriteFaultPath } from '../../testing/fault-proxy.ts';
import type { Stores } from '../types.ts';
import { sampleRecord, storeContract } from './store-contract.ts';

let contractAzurite: AzuriteHandle | undefined;
storeContract('azure (Azurite)', {
  open: async () => {
    contractAzurite = await startTestAzurite();
    return openStores({ connectionString: contractAzurite.connectionString });
  },
  release: async () => {
    await contractAzurite?.stop();
  },
});

/** Every operation of every store, each expected to fail the same way. */
function everyOperation(stores: Stores): Array<[string, () => Promise<unknown>]> {
  const record = sampleRecord();
  const worker = { id: 'w1', address: 'http://127.0.0.1:1', capacityMb: 1, state: 'active' as const, heartbeatAt: 1, startedAt: 1 };
  return [
    ['functions.create', () => stores.functions.create(record)],
    ['functions.get', () => stores.functions.get(record.id)],
    ['functions.list', () => stores.functions.list()],
    ['functions.update', () => stores.functions.update(record, 'W/"x"')],
    ['functions.delete', () => stores.functions.delete(record.id)],
    ['artifacts.put', () => stores.artifacts.put(record.id, 1, Buffer.from('zip'))],
    ['artifacts.get', () => stores.artifacts.get(record.id, 1)],
    ['artifacts.delete', () => stores.artifacts.delete(record.id, 1)],
    ['artifacts.deleteAll', () => stores.artifacts.deleteAll(record.id)],
    ['membership.upsert', () => stores.membership.upsert(worker)],
    ['membership.get', () => stores.membership.get(worker.id)],
    ['membership.list', () => stores.membership.list()],
    ['membership.setState', () => stores.membership.setState(worker.id, 'draining')],
    ['membership.remove', () => stores.membership.remove(worker.id)],
  ];
}

/** Asserts an RF_STORAGE_UNAVAILABLE whose message and code carry no credential. */
function assertUnavailable(err: unknown, secret: string): true {
  assert.equal((err as { code?: string }).code, 'RF_STORAGE_UNAVAILABLE', String(err));
  assert.equal((err as Error).name, 'RfError');
  assert.ok(!(err as Error).message.includes(secret), `message leaks the key: ${(err as Error).message}`);
  assert.ok((err as Error).cause !== undefined, 'the driver error is kept as cause');
  return true;
}

describe('Azure stores: outages', () => {
  test('Azurite stopped: every operation fails with RF_STORAGE_UNAVAILABLE, never hangs', { timeout: 30_000 }, async () => {
    const azurite = await startTestAzurite();
    const stores = await openStores({ connectionString: azurite.connectionString, operationTimeoutMs: 2000 });
    await stores.functions.create(sampleRecord());
    await azurite.stop();
    for (const [name, run] of everyOperation(stores)) {
      await assert.rejects(run(), (err) => assertUnavailable(err, AZURITE_ACCOUNT_KEY), name);
    }
    await assert.rejects(
      openStores({ connectionString: azurite.connectionString, operationTimeoutMs: 2000 }),
      (err) => assertUnavailable(err, AZURITE_ACCOUNT_KEY),
    );
    await stores.close();
  });

  describe('a service that accepts connections and never answers', () => {
    const held: Socket[] = [];
    let server: Server | undefined;
    after(async () => {
      for (const socket of held) socket.destroy();
      if (server !== undefined) await new Promise((resolve) => server!.close(resolve));
    });

    test('each operation fails with RF_STORAGE_UNAVAILABLE at its deadline', { timeout: 30_000 }, async () => {
      const blackHole = createServer((socket) => held.push(socket));
      server = blackHole;
      await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
      const address = blackHole.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      const connectionString = azuriteConnectionString('127.0.0.1', port, port);

      await assert.rejects(openStores({ connectionString, operationTimeoutMs: 300 }), (err) => {
        assertUnavailable(err, AZURITE_ACCOUNT_KEY);
        assert.match((err as Error).message, /timed out after 300 ms/);
        return true;
      });

      const client = TableClient.fromConnectionString(connectionString, 'functions', { allowInsecureConnection: true });
      const functions = new AzureTableFunctionStore({ client, operationTimeoutMs: 300, secrets: [AZURITE_ACCOUNT_KEY] });
      await assert.rejects(functions.get('x'), (err) => assertUnavailable(err, AZURITE_ACCOUNT_KEY));
      await assert.rejects(functions.list(), (err) => assertUnavailable(err, AZURITE_ACCOUNT_KEY));
    });
  });
});

describe('Azure stores: waiting for storage at start', () => {
  let azurite: AzuriteHandle | undefined;
  let path: AzuriteFaultPath | undefined;
  after(async () => {
    await path?.close();
    await azurite?.stop();
  });

  test('storage that refuses connections, then answers: opened once it answers, each failed attempt reported', { timeout: 60_000 }, async () => {
    azurite = await startTestAzurite();
    path = new AzuriteFaultPath(azurite.blobPort, azurite.tablePort);
    await path.listen();
    path.setMode('refuse');
    const connectionString = path.through(azurite.connectionString);
    await assert.rejects(openStores({ connectionString, operationTimeoutMs: 1000 }), (err) => assertUnavailable(err, AZURITE_ACCOUNT_KEY), 'no wait: fails at once');

    const retries: Array<{ attempt: number; code: unknown }> = [];
    const healed = setTimeout(() => path!.setMode('pass'), 1500);
    try {
      const stores = await openStores({
        connectionString,
        operationTimeoutMs: 1000,
        startupWaitMs: 20_000,
        onStartupRetry: (err, attempt) => retries.push({ attempt, code: (err as { code?: unknown }).code }),
      });
      await stores.functions.create(sampleRecord());
      await stores.close();
    } finally {
      clearTimeout(healed);
    }
    assert.ok(retries.length >= 1, 'the refused attempts were reported');
    assert.deepEqual(retries.map((r) => r.code), retries.map(() => 'RF_STORAGE_UNAVAILABLE'));
  });
});

describe('Azure stores: credentials', () => {
  let azurite: AzuriteHandle | undefined;
  after(async () => {
    await azurite?.stop();
  });

  test('records never carry the account key; a rejected key is not echoed', async () => {
    azurite = await startTestAzurite();
    const stores = await openStores({ connectionString: azurite.connectionString });
    const record = sampleRecord();
    const created = await stores.functions.create(record);
    const listed = await stores.functions.list();
    const got = await stores.functions.get(record.id);
    for (const value of [created, listed, got]) {
      const text = JSON.stringify(value);
      assert.ok(!text.includes(AZURITE_ACCOUNT_KEY));
      assert.ok(!/AccountKey|sig=/i.test(text));
    }
    await stores.close();

    const wrongKey = Buffer.alloc(64, 7).toString('base64');
    const badConnection = azurite.connectionString.replace(AZURITE_ACCOUNT_KEY, wrongKey);
    await assert.rejects(openStores({ connectionString: badConnection, operationTimeoutMs: 3000 }), (err) =>
      assertUnavailable(err, wrongKey),
    );
    // A key storage refuses is an answer, not an absence: no waiting for it at start.
    const retries: number[] = [];
    const started = Date.now();
    await assert.rejects(
      openStores({ connectionString: badConnection, operationTimeoutMs: 3000, startupWaitMs: 30_000, onStartupRetry: (_e, attempt) => retries.push(attempt) }),
      (err) => assertUnavailable(err, wrongKey),
    );
    assert.deepEqual(retries, [], 'a refused key is not retried');
    assert.ok(Date.now() - started < 10_000, `failed at once (${Date.now() - started} ms)`);
  });

  test('a malformed connection string fails with RF_STORAGE_UNAVAILABLE without echoing it', async () => {
    const secret = Buffer.alloc(64, 9).toString('base64');
    await assert.rejects(openStores({ connectionString: `AccountKey=${secret};nonsense` }), (err) => {
      assert.equal((err as { code?: string }).code, 'RF_STORAGE_UNAVAILABLE');
      assert.ok(!(err as Error).message.includes(secret), (err as Error).message);
      return true;
    });
  });
});

describe('embedded Azurite', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  test('with a data folder, functions, code and workers survive a stop and a start', { timeout: 60_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ringfaas-azurite-'));
    dirs.push(dataDir);
    const record = sampleRecord();
    const zip = Buffer.from('PK fake zip bytes');
    const worker = { id: 'w-persist', address: 'http://127.0.0.1:7001', capacityMb: 2048, state: 'active' as const, heartbeatAt: 1_764_000_000_999, startedAt: 1_764_000_000_000 };

    const first = await startAzurite({ dataDir });
    let created;
    try {
      const stores = await openStores({ connectionString: first.connectionString });
      created = await stores.functions.create(record);
      await stores.artifacts.put(record.id, 1, zip);
      await stores.membership.upsert(worker);
      await stores.close();
    } finally {
      await first.stop();
    }

    const second = await startAzurite({ dataDir });
    try {
      const stores = await openStores({ connectionString: second.connectionString });
      assert.deepEqual(await stores.functions.get(record.id), created);
      assert.deepEqual(await stores.artifacts.get(record.id, 1), zip);
      assert.deepEqual(await stores.membership.get(worker.id), worker);
      await stores.close();
    } finally {
      await second.stop();
    }
  });

  test('stop is idempotent and frees the ports', async () => {
    const azurite = await startAzurite({ queue: false });
    await azurite.stop();
    await azurite.stop();
    const again = await startAzurite({ blobPort: azurite.blobPort, tablePort: azurite.tablePort, queue: false });
    assert.equal(again.blobPort, azurite.blobPort);
    await again.stop();
  });

  test('a port already in use fails the start with RF_STORAGE_UNAVAILABLE and Azurite output', async () => {
    const accepted: Socket[] = [];
    const blocker = createServer((socket) => accepted.push(socket));
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      await assert.rejects(startAzurite({ tablePort: port, startTimeoutMs: 5000, queue: false }), (err) => {
        assert.equal((err as { code?: string }).code, 'RF_STORAGE_UNAVAILABLE');
        assert.match((err as Error).message, /table/);
        return true;
      });
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
