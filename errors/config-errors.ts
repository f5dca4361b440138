/** The configuration error registry (see errors/index.ts and docs/errors.md). */
import type { ErrorSpec } from './index.ts';

export const ConfigErrors = {
  /**
   * A process's configuration (environment variables, flags) is invalid; the message lists
   * every problem. Status 500 because it never answers a client request: the process refuses
   * to start.
   */
  INVALID: { code: 'RF_CONFIG_INVALID', status: 500 },
} as const satisfies Record<string, ErrorSpec>;
