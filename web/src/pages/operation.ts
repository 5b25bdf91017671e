/**
 * One attach or detach: what, on what, when, its request id (the same one as in the response
 * header, the server's log lines and `hitch explain`), how it ended; its steps live while it
 * runs; then the waterfall with its legend, the diagnosis and the critical path. It is read from
 * the operation history, so a rolled-back attach is here after a reload or a restart.
 */
import { frame } from '../../../src/cli/progress.ts';
import { toSpanRecords } from '../../../src/cli/resources.ts';
import { backgroundText, explain, formatMs } from '../../../src/trace/explain.ts';
import { clockMs } from '../api.ts';
import { fields, link, type App, type PageView } from '../app.ts';
import { learnNames, names } from '../data.ts';
import { h, replace } from '../dom.ts';
import { when } from '../labels.ts';
import { getOperation } from '../ops-data.ts';
import { legend, waterfallSvg } from '../waterfall.ts';

export function operationPage(app: App, id: string): PageView {
  const body = h('div', {});
  let timer: number | undefined;
  let disposed = false;
  const draw = async (): Promise<void> => {
    window.clearTimeout(timer);
    let op;
    try {
      op = await getOperation(id);
      await Promise.all([learnNames('volumes', [op.volume_id]), learnNames('servers', [op.server_id])]);
    } catch (e) {
      app.error(e);
      return;
    }
    if (disposed) return;
    const spans = toSpanRecords(op.spans);
    // The hosts' clock ages what still runs: the operation, or background work it left.
    const report = explain(spans, clockMs ?? undefined);
    const running = op.state === 'running';
    const volume = names.volumes.get(op.volume_id) ?? '(unnamed)';
    const server = names.servers.get(op.server_id) ?? op.server_id;
    const width = Math.min(1100, Math.max(300, body.clientWidth || window.innerWidth - 32));
    replace(
      body,
      h('h1', {}, `${op.kind === 'attach' ? 'Attach' : 'Detach'} of ${volume} ${op.kind === 'attach' ? 'to' : 'from'} ${server}: `, h('span', { class: `state ${op.state}`, id: 'op-state' }, op.state.replace('_', ' '))),
      fields([
        ['operation', h('span', { class: 'mono' }, op.id)],
        ['request id', h('span', { class: 'mono', id: 'request-id' }, op.request_id)],
        ['volume', link(`#/volumes/${op.volume_id}`, `${volume} (${op.volume_id})`, 80)],
        ['server', link(`#/servers/${op.server_id}`, `${server} (${op.server_id})`, 80)],
        ['asked at', when(op.created_at)],
        ['took', running ? `running (${formatMs(report.totalMs)} so far)` : `${formatMs(report.totalMs)}${backgroundText(report.background)}`],
        ['step', op.step ?? ''],
      ]),
      op.error ? h('p', { class: 'error', id: 'op-error' }, `${op.error.code}: ${op.error.message}`) : '',
      running ? h('pre', { class: 'progress', id: 'progress' }, frame(op, clockMs ?? op.started_ms).join('\n')) : '',
      h('h2', {}, 'Waterfall'),
      h('div', { class: 'waterfall-wrap' }, waterfallSvg(report, 2, width)),
      legend(),
      h('h2', {}, 'Diagnosis'),
      h('ul', { id: 'diagnosis' }, ...report.diagnosis.map((d) => h('li', {}, d))),
      h('h2', {}, 'Critical path'),
      h('pre', { class: 'critical-path' }, report.criticalPath.join('\n')),
    );
    // Follow it while it runs, and while background work it left still runs (a dead portal's login).
    if (running) timer = window.setTimeout(() => void draw(), 250);
    else if (spans.some((s) => s.endMs === null)) timer = window.setTimeout(() => void draw(), 1000);
  };
  void draw();
  return {
    element: h('section', { id: 'operation-page' }, body),
    // The page follows itself; the periodic refresh would only redraw it twice.
    refresh: async () => undefined,
    dispose: () => {
      disposed = true;
      window.clearTimeout(timer);
    },
  };
}
