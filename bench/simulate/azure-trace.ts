/**
 * Reads the Azure Functions 2019 public trace format (github.com/Azure/AzurePublicDataset,
 * AzureFunctionsDataset2019) from files a user points at:
 *
 * - invocations_per_function_md.anon.dNN.csv:
 *   `HashOwner,HashApp,HashFunction,Trigger,1,2,…,1440` (invocations per minute of one day);
 * - function_durations_percentiles.anon.dNN.csv:
 *   `HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,
 *   percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,
 *   percentile_Average_99,percentile_Average_100` (ms);
 * - app_memory_percentiles.anon.dNN.csv:
 *   `HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,…` (MB).
 *
 * Counts are kept sparse (only non-zero minutes), so a day of the full trace fits in memory;
 * `maxFunctions` keeps a deterministic sample (every k-th row) when the file has more. A
 * function without a duration row gets the generator's duration law; an app without a
 * memory row the median of the paper's average-allocated-memory fit (140 MB). Within a minute, arrivals are spread uniformly (the trace
 * has no finer times). Lines longer than 64 KiB or malformed rows are an error naming the line.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { RfError } from '../../errors/index.ts';
import { BenchErrors } from '../errors.ts';
import { Prng } from './prng.ts';
import { APP_MEMORY, DURATION } from './generator.ts';
import type { Arrival, SimFunction, Workload } from './workload.ts';

const MAX_LINE_CHARS = 64 * 1024;
const MINUTES_PER_DAY = 1440;

export interface TraceFiles {
  invocations: string;
  durations?: string;
  memory?: string;
}

export interface TraceOptions {
  files: TraceFiles;
  seed: number;
  /** Keep at most this many functions (every k-th row). Default all. */
  maxFunctions?: number;
  /** Cold start cost of every function, ms (the trace has none). Default 500. */
  coldStartMs?: number;
}

/** Percentile points of one function's execution time, ms. */
interface DurationRow {
  points: Array<[p: number, ms: number]>;
}

async function* lines(path: string): AsyncGenerator<[number, string]> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.length > MAX_LINE_CHARS) throw new RfError(BenchErrors.TRACE_INVALID, `${path}:${n}: line longer than ${MAX_LINE_CHARS} characters`);
    if (line.trim().length === 0) continue;
    yield [n, line];
  }
}

function header(path: string, line: string, required: string[]): Map<string, number> {
  const cols = new Map(line.split(',').map((c, i) => [c.trim(), i]));
  const missing = required.filter((r) => !cols.has(r));
  if (missing.length > 0) throw new RfError(BenchErrors.TRACE_INVALID, `${path}: missing columns ${missing.join(', ')}`);
  return cols;
}

function num(path: string, n: number, text: string | undefined): number {
  const v = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(v) || v < 0) throw new RfError(BenchErrors.TRACE_INVALID, `${path}:${n}: '${text}' is not a non-negative number`);
  return v;
}

const DURATION_COLS: Array<[string, number]> = [
  ['percentile_Average_0', 0],
  ['percentile_Average_1', 1],
  ['percentile_Average_25', 25],
  ['percentile_Average_50', 50],
  ['percentile_Average_75', 75],
  ['percentile_Average_99', 99],
  ['percentile_Average_100', 100],
];

async function readDurations(path: string): Promise<Map<string, DurationRow>> {
  const out = new Map<string, DurationRow>();
  let cols: Map<string, number> | undefined;
  for await (const [n, line] of lines(path)) {
    const cells = line.split(',');
    if (cols === undefined) {
      cols = header(path, line, ['HashFunction', ...DURATION_COLS.map(([c]) => c)]);
      continue;
    }
    const fn = cells[cols.get('HashFunction') as number] as string;
    out.set(fn, { points: DURATION_COLS.map(([c, p]) => [p, num(path, n, cells[cols!.get(c) as number])]) });
  }
  return out;
}

async function readMemory(path: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cols: Map<string, number> | undefined;
  for await (const [n, line] of lines(path)) {
    const cells = line.split(',');
    if (cols === undefined) {
      cols = header(path, line, ['HashApp', 'AverageAllocatedMb']);
      continue;
    }
    out.set(cells[cols.get('HashApp') as number] as string, num(path, n, cells[cols.get('AverageAllocatedMb') as number]));
  }
  return out;
}

interface TraceFunction extends SimFunction {
  readonly trigger: string;
  /** Non-zero minutes and their counts, minute order. */
  readonly minutesWith: Uint16Array;
  readonly counts: Uint32Array;
}

/** A workload read from trace files: see the file header. */
export class TraceWorkload implements Workload {
  readonly name: string;
  readonly minutes = MINUTES_PER_DAY;
  readonly functions: TraceFunction[];
  readonly #rng: Prng;
  /** Per function, the index of its next non-zero minute. */
  readonly #cursor: Uint32Array;
  readonly #seed: number;

  private constructor(name: string, functions: TraceFunction[], seed: number) {
    this.#seed = seed;
    this.name = name;
    this.functions = functions;
    this.#rng = new Prng(seed).fork('trace-arrivals');
    this.#cursor = new Uint32Array(functions.length);
  }

  /** Reads the files (see the file header). */
  static async read(options: TraceOptions): Promise<TraceWorkload> {
    const durations = options.files.durations === undefined ? new Map<string, DurationRow>() : await readDurations(options.files.durations);
    const memory = options.files.memory === undefined ? new Map<string, number>() : await readMemory(options.files.memory);
    const path = options.files.invocations;
    const rows: Array<{ app: string; fn: string; trigger: string; minutes: number[]; counts: number[] }> = [];
    let cols: Map<string, number> | undefined;
    for await (const [n, line] of lines(path)) {
      const cells = line.split(',');
      if (cols === undefined) {
        cols = header(path, line, ['HashApp', 'HashFunction', 'Trigger', '1']);
        continue;
      }
      const first = cols.get('1') as number;
      const minutes: number[] = [];
      const counts: number[] = [];
      for (let m = 0; m < MINUTES_PER_DAY && first + m < cells.length; m++) {
        const c = num(path, n, cells[first + m]);
        if (c > 0) {
          minutes.push(m);
          counts.push(Math.round(c));
        }
      }
      rows.push({ app: cells[cols.get('HashApp') as number] as string, fn: cells[cols.get('HashFunction') as number] as string, trigger: cells[cols.get('Trigger') as number] as string, minutes, counts });
    }
    const step = options.maxFunctions === undefined || rows.length <= options.maxFunctions ? 1 : rows.length / options.maxFunctions;
    const kept = step === 1 ? rows : Array.from({ length: options.maxFunctions as number }, (_, i) => rows[Math.floor(i * step)]!);
    const coldStartMs = options.coldStartMs ?? 500;
    const functions: TraceFunction[] = kept.map((r) => {
      const d = durations.get(r.fn);
      return {
        id: r.fn,
        app: r.app,
        trigger: r.trigger,
        memoryMb: Math.max(1, Math.round(memory.get(r.app) ?? APP_MEMORY.medianMb)),
        coldStartMs,
        minutesWith: Uint16Array.from(r.minutes),
        counts: Uint32Array.from(r.counts),
        duration: d === undefined ? (rng: Prng) => Math.min(DURATION.maxMs, rng.logNormal(DURATION.medianMs, DURATION.sigma)) : (rng: Prng) => fromPercentiles(d, rng.next()),
      };
    });
    return new TraceWorkload(`trace(${path}, ${functions.length} functions)`, functions, options.seed);
  }

  fresh(): TraceWorkload {
    return new TraceWorkload(this.name, this.functions, this.#seed);
  }

  arrivals(minute: number, out: Arrival[]): void {
    const base = minute * 60_000;
    for (let i = 0; i < this.functions.length; i++) {
      const fn = this.functions[i] as TraceFunction;
      const c = this.#cursor[i] as number;
      if (c >= fn.minutesWith.length || fn.minutesWith[c] !== minute) continue;
      this.#cursor[i] = c + 1;
      const count = fn.counts[c] as number;
      for (let k = 0; k < count; k++) out.push({ at: base + this.#rng.next() * 60_000, fn: i });
    }
  }
}

/** Inverse CDF by linear interpolation between the percentile points. */
function fromPercentiles(row: DurationRow, u: number): number {
  const p = u * 100;
  const pts = row.points;
  for (let i = 1; i < pts.length; i++) {
    const [p1, v1] = pts[i] as [number, number];
    const [p0, v0] = pts[i - 1] as [number, number];
    if (p <= p1) return Math.max(1, p1 === p0 ? v1 : v0 + ((p - p0) / (p1 - p0)) * (v1 - v0));
  }
  return Math.max(1, (pts[pts.length - 1] as [number, number])[1]);
}
