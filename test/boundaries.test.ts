/**
 * The import graph holds the architecture the headers describe (docs/architecture.md): read
 * from the source itself, every relative import of every .ts file outside tests.
 *
 * - Across areas, a file imports another area only through an `index.ts` (the area's public
 *   surface, or a sub-area's such as worker/keepalive/index.ts). The one exception is the
 *   container entrypoint, which runs a role's process entry module (its `main`).
 * - Dependencies point one way (STYLE.md, "Layout"): clock and errors → nothing; ring, storage, archive,
 *   contract → errors only; config → errors, contract, ring; worker → contract, config, ring (pure), storage, archive, errors; router → contract,
 *   config, ring, storage, archive, errors (never worker/); test and CI helpers (testing/) are imported
 *   by tests only, never by a production area; clock/ (time, injected) may be imported by all.
 * - Loading router/index.ts (what a router process runs) loads no worker/ module and no
 *   dockerode, counting only imports that exist at run time (`import type` is erased).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceFiles } from '../testing/source-files.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const AREAS = ['clock', 'errors', 'contract', 'config', 'archive', 'storage', 'ring', 'worker', 'router', 'bench', 'bin', 'testing', 'deploy'];

/** Which areas each area may import (itself always). bench, bin and deploy sit on top. */
const ALLOWED: Record<string, readonly string[]> = {
  clock: [],
  errors: [],
  contract: ['errors'],
  config: ['errors', 'contract', 'ring'],
  archive: ['errors'],
  ring: ['errors'],
  storage: ['errors'],
  worker: ['clock', 'contract', 'config', 'ring', 'storage', 'archive', 'errors'],
  router: ['clock', 'contract', 'config', 'ring', 'storage', 'archive', 'errors'],
  testing: ['clock', 'storage', 'errors'],
  bench: ['clock', 'errors', 'contract', 'config', 'archive', 'ring', 'storage', 'worker', 'router', 'bin'],
  bin: ['clock', 'errors', 'contract', 'config', 'archive', 'ring', 'storage', 'worker', 'router', 'bench', 'deploy'],
  deploy: ['clock', 'errors', 'contract', 'config', 'storage', 'worker', 'router', 'bin'],
};

/** Imports of a process's entry module by the launcher that runs it (not a library use). */
const ENTRY_IMPORTS = new Set(['deploy/entrypoint.ts > router/main.ts', 'deploy/entrypoint.ts > worker/main.ts', 'deploy/entrypoint.ts > bin/cli.ts']);

interface Import {
  from: string;
  /** Resolved path relative to the root (posix), or the bare package name. */
  to: string;
  typeOnly: boolean;
}

const STATEMENT = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

function importsOf(file: string): Import[] {
  const from = relative(root, file).split('\\').join('/');
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(STATEMENT)) {
    const spec = m[4] ?? m[5]!;
    // `import { type A, type B }` is erased as a whole, like `import type { A, B }`.
    const names = m[3] ?? '';
    const allTypes = /^\{[^}]*\}$/.test(names.trim()) && names.slice(1, -1).split(',').every((n) => n.trim() === '' || n.trim().startsWith('type '));
    const typeOnly = m[2] !== undefined || (m[4] !== undefined && allTypes);
    const to = spec.startsWith('.') ? posix.normalize(posix.join(posix.dirname(from), spec)) : spec;
    out.push({ from, to, typeOnly });
  }
  return out;
}

const files = AREAS.flatMap((area) => sourceFiles(join(root, area)));
const imports = files.flatMap(importsOf);
const areaOf = (path: string): string => path.split('/')[0]!;
const isRelative = (imp: Import): boolean => AREAS.includes(areaOf(imp.to)) && imp.to.endsWith('.ts');

test('the scan finds the source (a sanity check of the reader itself)', () => {
  assert.ok(files.length > 150, `only ${files.length} files`);
  assert.ok(imports.some((i) => i.from === 'router/ring-invoker.ts' && i.to === 'contract/index.ts'));
});

test('across areas, every import goes through an index.ts', () => {
  const bypass = imports
    .filter((i) => isRelative(i) && areaOf(i.from) !== areaOf(i.to))
    .filter((i) => !i.to.endsWith('/index.ts') && !ENTRY_IMPORTS.has(`${i.from} > ${i.to}`))
    .map((i) => `${i.from} > ${i.to}`);
  assert.deepEqual(bypass, [], `imports past an area's index.ts:\n${bypass.join('\n')}`);
});

test('dependencies between areas point one way', () => {
  const wrong = imports
    .filter((i) => isRelative(i) && areaOf(i.from) !== areaOf(i.to))
    .filter((i) => !(ALLOWED[areaOf(i.from)] ?? []).includes(areaOf(i.to)))
    .map((i) => `${i.from} > ${i.to}`);
  assert.deepEqual(wrong, [], `imports against the direction of the layers:\n${wrong.join('\n')}`);
});

test('loading router/index.ts loads no worker module and no dockerode', () => {
  const runtime = new Map<string, string[]>();
  for (const i of imports) if (!i.typeOnly) runtime.set(i.from, [...(runtime.get(i.from) ?? []), i.to]);
  const seen = new Map<string, string>([['router/index.ts', '']]);
  const queue = ['router/index.ts'];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const to of runtime.get(file) ?? []) {
      if (seen.has(to)) continue;
      seen.set(to, file);
      if (to.endsWith('.ts')) queue.push(to);
    }
  }
  const chain = (file: string): string => {
    const path = [file];
    for (let at = seen.get(file); at !== undefined && at !== ''; at = seen.get(at)) path.unshift(at);
    return path.join(' > ');
  };
  const bad = [...seen.keys()].filter((f) => f.startsWith('worker/') || f === 'dockerode').map(chain);
  assert.deepEqual(bad, [], `the router loads:\n${bad.join('\n')}`);
});
