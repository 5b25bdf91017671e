/**
 * The trace as an SVG waterfall: one row per span (steps and their sub-steps), bars on the
 * operation's time scale, the critical path highlighted, failures in red, background work that
 * ran past the operation's end cut with an arrow.
 */
import { formatMs, type ExplainReport } from '../../src/trace/explain.ts';

const NS = 'http://www.w3.org/2000/svg';

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export function waterfallSvg(r: ExplainReport, maxDepth = 2): SVGSVGElement {
  const rows = r.rows.filter((x) => x.depth <= maxDepth);
  const labelW = 330;
  const barW = 520;
  const rowH = 20;
  const top = 24;
  const timeW = 130;
  const width = labelW + barW + timeW;
  const height = top + rows.length * rowH + 8;
  const svg = el('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'waterfall', role: 'img', 'aria-label': 'trace waterfall' });
  const scale = r.totalMs > 0 ? barW / r.totalMs : 0;
  svg.append(el('text', { x: labelW, y: 14, class: 'axis' }, '0'));
  svg.append(el('text', { x: labelW + barW, y: 14, class: 'axis', 'text-anchor': 'end' }, formatMs(r.totalMs)));
  svg.append(el('line', { x1: labelW + barW, x2: labelW + barW, y1: 18, y2: height, class: 'end' }));
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    const g = el('g', { class: `row depth-${row.depth}${row.critical ? ' critical' : ''}${row.outcome === 'error' ? ' error' : ''}${row.background ? ' background' : ''}`, 'data-name': row.name });
    const label = row.label.length > 44 - row.depth * 2 ? `${row.label.slice(0, 43 - row.depth * 2)}…` : row.label;
    const t = el('text', { x: 4 + row.depth * 14, y: y + 14, class: 'label' }, label);
    t.append(el('title', {}, row.label));
    g.append(t);
    const x = labelW + Math.min(barW - 2, row.startMs * scale);
    const dur = row.durationMs ?? r.spanMs - row.startMs;
    const w = Math.max(2, Math.min(dur * scale, labelW + barW - x));
    const bar = el('rect', { x, y: y + 4, width: w, height: rowH - 8, rx: 2, class: 'bar' });
    bar.append(el('title', {}, `${row.label}\n+${formatMs(row.startMs)}, ${row.durationMs === null ? 'running' : formatMs(row.durationMs)}${row.error ? `\n${row.error}` : ''}`));
    g.append(bar);
    if (dur * scale > labelW + barW - x) g.append(el('text', { x: labelW + barW + 2, y: y + 14, class: 'more' }, '›'));
    g.append(el('text', { x: labelW + barW + timeW - 4, y: y + 14, class: 'time', 'text-anchor': 'end' }, `${row.durationMs === null ? 'running' : formatMs(row.durationMs)}${row.outcome === 'error' ? ' ✗' : ''}`));
    svg.append(g);
  });
  return svg;
}
