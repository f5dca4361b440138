/** Renders a BenchResult as one self-contained HTML page (inline CSS and SVG, no script). */
import type { BenchResult, ReportTable } from './result.ts';
import { environmentLine, formatCell } from './markdown.ts';
import { escapeXml, renderChart } from './svg.ts';

function tableToHtml(table: ReportTable): string {
  const head = table.columns.map((c) => `<th>${escapeXml(c)}</th>`).join('');
  const rows = table.rows.map((r) => `<tr>${r.map((c) => `<td>${escapeXml(formatCell(c))}</td>`).join('')}</tr>`).join('\n');
  const note = table.note === undefined ? '' : `<p class="note">${escapeXml(table.note)}</p>`;
  return `<h2>${escapeXml(table.title)}</h2>\n<table><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table>${note}`;
}

export function renderHtml(result: BenchResult): string {
  const summary = result.summary.map((s) => `<li>${escapeXml(s)}</li>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(result.title)}</title>
<style>
body{font-family:sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.note,.env{color:#555}
figure{margin:1em 0}code{background:#f3f3f3;padding:1px 4px}
</style></head><body>
<h1>${escapeXml(result.title)}</h1>
<p class="env">${escapeXml(environmentLine(result))}</p>
<ul>${summary}</ul>
${result.charts.map((c) => `<figure>${renderChart(c)}</figure>`).join('\n')}
${result.tables.map(tableToHtml).join('\n')}
<p>Reproduce: <code>${escapeXml(result.reproduce)}</code></p>
<p class="note">Settings: <code>${escapeXml(JSON.stringify(result.settings))}</code></p>
</body></html>
`;
}
