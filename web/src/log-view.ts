/**
 * "Explain an OpenStack log": paste or upload nova-compute's (and cinder's) log, see every
 * attach and detach in it, slowest first, and for one of them the same waterfall, critical path
 * and diagnosis as `hitch explain --log` — computed here in the browser by the same module
 * (`src/trace/oslog/reading.ts`), so the log never leaves the page. Secrets are masked as the
 * lines are read. Needs no login: it touches no API.
 */
import { formatMs } from '../../src/trace/explain.ts';
import { maskLogText } from '../../src/trace/oslog/mask.ts';
import { exactTotal, readLogText, selectOperations, type LogOperation, type LogReading } from '../../src/trace/oslog/reading.ts';
import { h, replace } from './dom.ts';
import { waterfallSvg } from './waterfall.ts';

/** A file's text; gzip (told by its first bytes, like the CLI) is inflated by the browser. */
async function fileText(f: File): Promise<string> {
  const head = new Uint8Array(await f.slice(0, 2).arrayBuffer());
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const stream = f.stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).text();
  }
  return f.text();
}

function opTitle(o: LogOperation): string {
  const s = o.summary;
  return `${s.kind} of volume ${s.volume ?? '(unknown)'}${s.server ? ` ${s.kind === 'attach' ? 'to' : 'from'} server ${s.server}` : ''}: ${s.outcome}, ${formatMs(s.durationMs)}`;
}

function report(o: LogOperation): HTMLElement {
  const r = o.report;
  return h(
    'section',
    { id: 'log-report' },
    h('h2', {}, opTitle(o)),
    h('p', { class: 'log-extent' }, `${exactTotal(o.summary)}${o.summary.requestId ? ` (${o.summary.requestId})` : ''}`),
    o.summary.error ? h('p', { class: 'error' }, o.summary.error) : null,
    waterfallSvg(r, 3),
    h('h3', {}, 'Diagnosis'),
    h('ul', { id: 'log-diagnosis' }, ...r.diagnosis.map((d) => h('li', {}, d))),
    h('h3', {}, 'Critical path'),
    h('pre', { class: 'critical-path' }, r.criticalPath.join('\n')),
  );
}

function summaryTable(reading: LogReading, pick: (o: LogOperation) => void): HTMLElement {
  const ops = selectOperations(reading);
  const l = reading.lines;
  const rows = ops.map((o) =>
    h(
      'tr',
      { class: 'log-op', 'data-volume': o.summary.volume ?? '', 'data-outcome': o.summary.outcome },
      h('td', {}, formatMs(o.summary.durationMs)),
      h('td', {}, o.summary.kind),
      h('td', { class: `outcome ${o.summary.outcome}` }, o.summary.outcome),
      h('td', {}, o.summary.volume ?? '-'),
      h('td', {}, o.summary.server ?? '-'),
      h('td', {}, o.summary.start),
      h('td', {}, h('button', { class: 'small', onclick: () => pick(o) }, 'waterfall')),
    ),
  );
  return h(
    'section',
    { id: 'log-summary' },
    h('p', {}, `${ops.length === 1 ? '1 attach or detach' : `${ops.length} attaches and detaches`} — ${l.total} lines: ${l.placed} in them, ${l.other} about other work, ${l.unplaced} unplaced`),
    h('table', {}, h('tr', {}, ...['duration', 'kind', 'outcome', 'volume', 'server', 'start', ''].map((t) => h('th', {}, t))), ...rows),
    l.unplaced > 0
      ? h('details', {}, h('summary', {}, `unplaced lines (${l.unplaced})`), h('pre', { class: 'unplaced' }, reading.unplaced.map((u) => `${u.lineNo}: ${u.text}`).join('\n')))
      : null,
  );
}

/** Draw the view into `container` (the dashboard's page area, at `#/log`). */
export function showLogView(container: HTMLElement): void {
  const text = h('textarea', { id: 'log-text', rows: 12, cols: 120, spellcheck: 'false', placeholder: 'Paste nova-compute.log (with os-brick at DEBUG for the full picture), and cinder logs if you have them' });
  const file = h('input', { id: 'log-file', type: 'file', multiple: true });
  const out = h('div', { id: 'log-out' });
  const detail = h('div', { id: 'log-detail' });
  const run = (source: string, body: string): void => {
    let reading: LogReading;
    try {
      reading = readLogText(body, source);
    } catch (e) {
      replace(out, h('p', { class: 'error', role: 'alert' }, e instanceof Error ? e.message : String(e)));
      return;
    }
    replace(detail);
    const pick = (o: LogOperation): void => replace(detail, report(o));
    replace(out, summaryTable(reading, pick));
    const first = selectOperations(reading)[0];
    if (first && selectOperations(reading).length === 1) pick(first);
  };
  file.addEventListener('change', () => {
    const files = [...(file.files ?? [])];
    if (files.length === 0) return;
    // Several files are one log read in time order, as the CLI reads them.
    Promise.all(files.map(fileText)).then(
      (texts) => run(files.map((f) => f.name).join(', '), texts.join('\n')),
      (e: unknown) => replace(out, h('p', { class: 'error', role: 'alert' }, `cannot read ${files.map((f) => f.name).join(', ')}: ${e instanceof Error ? e.message : String(e)}`)),
    );
  });
  const form = h('form', { id: 'log-form' }, text, h('div', {}, h('button', { type: 'submit' }, 'Explain'), ' or upload ', file));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run('pasted', text.value);
    // What stays on the page is masked too (a screenshot of it is shared more often than the log).
    text.value = text.value.split('\n').map(maskLogText).join('\n');
  });
  replace(
    container,
    h(
      'section',
      { id: 'log-view' },
      h('h1', {}, 'Explain an OpenStack log'),
      h('p', {}, 'Every volume attach and detach in the log, slowest first; for one of them, where its time went. Read in this page only; passwords and tokens are masked.'),
      form,
      out,
      detail,
    ),
  );
}
