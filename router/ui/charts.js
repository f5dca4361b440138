// Tiny SVG line charts for the traffic series (no library: a polyline per series).
import { s } from './dom.js';

const W = 600;
const H = 160;
const PAD = { l: 56, r: 8, t: 8, b: 20 };

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/**
 * Draws series into `box`: series = [{ label, colour, values: (number|null)[] }], times the
 * bucket starts, unit a suffix for the axis.
 */
export function drawChart(box, { times, series, unit = '', label }) {
  const all = series.flatMap((x) => x.values).filter((v) => v !== null);
  const max = niceMax(Math.max(0, ...all));
  const n = Math.max(times.length - 1, 1);
  const px = (i) => PAD.l + (i / n) * (W - PAD.l - PAD.r);
  const py = (v) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': label });
  for (const f of [0, 0.5, 1]) {
    const y = py(max * f);
    svg.append(s('line', { class: 'grid', x1: PAD.l, x2: W - PAD.r, y1: y, y2: y }));
    const v = +(max * f).toFixed(2);
    svg.append(s('text', { class: 'axis', x: PAD.l - 6, y: y + 3, 'text-anchor': 'end' }, unit === ' ms' && v >= 1000 ? `${v / 1000} s` : `${v}${unit}`));
  }
  if (times.length > 1) {
    const span = Math.round((times[times.length - 1] - times[0]) / 60_000);
    svg.append(s('text', { class: 'axis', x: PAD.l, y: H - 4 }, `−${span} min`));
    svg.append(s('text', { class: 'axis', x: W - PAD.r, y: H - 4, 'text-anchor': 'end' }, 'now'));
  }
  for (const line of series) {
    // Gaps (null) split the line.
    let points = [];
    const flush = () => {
      if (points.length === 1) {
        // A lone point between gaps: a dot, or it would not show.
        const [x, y] = points[0].split(',');
        svg.append(s('circle', { cx: x, cy: y, r: 3, fill: line.colour }));
      } else if (points.length > 1) {
        svg.append(s('polyline', { points: points.join(' '), fill: 'none', stroke: line.colour, 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke', 'stroke-linejoin': 'round', 'stroke-dasharray': line.dash }));
      }
      points = [];
    };
    line.values.forEach((v, i) => {
      if (v === null) flush();
      else points.push(`${px(i).toFixed(1)},${py(v).toFixed(1)}`);
    });
    flush();
  }
  box.replaceChildren(svg);
}
