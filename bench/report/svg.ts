/**
 * Self-contained SVG charts (the reports must open offline: no CDN, no script): a line chart
 * of y over x per series and a grouped bar chart. Axes start at 0 for y; ticks are "nice"
 * numbers (1, 2, 5 × 10^k).
 */
import type { ReportChart } from './result.ts';

const WIDTH = 720;
const HEIGHT = 360;
const MARGIN = { left: 64, right: 150, top: 36, bottom: 48 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/** Escapes text for XML content and attributes. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** "Nice" tick values covering [0, max]. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let v = 0; v < max + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  if ((ticks[ticks.length - 1] as number) < max) ticks.push(Number((ticks.length * step).toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  if (Math.abs(v) >= 1000) return String(Math.round(v));
  return String(Number(v.toPrecision(3)));
}

function frame(chart: ReportChart, body: string[], yMax: number, xTicks: Array<{ x: number; label: string }>): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const yTicks = niceTicks(yMax);
  const top = yTicks[yTicks.length - 1] as number;
  const y = (v: number): number => MARGIN.top + plotH - (v / top) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<text x="${WIDTH / 2 - MARGIN.right / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  for (const t of yTicks) {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of xTicks) {
    parts.push(`<text x="${t.x}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${escapeXml(t.label)}</text>`);
  }
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" stroke="#333"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 8}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`);
  parts.push(...body.map((b) => b.replace(/__Y\(([^)]+)\)/g, (_, v: string) => String(y(Number(v))))));
  chart.series.forEach((s, i) => {
    const ly = MARGIN.top + 10 + i * 18;
    const color = COLORS[i % COLORS.length] as string;
    parts.push(`<rect x="${WIDTH - MARGIN.right + 12}" y="${ly - 8}" width="12" height="12" fill="${color}"/>`);
    parts.push(`<text x="${WIDTH - MARGIN.right + 30}" y="${ly + 2}">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function lineChart(chart: ReportChart): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const points = chart.series.flatMap((s) => s.points);
  const xs = points.map((p) => p[0]);
  const xMin = xs.length === 0 ? 0 : Math.min(...xs);
  let xMax = xs.length === 0 ? 1 : Math.max(...xs);
  if (chart.marker?.axis === 'x') xMax = Math.max(xMax, chart.marker.value);
  let yMax = points.length === 0 ? 1 : Math.max(...points.map((p) => p[1]));
  if (chart.marker?.axis === 'y') yMax = Math.max(yMax, chart.marker.value);
  const span = xMax > xMin ? xMax - xMin : 1;
  const x = (v: number): number => MARGIN.left + ((v - xMin) / span) * plotW;
  const body: string[] = [];
  chart.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const path = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)} __Y(${p[1]})`).join(' ');
    if (s.points.length > 1) body.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of s.points) body.push(`<circle cx="${x(p[0]).toFixed(1)}" cy="__Y(${p[1]})" r="3" fill="${color}"><title>${escapeXml(`${s.name}: ${fmt(p[0])} → ${fmt(p[1])}`)}</title></circle>`);
  });
  if (chart.marker !== undefined) {
    const m = chart.marker;
    if (m.axis === 'x') {
      body.push(`<line x1="${x(m.value)}" x2="${x(m.value)}" y1="${MARGIN.top}" y2="${HEIGHT - MARGIN.bottom}" stroke="#555" stroke-dasharray="4 3"/>`);
      body.push(`<text x="${x(m.value) + 4}" y="${MARGIN.top + 12}">${escapeXml(m.label)}</text>`);
    } else {
      body.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="__Y(${m.value})" y2="__Y(${m.value})" stroke="#555" stroke-dasharray="4 3"/>`);
    }
  }
  const distinctX = [...new Set(xs)].sort((a, b) => a - b);
  const tickValues = distinctX.length <= 16 ? distinctX : niceTicks(xMax).filter((t) => t >= xMin);
  return frame(chart, body, yMax, tickValues.map((t) => ({ x: x(t), label: fmt(t) })));
}

function barChart(chart: ReportChart): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const groups = Math.max(1, ...chart.series.map((s) => s.points.length));
  const groupW = plotW / groups;
  const barW = (groupW * 0.8) / Math.max(1, chart.series.length);
  const yMax = Math.max(1e-9, ...chart.series.flatMap((s) => s.points.map((p) => p[1])));
  const body: string[] = [];
  chart.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    s.points.forEach((p, g) => {
      const bx = MARGIN.left + g * groupW + groupW * 0.1 + i * barW;
      body.push(
        `<rect x="${bx.toFixed(1)}" y="__Y(${p[1]})" width="${barW.toFixed(1)}" height="__H(${p[1]})" fill="${color}"><title>${escapeXml(`${s.name}: ${fmt(p[1])}`)}</title></rect>`,
      );
    });
  });
  const first = chart.series[0]?.points ?? [];
  const ticks = Array.from({ length: groups }, (_, g) => ({
    x: MARGIN.left + g * groupW + groupW / 2,
    label: chart.xLabels?.[g] ?? fmt(first[g]?.[0] ?? g),
  }));
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const top = niceTicks(yMax)[niceTicks(yMax).length - 1] as number;
  const withHeights = body.map((b) => b.replace(/__H\(([^)]+)\)/g, (_, v: string) => String((Number(v) / top) * plotH)));
  return frame(chart, withHeights, yMax, ticks);
}

/** Renders one chart as a standalone <svg> element. */
export function renderChart(chart: ReportChart): string {
  return chart.kind === 'bar' ? barChart(chart) : lineChart(chart);
}
