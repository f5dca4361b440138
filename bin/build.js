#!/usr/bin/env node
// `npm run build`: compiles the TypeScript sources to JavaScript in dist/ (tsconfig.build.json:
// `.ts` imports rewritten to `.js`, tests left out), then copies the files that are not
// TypeScript and are read at run time byte for byte: the runtime shim (its bytes name the
// runtime image, so it must not be transformed) and the bench's function sources. The
// compiled entry points run with production dependencies only: node dist/router/main.js,
// node dist/worker/main.js, node dist/bin/cli.js, node dist/deploy/entrypoint.js.
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
if (result.status !== 0) process.exit(result.status ?? 1);

mkdirSync(join(dist, 'worker', 'shim'), { recursive: true });
cpSync(join(root, 'worker', 'shim', 'shim.cjs'), join(dist, 'worker', 'shim', 'shim.cjs'));
// The dashboard's static assets, served from beside the compiled router.
cpSync(join(root, 'router', 'ui'), join(dist, 'router', 'ui'), { recursive: true });
for (const name of readdirSync(join(root, 'bench', 'functions'), { withFileTypes: true })) {
  if (name.isDirectory()) cpSync(join(root, 'bench', 'functions', name.name), join(dist, 'bench', 'functions', name.name), { recursive: true });
}
// dist/ is ES modules like the sources (package.json "type": "module" one level up covers it
// in a checkout; this marker keeps it so when dist/ is copied alone).
writeFileSync(join(dist, 'package.json'), '{ "type": "module" }\n');
process.stderr.write(`built ${dist}\n`);
