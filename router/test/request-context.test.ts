/**
 * router/request-context.ts: a request's context makes its child logger once, on first use; it
 * has no accessor of its own (an object literal's getter is an accessor pair per request, which
 * V8 allocates in old space and which kept whole requests alive through young-generation
 * collections: bench/analysis.md, 2026-12-05); and it keeps fast properties and one hidden class
 * once `left` and `details` are set, read in a child Node with --allow-natives-syntax.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RouterRequestContext } from '../request-context.ts';
import { ClientLeft } from '../client-left.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('the child logger is made on first use, once, with the request id', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const root = pino({ level: 'info' }, sink);
  let children = 0;
  const child = root.child.bind(root);
  root.child = ((...args: Parameters<typeof root.child>) => {
    children++;
    return child(...args);
  }) as typeof root.child;
  const ctx = new RouterRequestContext('req-1', root);
  assert.equal(children, 0, 'no logger before one is asked for');
  ctx.log.info('hello');
  assert.equal(ctx.log, ctx.log);
  assert.equal(children, 1);
  assert.equal(JSON.parse(lines[0] as string).reqId, 'req-1');
});

test('a request context has no accessor of its own', () => {
  const ctx = new RouterRequestContext('r', pino({ level: 'silent' }));
  ctx.left = new ClientLeft();
  ctx.details = true;
  const own = Object.getOwnPropertyDescriptors(ctx);
  assert.deepEqual(Object.keys(own).sort(), ['details', 'left', 'requestId']);
  for (const [name, d] of Object.entries(own)) assert.ok(!('get' in d) && !('set' in d), `${name} is a data property`);
  // The literal it replaced fails this: its getter is its own.
  let made: object | undefined;
  const literal = { requestId: 'r', get log() { return (made ??= {}); } };
  assert.ok('get' in (Object.getOwnPropertyDescriptor(literal, 'log') as PropertyDescriptor));
});

test('every request context keeps fast properties and one hidden class once left and details are set', () => {
  const script = `
    import { pino } from 'pino';
    import { RouterRequestContext } from './router/request-context.ts';
    import { ClientLeft } from './router/client-left.ts';
    const root = pino({ level: 'silent' });
    const a = new RouterRequestContext('a', root);
    const b = new RouterRequestContext('b', root);
    const seen = [%HasFastProperties(a), %HaveSameMap(a, b)];
    a.left = new ClientLeft(); a.details = true; void a.log;
    b.left = new ClientLeft(); b.details = false;
    seen.push(%HasFastProperties(a), %HaveSameMap(a, b), %HaveSameMap(a, new RouterRequestContext('c', root)));
    let made;
    const literal = { requestId: 'r', get log() { return (made ??= {}); } };
    seen.push(%HasFastProperties(literal));
    console.log(JSON.stringify(seen));
  `;
  const child = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.equal(child.status, 0, child.stderr);
  // The last: the literal it replaced is a dictionary-mode object.
  assert.deepEqual(JSON.parse(child.stdout.trim()), [true, true, true, true, true, false]);
});
