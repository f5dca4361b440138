/**
 * The benchmark functions as deployable zips (index.js at the root, as the seed's API wants).
 * instance-id: returns a stable per-container id and its own duration (the seed's function).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';

/** The source of bench/functions/<name>/index.js. */
export async function functionSource(name: 'instance-id'): Promise<string> {
  return readFile(fileURLToPath(new URL(`./${name}/index.js`, import.meta.url)), 'utf8');
}

/** A zip with `index.js` = `source` at its root. */
export function zipIndex(source: string): Buffer {
  return Buffer.from(zipSync({ 'index.js': new TextEncoder().encode(source) }));
}

