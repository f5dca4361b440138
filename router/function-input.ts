/**
 * The body of POST /functions and PUT /functions/{id}: validated with a strict zod schema
 * (unknown fields are refused), then turned into a checked code zip. Nothing here touches
 * storage, so a bad body is refused before anything is written.
 */
import { createHash } from 'node:crypto';
import { zipSync, strToU8 } from 'fflate';
import { z } from 'zod';
import { RfError } from '../errors/index.ts';
import { RouterErrors } from './errors.ts';
import { checkCodeZip } from './zip-check.ts';

/** Function names: what the record's `name` may be. */
export const FUNCTION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const ENV_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** As AWS Lambda: keys and values together at most 4 KB. */
export const MAX_ENV_BYTES = 4096;

const nameSchema = z.string().regex(FUNCTION_NAME_PATTERN, 'must match [A-Za-z0-9-_]{1,64}');

const bodySchema = z.strictObject({
  /** Base64 of a zip with index.js at its root (the seed's field). */
  zipFile: z.string().min(1, 'must not be empty').optional(),
  /** Plain JS source of index.js, in place of zipFile. */
  code: z.string().min(1, 'must not be empty').optional(),
  memorySize: z.number().int('must be an integer').min(128, 'must be at least 128 (MB)').max(4096, 'must be at most 4096 (MB)').optional(),
  name: nameSchema.optional(),
  /** The seed's clients send the name as displayName. */
  displayName: nameSchema.optional(),
  timeoutMs: z.number().int('must be an integer').min(1, 'must be at least 1').max(900_000, 'must be at most 900000 (15 minutes)').optional(),
  idleTimeoutMs: z.number().int('must be an integer').min(1_000, 'must be at least 1000').max(86_400_000, 'must be at most 86400000 (one day)').optional(),
  /** Retries of a failed asynchronous invocation. */
  maxRetries: z.number().int('must be an integer').min(0, 'must be at least 0').max(10, 'must be at most 10').optional(),
  env: z.record(z.string().regex(ENV_KEY_PATTERN, 'keys must match [A-Za-z_][A-Za-z0-9_]{0,127}'), z.string()).optional(),
});

/** A validated function body; absent fields are absent (create applies defaults, update keeps current values). */
export interface FunctionInput {
  zip: Buffer;
  codeSha256: string;
  memorySize?: number;
  name?: string;
  timeoutMs?: number;
  idleTimeoutMs?: number;
  env?: Record<string, string>;
  maxRetries?: number;
}

export interface FunctionInputLimits {
  maxUnpackedBytes: number;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
    return path === '' ? `unknown field ${keys}` : `${path}: unknown field ${keys}`;
  }
  if (issue.code === 'invalid_key') {
    const inner = issue.issues[0]?.message ?? issue.message;
    return `${path}: ${inner}`;
  }
  return path === '' ? issue.message : `${path}: ${issue.message}`;
}

function invalidBody(message: string): RfError {
  return new RfError(RouterErrors.INVALID_BODY, message);
}

/** Decodes strict base64 (standard or URL-safe alphabet, whitespace ignored). */
function decodeBase64(text: string): Buffer {
  const compact = /\s/.test(text) ? text.replace(/\s+/g, '') : text;
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact) || compact.length % 4 === 1) {
    throw new RfError(RouterErrors.INVALID_ZIP, 'zipFile is not valid base64');
  }
  return Buffer.from(compact, 'base64');
}

/** A deterministic zip holding `source` as index.js (same source, same bytes, same codeSha256). */
export function zipSource(source: string): Buffer {
  const zip = zipSync({ 'index.js': [strToU8(source), { mtime: new Date('1980-01-01T00:00:00Z') }] }, { level: 6 });
  return Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength);
}

/**
 * Validates a parsed JSON body of POST (`requireMemory`) or PUT and checks its code zip.
 * Throws RfError RF_ROUTER_INVALID_BODY (the message names the field) or one of the zip codes.
 */
export async function parseFunctionInput(
  body: unknown,
  options: { requireMemory: boolean; limits: FunctionInputLimits },
): Promise<FunctionInput> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidBody('the body must be a JSON object');
  }
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) {
    throw invalidBody(parsed.error.issues.map(describeIssue).join('; '));
  }
  const value = parsed.data;
  if ((value.zipFile === undefined) === (value.code === undefined)) {
    throw invalidBody('exactly one of zipFile (base64 zip) and code (JS source) is required');
  }
  if (options.requireMemory && value.memorySize === undefined) {
    throw invalidBody('memorySize: required (MB, 128..4096)');
  }
  if (value.name !== undefined && value.displayName !== undefined && value.name !== value.displayName) {
    throw invalidBody('name and displayName differ; displayName is an alias of name, send one');
  }
  if (value.env !== undefined) {
    let envBytes = 0;
    for (const [key, val] of Object.entries(value.env)) envBytes += Buffer.byteLength(key) + Buffer.byteLength(val);
    if (envBytes > MAX_ENV_BYTES) throw invalidBody(`env: keys and values take ${envBytes} bytes, more than ${MAX_ENV_BYTES}`);
  }
  const zip = value.zipFile !== undefined ? decodeBase64(value.zipFile) : zipSource(value.code ?? '');
  await checkCodeZip(zip, { maxUnpackedBytes: options.limits.maxUnpackedBytes });
  const input: FunctionInput = { zip, codeSha256: createHash('sha256').update(zip).digest('hex') };
  if (value.memorySize !== undefined) input.memorySize = value.memorySize;
  const name = value.name ?? value.displayName;
  if (name !== undefined) input.name = name;
  if (value.timeoutMs !== undefined) input.timeoutMs = value.timeoutMs;
  if (value.idleTimeoutMs !== undefined) input.idleTimeoutMs = value.idleTimeoutMs;
  if (value.env !== undefined) input.env = { ...value.env };
  if (value.maxRetries !== undefined) input.maxRetries = value.maxRetries;
  return input;
}
