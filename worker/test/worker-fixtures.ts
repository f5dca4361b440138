/**
 * Shared helpers of the pool, server and worker tests: function code, records in real
 * (in-memory) stores, a counting wrapper around a real runtime, and polling for a condition.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { strToU8, zipSync } from 'fflate';
import { pino, type Logger } from 'pino';
import type { FunctionRecord, Stores } from '../../storage/types.ts';
import type { PoolFunction } from '../pool/index.ts';
import type { ContainerHandle, ContainerRuntime, ContainerSpec } from '../runtime.ts';
import { ProcessRuntime } from '../process-runtime.ts';

/** Function sources used across the tests. */
export const Code = {
  /** Answers its input, its pid (a stable per-container marker) and a tag. */
  echo: (tag = 'v1') =>
    `module.exports = async (input, context) => { console.log('echo ' + ${JSON.stringify(tag)}); return { input, tag: ${JSON.stringify(tag)}, pid: process.pid }; };`,
  /** Sleeps input.ms (default 200), then answers its pid. */
  slow: () => `exports.handler = async (input) => { await new Promise((r) => setTimeout(r, (input && input.ms) || 200)); return { pid: process.pid }; };`,
  throws: () => `module.exports = () => { throw new Error('boom: ' + process.pid); };`,
  hangs: () => `module.exports = () => new Promise(() => {});`,
  crashes: () => `module.exports = () => { setTimeout(() => process.exit(3), 5); return new Promise(() => {}); };`,
  broken: () => `module.exports = (;`,
} as const;

export function zipOf(source: string): Buffer {
  return Buffer.from(zipSync({ 'index.js': strToU8(source) }));
}

let seq = 0;
/** A unique function id. */
export function fnId(prefix = 'fn'): string {
  return `${prefix}-${(seq++).toString(36)}-${randomBytes(2).toString('hex')}`;
}

/** A PoolFunction straight from source (pool tests need no store). */
export function poolFn(source: string, overrides: Partial<Omit<PoolFunction, 'files'>> = {}): PoolFunction {
  return {
    id: overrides.id ?? fnId(),
    version: 1,
    memoryMb: 128,
    timeoutMs: 5000,
    idleTimeoutMs: 15 * 60_000,
    env: {},
    ...overrides,
    // The code as the archive reader would unpack it (pool tests need no zip).
    files: [{ path: 'index.js', data: new TextEncoder().encode(source) }],
  };
}

/** Writes a function (new, or a new version of an existing one) into the stores. */
export async function deploy(
  stores: Pick<Stores, 'functions' | 'artifacts'>,
  id: string,
  source: string,
  fields: Partial<Pick<FunctionRecord, 'memorySize' | 'timeoutMs' | 'idleTimeoutMs' | 'env'>> = {},
): Promise<FunctionRecord> {
  const zip = zipOf(source);
  const existing = await stores.functions.get(id);
  const now = new Date().toISOString();
  const record: FunctionRecord = {
    id,
    name: id.slice(0, 64),
    memorySize: 128,
    timeoutMs: 5000,
    idleTimeoutMs: 15 * 60_000,
    codeSha256: 'test',
    codeSize: zip.length,
    createdAt: existing?.record.createdAt ?? now,
    updatedAt: now,
    env: {},
    ...(existing === undefined ? {} : pickFields(existing.record)),
    ...fields,
    version: (existing?.record.version ?? 0) + 1,
  };
  await stores.artifacts.put(id, record.version, zip);
  if (existing === undefined) await stores.functions.create(record);
  else await stores.functions.update(record, existing.etag);
  return record;
}

function pickFields(r: FunctionRecord): Partial<FunctionRecord> {
  return { memorySize: r.memorySize, timeoutMs: r.timeoutMs, idleTimeoutMs: r.idleTimeoutMs, env: r.env };
}

/** A real runtime that also counts the containers it started (composition, not a mock). */
export class CountingRuntime implements ContainerRuntime {
  readonly kind: 'docker' | 'process';
  started = 0;
  readonly #inner: ContainerRuntime;
  constructor(inner: ContainerRuntime) {
    this.#inner = inner;
    this.kind = inner.kind;
  }
  prepare(): Promise<void> {
    return this.#inner.prepare();
  }
  start(spec: ContainerSpec): Promise<ContainerHandle> {
    this.started++;
    return this.#inner.start(spec);
  }
  removeLeftovers(workerId: string): Promise<number> {
    return this.#inner.removeLeftovers(workerId);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** A ProcessRuntime in a folder of its own. */
export function testProcessRuntime(): ProcessRuntime {
  return new ProcessRuntime({ baseDir: join(tmpdir(), `rf-wt-${process.pid}-${randomBytes(2).toString('hex')}`) });
}

export function quietLogger(): Logger {
  return pino({ level: process.env.RINGFAAS_TEST_LOG_LEVEL ?? 'silent' });
}

/** Polls `check` until it is true; fails after `timeoutMs` (a bound, not a timing assertion). */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
