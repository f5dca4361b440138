/** Renders a BenchResult as Markdown: summary lines, then each table. */
import type { BenchResult, Cell, ReportTable } from './result.ts';

/** Formats a cell: numbers with at most 3 significant decimals, null as a dash. */
export function formatCell(cell: Cell): string {
  if (cell === null) return '–';
  if (typeof cell === 'number') {
    if (!Number.isFinite(cell)) return '–';
    if (Number.isInteger(cell)) return String(cell);
    return Math.abs(cell) >= 100 ? cell.toFixed(1) : Math.abs(cell) >= 1 ? cell.toFixed(2) : cell.toPrecision(3);
  }
  return cell.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function tableToMarkdown(table: ReportTable, headingLevel = 3): string {
  const lines = [`${'#'.repeat(headingLevel)} ${table.title}`, ''];
  lines.push(`| ${table.columns.map(formatCell).join(' | ')} |`);
  lines.push(`|${table.columns.map(() => '---').join('|')}|`);
  for (const row of table.rows) lines.push(`| ${row.map(formatCell).join(' | ')} |`);
  if (table.note !== undefined) lines.push('', table.note);
  return lines.join('\n');
}

/** One-paragraph description of the environment. */
export function environmentLine(result: BenchResult): string {
  const e = result.environment;
  return `Node ${e.node} on ${e.platform}/${e.arch}, ${e.cpuCount} × ${e.cpuModel}, ${e.totalMemoryMb} MB; git ${e.gitSha.slice(0, 12)}${e.gitDirty ? ' (with uncommitted changes)' : ''}; ${result.startedAt}.`;
}

/** The whole Markdown report of one run. */
export function renderMarkdown(result: BenchResult, headingLevel = 1): string {
  const h = '#'.repeat(headingLevel);
  const parts = [`${h} ${result.title}`, '', environmentLine(result), ''];
  if (result.summary.length > 0) parts.push(...result.summary.map((s) => `- ${s}`), '');
  for (const table of result.tables) parts.push(tableToMarkdown(table, headingLevel + 1), '');
  parts.push(`Reproduce: \`${result.reproduce}\``, '');
  parts.push(`Settings: \`${JSON.stringify(result.settings)}\``, '');
  return parts.join('\n');
}
