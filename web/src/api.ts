/**
 * The dashboard's client for Hitch's OpenStack APIs (same origin). The token lives in memory
 * and in sessionStorage (so a reload keeps the session, a new tab does not) — never in a URL.
 */

export interface Session {
  token: string;
  user: string;
  project: string;
  projectId: string;
}

const KEY = 'hitch.session';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let session: Session | null = null;
/** The hosts' clock at the last response (virtual on the simulator). */
export let clockMs: number | null = null;

export function currentSession(): Session | null {
  if (session) return session;
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    session = JSON.parse(raw) as Session;
  } catch {
    sessionStorage.removeItem(KEY);
  }
  return session;
}

export function logout(): void {
  session = null;
  sessionStorage.removeItem(KEY);
}

function messageOf(status: number, body: unknown): string {
  if (body && typeof body === 'object') {
    for (const v of Object.values(body as Record<string, unknown>)) {
      if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') return (v as { message: string }).message;
    }
  }
  return `HTTP ${status}`;
}

async function send<T>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ body: T; headers: Headers }> {
  const h: Record<string, string> = { accept: 'application/json', ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  const r = await fetch(url, { method, headers: h, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const clock = r.headers.get('x-hitch-clock-ms');
  if (clock) clockMs = Number(clock);
  const text = await r.text();
  const parsed = text ? (JSON.parse(text) as unknown) : null;
  if (r.status === 401 && session) logout();
  if (r.status >= 400) throw new ApiError(r.status, messageOf(r.status, parsed));
  return { body: parsed as T, headers: r.headers };
}

export async function login(user: string, password: string, project: string): Promise<Session> {
  const r = await send<{ token: { project: { id: string } } }>('POST', '/identity/v3/auth/tokens', {
    auth: {
      identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } },
      scope: { project: { name: project, domain: { id: 'default' } } },
    },
  });
  const token = r.headers.get('x-subject-token');
  if (!token) throw new ApiError(500, 'no token issued');
  session = { token, user, project, projectId: r.body.token.project.id };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<{ body: T; headers: Headers }> {
  const s = currentSession();
  if (!s) throw new ApiError(401, 'not logged in');
  const service = path.startsWith('/volume') ? { 'openstack-api-version': 'volume 3.70' } : { 'openstack-api-version': 'compute 2.79' };
  return send<T>(method, path, body, { 'x-auth-token': s.token, ...service });
}
