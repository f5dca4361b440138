/**
 * How a launcher starts one of the project's process mains (router/main.ts, worker/main.ts):
 * from source through tsx when the launcher itself runs from source (npm start, the tests), or
 * the compiled file with plain node when it runs from dist/ (`npm run build`, the platform
 * image), where neither tsx nor TypeScript is installed.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** True when this module runs compiled (dist/bin/node-entry.js), not through tsx. */
export const RUNNING_COMPILED = import.meta.url.endsWith('.js');

/** The root the sources (or the compiled files) live under: the checkout, or dist/. */
export const CODE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The checkout (package.json, docs/, the sources): CODE_ROOT from source, its parent when compiled. */
export const SOURCE_ROOT = RUNNING_COMPILED ? dirname(CODE_ROOT) : CODE_ROOT;

/**
 * Node arguments that run `mainFile` (a path relative to the source root, `router/main.ts`):
 * `['--import', 'tsx', <root>/router/main.ts]` from source, `[<root>/router/main.js]` compiled.
 */
export function nodeEntryArgs(mainFile: string, root: string = CODE_ROOT, compiled: boolean = RUNNING_COMPILED): string[] {
  if (!compiled) return ['--import', 'tsx', join(root, mainFile)];
  return [join(root, mainFile.replace(/\.ts$/, '.js'))];
}
