/** One volume: its ids, timestamps, attachments (detach asks first), history; delete. */
import { fields, link, type App, type PageView } from '../app.ts';
import { getVolume, learnNames, names, type Volume } from '../data.ts';
import { h, replace } from '../dom.ts';
import { when } from '../labels.ts';
import { detach } from './server.ts';
import { deleteVolume } from './volumes.ts';
import { operationList } from './operations.ts';

export function volumePage(app: App, id: string): PageView {
  const head = h('div', {});
  const atts = h('div', {});
  const history = operationList(app, { volumeId: id }, 'volume-operations');
  const draw = (v: Volume): void => {
    replace(
      head,
      h('h1', {}, `Volume ${v.name ?? '(unnamed)'}`),
      fields([
        ['id', h('span', { class: 'mono' }, v.id)],
        ['name', v.name ?? '(unnamed)'],
        ['status', h('span', { class: `status ${v.status}` }, v.status)],
        ['size', `${v.size} GiB`],
        ['description', v.description ?? ''],
        ['created', when(v.created_at)],
        ['updated', when(v.updated_at)],
      ]),
      v.status === 'available' || v.status === 'error'
        ? h('button', { type: 'button', class: 'danger', id: 'delete-volume', onclick: () => void deleteVolume(app, v).then((done) => (done ? app.go('#/volumes') : undefined)) }, 'Delete volume')
        : '',
    );
    replace(
      atts,
      h('h2', {}, 'Attached to'),
      v.attachments.length === 0
        ? h('p', {}, 'Not attached.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { id: 'volume-attachments' },
              h('tr', {}, h('th', {}, 'server'), h('th', {}, 'device'), h('th', { class: 'optional' }, 'attached'), h('th', { class: 'optional' }, 'attachment id'), h('th', {})),
              ...v.attachments.map((a) => {
                const server = names.servers.get(a.server_id) ?? a.server_id;
                return h(
                  'tr',
                  {},
                  h('td', {}, link(`#/servers/${a.server_id}`, server, 32, `${server} (${a.server_id})`)),
                  h('td', {}, a.device ?? ''),
                  h('td', { class: 'optional' }, when(a.attached_at)),
                  h('td', { class: 'optional mono' }, a.attachment_id),
                  h('td', {}, h('button', { type: 'button', class: 'small danger', onclick: () => void detach(app, { id: a.server_id, name: server }, { id: v.id, name: v.name }, a.device) }, 'detach')),
                );
              }),
            ),
          ),
    );
  };
  const refresh = async (): Promise<void> => {
    try {
      const v = await getVolume(id);
      await learnNames('servers', v.attachments.map((a) => a.server_id));
      draw(v);
    } catch (e) {
      app.error(e);
    }
    await history.reload();
  };
  void refresh();
  return { element: h('section', { id: 'volume-page' }, head, atts, h('h2', {}, 'History'), history.element), refresh };
}
