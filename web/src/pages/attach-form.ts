/**
 * Attach a volume: pick the server and the volume by searching (the server answers; hundreds of
 * volumes are no harder than three), each choice showing what tells it apart — a volume's name,
 * size and id. On submit, the attach's own page follows it step by step.
 */
import { api } from '../api.ts';
import type { App } from '../app.ts';
import { serverPage, volumePage } from '../data.ts';
import { h } from '../dom.ts';
import { shortId } from '../labels.ts';
import { picker } from '../picker.ts';

export function attachForm(app: App, fixedServer?: { id: string; name: string }): HTMLElement {
  const volumes = picker({
    name: 'volume',
    label: 'volumes',
    onError: (e) => app.error(e),
    search: async (text) =>
      (await volumePage({ search: text, filter: 'available', limit: 50, marker: null })).map((v) => ({
        value: v.id,
        label: `${v.name ?? '(unnamed)'} · ${v.size} GiB · ${shortId(v.id)}`,
        title: `${v.name ?? '(unnamed)'}, ${v.size} GiB, ${v.id}`,
      })),
  });
  const servers = fixedServer
    ? null
    : picker({
        name: 'server',
        label: 'servers',
        onError: (e) => app.error(e),
        search: async (text) => (await serverPage({ search: text, filter: 'ACTIVE', limit: 50, marker: null })).map((s) => ({ value: s.id, label: `${s.name} · ${shortId(s.id)}`, title: `${s.name} (${s.id})` })),
      });
  const device = h('input', { name: 'device', placeholder: '/dev/vdX (optional)', pattern: '(/dev/)?[a-z]+[a-z0-9]*' });
  const form = h('form', { id: 'attach', class: 'inline' }, servers?.element ?? null, volumes.element, device, h('button', { type: 'submit' }, 'Attach'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const serverId = fixedServer?.id ?? servers?.select.value ?? '';
    const volumeId = volumes.select.value;
    if (!serverId || !volumeId) return app.error(new Error('Pick a server and a volume to attach.'));
    api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { volumeAttachment: { volumeId, ...(device.value ? { device: device.value } : {}) } }).then(
      (r) => {
        app.ok();
        const op = r.headers.get('x-hitch-operation-id');
        if (op) app.go(`#/operations/${op}`);
      },
      (err: unknown) => app.error(err),
    );
  });
  void volumes.reload();
  void servers?.reload();
  return form;
}
