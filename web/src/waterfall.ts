/**
 * The trace as an SVG waterfall: one row per span (steps and their sub-steps), bars on the
 * operation's time scale, the critical path in dark blue with bold labels, failures in red,
 * background work (it ran on after the operation ended) pale and cut at the end with its real
 * end in the time column, `›` on what is still running. Labels are shortened in the middle, the
 * whole text on hover. Below 640 px the label sits above its bar, so a phone shows the whole
 * waterfall without scrolling sideways.
 */
import { formatMs, type ExplainReport, type ExplainRow } from '../../src/trace/explain.ts';
import { h } from './dom.ts';
import { middleEllipsis } from './labels.ts';

const NS = 'http://www.w3.org/2000/svg';
const CHAR_PX = 7.6;

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** The time column: duration, and for a span cut at the operation's end, when it really ended. */
function timeText(r: ExplainReport, row: ExplainRow): string {
  const fail = row.outcome === 'error' ? ' ✗' : '';
  if (row.durationMs === null) return `running${fail}`;
  const end = row.startMs + row.durationMs;
  return end > r.totalMs && row.background ? `${formatMs(row.durationMs)}, to +${formatMs(end)}${fail}` : `${formatMs(row.durationMs)}${fail}`;
}

/** `width`: the pixels there are (default: the window's, less the page's margins). */
export function waterfallSvg(r: ExplainReport, maxDepth = 2, width = Math.min(1100, Math.max(300, window.innerWidth - 32))): SVGSVGElement {
  const rows = r.rows.filter((x) => x.depth <= maxDepth);
  const narrow = width < 640;
  const timeW = narrow ? 136 : 150;
  const labelW = narrow ? width : Math.min(360, Math.round(width * 0.36));
  const barX = narrow ? 0 : labelW;
  const barW = width - barX - timeW - 8;
  const rowH = narrow ? 36 : 20;
  const top = 24;
  const height = top + rows.length * rowH + 8;
  const svg = el('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: `waterfall${narrow ? ' narrow' : ''}`, role: 'img', 'aria-label': 'trace waterfall' });
  const scale = r.totalMs > 0 ? barW / r.totalMs : 0;
  svg.append(el('text', { x: barX, y: 14, class: 'axis' }, '0'));
  svg.append(el('text', { x: barX + barW, y: 14, class: 'axis', 'text-anchor': 'end' }, formatMs(r.totalMs)));
  svg.append(el('line', { x1: barX + barW, x2: barX + barW, y1: 18, y2: height, class: 'end' }));
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    const running = row.durationMs === null;
    const cls = ['row', `depth-${row.depth}`, row.critical ? 'critical' : '', row.outcome === 'error' ? 'error' : '', row.background ? 'background' : '', running ? 'running' : ''].filter(Boolean).join(' ');
    const g = el('g', { class: cls, 'data-name': row.name });
    const indent = row.depth * (narrow ? 10 : 14);
    const fit = Math.floor((labelW - indent - 14) / CHAR_PX);
    const shown = middleEllipsis(row.label, fit);
    const t = el('text', { x: 4 + indent, y: y + 14, class: 'label' }, shown);
    t.append(el('title', {}, row.label));
    g.append(t);
    const barY = narrow ? y + 18 : y + 4;
    const x = barX + Math.min(barW - 2, row.startMs * scale);
    const dur = row.durationMs ?? r.spanMs - row.startMs;
    const w = Math.max(2, Math.min(dur * scale, barX + barW - x));
    const bar = el('rect', { x, y: barY, width: w, height: narrow ? 12 : rowH - 8, rx: 2, class: 'bar' });
    bar.append(el('title', {}, `${row.label}\n+${formatMs(row.startMs)}, ${timeText(r, row)}${row.error ? `\n${row.error}` : ''}`));
    g.append(bar);
    // `›` only for what is still running: a finished span cut at the end says its end in words.
    if (running) g.append(el('text', { x: Math.min(barX + barW + 2, x + w + 2), y: barY + 10, class: 'more' }, '›'));
    g.append(el('text', { x: width - 4, y: (narrow ? barY : y) + (narrow ? 10 : 14), class: 'time', 'text-anchor': 'end' }, timeText(r, row)));
    svg.append(g);
  });
  return svg;
}

/** What the marks mean. */
export function legend(): HTMLElement {
  const item = (cls: string, text: string, mark?: string) => h('li', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }, mark ?? ''), text);
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'legend' },
    item('critical', 'critical path (bold): the chain that decided when it ended'),
    item('other', 'other work, in parallel or off the path'),
    item('failed', 'failed (✗)'),
    item('background', 'background: ran on after the operation ended and did not hold it; its real end in the time column'),
    item('running', 'still running', '›'),
  );
}
