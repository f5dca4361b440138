// Small DOM helpers: elements are built with text nodes, never from HTML strings.
const SVG_NS = 'http://www.w3.org/2000/svg';

/** An HTML element: h('td', { class: 'x', onclick: fn }, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(typeof child === 'object' ? child : String(child));
  }
  return el;
}

/** Worker colours (distinct on the dark background, ≥ 3:1 against it). */
export const PALETTE = ['#58a6ff', '#f0b44c', '#3fb950', '#d2a8ff', '#ff7b72', '#39c5cf', '#a5d65a', '#ff9e64', '#f778ba', '#8fb8ff'];

export function colourOf(ids, id) {
  const i = ids.indexOf(id);
  return i < 0 ? '#8b949e' : PALETTE[i % PALETTE.length];
}

export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function fmtAge(ms) {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

export function fmtPct(x) {
  return `${(x * 100).toFixed(1)}%`;
}

export const CONDITION_TEXT = {
  active: 'active',
  draining: 'draining',
  suspect: 'suspect',
  gone: 'gone',
};
