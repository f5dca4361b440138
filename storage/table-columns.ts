/**
 * Reading and writing typed columns of Azure Table entities, for every Table store. A column
 * that is missing or of the wrong type throws; the stores wrap that as a corrupt row.
 */

/**
 * Times are ms since the epoch, beyond Int32: sent as Int64 so Table Storage keeps them
 * exact whatever its default typing of JSON numbers.
 */
export function int64(n: number): { value: string; type: 'Int64' } {
  return { value: String(Math.trunc(n)), type: 'Int64' };
}

/** A number column; Table Storage answers Int64 as bigint, or `{ value, type }` when type conversion is off. */
export function numberColumn(entity: Record<string, unknown>, key: string): number {
  const raw = entity[key];
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'bigint') return Number(raw);
  if (typeof raw === 'object' && raw !== null && typeof (raw as { value?: unknown }).value === 'string') {
    const n = Number((raw as { value: string }).value);
    if (Number.isFinite(n)) return n;
  }
  throw new Error(`column '${key}' is not a number`);
}

/** A string column. */
export function stringColumn(entity: Record<string, unknown>, key: string): string {
  const raw = entity[key];
  if (typeof raw !== 'string') throw new Error(`column '${key}' is not a string`);
  return raw;
}
