// The ring picture: an SVG circle drawn from the router's own Ring (GET /ui/api/cluster).
import { s, colourOf, fmtPct } from './dom.js';

const C = 200; // centre of the 400×400 view box
const R_OWN = 178; // outer band: the circle by owner (every point's arc)
const R_SHARE = 146; // inner band: one arc per worker, sized by its share
const R_FN = 192; // function dots
const R_SPILL = 128; // spill curves end here

function xy(fraction, r) {
  const a = fraction * 2 * Math.PI - Math.PI / 2; // 0 at the top, clockwise
  return [C + r * Math.cos(a), C + r * Math.sin(a)];
}

/** An arc of the circle as a path (a full circle is drawn as two halves). */
function arcPath(start, end, r) {
  if (end - start >= 0.9999) return `${arcPath(0, 0.5, r)} ${arcPath(0.5, 1, r)}`;
  const [x1, y1] = xy(start, r);
  const [x2, y2] = xy(end, r);
  const large = end - start > 0.5 ? 1 : 0;
  return `M ${x1.toFixed(2)} ${y1.toFixed(2)} A ${r} ${r} 0 ${large} 1 ${x2.toFixed(2)} ${y2.toFixed(2)}`;
}

/**
 * Draws the ring into `box`. `onSelect(id)` is called when a worker is hovered, focused or
 * clicked; `selected` is the selected worker id (or null).
 */
export function drawRing(box, cluster, selected, onSelect) {
  const ids = cluster.workers.map((w) => w.id);
  const inRing = cluster.workers.filter((w) => w.inRing);
  const svg = s('svg', { viewBox: '0 0 400 400', role: 'group', 'aria-label': `Hash ring of ${inRing.length} workers and ${cluster.functions.length} functions` });
  svg.append(s('title', {}, 'The hash ring'));
  svg.append(s('circle', { cx: C, cy: C, r: R_OWN, fill: 'none', stroke: '#2d3640', 'stroke-width': 14 }));
  svg.append(s('circle', { cx: C, cy: C, r: R_SHARE, fill: 'none', stroke: '#2d3640', 'stroke-width': 26 }));
  // Outer band: every owned stretch of the circle, as routing sees it.
  const own = s('g', { 'aria-hidden': 'true' });
  for (const arc of cluster.arcs) {
    own.append(s('path', { class: `own${arc.workerId === selected ? ' sel' : ''}`, d: arcPath(arc.start, arc.end, R_OWN), stroke: colourOf(ids, arc.workerId), 'stroke-width': 14, fill: 'none' }));
  }
  svg.append(own);
  // Inner band: one arc per worker on the ring, its length its share, in id order.
  const mids = new Map();
  let at = 0;
  const gap = inRing.length > 1 ? 0.004 : 0;
  for (const w of inRing) {
    const start = at;
    const end = at + w.share;
    at = end;
    mids.set(w.id, (start + end) / 2);
    const label = `${w.id}: ${fmtPct(w.share)} of the ring, ${w.condition}`;
    const path = s('path', {
      class: `arc${w.id === selected ? ' sel' : ''}`,
      d: arcPath(start + gap / 2, Math.max(start + gap / 2, end - gap / 2), R_SHARE),
      stroke: colourOf(ids, w.id),
      'stroke-width': w.id === selected ? 32 : 26,
      fill: 'none',
      tabindex: 0,
      role: 'button',
      'aria-label': label,
      'aria-pressed': w.id === selected ? 'true' : 'false',
      'data-worker-id': w.id,
      'data-share': w.share.toFixed(6),
      'data-condition': w.condition,
      onclick: () => onSelect(w.id, true),
      onmouseenter: () => onSelect(w.id, false),
      onfocus: () => onSelect(w.id, false),
      onkeydown: (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          onSelect(w.id, true);
        }
      },
    });
    if (w.condition !== 'active') path.setAttribute('stroke-dasharray', '6 4');
    path.append(s('title', {}, label));
    svg.append(path);
    if (w.share > 0.06) {
      const [lx, ly] = xy((start + end) / 2, R_SHARE - 34);
      svg.append(s('text', { class: 'label', x: lx.toFixed(1), y: ly.toFixed(1), 'text-anchor': 'middle', 'dominant-baseline': 'middle' }, `${w.id} ${fmtPct(w.share)}`));
    }
  }
  // Spills: from the home worker's arc to the serving worker's, thicker with more requests.
  const maxCount = Math.max(1, ...cluster.spills.map((e) => e.count));
  for (const edge of cluster.spills) {
    const a = mids.get(edge.from);
    const b = mids.get(edge.to);
    if (a === undefined || b === undefined) continue;
    const [x1, y1] = xy(a, R_SPILL);
    const [x2, y2] = xy(b, R_SPILL);
    const width = 1.5 + 5 * Math.sqrt(edge.count / maxCount);
    const curve = s('path', { class: 'spill', d: `M ${x1.toFixed(1)} ${y1.toFixed(1)} Q ${C} ${C} ${x2.toFixed(1)} ${y2.toFixed(1)}`, fill: 'none', stroke: colourOf(ids, edge.to), 'stroke-width': width.toFixed(1), 'stroke-opacity': 0.8, 'marker-end': 'url(#arrow)', 'data-from': edge.from, 'data-to': edge.to });
    curve.append(s('title', {}, `${edge.count} spilled from ${edge.from} to ${edge.to} in the last minute`));
    svg.append(curve);
  }
  const defs = s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 8, refY: 5, markerWidth: 5, markerHeight: 5, orient: 'auto-start-reverse' }, s('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#e6edf3' })));
  svg.append(defs);
  // Functions: a dot at the hash position, in the home worker's colour.
  for (const f of cluster.functions) {
    const [x, y] = xy(f.position, R_FN);
    const dot = s('circle', { class: 'fn', cx: x.toFixed(1), cy: y.toFixed(1), r: 4.5, fill: colourOf(ids, f.home), stroke: '#0d1117', 'stroke-width': 1.5, 'data-function-id': f.id, 'data-home': f.home ?? '' });
    dot.append(s('title', {}, `${f.name} (v${f.version}) → home ${f.home ?? 'none'}`));
    svg.append(dot);
  }
  svg.append(s('text', { class: 'centre-big', x: C, y: C - 4, 'text-anchor': 'middle' }, String(inRing.length)));
  svg.append(s('text', { class: 'centre-small', x: C, y: C + 16, 'text-anchor': 'middle' }, inRing.length === 1 ? 'worker on the ring' : 'workers on the ring'));
  svg.append(s('text', { class: 'centre-small', x: C, y: C + 32, 'text-anchor': 'middle' }, `${cluster.functionsTotal} functions`));
  box.replaceChildren(svg);
  box.classList.toggle('has-sel', selected !== null && ids.includes(selected));
}
