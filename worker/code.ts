/**
 * A function's code as the pool writes it into a container's code folder: the zip is
 * unpacked once per version (by the function cache) into a list of files, then written into
 * each container specialised to that version.
 */
import { unzipSync } from 'fflate';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RfError } from '../errors/index.ts';
import { FunctionErrors } from './errors.ts';

/** One file of a function's code, its path relative to the code folder (always `/`-separated). */
export interface CodeFile {
  path: string;
  data: Uint8Array;
}

/** Largest total unpacked size accepted (zip bombs stop here). */
export const MAX_UNPACKED_BYTES = 256 * 1024 * 1024;

function safePath(name: string): string | undefined {
  if (name.endsWith('/')) return undefined; // a directory entry
  if (name.startsWith('/') || name.includes('\\') || /^[A-Za-z]:/.test(name)) throw badPath(name);
  const parts = name.split('/');
  if (parts.some((p) => p === '..' || p === '')) throw badPath(name);
  return parts.filter((p) => p !== '.').join('/');
}

function badPath(name: string): RfError {
  return new RfError(FunctionErrors.LOAD_FAILED, 'the code zip holds an unsafe path', { details: { path: name.slice(0, 200) } });
}

/**
 * Unpacks a code zip. Fails with RF_FUNCTION_LOAD_FAILED when it is not a zip, holds an
 * absolute or `..` path, has no `index.js` at its root, or unpacks past MAX_UNPACKED_BYTES.
 */
export function unpackCode(zip: Uint8Array): CodeFile[] {
  let entries: Record<string, Uint8Array>;
  let total = 0;
  try {
    entries = unzipSync(zip, {
      filter: (file) => {
        total += file.originalSize;
        if (total > MAX_UNPACKED_BYTES) throw new RfError(FunctionErrors.LOAD_FAILED, 'the code zip unpacks past the size limit', { details: { limitBytes: MAX_UNPACKED_BYTES } });
        return true;
      },
    });
  } catch (err) {
    if (err instanceof RfError) throw err;
    throw new RfError(FunctionErrors.LOAD_FAILED, 'the code is not a valid zip file', { cause: err });
  }
  const files: CodeFile[] = [];
  for (const [name, data] of Object.entries(entries)) {
    const path = safePath(name);
    if (path !== undefined) files.push({ path, data });
  }
  if (!files.some((f) => f.path === 'index.js')) {
    throw new RfError(FunctionErrors.LOAD_FAILED, 'the code zip has no index.js at its root');
  }
  return files;
}

/** Writes unpacked code into a (fresh) code folder. */
export async function writeCode(dir: string, files: readonly CodeFile[]): Promise<void> {
  const made = new Set<string>();
  for (const file of files) {
    const target = join(dir, file.path);
    const parent = dirname(target);
    if (parent !== dir && !made.has(parent)) {
      await mkdir(parent, { recursive: true });
      made.add(parent);
    }
    await writeFile(target, file.data);
  }
}
