/**
 * The shape of a benchmark result file (`bench/results/<time>-<scenario>.json`): where and how
 * it ran, its settings, a few summary lines, tables and charts (which the Markdown, HTML and
 * docs renderers draw without knowing the scenario), and the raw data.
 */

/** Where a run happened: enough to tell whether two results are comparable. */
export interface BenchEnvironment {
  node: string;
  platform: string;
  arch: string;
  cpuModel: string;
  cpuCount: number;
  totalMemoryMb: number;
  /** `git rev-parse HEAD` of the tree the run used, or "unknown". */
  gitSha: string;
  /** True when the tree had uncommitted changes. */
  gitDirty: boolean;
  hostname: string;
}

/** A table cell: numbers are formatted by the renderer. */
export type Cell = string | number | null;

export interface ReportTable {
  title: string;
  columns: string[];
  rows: Cell[][];
  /** One sentence under the table. */
  note?: string;
}

export interface ChartSeries {
  name: string;
  /** [x, y] points in x order. */
  points: Array<[number, number]>;
}

export interface ReportChart {
  title: string;
  /** line: y over x per series; bar: one bar per point (x used as label, series side by side). */
  kind: 'line' | 'bar';
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  /** Labels for bar charts' x positions (index → label); defaults to the x values. */
  xLabels?: string[];
  /** A horizontal reference line (e.g. the idle timeout). */
  marker?: { value: number; label: string; axis: 'x' | 'y' };
}

/** A benchmark run as written to disk. */
export interface BenchResult {
  /** The scenario name (concurrency, backoff, compare, micro, worker, ring-change, failover). */
  scenario: string;
  title: string;
  /** ISO times. */
  startedAt: string;
  finishedAt: string;
  environment: BenchEnvironment;
  /** The options the run used (after defaults). */
  settings: Record<string, unknown>;
  /** The command that reproduces the run. */
  reproduce: string;
  /** Headline lines, e.g. ratios and whether targets were met. */
  summary: string[];
  tables: ReportTable[];
  charts: ReportChart[];
  /** Scenario-specific raw data (per-stage stats, per-gap samples...). */
  raw: unknown;
}

/** What a scenario returns; the runner adds the times and environment. */
export type ScenarioOutput = Pick<BenchResult, 'title' | 'settings' | 'summary' | 'tables' | 'charts' | 'raw'>;
