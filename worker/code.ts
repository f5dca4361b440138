/**
 * A function's code as the pool writes it into a container's code folder: the zip is
 * unpacked once per version (by the function cache) into a list of files, then written into
 * each container specialised to that version.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ArchiveError, DEFAULT_ARCHIVE_LIMITS, readArchive, type ArchiveLimits } from '../archive/index.ts';
import { RfError } from '../errors/index.ts';
import { FunctionErrors } from './errors.ts';

/** One file of a function's code, its path relative to the code folder (always `/`-separated). */
export interface CodeFile {
  path: string;
  data: Uint8Array;
}

/**
 * Unpacks a code zip with the one archive reader the router checked it with (archive/):
 * streaming inflate, real bytes counted, so a large archive never holds the event loop.
 * Fails with RF_FUNCTION_LOAD_FAILED (details.reason: the reader's refusal).
 */
export async function unpackCode(zip: Uint8Array, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<CodeFile[]> {
  const buffer = Buffer.isBuffer(zip) ? zip : Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength);
  try {
    return (await readArchive(buffer, { limits, keep: true })).files;
  } catch (err) {
    if (!(err instanceof ArchiveError)) throw err;
    throw new RfError(FunctionErrors.LOAD_FAILED, `the code zip is refused: ${err.message}`, {
      cause: err,
      details: { reason: err.reason, ...(err.entry === undefined ? {} : { entry: err.entry }) },
    });
  }
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
