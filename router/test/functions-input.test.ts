/**
 * Every kind of bad input answers its documented code and status, and leaves storage exactly
 * as it was (no record, no blob, no version change).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { MemoryArtifactStore, MemoryFunctionStore } from '../../storage/index.ts';
import type { Stores } from '../../storage/types.ts';
import { call, jsonInit, makeZip, startTestApp, type TestApp } from './app-harness.ts';

const PROBE_ID = 'probeprobeprobe0';

/**
 * Finds the central directory entry of `name` and overwrites its uncompressed size there and,
 * unless `centralOnly`, in its local header too (so both headers agree on the lie).
 */
function patchDeclaredSize(zip: Buffer, name: string, size: number, centralOnly = false): Buffer {
  const out = Buffer.from(zip);
  for (let at = out.length - 46; at >= 0; at--) {
    if (out.readUInt32LE(at) !== 0x02014b50) continue;
    const nameLength = out.readUInt16LE(at + 28);
    if (out.subarray(at + 46, at + 46 + nameLength).toString('latin1') === name) {
      out.writeUInt32LE(size, at + 24);
      if (!centralOnly) out.writeUInt32LE(size, out.readUInt32LE(at + 42) + 22);
      return out;
    }
  }
  throw new Error(`no entry ${name}`);
}

describe('bad input answers a clear code and changes nothing', () => {
  let stores: Pick<Stores, 'functions' | 'artifacts'>;
  let app: TestApp;
  let existing: { id: string; version: number; codeSha256: string };

  before(async () => {
    stores = { functions: new MemoryFunctionStore(), artifacts: new MemoryArtifactStore() };
    let n = 0;
    app = await startTestApp({ stores, newId: () => (n++ === 0 ? 'existing00000000' : PROBE_ID), limits: { maxFunctionBodyBytes: 2 * 1024 * 1024 } });
    existing = (await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, code: 'module.exports = () => 1' }))).body;
  });
  after(() => app.close());

  async function assertUnchanged(): Promise<void> {
    const list = await stores.functions.list();
    assert.equal(list.length, 1, 'a record was created');
    assert.equal(list[0]?.id, existing.id);
    assert.equal(list[0]?.version, 1, 'the existing function changed version');
    assert.equal(list[0]?.codeSha256, existing.codeSha256);
    await assert.rejects(stores.artifacts.get(PROBE_ID, 1), { code: 'RF_STORAGE_NOT_FOUND' });
    await assert.rejects(stores.artifacts.get(existing.id, 2), { code: 'RF_STORAGE_NOT_FOUND' });
    assert.ok(await stores.artifacts.get(existing.id, 1));
  }

  const zip64 = (files: Record<string, string>): string => makeZip(files).toString('base64');
  const good = { memorySize: 128, code: 'module.exports = () => 1' };
  const cases: Array<{ name: string; body: unknown; status: number; code: string; mentions?: string }> = [
    { name: 'malformed JSON', body: '{"memorySize": 128,', status: 400, code: 'RF_ROUTER_BAD_JSON' },
    { name: 'a JSON array', body: [good], status: 400, code: 'RF_ROUTER_INVALID_BODY' },
    { name: 'JSON null', body: 'null', status: 400, code: 'RF_ROUTER_INVALID_BODY' },
    { name: 'an unknown field', body: { ...good, memory: 128 }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'memory' },
    { name: 'memorySize missing', body: { code: good.code }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'memorySize' },
    { name: 'memorySize as a string', body: { ...good, memorySize: '512' }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'memorySize' },
    { name: 'memorySize below 128', body: { ...good, memorySize: 64 }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'memorySize' },
    { name: 'memorySize above 4096', body: { ...good, memorySize: 4097 }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'memorySize' },
    { name: 'memorySize not an integer', body: { ...good, memorySize: 128.5 }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'memorySize' },
    { name: 'a name with spaces', body: { ...good, name: 'bad name' }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'name' },
    { name: 'a name of 65 characters', body: { ...good, name: 'a'.repeat(65) }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'name' },
    { name: 'an empty name', body: { ...good, name: '' }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'name' },
    { name: 'name and displayName differ', body: { ...good, name: 'a', displayName: 'b' }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'displayName' },
    { name: 'timeoutMs of 0', body: { ...good, timeoutMs: 0 }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'timeoutMs' },
    { name: 'timeoutMs over 15 minutes', body: { ...good, timeoutMs: 900_001 }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'timeoutMs' },
    { name: 'env with a number value', body: { ...good, env: { A: 1 } }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'env' },
    { name: 'env with a bad key', body: { ...good, env: { 'A-B': 'x' } }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'env' },
    { name: 'env over 4 KB', body: { ...good, env: { A: 'x'.repeat(5000) } }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'env' },
    { name: 'neither zipFile nor code', body: { memorySize: 128 }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'zipFile' },
    { name: 'both zipFile and code', body: { ...good, zipFile: zip64({ 'index.js': 'x' }) }, status: 400, code: 'RF_ROUTER_INVALID_BODY', mentions: 'zipFile' },
    { name: 'zipFile not base64', body: { memorySize: 128, zipFile: 'not base64 at all!' }, status: 400, code: 'RF_ROUTER_INVALID_ZIP' },
    { name: 'base64 that is not a zip', body: { memorySize: 128, zipFile: Buffer.from('hello world, not a zip').toString('base64') }, status: 400, code: 'RF_ROUTER_INVALID_ZIP' },
    { name: 'a truncated zip', body: { memorySize: 128, zipFile: makeZip({ 'index.js': 'x'.repeat(1000) }).subarray(0, 60).toString('base64') }, status: 400, code: 'RF_ROUTER_INVALID_ZIP' },
    { name: 'a zip without index.js', body: { memorySize: 128, zipFile: zip64({ 'main.js': 'x' }) }, status: 400, code: 'RF_ROUTER_ZIP_NO_INDEX' },
    { name: 'index.js only in a folder', body: { memorySize: 128, zipFile: zip64({ 'fn/index.js': 'x' }) }, status: 400, code: 'RF_ROUTER_ZIP_NO_INDEX' },
    { name: 'a ".." path', body: { memorySize: 128, zipFile: zip64({ 'index.js': 'x', '../evil.js': 'x' }) }, status: 400, code: 'RF_ROUTER_ZIP_UNSAFE_PATH' },
    { name: 'a nested ".." path', body: { memorySize: 128, zipFile: zip64({ 'index.js': 'x', 'a/../../evil.js': 'x' }) }, status: 400, code: 'RF_ROUTER_ZIP_UNSAFE_PATH' },
    { name: 'an absolute path', body: { memorySize: 128, zipFile: zip64({ 'index.js': 'x', '/etc/evil': 'x' }) }, status: 400, code: 'RF_ROUTER_ZIP_UNSAFE_PATH' },
    { name: 'a backslash path', body: { memorySize: 128, zipFile: zip64({ 'index.js': 'x', '..\\evil.js': 'x' }) }, status: 400, code: 'RF_ROUTER_ZIP_UNSAFE_PATH' },
    { name: 'a drive letter', body: { memorySize: 128, zipFile: zip64({ 'index.js': 'x', 'C:/evil.js': 'x' }) }, status: 400, code: 'RF_ROUTER_ZIP_UNSAFE_PATH' },
    {
      name: 'a symbolic link',
      body: { memorySize: 128, zipFile: makeZip({ 'index.js': 'x', link: '/etc/passwd' }, { link: { os: 3, attrs: (0o120777 << 16) >>> 0 } }).toString('base64') },
      status: 400,
      code: 'RF_ROUTER_ZIP_UNSAFE_PATH',
    },
    {
      name: 'a declared unpacked size over 250 MB',
      body: { memorySize: 128, zipFile: patchDeclaredSize(makeZip({ 'index.js': 'x', 'big.bin': 'y' }), 'big.bin', 251 * 1024 * 1024).toString('base64') },
      status: 413,
      code: 'RF_ROUTER_ZIP_TOO_LARGE',
    },
    {
      name: 'an entry inflating past its declared size (a lying zip bomb)',
      body: { memorySize: 128, zipFile: patchDeclaredSize(makeZip({ 'index.js': 'x', 'bomb.bin': new Uint8Array(4 * 1024 * 1024) }), 'bomb.bin', 10).toString('base64') },
      status: 400,
      code: 'RF_ROUTER_INVALID_ZIP',
    },
    {
      name: 'local and central headers that disagree on a size (two readers could unpack it differently)',
      body: { memorySize: 128, zipFile: patchDeclaredSize(makeZip({ 'index.js': 'x', 'bomb.bin': new Uint8Array(4 * 1024 * 1024) }), 'bomb.bin', 10, true).toString('base64') },
      status: 400,
      code: 'RF_ROUTER_ZIP_AMBIGUOUS',
    },
  ];

  for (const c of cases) {
    test(`POST with ${c.name} → ${c.status} ${c.code}`, async () => {
      const res = await call(`${app.url}/functions`, jsonInit('POST', c.body));
      assert.equal(res.status, c.status, JSON.stringify(res.body));
      assert.equal(res.body.error.code, c.code);
      assert.equal(typeof res.body.error.message, 'string');
      if (c.mentions !== undefined) assert.match(res.body.error.message, new RegExp(c.mentions));
      await assertUnchanged();
    });
  }

  test('PUT with bad input changes nothing either', async () => {
    for (const c of cases.filter((x) => x.name !== 'memorySize missing')) {
      const res = await call(`${app.url}/functions/${existing.id}`, jsonInit('PUT', c.body));
      assert.equal(res.status, c.status, `${c.name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, c.code, c.name);
    }
    await assertUnchanged();
    assert.deepEqual(app.notifier.events, []);
  });

  test('a function body over the limit answers 413 RF_ROUTER_BODY_TOO_LARGE (declared and streamed)', async () => {
    const big = JSON.stringify({ memorySize: 128, code: `// ${'x'.repeat(3 * 1024 * 1024)}` });
    const declared = await call(`${app.url}/functions`, jsonInit('POST', big));
    assert.equal(declared.status, 413);
    assert.equal(declared.body.error.code, 'RF_ROUTER_BODY_TOO_LARGE');
    // Without a Content-Length (chunked), the limit is enforced while reading.
    const chunks = [Buffer.from(big.slice(0, 1024 * 1024)), Buffer.from(big.slice(1024 * 1024))];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(next);
      },
    });
    const streamed = await call(`${app.url}/functions`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    assert.equal(streamed.status, 413);
    assert.equal(streamed.body.error.code, 'RF_ROUTER_BODY_TOO_LARGE');
    await assertUnchanged();
  });

  test('the real default limit is 50 MB for function bodies', async () => {
    const other = await startTestApp({ stores });
    try {
      const res = await call(`${other.url}/functions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Buffer.alloc(50 * 1024 * 1024 + 1, 0x20),
      });
      assert.equal(res.status, 413);
      assert.equal(res.body.error.code, 'RF_ROUTER_BODY_TOO_LARGE');
      await assertUnchanged();
    } finally {
      await other.close();
    }
  });

  test('a raw deflate stream is not taken for a zip', async () => {
    const res = await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, zipFile: deflateRawSync(Buffer.from('module.exports=()=>1')).toString('base64') }));
    assert.equal(res.body.error.code, 'RF_ROUTER_INVALID_ZIP');
    await assertUnchanged();
  });
});

test('ES modules are accepted at deploy: index.mjs, or index.js beside a package.json of "type": "module"', async () => {
  const app = await startTestApp({ stores: { functions: new MemoryFunctionStore(), artifacts: new MemoryArtifactStore() } });
  try {
    for (const files of [{ 'index.mjs': 'export default () => 1' }, { 'index.js': 'export default () => 1', 'package.json': '{"type":"module"}' }] as Array<Record<string, string>>) {
      const res = await call(`${app.url}/functions`, jsonInit('POST', { memorySize: 128, zipFile: makeZip(files).toString('base64') }));
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
  } finally {
    await app.close();
  }
});
