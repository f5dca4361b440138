/**
 * The functions CLI (bin/functions-commands.ts) run as a child process against a router app on
 * port 0: deploy (file, folder, zip, update), ls, get, invoke (argument and stdin), rm, errors
 * as `code: message` with a non-zero exit, --help; and that the workers and invocations groups
 * reach the API.
 *
 * It runs `bin/ringfaas.js` when every command module bin/cli.ts imports exists, else a tiny
 * program registering only the function commands (same code path, same commander setup).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync, strFromU8 } from 'fflate';
import { createMemoryStores } from '../../storage/index.ts';
import { makeZip, startTestApp, type TestApp } from './app-harness.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const KEY = 'cli-test-key-0123456789';
const fullCli = ['bin/image-commands.ts', 'bin/workers-commands.ts', 'bin/dev-command.ts', 'bench/cli.ts'].every((f) => existsSync(join(root, f)));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe(`functions CLI (${fullCli ? 'bin/ringfaas.js' : 'function commands only: other command modules are missing'})`, () => {
  let app: TestApp;
  let stores: ReturnType<typeof createMemoryStores>;
  let dir: string;
  let entry: string[];

  const cli = (args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> =>
    new Promise((resolveRun, reject) => {
      const child = spawn(process.execPath, [...entry, ...args], {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', RINGFAAS_URL: app.url, RINGFAAS_API_KEY: KEY, ...options.env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolveRun({ code, stdout, stderr }));
      child.stdin.end(options.stdin ?? '');
    });

  before(async () => {
    stores = createMemoryStores();
    app = await startTestApp({ stores, apiKeys: [KEY] });
    dir = mkdtempSync(join(tmpdir(), 'ringfaas-cli-'));
    if (fullCli) entry = [join(root, 'bin', 'ringfaas.js')];
    else {
      const program = join(dir, 'cli.mts');
      writeFileSync(
        program,
        [
          `import { Command } from ${JSON.stringify(join(root, 'node_modules', 'commander', 'index.js'))};`,
          `import { registerFunctionCommands } from ${JSON.stringify(join(root, 'bin', 'functions-commands.ts'))};`,
          "const program = new Command('ringfaas').showHelpAfterError().enablePositionalOptions();",
          'registerFunctionCommands(program);',
          'await program.parseAsync(process.argv);',
        ].join('\n'),
      );
      entry = ['--import', 'tsx', program];
    }
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('deploy a .js file with options, then get, ls, invoke, update, rm', async () => {
    const file = join(dir, 'hello.js');
    writeFileSync(file, 'module.exports = (input) => ({ hi: input.name })');
    const deployed = await cli(['deploy', file, '--name', 'hello', '--memory', '256', '--timeout', '5000', '--env', 'A=1', '--env', 'B=x=y']);
    assert.equal(deployed.code, 0, deployed.stderr);
    const record = JSON.parse(deployed.stdout) as { id: string; name: string; memorySize: number; timeoutMs: number; env: Record<string, string>; version: number };
    assert.equal(record.name, 'hello');
    assert.equal(record.memorySize, 256);
    assert.equal(record.timeoutMs, 5000);
    assert.deepEqual(record.env, { A: '1', B: 'x=y' });
    const zip = unzipSync(await stores.artifacts.get(record.id, 1));
    assert.equal(strFromU8(zip['index.js']!), 'module.exports = (input) => ({ hi: input.name })');

    const got = await cli(['get', record.id]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(JSON.parse(got.stdout).id, record.id);

    const listed = await cli(['ls']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^ID\s+NAME\s+VERSION/);
    assert.match(listed.stdout, new RegExp(`${record.id}\\s+hello\\s+1\\s+256MB`));
    const listedJson = await cli(['ls', '--json']);
    assert.ok((JSON.parse(listedJson.stdout) as Array<{ id: string }>).some((r) => r.id === record.id));

    const invoked = await cli(['invoke', record.id, '{"name":"ada"}']);
    assert.equal(invoked.code, 0, invoked.stderr);
    assert.deepEqual(JSON.parse(invoked.stdout), { functionId: record.id, input: { name: 'ada' } });
    const fromStdin = await cli(['invoke', record.id, '-'], { stdin: '{"name":"stdin"}' });
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.deepEqual(JSON.parse(fromStdin.stdout), { functionId: record.id, input: { name: 'stdin' } });
    assert.equal(app.invoker.calls.at(-1)?.input.toString(), '{"name":"stdin"}');

    writeFileSync(file, 'module.exports = () => 2');
    const updated = await cli(['deploy', file, '--update', record.id]);
    assert.equal(updated.code, 0, updated.stderr);
    const v2 = JSON.parse(updated.stdout) as typeof record;
    assert.equal(v2.version, 2);
    assert.equal(v2.memorySize, 256, 'an update without --memory keeps the memory');

    const removed = await cli(['rm', record.id]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, `deleted ${record.id}\n`);
    const gone = await cli(['get', record.id]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^RF_ROUTER_FUNCTION_NOT_FOUND: /);
  });

  test('deploy a folder (zipped with index.js at its root) and a .zip', async () => {
    const fnDir = join(dir, 'fn');
    mkdirSync(join(fnDir, 'lib'), { recursive: true });
    writeFileSync(join(fnDir, 'index.js'), "module.exports = () => require('./lib/x.js')");
    writeFileSync(join(fnDir, 'lib', 'x.js'), 'module.exports = 42');
    const fromDir = await cli(['deploy', fnDir]);
    assert.equal(fromDir.code, 0, fromDir.stderr);
    const dirRecord = JSON.parse(fromDir.stdout) as { id: string; memorySize: number };
    assert.equal(dirRecord.memorySize, 128);
    const files = unzipSync(await stores.artifacts.get(dirRecord.id, 1));
    assert.deepEqual(Object.keys(files).sort(), ['index.js', 'lib/x.js']);

    const zipPath = join(dir, 'fn.zip');
    const zip = makeZip({ 'index.js': 'module.exports = () => 1' });
    writeFileSync(zipPath, zip);
    const fromZip = await cli(['deploy', zipPath, '--memory', '512']);
    assert.equal(fromZip.code, 0, fromZip.stderr);
    const zipRecord = JSON.parse(fromZip.stdout) as { id: string };
    assert.deepEqual(await stores.artifacts.get(zipRecord.id, 1), zip);
  });

  test('errors print as code: message and exit non-zero', async () => {
    const noKey = await cli(['ls'], { env: { RINGFAAS_API_KEY: '' } });
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /^RF_ROUTER_UNAUTHORIZED: /);

    const bad = join(dir, 'bad.zip');
    writeFileSync(bad, makeZip({ 'main.js': 'x' }));
    const noIndex = await cli(['deploy', bad]);
    assert.equal(noIndex.code, 1);
    assert.match(noIndex.stderr, /^RF_ROUTER_ZIP_NO_INDEX: /);

    const badMemory = await cli(['deploy', join(dir, 'fn'), '--memory', '64']);
    assert.equal(badMemory.code, 1);
    assert.match(badMemory.stderr, /^RF_ROUTER_INVALID_BODY: memorySize/);

    const badInput = await cli(['invoke', 'someid', '{nope']);
    assert.equal(badInput.code, 1);
    assert.match(badInput.stderr, /^RF_ROUTER_BAD_JSON: /);

    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    const unreachable = await cli(['ls'], { env: { RINGFAAS_URL: `http://127.0.0.1:${port}` } });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, new RegExp(`^ECONNREFUSED: cannot reach ringfaas at http://127\\.0\\.0\\.1:${port}`));
  });

  test('every command has --help', async () => {
    for (const [command, mentions] of [
      ['deploy', '--update'],
      ['ls', '--json'],
      ['get', '<id>'],
      ['rm', '<id>'],
      ['invoke', 'stdin'],
    ] as const) {
      const help = await cli([command, '--help']);
      assert.equal(help.code, 0, command);
      assert.match(help.stdout, new RegExp(`Usage: ringfaas ${command}`));
      assert.ok(help.stdout.includes(mentions), `${command} --help mentions ${mentions}`);
    }
  });

  test('the workers and invocations groups reach the API with the key', { skip: fullCli ? false : 'only the function commands are built' }, async () => {
    const listed = await cli(['workers', 'ls', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout), { workers: [] });
    // This app has no asynchronous invocations: the API's refusal is the command's error.
    const missing = await cli(['invocations', 'get', 'no-such-invocation']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^RF_[A-Z_]+: /);
  });
});
