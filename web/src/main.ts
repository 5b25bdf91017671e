/**
 * The Hitch dashboard: log in through the identity API, then volumes, servers and their
 * attachments with status; an attach form; for an attachment, its trace as a waterfall with the
 * critical path and the diagnosis (the same `explain` as the CLI), and live progress while an
 * attach or detach runs (polling the operation).
 */
import { frame } from '../../src/cli/progress.ts';
import type { ApiOperation } from '../../src/cli/resources.ts';
import { explain, formatMs } from '../../src/trace/explain.ts';
import { api, ApiError, clockMs, currentSession, login, logout } from './api.ts';
import { h, replace } from './dom.ts';
import { waterfallSvg } from './waterfall.ts';
import { TINY_IMAGE_ID } from '../../src/compute/images.ts';

interface Volume { id: string; name: string | null; status: string; size: number; attachments: { server_id: string; device: string | null }[] }
interface Server { id: string; name: string; status: string }
interface Attachment { volumeId: string; serverId: string; device: string | null }

const root = document.getElementById('app') as HTMLElement;
const state: { volumes: Volume[]; servers: Server[]; attachments: Map<string, Attachment[]>; selected: { serverId: string; volumeId: string } | null; followOp: string | null; error: string } = {
  volumes: [],
  servers: [],
  attachments: new Map(),
  selected: null,
  followOp: null,
  error: '',
};

const msg = (e: unknown): string => (e instanceof ApiError ? `${e.message} (HTTP ${e.status})` : e instanceof Error ? e.message : String(e));

function showLogin(error = ''): void {
  const user = h('input', { name: 'username', value: 'demo', autocomplete: 'username', required: true });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const project = h('input', { name: 'project', value: 'demo', required: true });
  const form = h(
    'form',
    { class: 'login', id: 'login' },
    h('h1', {}, 'Hitch'),
    h('p', {}, 'Log in with the credentials `hitch serve` printed on first start (also in the data directory\'s credentials.json).'),
    h('label', {}, 'User ', user),
    h('label', {}, 'Password ', pass),
    h('label', {}, 'Project ', project),
    h('button', { type: 'submit' }, 'Log in'),
    error ? h('p', { class: 'error', role: 'alert' }, error) : null,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    login(user.value, pass.value, project.value).then(() => void start(), (err: unknown) => showLogin(msg(err)));
  });
  replace(root, form);
}

async function refresh(): Promise<void> {
  const [v, s] = await Promise.all([api<{ volumes: Volume[] }>('GET', '/volume/v3/volumes/detail'), api<{ servers: Server[] }>('GET', '/compute/v2.1/servers/detail')]);
  state.volumes = v.body.volumes;
  state.servers = s.body.servers.filter((x) => x.status !== 'DELETED');
  const atts = await Promise.all(state.servers.map((x) => api<{ volumeAttachments: Attachment[] }>('GET', `/compute/v2.1/servers/${x.id}/os-volume_attachments`)));
  state.attachments = new Map(state.servers.map((x, i) => [x.id, atts[i]?.body.volumeAttachments ?? []]));
}

const volName = (id: string): string => state.volumes.find((v) => v.id === id)?.name ?? id.slice(0, 8);
const srvName = (id: string): string => state.servers.find((s) => s.id === id)?.name ?? id.slice(0, 8);

function act(fn: () => Promise<unknown>): () => void {
  return () => {
    state.error = '';
    fn().then(
      () => void rerender(),
      (e: unknown) => {
        state.error = msg(e);
        void rerender();
      },
    );
  };
}

function volumesPanel(): HTMLElement {
  const name = h('input', { name: 'volume-name', placeholder: 'name', required: true });
  const size = h('input', { name: 'volume-size', type: 'number', min: 1, value: 1, required: true });
  const form = h('form', { id: 'create-volume', class: 'inline' }, name, size, h('span', {}, 'GiB '), h('button', { type: 'submit' }, 'Create volume'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(() => api('POST', '/volume/v3/volumes', { volume: { name: name.value, size: Number(size.value) } }))();
  });
  const rows = state.volumes.map((v) =>
    h('tr', { 'data-volume': v.name ?? v.id }, h('td', {}, v.name ?? ''), h('td', { class: `status ${v.status}` }, v.status), h('td', {}, `${v.size} GiB`),
      h('td', {}, v.attachments.map((a) => `${srvName(a.server_id)} ${a.device ?? ''}`).join(', ')),
      h('td', {}, v.status === 'available' ? h('button', { class: 'small', onclick: act(() => api('DELETE', `/volume/v3/volumes/${v.id}`)) }, 'delete') : '')),
  );
  return h('section', {}, h('h2', {}, 'Volumes'), h('table', { id: 'volumes' }, h('tr', {}, h('th', {}, 'name'), h('th', {}, 'status'), h('th', {}, 'size'), h('th', {}, 'attached to'), h('th', {})), ...rows), form);
}

function serversPanel(): HTMLElement {
  const name = h('input', { name: 'server-name', placeholder: 'name', required: true });
  const form = h('form', { id: 'create-server', class: 'inline' }, name, h('button', { type: 'submit' }, 'Create server'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(() => api('POST', '/compute/v2.1/servers', { server: { name: name.value, flavorRef: '1', imageRef: TINY_IMAGE_ID, networks: 'none' } }))();
  });
  const rows = state.servers.flatMap((s) => {
    const atts = state.attachments.get(s.id) ?? [];
    return [
      h('tr', { 'data-server': s.name }, h('td', {}, s.name), h('td', { class: `status ${s.status}` }, s.status), h('td', {}, String(atts.length))),
      ...atts.map((a) =>
        h('tr', { class: 'attachment', 'data-attachment': `${s.name}/${volName(a.volumeId)}` },
          h('td', {}, `↳ ${volName(a.volumeId)}`), h('td', {}, a.device ?? ''),
          h('td', {},
            h('button', { class: 'small', onclick: () => select(s.id, a.volumeId, null) }, 'trace'), ' ',
            h('button', { class: 'small', onclick: act(async () => {
              const r = await api('DELETE', `/compute/v2.1/servers/${s.id}/os-volume_attachments/${a.volumeId}`);
              select(s.id, a.volumeId, r.headers.get('x-hitch-operation-id'));
            }) }, 'detach'))),
      ),
    ];
  });
  return h('section', {}, h('h2', {}, 'Servers'), h('table', { id: 'servers' }, h('tr', {}, h('th', {}, 'name'), h('th', {}, 'status / device'), h('th', {}, 'volumes')), ...rows), form);
}

function attachPanel(): HTMLElement {
  const server = h('select', { name: 'server' }, ...state.servers.filter((s) => s.status === 'ACTIVE').map((s) => h('option', { value: s.id }, s.name)));
  const volume = h('select', { name: 'volume' }, ...state.volumes.filter((v) => v.status === 'available').map((v) => h('option', { value: v.id }, v.name ?? v.id)));
  const device = h('input', { name: 'device', placeholder: '/dev/vdX (optional)' });
  const form = h('form', { id: 'attach', class: 'inline' }, server, volume, device, h('button', { type: 'submit' }, 'Attach'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(async () => {
      const r = await api('POST', `/compute/v2.1/servers/${server.value}/os-volume_attachments`, { volumeAttachment: { volumeId: volume.value, ...(device.value ? { device: device.value } : {}) } });
      select(server.value, volume.value, r.headers.get('x-hitch-operation-id'));
    })();
  });
  return h('section', {}, h('h2', {}, 'Attach a volume'), form);
}

const tracePanel = h('section', { id: 'trace' });
let followTimer: number | undefined;

function select(serverId: string, volumeId: string, opId: string | null): void {
  state.selected = { serverId, volumeId };
  state.followOp = opId;
  void drawTrace();
}

async function drawTrace(): Promise<void> {
  window.clearTimeout(followTimer);
  const sel = state.selected;
  if (!sel) return replace(tracePanel);
  let op: ApiOperation | undefined;
  try {
    if (state.followOp) op = (await api<{ operation: ApiOperation }>('GET', `/compute/v2.1/os-hitch-operations/${state.followOp}`)).body.operation;
    else op = (await api<{ operations: ApiOperation[] }>('GET', `/compute/v2.1/servers/${sel.serverId}/os-volume_attachments/${sel.volumeId}/trace`)).body.operations[0];
  } catch (e) {
    return replace(tracePanel, h('p', { class: 'error' }, msg(e)));
  }
  if (!op) return replace(tracePanel, h('p', {}, 'No operation recorded for this attachment.'));
  const spans = op.spans.map((s) => ({ id: s.id, parentId: s.parent_id, name: s.name, startMs: s.start_ms, endMs: s.end_ms, outcome: s.outcome, attrs: s.attrs, ...(s.error ? { error: s.error } : {}) }));
  const running = op.state === 'running';
  // The hosts' clock ages what still runs: the operation, or background work it left (a dead portal's login).
  const report = explain(spans, clockMs ?? undefined);
  const head = h('h2', {}, `${op.kind} of ${volName(op.volume_id)} on ${srvName(op.server_id)}: `, h('span', { class: `state ${op.state}`, id: 'op-state' }, op.state), ` — ${formatMs(report.totalMs)}`);
  const parts: Node[] = [head];
  if (op.error) parts.push(h('p', { class: 'error' }, `${op.error.code}: ${op.error.message}`));
  if (running) parts.push(h('pre', { class: 'progress', id: 'progress' }, frame(op, clockMs ?? op.started_ms).join('\n')));
  parts.push(waterfallSvg(report));
  parts.push(h('h3', {}, 'Diagnosis'), h('ul', { id: 'diagnosis' }, ...report.diagnosis.map((d) => h('li', {}, d))));
  parts.push(h('h3', {}, 'Critical path'), h('pre', { class: 'critical-path' }, report.criticalPath.join('\n')));
  replace(tracePanel, ...parts);
  if (running) {
    followTimer = window.setTimeout(() => void drawTrace(), 250);
    return;
  }
  if (state.followOp) {
    state.followOp = null;
    await refresh().catch(() => undefined);
    drawMain();
  }
  if (spans.some((x) => x.endMs === null)) followTimer = window.setTimeout(() => void drawTrace(), 1000);
}

function drawMain(): void {
  const s = currentSession();
  const bar = h('header', {}, h('strong', {}, 'Hitch'), ` ${s?.user ?? ''}@${s?.project ?? ''} `, h('button', { class: 'small', id: 'logout', onclick: () => { logout(); showLogin(); } }, 'log out'));
  const main = h('main', {}, volumesPanel(), serversPanel(), attachPanel(), state.error ? h('p', { class: 'error', role: 'alert' }, state.error) : null);
  replace(root, bar, main, tracePanel);
}

async function rerender(): Promise<void> {
  try {
    await refresh();
  } catch (e) {
    if (!currentSession()) return showLogin('Session expired; log in again.');
    state.error = msg(e);
  }
  drawMain();
}

async function start(): Promise<void> {
  await rerender();
  // Status changes made elsewhere (CLI, openstack) show up within a few seconds.
  // Never while someone is filling a form: redrawing would drop what they typed.
  const busy = (): boolean => {
    const a = document.activeElement;
    if (a instanceof HTMLInputElement || a instanceof HTMLSelectElement) return true;
    return [...root.querySelectorAll('main input')].some((i) => i instanceof HTMLInputElement && i.type !== 'number' && i.value !== '');
  };
  window.setInterval(() => {
    if (currentSession() && !document.hidden && !state.followOp && !busy()) void rerender();
  }, 3000);
}

if (currentSession()) void start();
else showLogin();
