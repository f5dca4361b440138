/**
 * Checks an uploaded code zip before it is stored, without trusting it.
 *
 * Algorithm:
 *  1. Find the End Of Central Directory record (the last 22..65557 bytes) and walk the central
 *     directory: every entry's name, compression method, declared sizes, flags and mode.
 *  2. Reject at once, before inflating a byte: unsafe paths (absolute, drive letters, `..`
 *     segments, backslashes, NUL, symbolic links), encrypted entries, zip64, and a declared
 *     unpacked total over the limit (250 MB by default).
 *  3. Require `index.js` at the root.
 *  4. Inflate every entry as a stream (zlib, off the event loop) and count the bytes, discarding
 *     them: an entry producing more than it declared is aborted at once, so a zip bomb that
 *     lies in its central directory costs at most the declared total.
 *
 * Example: a 1 KB zip declaring `index.js` of 300 MB answers RF_ROUTER_ZIP_TOO_LARGE after
 * reading 46 bytes of central directory; one declaring 10 bytes but inflating to 300 MB is
 * stopped after the first chunk beyond 10 bytes (RF_ROUTER_INVALID_ZIP).
 *
 * Caveats: CRC-32 values are not checked (Node 20's zlib has no crc32); zip64 archives (over
 * 4 GB or 65535 entries) are refused, which is no loss under a 250 MB limit.
 */
import { createInflateRaw } from 'node:zlib';
import { RfError } from '../errors/index.ts';
import { RouterErrors } from './errors.ts';

/** What a zip that passed the checks holds. */
export interface ZipSummary {
  entries: number;
  /** Sum of the entries' unpacked sizes. */
  unpackedBytes: number;
}

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  isDirectory: boolean;
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

function invalid(message: string): RfError {
  return new RfError(RouterErrors.INVALID_ZIP, message);
}

function findEndOfCentralDirectory(zip: Buffer): number {
  const earliest = Math.max(0, zip.length - 22 - 0xffff);
  for (let at = zip.length - 22; at >= earliest; at--) {
    if (zip.readUInt32LE(at) === EOCD_SIGNATURE) return at;
  }
  throw invalid('zipFile is not a zip archive (no end of central directory)');
}

/** Why a path would escape the unpack folder, or undefined when it is safe. */
export function unsafePathReason(name: string): string | undefined {
  if (name.length === 0) return 'an empty path';
  if (name.includes('\0')) return 'a NUL character';
  if (name.includes('\\')) return 'a backslash';
  if (name.startsWith('/')) return 'an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'a drive letter';
  if (name.split('/').some((segment) => segment === '..')) return 'a ".." segment';
  return undefined;
}

function readCentralDirectory(zip: Buffer): ZipEntry[] {
  if (zip.length < 22) throw invalid('zipFile is not a zip archive (too short)');
  const eocd = findEndOfCentralDirectory(zip);
  const count = zip.readUInt16LE(eocd + 10);
  const cdSize = zip.readUInt32LE(eocd + 12);
  const cdOffset = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) {
    throw invalid('zip64 archives are not supported');
  }
  if (cdOffset + cdSize > eocd) throw invalid('zipFile is corrupt (central directory out of bounds)');
  const entries: ZipEntry[] = [];
  let at = cdOffset;
  for (let i = 0; i < count; i++) {
    if (at + 46 > eocd || zip.readUInt32LE(at) !== CENTRAL_SIGNATURE) {
      throw invalid('zipFile is corrupt (bad central directory entry)');
    }
    const flags = zip.readUInt16LE(at + 8);
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const madeBy = zip.readUInt16LE(at + 4) >> 8;
    const externalAttributes = zip.readUInt32LE(at + 38);
    const localHeaderOffset = zip.readUInt32LE(at + 42);
    if (at + 46 + nameLength > eocd) throw invalid('zipFile is corrupt (name out of bounds)');
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString((flags & 0x800) !== 0 ? 'utf8' : 'latin1');
    const reason = unsafePathReason(name);
    if (reason !== undefined) {
      throw new RfError(RouterErrors.ZIP_UNSAFE_PATH, `zip entry ${JSON.stringify(name.slice(0, 200))} has ${reason}`);
    }
    // Unix "made by" (3) keeps the mode in the high 16 bits: a symlink could point anywhere.
    if (madeBy === 3 && ((externalAttributes >>> 16) & S_IFMT) === S_IFLNK) {
      throw new RfError(RouterErrors.ZIP_UNSAFE_PATH, `zip entry ${JSON.stringify(name.slice(0, 200))} is a symbolic link`);
    }
    if ((flags & 0x1) !== 0) throw invalid(`zip entry ${JSON.stringify(name.slice(0, 200))} is encrypted`);
    if (size === 0xffffffff || compressedSize === 0xffffffff || localHeaderOffset === 0xffffffff) {
      throw invalid('zip64 archives are not supported');
    }
    entries.push({ name, method, compressedSize, size, localHeaderOffset, isDirectory: name.endsWith('/') });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

function entryData(zip: Buffer, entry: ZipEntry): Buffer {
  const at = entry.localHeaderOffset;
  if (at + 30 > zip.length || zip.readUInt32LE(at) !== LOCAL_SIGNATURE) {
    throw invalid(`zipFile is corrupt (bad local header of ${JSON.stringify(entry.name.slice(0, 200))})`);
  }
  const start = at + 30 + zip.readUInt16LE(at + 26) + zip.readUInt16LE(at + 28);
  const end = start + entry.compressedSize;
  if (end > zip.length) throw invalid(`zipFile is corrupt (data of ${JSON.stringify(entry.name.slice(0, 200))} out of bounds)`);
  return zip.subarray(start, end);
}

/** Inflates `data` counting bytes; rejects as soon as it passes `declared`. */
function inflateCounting(data: Buffer, declared: number, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const inflater = createInflateRaw();
    let produced = 0;
    let settled = false;
    const fail = (err: RfError): void => {
      if (settled) return;
      settled = true;
      inflater.destroy();
      reject(err);
    };
    inflater.on('data', (chunk: Buffer) => {
      produced += chunk.length;
      if (produced > declared) fail(invalid(`zip entry ${JSON.stringify(name.slice(0, 200))} inflates past its declared size`));
    });
    inflater.once('error', (err) => fail(new RfError(RouterErrors.INVALID_ZIP, `zip entry ${JSON.stringify(name.slice(0, 200))} is corrupt`, { cause: err })));
    inflater.once('end', () => {
      if (settled) return;
      settled = true;
      if (produced !== declared) reject(invalid(`zip entry ${JSON.stringify(name.slice(0, 200))} is corrupt (size mismatch)`));
      else resolve();
    });
    inflater.end(data);
  });
}

/**
 * Checks a code zip (see the file header); throws RfError RF_ROUTER_INVALID_ZIP,
 * RF_ROUTER_ZIP_UNSAFE_PATH, RF_ROUTER_ZIP_TOO_LARGE or RF_ROUTER_ZIP_NO_INDEX.
 */
export async function checkCodeZip(zip: Buffer, options: { maxUnpackedBytes: number }): Promise<ZipSummary> {
  const entries = readCentralDirectory(zip);
  let declaredTotal = 0;
  for (const entry of entries) declaredTotal += entry.size;
  if (declaredTotal > options.maxUnpackedBytes) {
    throw new RfError(
      RouterErrors.ZIP_TOO_LARGE,
      `zip unpacks to ${declaredTotal} bytes, more than the limit of ${options.maxUnpackedBytes} bytes`,
    );
  }
  if (!entries.some((entry) => entry.name === 'index.js')) {
    throw new RfError(RouterErrors.ZIP_NO_INDEX, 'zip has no index.js at its root');
  }
  for (const entry of entries) {
    const data = entryData(zip, entry);
    if (entry.method === 0) {
      if (data.length !== entry.size) throw invalid(`zip entry ${JSON.stringify(entry.name.slice(0, 200))} is corrupt (size mismatch)`);
    } else if (entry.method === 8) {
      await inflateCounting(data, entry.size, entry.name);
    } else {
      throw invalid(`zip entry ${JSON.stringify(entry.name.slice(0, 200))} uses compression method ${entry.method}; only stored and deflate are supported`);
    }
  }
  return { entries: entries.length, unpackedBytes: declaredTotal };
}
