/**
 * Checks an uploaded code zip before it is stored, with the one archive reader the worker also
 * unpacks with (archive/): every limit is on the real inflated bytes, and an archive two
 * readers could read differently is refused. This module only maps the reader's refusals to
 * the router's published codes.
 */
import { ArchiveError, DEFAULT_ARCHIVE_LIMITS, readArchive, type ArchiveRefusal } from '../archive/index.ts';
import { RfError, type ErrorSpec } from '../errors/index.ts';
import { RouterErrors } from './errors.ts';

export { unsafePathReason } from '../archive/index.ts';

/** What a zip that passed the checks holds. */
export interface ZipSummary {
  entries: number;
  /** Real inflated bytes, summed. */
  unpackedBytes: number;
  /** The entry point at the root. */
  index: 'index.js' | 'index.mjs';
}

const CODES: Record<ArchiveRefusal, ErrorSpec> = {
  invalid: RouterErrors.INVALID_ZIP,
  unsupported: RouterErrors.INVALID_ZIP,
  ambiguous: RouterErrors.ZIP_AMBIGUOUS,
  'too-large': RouterErrors.ZIP_TOO_LARGE,
  'too-many-entries': RouterErrors.ZIP_TOO_LARGE,
  'unsafe-path': RouterErrors.ZIP_UNSAFE_PATH,
  'no-index': RouterErrors.ZIP_NO_INDEX,
};

/**
 * Checks a code zip; throws RfError RF_ROUTER_INVALID_ZIP, RF_ROUTER_ZIP_AMBIGUOUS,
 * RF_ROUTER_ZIP_UNSAFE_PATH, RF_ROUTER_ZIP_TOO_LARGE or RF_ROUTER_ZIP_NO_INDEX.
 */
export async function checkCodeZip(zip: Buffer, options: { maxUnpackedBytes: number; maxEntries?: number }): Promise<ZipSummary> {
  try {
    const summary = await readArchive(zip, {
      limits: { maxUnpackedBytes: options.maxUnpackedBytes, maxEntries: options.maxEntries ?? DEFAULT_ARCHIVE_LIMITS.maxEntries },
      keep: false,
    });
    return { entries: summary.entries, unpackedBytes: summary.unpackedBytes, index: summary.index };
  } catch (err) {
    if (!(err instanceof ArchiveError)) throw err;
    const details: Record<string, unknown> = { reason: err.reason };
    if (err.entry !== undefined) details.entry = err.entry;
    if (err.reason === 'too-large') details.limitBytes = options.maxUnpackedBytes;
    throw new RfError(CODES[err.reason], `zipFile: ${err.message}`, { cause: err, details });
  }
}
