/** One server: its ids and timestamps, its volumes (detach asks first), attach, history; delete. */
import { api } from '../api.ts';
import { fields, link, type App, type PageView } from '../app.ts';
import { confirmAction } from '../confirm.ts';
import { getServer, learnNames, names, serverAttachments, type Server, type VolumeAttachment } from '../data.ts';
import { h, replace } from '../dom.ts';
import { when } from '../labels.ts';
import { attachForm } from './attach-form.ts';
import { operationList } from './operations.ts';
import { deleteServer } from './servers.ts';

/** Detach, after asking; then follow the detach on its own page. */
export async function detach(app: App, server: { id: string; name: string }, volume: { id: string; name: string | null }, device: string | null): Promise<void> {
  const body = `Detach volume ${volume.name ?? 'unnamed'} (${volume.id}) from server ${server.name} (${server.id})${device ? ` at ${device}` : ''}? The guest loses the disk; the volume and its data stay.`;
  if (!(await confirmAction('Detach volume?', body, 'Detach'))) return;
  try {
    const r = await api('DELETE', `/compute/v2.1/servers/${server.id}/os-volume_attachments/${volume.id}`);
    app.ok();
    const op = r.headers.get('x-hitch-operation-id');
    if (op) app.go(`#/operations/${op}`);
  } catch (e) {
    app.error(e);
  }
}

export function serverPage(app: App, id: string): PageView {
  const head = h('div', {});
  const vols = h('div', {});
  const attach = h('div', {});
  const history = operationList(app, { serverId: id }, 'server-operations');
  let drawnFor: string | null = null;
  const draw = (s: Server, atts: readonly VolumeAttachment[]): void => {
    replace(
      head,
      h('h1', {}, `Server ${s.name}`),
      fields([
        ['id', h('span', { class: 'mono' }, s.id)],
        ['name', s.name],
        ['status', h('span', { class: `status ${s.status}` }, s.status)],
        ['created', when(s.created)],
        ['updated', when(s.updated)],
      ]),
      h('button', { type: 'button', class: 'danger', id: 'delete-server', onclick: () => void deleteServer(app, s).then((done) => (done ? app.go('#/servers') : undefined)) }, 'Delete server'),
    );
    replace(
      vols,
      h('h2', {}, 'Volumes'),
      atts.length === 0
        ? h('p', {}, 'No volume attached.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { id: 'server-attachments' },
              h('tr', {}, h('th', {}, 'volume'), h('th', {}, 'device'), h('th', { class: 'optional' }, 'volume id'), h('th', {})),
              ...atts.map((a) => {
                const name = names.volumes.get(a.volumeId) ?? null;
                return h(
                  'tr',
                  { 'data-attachment': `${s.name}/${name ?? a.volumeId}` },
                  h('td', {}, link(`#/volumes/${a.volumeId}`, name ?? '(unnamed)', 32, `${name ?? '(unnamed)'} (${a.volumeId})`)),
                  h('td', {}, a.device ?? ''),
                  h('td', { class: 'optional mono' }, a.volumeId),
                  h('td', {}, h('button', { type: 'button', class: 'small danger', onclick: () => void detach(app, s, { id: a.volumeId, name }, a.device) }, 'detach')),
                );
              }),
            ),
          ),
    );
    // The attach form keeps what was typed: drawn once per server, not on every refresh.
    if (drawnFor !== s.id && s.status === 'ACTIVE') {
      drawnFor = s.id;
      replace(attach, h('h2', {}, 'Attach a volume'), attachForm(app, { id: s.id, name: s.name }));
    }
  };
  const refresh = async (): Promise<void> => {
    try {
      const [s, atts] = await Promise.all([getServer(id), serverAttachments(id)]);
      await learnNames('volumes', atts.map((a) => a.volumeId));
      draw(s, atts);
    } catch (e) {
      app.error(e);
    }
    await history.reload();
  };
  void refresh();
  return { element: h('section', { id: 'server-page' }, head, vols, attach, h('h2', {}, 'History'), history.element), refresh };
}
