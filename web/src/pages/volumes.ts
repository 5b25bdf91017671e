/** Volumes: search, status filter, pages; create; delete (asked first); a row opens its page. */
import { api } from '../api.ts';
import { link, type App, type PageView } from '../app.ts';
import { confirmAction } from '../confirm.ts';
import { maxVolumeSizeGiB, learnNames, names, volumePage, type Volume } from '../data.ts';
import { h } from '../dom.ts';
import { shortId, when } from '../labels.ts';
import { PagedList } from '../list.ts';

export const VOLUME_STATUSES = ['available', 'in-use', 'reserved', 'attaching', 'detaching', 'creating', 'deleting', 'error'] as const;

export async function deleteVolume(app: App, v: Volume): Promise<boolean> {
  const what = `${v.name ?? 'unnamed'} (${v.id})`;
  if (!(await confirmAction('Delete volume?', `Delete volume ${what}, ${v.size} GiB? Its data is gone for good.`, 'Delete volume'))) return false;
  try {
    await api('DELETE', `/volume/v3/volumes/${v.id}`);
    app.ok();
    return true;
  } catch (e) {
    app.error(e);
    return false;
  }
}

export function volumesPage(app: App): PageView {
  const list: PagedList<Volume> = new PagedList<Volume>({
    id: 'volumes',
    searchLabel: 'search volume names',
    filter: { label: 'status', options: VOLUME_STATUSES.map((s) => [s, s] as const) },
    idOf: (v) => v.id,
    fetchPage: async (q) => {
      const rows = await volumePage(q);
      await learnNames('servers', rows.flatMap((v) => v.attachments.map((a) => a.server_id)));
      return rows;
    },
    rowAttrs: (v) => ({ 'data-volume': v.name ?? v.id, 'data-id': v.id }),
    columns: [
      { title: 'name', cell: (v) => link(`#/volumes/${v.id}`, v.name ?? '(unnamed)', 32, `${v.name ?? '(unnamed)'} (${v.id})`) },
      { title: 'id', class: 'optional mono', cell: (v) => h('span', { title: v.id }, shortId(v.id)) },
      { title: 'status', cell: (v) => h('span', { class: `status ${v.status}` }, v.status) },
      { title: 'size', class: 'num', cell: (v) => `${v.size} GiB` },
      {
        title: 'attached to',
        cell: (v) =>
          h('span', {}, ...v.attachments.flatMap((a, i) => [i > 0 ? ', ' : '', link(`#/servers/${a.server_id}`, names.servers.get(a.server_id) ?? shortId(a.server_id), 24), a.device ? ` ${a.device}` : ''])),
      },
      { title: 'created', class: 'optional', cell: (v) => when(v.created_at) },
      {
        title: '',
        cell: (v) =>
          v.status === 'available' || v.status === 'error'
            ? h('button', { type: 'button', class: 'small danger', onclick: () => void deleteVolume(app, v).then((done) => (done ? list.reload() : undefined)) }, 'delete')
            : '',
      },
    ],
    empty: 'No volume matches.',
    onError: (e) => app.error(e),
  });

  const name = h('input', { name: 'volume-name', placeholder: 'name', required: true, maxlength: 255 });
  const max = maxVolumeSizeGiB();
  const size = h('input', { name: 'volume-size', type: 'number', min: 1, ...(max !== null ? { max } : {}), value: 1, required: true, 'aria-label': 'size in GiB' });
  const form = h('form', { id: 'create-volume', class: 'inline' }, name, size, h('span', {}, `GiB${max !== null ? ` (at most ${max})` : ''}`), h('button', { type: 'submit' }, 'Create volume'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    api('POST', '/volume/v3/volumes', { volume: { name: name.value, size: Number(size.value) } }).then(
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
    element: h('section', { id: 'volumes-page' }, h('h1', {}, 'Volumes'), list.element, h('h2', {}, 'New volume'), form),
    refresh: () => list.reload(),
  };
}
