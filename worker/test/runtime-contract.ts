/**
 * The ContainerRuntime contract suite (worker/runtime.ts), run against every implementation:
 * runtime-process.test.ts (ProcessRuntime) and runtime-docker.test.ts (DockerRuntime, a real
 * engine). Each case starts real containers running the real shim.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isRfError } from '../../errors/index.ts';
import { FunctionErrors } from '../errors.ts';
import type { ContainerHandle, ContainerRuntime, LoadRequest, ShimResult } from '../runtime.ts';
import { SHIM_LIMITS } from '../shim-client.ts';

export interface RuntimeContractOptions {
  /** A reason to skip the whole suite, or false. */
  skip: string | false;
  /** A new runtime (called once, after the skip check). */
  makeRuntime: () => ContainerRuntime;
}

/** Code files: a source string is index.js. */
type Code = string | Record<string, string>;

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

function expectOk(result: ShimResult): Extract<ShimResult, { state: 'ok' }> {
  if (result.state !== 'ok') assert.fail(`expected ok, got ${result.code}: ${result.message}`);
  return result;
}

function expectError(result: ShimResult, code: string): Extract<ShimResult, { state: 'error' }> {
  if (result.state !== 'error') assert.fail(`expected ${code}, got ok: ${JSON.stringify(result.output)?.slice(0, 200)}`);
  assert.equal(result.code, code, result.message);
  return result;
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isRfError(err), `expected an RfError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  return assert.fail(`expected a rejection with ${code}`);
}

/** Defines the suite under `describe(name)`. */
export function runtimeContract(name: string, options: RuntimeContractOptions): void {
  describe(name, { skip: options.skip }, () => {
    let runtime: ContainerRuntime;
    const workerId = `contract-${randomBytes(4).toString('hex')}`;
    const otherWorkerId = `${workerId}-other`;
    let seq = 0;
    const handles: ContainerHandle[] = [];

    before(async () => {
      runtime = options.makeRuntime();
      await runtime.prepare();
    });

    after(async () => {
      for (const h of handles) await h.remove();
      await runtime.removeLeftovers(workerId);
      await runtime.removeLeftovers(otherWorkerId);
      await runtime.close();
    });

    async function start(owner = workerId, memoryMb = 128): Promise<ContainerHandle> {
      const handle = await runtime.start({ instanceId: `i${seq++}`, workerId: owner, memoryMb, network: false });
      handles.push(handle);
      return handle;
    }

    async function writeCodeFiles(handle: ContainerHandle, code: Code): Promise<void> {
      const files = typeof code === 'string' ? { 'index.js': code } : code;
      for (const [path, source] of Object.entries(files)) {
        const target = join(handle.codeDir, path);
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, source);
      }
    }

    async function loaded(code: Code, request: Partial<LoadRequest> = {}): Promise<ContainerHandle> {
      const handle = await start();
      await writeCodeFiles(handle, code);
      await handle.load({ functionId: 'fn-a', version: 3, memoryMb: 128, timeoutMs: 5000, env: {}, ...request });
      return handle;
    }

    const invoke = (handle: ContainerHandle, input: unknown, timeoutMs = 5000): Promise<ShimResult> =>
      handle.invoke(json(input), Date.now() + timeoutMs);

    test('a sync function (module.exports = fn) gets the input and answers its output', async () => {
      const h = await loaded('module.exports = (input) => ({ doubled: input.n * 2 });');
      const r = expectOk(await invoke(h, { n: 21 }));
      assert.deepEqual(r.output, { doubled: 42 });
      assert.deepEqual(r.logs, { lines: [], truncated: false });
      assert.ok(r.functionMs >= 0);
    });

    test('an async function, and exports.handler', async () => {
      const a = await loaded('module.exports = async (input) => { await new Promise((r) => setTimeout(r, 5)); return input; };');
      assert.deepEqual(expectOk(await invoke(a, [1, 'two', null])).output, [1, 'two', null]);
      const b = await loaded('exports.handler = async (input) => "hello " + input.name;');
      assert.equal(expectOk(await invoke(b, { name: 'ring' })).output, 'hello ring');
    });

    test('an ES module (package.json "type": "module", export default)', async () => {
      const h = await loaded({ 'package.json': '{"type":"module"}', 'index.js': 'export default async (input) => ({ esm: true, input });' });
      assert.deepEqual(expectOk(await invoke(h, 7)).output, { esm: true, input: 7 });
    });

    test('undefined output is null; an empty body is a null input', async () => {
      const h = await loaded('module.exports = (input) => { if (input !== null) throw new Error("input " + input); };');
      const r = expectOk(await h.invoke(Buffer.alloc(0), Date.now() + 5000));
      assert.equal(r.output, null);
    });

    test('env of the load request is in process.env; context carries the function, version, memory, remaining time', async () => {
      const h = await loaded(
        `module.exports = (input, context) => ({
          greeting: process.env.GREETING,
          functionId: context.functionId,
          version: context.version,
          memoryMb: context.memoryMb,
          remaining: context.getRemainingTimeMs(),
        });`,
        { functionId: 'fn-ctx', version: 9, memoryMb: 256, env: { GREETING: 'hej' } },
      );
      const out = expectOk(await invoke(h, {}, 3000)).output as Record<string, unknown>;
      assert.equal(out.greeting, 'hej');
      assert.equal(out.functionId, 'fn-ctx');
      assert.equal(out.version, 9);
      assert.equal(out.memoryMb, 256);
      assert.equal(typeof out.remaining, 'number');
      assert.ok((out.remaining as number) > 0 && (out.remaining as number) <= 3000, `remaining ${String(out.remaining)}`);
    });

    test('console.* and context.log lines come back in logs, per invocation', async () => {
      const h = await loaded(`module.exports = (input, context) => {
        console.log('one', input);
        console.info('two %d', 2);
        console.warn('three');
        console.error(new Error('four').message);
        context.log('five', { six: 6 });
        return 'done';
      };`);
      const r = expectOk(await invoke(h, 1));
      assert.deepEqual(r.logs, { lines: ['one 1', 'two 2', 'three', 'four', 'five { six: 6 }'], truncated: false });
      const again = expectOk(await invoke(h, 2));
      assert.equal(again.logs.lines[0], 'one 2', 'lines of the previous invocation are not repeated');
      assert.equal(again.logs.lines.length, 5);
    });

    test('logs are cut at the documented line and byte limits, and say so', async () => {
      const h = await loaded(`module.exports = (input) => {
        if (input.lines) for (let i = 0; i < input.lines; i++) console.log('line ' + i);
        if (input.bytes) for (let i = 0; i < 40; i++) console.log('x'.repeat(input.bytes));
        return 'ok';
      };`);
      const many = expectOk(await invoke(h, { lines: SHIM_LIMITS.maxLogLines + 500 }));
      assert.equal(many.logs.lines.length, SHIM_LIMITS.maxLogLines);
      assert.equal(many.logs.lines.at(-1), `line ${SHIM_LIMITS.maxLogLines - 1}`);
      assert.equal(many.logs.truncated, true);
      const big = expectOk(await invoke(h, { bytes: 10_000 }));
      const total = big.logs.lines.reduce((sum, line) => sum + Buffer.byteLength(line), 0);
      assert.equal(total, SHIM_LIMITS.maxLogBytes);
      assert.equal(big.logs.truncated, true);
      const exact = expectOk(await invoke(h, { lines: 3 }));
      assert.equal(exact.logs.truncated, false, 'the flag is per invocation');
    });

    test('a thrown error or rejected promise is RF_FUNCTION_ERROR with its message, and the container still serves', async () => {
      const h = await loaded(`module.exports = async (input) => {
        if (input === 'throw') throw new TypeError('bad input here');
        if (input === 'reject') return Promise.reject(new Error('rejected here'));
        if (input === 'later') { setTimeout(() => { throw new Error('thrown in a timer'); }, 1); return new Promise(() => {}); }
        return 'fine';
      };`);
      const thrown = expectError(await invoke(h, 'throw'), FunctionErrors.ERROR.code);
      assert.equal(thrown.message, 'bad input here');
      assert.equal(expectError(await invoke(h, 'reject'), FunctionErrors.ERROR.code).message, 'rejected here');
      assert.match(expectError(await invoke(h, 'later'), FunctionErrors.ERROR.code).message, /thrown in a timer/);
      assert.equal(expectOk(await invoke(h, 'ok')).output, 'fine');
    });

    test('an output that is not JSON or too large is RF_FUNCTION_BAD_OUTPUT', async () => {
      const h = await loaded(`module.exports = (input) => {
        if (input === 'circular') { const o = {}; o.self = o; return o; }
        if (input === 'bigint') return { n: 10n };
        if (input === 'huge') return 'x'.repeat(${SHIM_LIMITS.maxOutputBytes} + 1);
        return 'fine';
      };`);
      expectError(await invoke(h, 'circular'), FunctionErrors.BAD_OUTPUT.code);
      expectError(await invoke(h, 'bigint'), FunctionErrors.BAD_OUTPUT.code);
      expectError(await invoke(h, 'huge'), FunctionErrors.BAD_OUTPUT.code);
      assert.equal(expectOk(await invoke(h, 'ok')).output, 'fine');
    });

    test('a function that exits the process: invoke rejects RF_FUNCTION_CRASHED and exited resolves', async () => {
      const h = await loaded('module.exports = () => { process.exit(3); };');
      await rejectsWithCode(invoke(h, null), FunctionErrors.CRASHED.code);
      const exit = await h.exited;
      assert.equal(exit.exitCode, 3);
      assert.equal(exit.oomKilled, false);
      await h.remove();
    });

    test('index.js exporting no function, or not parsing, fails load with RF_FUNCTION_LOAD_FAILED', async () => {
      const none = await start();
      await writeCodeFiles(none, 'module.exports = { notAFunction: 1 };');
      await rejectsWithCode(none.load({ functionId: 'f', version: 1, memoryMb: 128, timeoutMs: 1000, env: {} }), FunctionErrors.LOAD_FAILED.code);
      const syntax = await start();
      await writeCodeFiles(syntax, 'module.exports = (input) => {');
      const err = await rejectsWithCode(syntax.load({ functionId: 'f', version: 1, memoryMb: 128, timeoutMs: 1000, env: {} }), FunctionErrors.LOAD_FAILED.code);
      assert.match((err as Error).message, /SyntaxError/);
      const missing = await start();
      await rejectsWithCode(missing.load({ functionId: 'f', version: 1, memoryMb: 128, timeoutMs: 1000, env: {} }), FunctionErrors.LOAD_FAILED.code);
    });

    test('an aborted invocation rejects at once, not as a crash', async () => {
      const h = await loaded('module.exports = () => new Promise(() => {});');
      const abort = new AbortController();
      const pending = h.invoke(json(null), Date.now() + 60_000, abort.signal);
      setTimeout(() => abort.abort(), 20);
      await assert.rejects(pending, (err: unknown) => !(isRfError(err) && err.code === FunctionErrors.CRASHED.code));
      await h.remove();
    });

    test('remove() is idempotent and never throws; the removed container answers no more', async () => {
      const h = await loaded('module.exports = () => 1;');
      await Promise.all([h.remove(), h.remove()]);
      await h.remove();
      await assert.rejects(invoke(h, null));
      // `exited` is for stops the worker did not ask for: a removal never resolves it.
      const settled = await Promise.race([h.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('pending'), 200))]);
      assert.equal(settled, 'pending');
    });

    test('setMemoryLimit on a running container keeps it serving', async () => {
      const h = await loaded('module.exports = () => "still here";');
      await h.setMemoryLimit(256);
      assert.equal(expectOk(await invoke(h, null)).output, 'still here');
    });

    test("removeLeftovers removes the given worker's containers only", async () => {
      const mine = [await start(), await start()];
      const theirs = await start(otherWorkerId);
      await writeCodeFiles(theirs, 'module.exports = () => "other worker";');
      await theirs.load({ functionId: 'f', version: 1, memoryMb: 128, timeoutMs: 1000, env: {} });

      const removed = await runtime.removeLeftovers(workerId);
      assert.ok(removed >= mine.length, `removed ${removed}`);
      for (const h of mine) {
        await assert.rejects(h.load({ functionId: 'f', version: 1, memoryMb: 128, timeoutMs: 1000, env: {} }));
      }
      assert.equal(expectOk(await invoke(theirs, null)).output, 'other worker');
      assert.equal(await runtime.removeLeftovers(workerId), 0, 'nothing is left the second time');
    });
  });
}
