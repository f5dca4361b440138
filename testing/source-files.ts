/**
 * The project's production TypeScript files under a folder: every `.ts` that is not a test or a
 * declaration, skipping tests' folders, bench results, the shim and node_modules. Read by the
 * tests that check the code against its docs and its boundaries.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SKIPPED = new Set(['node_modules', 'test', 'results', 'shim']);

/** The production `.ts` files under `dir` (absolute paths); none when `dir` does not exist. */
export function sourceFiles(dir: string, out: string[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (SKIPPED.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}
