/**
 * The one reader of function code archives: the router runs it at deploy (discarding the
 * bytes), the worker at load (keeping them), so what is accepted is exactly what is unpacked.
 *
 * Algorithm:
 *  1. Structure, before a byte is inflated. The End Of Central Directory record (EOCD) must be
 *     the only one in the archive's tail and its comment must end exactly at the end of the
 *     file; the central directory must end exactly where the EOCD starts; one disk only; no
 *     zip64 record anywhere (locator, EOCD64, zip64 extra fields: they are refused, not read,
 *     so no two readers can disagree on which count or offset wins). Every central entry is
 *     read; the count must match the EOCD's and the entries must fill the directory exactly.
 *  2. Entries: at most `maxEntries`; safe names (no absolute path, drive letter, `..`, empty
 *     segment, backslash, NUL); no duplicates; only regular files and folders (external
 *     attributes: a symbolic link, device, FIFO or socket is refused); no encryption; stored or
 *     deflate. The local header of each entry must agree with its central entry (name, flags,
 *     method, and CRC and sizes unless a data descriptor follows), and no two entries' bytes
 *     may overlap each other or the central directory.
 *  3. The declared total must fit `maxUnpackedBytes` (cheap early refusal).
 *  4. Inflate, streaming (zlib on the thread pool, 64 KB chunks, so the event loop never
 *     holds one entry for long): the real bytes are counted as they come; an entry producing
 *     more than it declared, or the running total passing `maxUnpackedBytes`, stops at once.
 *     Each entry's size and CRC-32 must match the declared ones.
 *  5. `index.js` or `index.mjs` must be at the root.
 *
 * Worked example: a 1 KB archive whose central entry says `index.js`, 10 bytes, and whose local
 * header says 300 MB: refused as `ambiguous` (local and central disagree) before inflating.
 * The same archive with both headers saying 10 bytes and a deflate stream of 300 MB: stopped
 * after the first chunk beyond 10 bytes (`invalid`, inflates past its declared size).
 *
 * Caveats: the whole archive is in memory (it is at most the router's function body limit);
 * kept files are in memory too (at most `maxUnpackedBytes`).
 *
 * One unit (over 350 lines): the archive's checks and its unpacking are one algorithm over one
 * parsed central directory, so that what is checked is exactly what is unpacked.
 */
import { createInflateRaw, crc32 } from 'node:zlib';

/** Why an archive is refused; each consumer maps it to its own error code. */
export type ArchiveRefusal = 'invalid' | 'ambiguous' | 'unsupported' | 'too-large' | 'too-many-entries' | 'unsafe-path' | 'no-index';

/** A refused archive. */
export class ArchiveError extends Error {
  readonly reason: ArchiveRefusal;
  /** The entry concerned, when one is (cut to 200 characters). */
  readonly entry: string | undefined;

  constructor(reason: ArchiveRefusal, message: string, options: { entry?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ArchiveError';
    this.reason = reason;
    this.entry = options.entry?.slice(0, 200);
  }
}

/** Limits of one read. */
export interface ArchiveLimits {
  /** Most real (inflated) bytes over all entries. */
  maxUnpackedBytes: number;
  /** Most entries (files and folders). */
  maxEntries: number;
}

/** Default limits: 250 MB unpacked (as AWS Lambda), 10 000 entries. */
export const DEFAULT_ARCHIVE_LIMITS: Readonly<ArchiveLimits> = Object.freeze({
  maxUnpackedBytes: 250 * 1024 * 1024,
  maxEntries: 10_000,
});

/** One file of an archive, its path relative to the root (`/`-separated, no `.` segments). */
export interface ArchiveFile {
  path: string;
  data: Uint8Array;
}

/** What a read found. */
export interface ArchiveSummary {
  /** Entries, folders included. */
  entries: number;
  /** Real inflated bytes, summed. */
  unpackedBytes: number;
  /** The entry point found at the root. */
  index: 'index.js' | 'index.mjs';
  /** The files, when `keep` was set (folders are left out). */
  files: ArchiveFile[];
}

interface Entry {
  name: string;
  path: string | undefined;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  dataStart: number;
  dataEnd: number;
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** A zip record's fixed fields: name → [offset from the signature, width in bytes], little-endian. */
type Layout = Readonly<Record<string, readonly [offset: number, bytes: 2 | 4]>>;

/** End of central directory record (APPNOTE.TXT 4.3.16), after its signature. */
const EOCD_FIELDS = { disk: [4, 2], cdDisk: [6, 2], onDisk: [8, 2], count: [10, 2], cdSize: [12, 4], cdStart: [16, 4] } as const;
/** Central directory file header (4.3.12). */
const CENTRAL_FIELDS = {
  versionMadeBy: [4, 2], flags: [8, 2], method: [10, 2], crc: [16, 4], compressedSize: [20, 4], size: [24, 4],
  nameLength: [28, 2], extraLength: [30, 2], commentLength: [32, 2], entryDisk: [34, 2], external: [38, 4], localOffset: [42, 4],
} as const;
/** Local file header (4.3.7). */
const LOCAL_FIELDS = { flags: [6, 2], method: [8, 2], crc: [14, 4], compressedSize: [18, 4], size: [22, 4], nameLength: [26, 2], extraLength: [28, 2] } as const;

/** Reads a record's fields at `at` (the caller has checked the record lies within the buffer). */
function readFields<L extends Layout>(zip: Buffer, at: number, layout: L): { [K in keyof L]: number } {
  const out: Record<string, number> = {};
  for (const [name, [offset, bytes]] of Object.entries(layout)) out[name] = bytes === 2 ? zip.readUInt16LE(at + offset) : zip.readUInt32LE(at + offset);
  return out as { [K in keyof L]: number };
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const CHUNK_BYTES = 64 * 1024;
const STORED_SLICE_BYTES = 4 * 1024 * 1024;

function entryName(name: string): string {
  return JSON.stringify(name.slice(0, 200));
}

/** Why a path would escape the unpack folder, or undefined when it is safe. */
export function unsafePathReason(name: string): string | undefined {
  if (name.length === 0) return 'an empty path';
  if (name.includes('\0')) return 'a NUL character';
  if (name.includes('\\')) return 'a backslash';
  if (name.startsWith('/')) return 'an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'a drive letter';
  const segments = (name.endsWith('/') ? name.slice(0, -1) : name).split('/');
  if (segments.some((s) => s === '..')) return 'a ".." segment';
  if (segments.some((s) => s === '')) return 'an empty segment';
  return undefined;
}

function hasZip64Extra(zip: Buffer, start: number, length: number): boolean {
  let at = start;
  const end = start + length;
  while (at + 4 <= end) {
    const id = zip.readUInt16LE(at);
    const size = zip.readUInt16LE(at + 2);
    if (id === 0x0001) return true;
    at += 4 + size;
  }
  return false;
}

function findEocd(zip: Buffer): number {
  if (zip.length < 22) throw new ArchiveError('invalid', 'not a zip archive (too short)');
  const earliest = Math.max(0, zip.length - 22 - 0xffff);
  // Exactly one record whose comment ends the file, and no signature inside that comment: a
  // reader that scans from the end and one that checks the comment length find the same one.
  let found = -1;
  let seenAfter = false;
  for (let at = zip.length - 22; at >= earliest; at--) {
    if (zip.readUInt32LE(at) !== EOCD) continue;
    if (at + 22 + zip.readUInt16LE(at + 20) === zip.length) {
      if (found !== -1 || seenAfter) throw new ArchiveError('ambiguous', 'the archive has more than one end of central directory record');
      found = at;
    } else if (found === -1) {
      seenAfter = true;
    }
  }
  if (found === -1 && seenAfter) throw new ArchiveError('ambiguous', 'the end of central directory record does not end the archive');
  if (found === -1) throw new ArchiveError('invalid', 'not a zip archive (no end of central directory)');
  if (found >= 20 && zip.readUInt32LE(found - 20) === EOCD64_LOCATOR) throw new ArchiveError('unsupported', 'zip64 archives are not supported');
  return found;
}

function readCentral(zip: Buffer, limits: ArchiveLimits): { entries: Entry[]; cdStart: number; cdEnd: number } {
  const eocd = findEocd(zip);
  const { disk, cdDisk, onDisk, count, cdSize, cdStart } = readFields(zip, eocd, EOCD_FIELDS);
  if (count === 0xffff || onDisk === 0xffff || cdSize === 0xffffffff || cdStart === 0xffffffff) {
    throw new ArchiveError('unsupported', 'zip64 archives are not supported');
  }
  if (disk !== 0 || cdDisk !== 0 || onDisk !== count) throw new ArchiveError('unsupported', 'multi-disk archives are not supported');
  if (cdStart + cdSize !== eocd) throw new ArchiveError('ambiguous', 'the central directory does not end where the end record starts');
  if (count > limits.maxEntries) {
    throw new ArchiveError('too-many-entries', `the archive has ${count} entries, more than the limit of ${limits.maxEntries}`);
  }
  const entries: Entry[] = [];
  const names = new Set<string>();
  let at = cdStart;
  for (let i = 0; i < count; i++) {
    if (at + 46 > eocd || zip.readUInt32LE(at) !== CENTRAL) throw new ArchiveError('invalid', 'the archive is corrupt (bad central directory entry)');
    const { versionMadeBy, flags, method, crc, compressedSize, size, nameLength, extraLength, commentLength, entryDisk, external, localOffset } = readFields(zip, at, CENTRAL_FIELDS);
    const madeBy = versionMadeBy >> 8;
    const next = at + 46 + nameLength + extraLength + commentLength;
    if (next > eocd) throw new ArchiveError('invalid', 'the archive is corrupt (central entry out of bounds)');
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString((flags & 0x800) !== 0 ? 'utf8' : 'latin1');
    if (size === 0xffffffff || compressedSize === 0xffffffff || localOffset === 0xffffffff || entryDisk === 0xffff || hasZip64Extra(zip, at + 46 + nameLength, extraLength)) {
      throw new ArchiveError('unsupported', 'zip64 archives are not supported', { entry: name });
    }
    const reason = unsafePathReason(name);
    if (reason !== undefined) throw new ArchiveError('unsafe-path', `entry ${entryName(name)} has ${reason}`, { entry: name });
    // Unix "made by" (3) keeps the mode in the high 16 bits: only files and folders.
    const type = (external >>> 16) & S_IFMT;
    if (madeBy === 3 && type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
      throw new ArchiveError('unsafe-path', `entry ${entryName(name)} is a symbolic link or special file`, { entry: name });
    }
    const isDir = name.endsWith('/');
    if (madeBy === 3 && type === S_IFDIR && !isDir) throw new ArchiveError('ambiguous', `entry ${entryName(name)} is a folder without a trailing slash`, { entry: name });
    if ((flags & 0x1) !== 0 || (flags & 0x2000) !== 0) throw new ArchiveError('unsupported', `entry ${entryName(name)} is encrypted`, { entry: name });
    if (method !== 0 && method !== 8) {
      throw new ArchiveError('unsupported', `entry ${entryName(name)} uses compression method ${method}; only stored and deflate are supported`, { entry: name });
    }
    const path = isDir ? undefined : name.split('/').filter((s) => s !== '.').join('/');
    const key = isDir ? name.slice(0, -1) : (path as string);
    if (names.has(key)) throw new ArchiveError('ambiguous', `entry ${entryName(name)} appears more than once`, { entry: name });
    names.add(key);
    if (isDir && size !== 0) throw new ArchiveError('ambiguous', `folder entry ${entryName(name)} has content`, { entry: name });
    entries.push({ name, path, flags, method, crc, compressedSize, size, localOffset, dataStart: 0, dataEnd: 0 });
    at = next;
  }
  if (at !== eocd) throw new ArchiveError('ambiguous', 'the central directory holds more than its entries');
  return { entries, cdStart, cdEnd: eocd };
}

function readLocal(zip: Buffer, entry: Entry, cdStart: number): void {
  const at = entry.localOffset;
  const name = entry.name;
  if (at + 30 > cdStart || zip.readUInt32LE(at) !== LOCAL) throw new ArchiveError('invalid', `the archive is corrupt (bad local header of ${entryName(name)})`, { entry: name });
  const local = readFields(zip, at, LOCAL_FIELDS);
  const { flags, method, nameLength, extraLength } = local;
  const start = at + 30 + nameLength + extraLength;
  if (start > cdStart) throw new ArchiveError('invalid', `the archive is corrupt (local header of ${entryName(name)} out of bounds)`, { entry: name });
  const localName = zip.subarray(at + 30, at + 30 + nameLength);
  const centralName = Buffer.from(name, (entry.flags & 0x800) !== 0 ? 'utf8' : 'latin1');
  const disagree = (what: string): ArchiveError => new ArchiveError('ambiguous', `the local and central headers of ${entryName(name)} disagree (${what})`, { entry: name });
  if (!localName.equals(centralName)) throw disagree('name');
  if (flags !== entry.flags) throw disagree('flags');
  if (method !== entry.method) throw disagree('method');
  if (hasZip64Extra(zip, at + 30 + nameLength, extraLength)) throw new ArchiveError('unsupported', 'zip64 archives are not supported', { entry: name });
  if ((flags & 0x8) === 0) {
    if (local.crc !== entry.crc) throw disagree('CRC-32');
    if (local.compressedSize !== entry.compressedSize) throw disagree('compressed size');
    if (local.size !== entry.size) throw disagree('size');
  }
  entry.dataStart = start;
  entry.dataEnd = start + entry.compressedSize;
  if (entry.dataEnd > cdStart) throw new ArchiveError('invalid', `the archive is corrupt (data of ${entryName(name)} out of bounds)`, { entry: name });
}

function checkOverlaps(entries: Entry[]): void {
  const sorted = [...entries].sort((a, b) => a.localOffset - b.localOffset);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1] as Entry;
    const entry = sorted[i] as Entry;
    if (entry.localOffset < previous.dataEnd) {
      throw new ArchiveError('ambiguous', `entries ${entryName(previous.name)} and ${entryName(entry.name)} overlap`, { entry: entry.name });
    }
  }
}

/** Inflates one entry in chunks, counting real bytes; `room` is what the total may still grow by. */
function inflateEntry(data: Buffer, entry: Entry, room: number, keep: boolean): Promise<{ bytes: number; crc: number; data: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    const inflater = createInflateRaw({ chunkSize: CHUNK_BYTES });
    // The declared size fits the limit (checked before): the real bytes are copied in as they come.
    const out = keep ? Buffer.allocUnsafe(entry.size) : undefined;
    let bytes = 0;
    let crc = 0;
    let settled = false;
    const fail = (err: ArchiveError): void => {
      if (settled) return;
      settled = true;
      inflater.destroy();
      reject(err);
    };
    inflater.on('data', (chunk: Buffer) => {
      if (settled) return;
      bytes += chunk.length;
      if (bytes > room) {
        fail(new ArchiveError('too-large', `the archive unpacks past the limit`, { entry: entry.name }));
        return;
      }
      if (bytes > entry.size) {
        fail(new ArchiveError('invalid', `entry ${entryName(entry.name)} inflates past its declared size`, { entry: entry.name }));
        return;
      }
      crc = crc32(chunk, crc);
      out?.set(chunk, bytes - chunk.length);
    });
    inflater.once('error', (err) => fail(new ArchiveError('invalid', `entry ${entryName(entry.name)} is corrupt`, { entry: entry.name, cause: err })));
    inflater.once('end', () => {
      if (settled) return;
      settled = true;
      resolve({ bytes, crc, data: out });
    });
    inflater.end(data);
  });
}

/**
 * Reads a code archive (see the file header). With `keep`, the files come back; without, the
 * bytes are counted and dropped. Throws ArchiveError.
 */
export async function readArchive(zip: Buffer, options: { limits: ArchiveLimits; keep: boolean }): Promise<ArchiveSummary> {
  const { limits, keep } = options;
  const { entries, cdStart } = readCentral(zip, limits);
  for (const entry of entries) readLocal(zip, entry, cdStart);
  checkOverlaps(entries);
  let declared = 0;
  for (const entry of entries) declared += entry.size;
  if (declared > limits.maxUnpackedBytes) {
    throw new ArchiveError('too-large', `the archive declares ${declared} unpacked bytes, more than the limit of ${limits.maxUnpackedBytes}`);
  }
  const paths = new Set(entries.map((e) => e.path));
  const index = paths.has('index.js') ? 'index.js' : paths.has('index.mjs') ? 'index.mjs' : undefined;
  if (index === undefined) throw new ArchiveError('no-index', 'the archive has no index.js (or index.mjs) at its root');

  const files: ArchiveFile[] = [];
  let total = 0;
  for (const entry of entries) {
    if (entry.path === undefined) continue;
    const data = zip.subarray(entry.dataStart, entry.dataEnd);
    let bytes: number;
    let crc: number;
    let content: Uint8Array | undefined;
    if (entry.method === 0) {
      if (data.length !== entry.size) throw new ArchiveError('invalid', `entry ${entryName(entry.name)} is corrupt (size mismatch)`, { entry: entry.name });
      if (total + data.length > limits.maxUnpackedBytes) throw new ArchiveError('too-large', 'the archive unpacks past the limit', { entry: entry.name });
      bytes = data.length;
      crc = 0;
      const out = keep ? Buffer.allocUnsafe(bytes) : undefined;
      // In slices, yielding between them: a 250 MB stored entry must not hold the loop.
      for (let from = 0; from < bytes; from += STORED_SLICE_BYTES) {
        const slice = data.subarray(from, Math.min(bytes, from + STORED_SLICE_BYTES));
        crc = crc32(slice, crc);
        out?.set(slice, from);
        if (from + STORED_SLICE_BYTES < bytes) await new Promise((r) => setImmediate(r));
      }
      content = out;
    } else {
      const inflated = await inflateEntry(data, entry, limits.maxUnpackedBytes - total, keep);
      bytes = inflated.bytes;
      crc = inflated.crc;
      content = inflated.data;
    }
    if (bytes !== entry.size) throw new ArchiveError('invalid', `entry ${entryName(entry.name)} is corrupt (size mismatch)`, { entry: entry.name });
    if (crc !== entry.crc) throw new ArchiveError('invalid', `entry ${entryName(entry.name)} is corrupt (CRC-32 mismatch)`, { entry: entry.name });
    total += bytes;
    if (content !== undefined) files.push({ path: entry.path, data: content });
  }
  return { entries: entries.length, unpackedBytes: total, index, files };
}
