/** Servers: search, status filter, pages; create; delete (asked first); attach a volume. */
import { TINY_IMAGE_ID } from '../../../src/compute/images.ts';
import { api } from '../api.ts';
import { link, type App, type PageView } from '../app.ts';
import { confirmAction } from '../confirm.ts';
import { serverPage, type Server } from '../data.ts';
import { h } from '../dom.ts';
import { shortId, when } from '../labels.ts';
import { PagedList } from '../list.ts';
import { attachForm } from './attach-form.ts';

export async function deleteServer(app: App, s: Server): Promise<boolean> {
  const vols = s['os-extended-volumes:volumes_attached']?.length ?? 0;
  const body = `Delete server ${s.name} (${s.id})?${vols > 0 ? ` Its ${vols} volume${vols === 1 ? '' : 's'} will be detached first (the volumes are kept).` : ''}`;
  if (!(await confirmAction('Delete server?', body, 'Delete server'))) return false;
  try {
    await api('DELETE', `/compute/v2.1/servers/${s.id}`);
    app.ok();
    return true;
  } catch (e) {
    app.error(e);
    return false;
  }
}

export function serversPage(app: App): PageView {
  const list: PagedList<Server> = new PagedList<Server>({
    id: 'servers',
    searchLabel: 'server names beginning with…',
    filter: { label: 'status', options: [['ACTIVE', 'ACTIVE'], ['BUILD', 'BUILD'], ['ERROR', 'ERROR']] },
    idOf: (s) => s.id,
    fetchPage: serverPage,
    rowAttrs: (s) => ({ 'data-server': s.name, 'data-id': s.id }),
    columns: [
      { title: 'name', cell: (s) => link(`#/servers/${s.id}`, s.name, 32, `${s.name} (${s.id})`) },
      { title: 'id', class: 'optional mono', cell: (s) => h('span', { title: s.id }, shortId(s.id)) },
      { title: 'status', cell: (s) => h('span', { class: `status ${s.status}` }, s.status) },
      { title: 'volumes', class: 'num', cell: (s) => String(s['os-extended-volumes:volumes_attached']?.length ?? 0) },
      { title: 'created', class: 'optional', cell: (s) => when(s.created) },
      { title: '', cell: (s) => h('button', { type: 'button', class: 'small danger', onclick: () => void deleteServer(app, s).then((done) => (done ? list.reload() : undefined)) }, 'delete') },
    ],
    empty: 'No server matches.',
    onError: (e) => app.error(e),
  });
  const name = h('input', { name: 'server-name', placeholder: 'name', required: true, maxlength: 255 });
  const create = h('form', { id: 'create-server', class: 'inline' }, name, h('button', { type: 'submit' }, 'Create server'));
  create.addEventListener('submit', (e) => {
    e.preventDefault();
    api('POST', '/compute/v2.1/servers', { server: { name: name.value, flavorRef: '1', imageRef: TINY_IMAGE_ID, networks: 'none' } }).then(
      () => {
        app.ok();
        name.value = '';
        void list.first();
      },
      (err: unknown) => app.error(err),
    );
  });
  void list.first();
  return {
    element: h('section', { id: 'servers-page' }, h('h1', {}, 'Servers'), list.element, h('h2', {}, 'Attach a volume'), attachForm(app), h('h2', {}, 'New server'), create),
    refresh: () => list.reload(),
  };
}
