/**
 * archive/: the one reader of function code archives, shared by the router (at deploy) and the
 * worker (at load) so that what is accepted is exactly what is unpacked. Pure library: no
 * I/O beyond zlib, no logging, depends on nothing internal. Other areas import from here only.
 */
export { readArchive, unsafePathReason, ArchiveError, DEFAULT_ARCHIVE_LIMITS } from './zip-reader.ts';
export type { ArchiveLimits, ArchiveFile, ArchiveSummary, ArchiveRefusal } from './zip-reader.ts';
