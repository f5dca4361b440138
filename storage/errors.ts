/** The storage error registry (see errors/index.ts and docs/errors.md). */
import type { ErrorSpec } from '../errors/index.ts';

export const StorageErrors = {
  UNAVAILABLE: { code: 'RF_STORAGE_UNAVAILABLE', status: 503 },
  CONFLICT: { code: 'RF_STORAGE_CONFLICT', status: 412 },
  NOT_FOUND: { code: 'RF_STORAGE_NOT_FOUND', status: 404 },
  ALREADY_EXISTS: { code: 'RF_STORAGE_ALREADY_EXISTS', status: 409 },
  BAD_TOKEN: { code: 'RF_STORAGE_BAD_TOKEN', status: 400 },
} as const satisfies Record<string, ErrorSpec>;
