/**
 * Operations: every attach and detach, newest first, with a status filter (running, done,
 * failed: rolled back or failed) — kept across restarts until the retention limit. Also the
 * history table of a volume's or a server's page.
 */
import { link, type App, type PageView } from '../app.ts';
import { learnNames, names } from '../data.ts';
import { h } from '../dom.ts';
import { shortId, when } from '../labels.ts';
import { PagedList } from '../list.ts';
import { operationPage, type OperationSummary } from '../ops-data.ts';
import { formatMs } from '../../../src/trace/explain.ts';

export function operationList(app: App, scope: { serverId?: string; volumeId?: string } = {}, id = 'operations'): PagedList<OperationSummary> {
  return new PagedList<OperationSummary>({
    id,
    filter: { label: 'status', options: [['running', 'running'], ['done', 'done'], ['failed', 'failed (rolled back)']] },
    idOf: (o) => o.id,
    fetchPage: async (q) => {
      const rows = await operationPage(q, scope);
      await Promise.all([learnNames('volumes', rows.map((o) => o.volume_id)), learnNames('servers', rows.map((o) => o.server_id))]);
      return rows;
    },
    rowAttrs: (o) => ({ 'data-operation': o.id, 'data-state': o.state }),
    columns: [
      { title: 'asked at', cell: (o) => link(`#/operations/${o.id}`, when(o.created_at), 40, `${o.kind} ${o.id}`) },
      { title: 'kind', cell: (o) => o.kind },
      { title: 'volume', cell: (o) => link(`#/volumes/${o.volume_id}`, names.volumes.get(o.volume_id) ?? shortId(o.volume_id), 24, `${names.volumes.get(o.volume_id) ?? ''} (${o.volume_id})`) },
      { title: 'server', cell: (o) => link(`#/servers/${o.server_id}`, names.servers.get(o.server_id) ?? shortId(o.server_id), 24, `${names.servers.get(o.server_id) ?? ''} (${o.server_id})`) },
      { title: 'state', cell: (o) => h('span', { class: `state ${o.state}`, title: o.error ? `${o.error.code}: ${o.error.message}` : '' }, o.state === 'rolled_back' && o.step ? `rolled back at ${o.step}` : o.state.replace('_', ' ')) },
      { title: 'took', class: 'num', cell: (o) => (o.duration_ms === null ? 'running' : formatMs(o.duration_ms)) },
      { title: 'request id', class: 'optional mono', cell: (o) => h('span', { title: o.request_id }, o.request_id) },
    ],
    empty: 'No operation matches.',
    onError: (e) => app.error(e),
  });
}

export function operationsPage(app: App): PageView {
  const list = operationList(app);
  void list.first();
  return {
    element: h('section', { id: 'operations-page' }, h('h1', {}, 'Operations'), h('p', { class: 'hint' }, 'Every attach and detach, failed and rolled-back ones too, with its trace. Times are when it was asked for; durations on the compute host\'s clock.'), list.element),
    refresh: () => list.reload(),
  };
}
