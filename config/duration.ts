/** Durations as operators write them in the environment (RINGFAAS_ASYNC_RESULT_TTL). */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `86400000`, `90s`, `30m`, `24h`, `7d` → ms; NaN when malformed. */
export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (match === null) return Number.NaN;
  return Math.round(Number(match[1]) * (DURATION_UNITS[match[2] ?? 'ms'] as number));
}
