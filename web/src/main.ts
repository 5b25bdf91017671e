/**
 * The Hitch dashboard: log in through the identity API, then pages for a fleet — volumes,
 * servers, operations (each searched, filtered and paged by the server), a page for each
 * volume, server and operation (ids, timestamps, request id, attachments, the trace as a
 * waterfall with the diagnosis).
 * Destructive actions ask first. Addresses are `#/volumes`, `#/servers/ID`, `#/operations/ID`…
 * so a page can be reloaded, bookmarked and shared.
 */
import { currentSession, login, logout } from './api.ts';
import { message, type App, type PageView } from './app.ts';
import { h, replace } from './dom.ts';
import { showLogView } from './log-view.ts';
import { operationPage } from './pages/operation.ts';
import { operationsPage } from './pages/operations.ts';
import { serverPage } from './pages/server.ts';
import { serversPage } from './pages/servers.ts';
import { volumePage } from './pages/volume.ts';
import { volumesPage } from './pages/volumes.ts';

const root = document.getElementById('app') as HTMLElement;
const errorLine = h('p', { class: 'error', role: 'alert', id: 'error', hidden: true });
const content = h('div', { id: 'content', role: 'main' });
let current: PageView | null = null;

const app: App = {
  error(e) {
    errorLine.textContent = message(e);
    errorLine.hidden = false;
    if (!currentSession()) showLogin('Session expired; log in again.');
  },
  ok() {
    errorLine.hidden = true;
    errorLine.textContent = '';
  },
  go(hash) {
    if (location.hash === hash) void route();
    else location.hash = hash;
  },
};

function showLogin(error = ''): void {
  current?.dispose?.();
  current = null;
  const user = h('input', { name: 'username', value: 'demo', autocomplete: 'username', required: true });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const project = h('input', { name: 'project', value: 'demo', required: true });
  const form = h(
    'form',
    { class: 'login', id: 'login' },
    h('h1', {}, 'Hitch'),
    h('p', {}, "Log in with the credentials `hitch serve` printed on first start (also in the data directory's credentials.json)."),
    h('label', {}, 'User ', user),
    h('label', {}, 'Password ', pass),
    h('label', {}, 'Project ', project),
    h('button', { type: 'submit' }, 'Log in'),
    error ? h('p', { class: 'error', role: 'alert' }, error) : null,
    h('p', {}, 'Or, without logging in: ', h('a', { href: '#/log', id: 'to-log' }, 'explain an OpenStack log')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    login(user.value, pass.value, project.value).then(
      () => {
        if (!location.hash) location.hash = '#/volumes';
        void route();
      },
      (err: unknown) => showLogin(message(err)),
    );
  });
  replace(root, form);
}

const NAV: readonly (readonly [string, string])[] = [
  ['#/volumes', 'Volumes'],
  ['#/servers', 'Servers'],
  ['#/operations', 'Operations'],
  ['#/log', 'Explain a log'],
];

function frame(): void {
  const s = currentSession();
  const section = `#/${location.hash.split('/')[1] ?? ''}`;
  const nav = h('nav', { class: 'top', 'aria-label': 'pages' }, ...NAV.map(([href, text]) => h('a', { href, class: href === section ? 'current' : '' }, text)));
  const who = s ? h('span', { class: 'who' }, `${s.user}@${s.project} `, h('button', { type: 'button', class: 'small', id: 'logout', onclick: () => (logout(), showLogin()) }, 'log out')) : null;
  replace(root, h('header', {}, h('strong', {}, 'Hitch'), nav, who), errorLine, content);
}

async function route(): Promise<void> {
  current?.dispose?.();
  current = null;
  app.ok();
  const [, section = 'volumes', id] = (location.hash || '#/volumes').split('/');
  // The log view (web/src/log-view.ts) reads a pasted log in the page: no session needed.
  if (section === 'log') return (frame(), showLogView(content));
  if (!currentSession()) return showLogin();
  frame();
  current =
    section === 'volumes' ? (id ? volumePage(app, id) : volumesPage(app))
    : section === 'servers' ? (id ? serverPage(app, id) : serversPage(app))
    : section === 'operations' ? (id ? operationPage(app, id) : operationsPage(app))
    : volumesPage(app);
  replace(content, current.element);
}

/** Never redraw under someone filling a form: it would drop what they typed. */
function busy(): boolean {
  const a = document.activeElement;
  if (a instanceof HTMLInputElement || a instanceof HTMLSelectElement || a instanceof HTMLTextAreaElement) return true;
  if (document.querySelector('dialog[open]')) return true;
  return [...content.querySelectorAll('form input')].some((i) => i instanceof HTMLInputElement && i.type !== 'number' && i.type !== 'search' && i.value !== '');
}

window.addEventListener('hashchange', () => void route());
// Changes made elsewhere (the CLI, openstack, another tab) show up within a few seconds.
window.setInterval(() => {
  if (current && currentSession() && !document.hidden && !busy()) void current.refresh();
}, 3000);

if (currentSession() || location.hash === '#/log') void route();
else showLogin();
