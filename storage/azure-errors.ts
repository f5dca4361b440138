/**
 * How the Azure stores talk to the SDKs: every call is bounded in time and every driver
 * failure becomes an RfError, whose message never carries the account key or a SAS.
 */
import { odata, type TableClient } from '@azure/data-tables';
import { RfError } from '../errors/index.ts';
import { StorageErrors } from './errors.ts';

/** What every Azure store needs besides its SDK client. */
export interface AzureCallContext {
  /** Deadline of one operation (including the SDK's own retries). */
  operationTimeoutMs: number;
  /** Strings that must never appear in an error message (the account key, a SAS). */
  secrets: readonly string[];
}

/** The HTTP status of an SDK error (RestError), when it has one. */
export function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Removes every secret from a text, plus anything shaped like a SAS signature. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('[redacted]');
  return out.replace(/([?&;]?sig=)[^&;\s"']+/gi, '$1[redacted]');
}

/** The service's own explanation inside an SDK message (XML for Blob, JSON for Table). */
function serviceMessage(message: string): string {
  const xml = /<Message>([^<]*)<\/Message>/.exec(message);
  if (xml !== null) return xml[1]!;
  if (message.startsWith('{')) {
    try {
      const parsed = JSON.parse(message) as { 'odata.error'?: { message?: { value?: unknown } } };
      const value = parsed['odata.error']?.message?.value;
      if (typeof value === 'string') return value;
    } catch {
      // Not JSON after all: fall back to the message as it is.
    }
  }
  return message;
}

/** A short, secret-free reason for a driver failure: its status, code and first line. */
function reasonOf(err: unknown, secrets: readonly string[]): string {
  if (typeof err !== 'object' || err === null) return redact(String(err), secrets);
  const e = err as { name?: unknown; code?: unknown; statusCode?: unknown; message?: unknown; details?: unknown };
  const parts: string[] = [];
  if (typeof e.statusCode === 'number') parts.push(`HTTP ${e.statusCode}`);
  const details = (typeof e.details === 'object' && e.details !== null ? e.details : {}) as {
    errorCode?: unknown;
    odataError?: { code?: unknown };
  };
  const code = [e.code, details.errorCode, details.odataError?.code].find((c) => typeof c === 'string' && c.length > 0);
  if (typeof code === 'string') parts.push(code);
  else if (parts.length === 0 && typeof e.name === 'string') parts.push(e.name);
  if (typeof e.message === 'string' && e.message.length > 0) {
    // The first line only: SDK messages may go on with request ids and times.
    parts.push(serviceMessage(e.message).split('\n', 1)[0]!.trim().slice(0, 200));
  }
  return redact(parts.join(' '), secrets);
}

/** Wraps a driver failure as RF_STORAGE_UNAVAILABLE with `cause`, the message secret-free. */
export function unavailable(what: string, err: unknown, secrets: readonly string[]): RfError {
  if (err instanceof RfError) return err;
  return new RfError(StorageErrors.UNAVAILABLE, `storage operation ${what} failed: ${reasonOf(err, secrets)}`, {
    cause: err,
  });
}

/**
 * Runs one SDK operation with an abort signal that fires at the deadline, and gives up at the
 * deadline even if the SDK ignores the signal. `handle` maps the expected HTTP answers (404,
 * 409, 412) to results or coded errors; whatever it rethrows, and every other failure, becomes
 * RF_STORAGE_UNAVAILABLE.
 */
export async function bounded<T>(
  ctx: AzureCallContext,
  what: string,
  run: (abortSignal: AbortSignal) => Promise<T>,
  handle?: (err: unknown) => T,
  timeoutMs: number = ctx.operationTimeoutMs,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new RfError(StorageErrors.UNAVAILABLE, `storage operation ${what} timed out after ${timeoutMs} ms`);
      controller.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    return await Promise.race([run(controller.signal), deadline]);
  } catch (err) {
    if (controller.signal.aborted) {
      throw new RfError(StorageErrors.UNAVAILABLE, `storage operation ${what} timed out after ${timeoutMs} ms`, {
        cause: err,
      });
    }
    if (handle !== undefined && !(err instanceof RfError)) {
      try {
        return handle(err);
      } catch (mapped) {
        throw unavailable(what, mapped, ctx.secrets);
      }
    }
    throw unavailable(what, err, ctx.secrets);
  } finally {
    clearTimeout(timer);
  }
}

/** Every entity of one partition of a table, read page by page within one deadline. */
export function listPartition(ctx: AzureCallContext, what: string, client: TableClient, partitionKey: string): Promise<Record<string, unknown>[]> {
  return bounded(ctx, what, async (abortSignal) => {
    const rows: Record<string, unknown>[] = [];
    const pages = client.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` },
      abortSignal,
    });
    for await (const entity of pages) rows.push(entity);
    return rows;
  });
}
