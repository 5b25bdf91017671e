/**
 * Figure — fair sharing (issue 23, defect 4): one project floods the API, another lists its one
 * volume. Three processes: `hitch serve` (unpaced simulator), the flood (autocannon's own process:
 * `connections` keep-alive connections of `demo` listing its volumes as fast as the server
 * answers), and this one, which times the quiet project's requests one after another.
 *
 * The same run twice, on two fresh servers: without a rate limit, and with `projectRateLimit`
 * (the flood's excess answered 429 before any route runs). The figure is the quiet project's p99
 * during the flood over its p99 alone, on the same server in the same run: a ratio, since the
 * machine is shared and its load changes (the load average is printed beside it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { percentile } from './lib/stats.ts';

const ROOT = resolve(import.meta.dirname, '..');
const ADMIN_PASSWORD = 'bench-Flood-Admin-1';
/** The quiet tenant's pace: 12 requests a second, under the limit the second run sets (20/s). */
const PROBE_EVERY_MS = 80;

export interface FloodRow {
  readonly limit: string;
  readonly quietP99Ms: number;
  readonly floodP99Ms: number;
  readonly ratio: number;
  /** The flood's requests answered in the measured window, and how many of them were 429. */
  readonly floodRequests: number;
  readonly flood429: number;
  readonly loadAverage: readonly number[];
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function serve(env: Record<string, string>): Promise<{ url: string; dir: string; child: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), 'hitch-bench-flood-'));
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bin/hitch.js'), 'serve', '--port', String(port), '--data-dir', dir, '--sim-speed', '0', '--log-level', 'silent'], {
    cwd: ROOT,
    env: { ...process.env, HITCH_DATA_DIR: '', HITCH_ADMIN_PASSWORD: ADMIN_PASSWORD, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += String(d)));
  child.stderr?.on('data', (d) => (out += String(d)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  while (!(out.includes('Hitch is running') && (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`hitch serve did not come up: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, dir, child };
}

async function login(url: string, user: string, password: string, project: string): Promise<{ token: string; projectId: string }> {
  const r = await fetch(`${url}/identity/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } }, scope: { project: { name: project, domain: { id: 'default' } } } } }),
  });
  if (r.status !== 201) throw new Error(`login ${user}: ${r.status} ${await r.text()}`);
  return { token: r.headers.get('x-subject-token') ?? '', projectId: ((await r.json()) as { token: { project: { id: string } } }).token.project.id };
}

async function call(url: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${url}${path}`, { method, headers: { 'x-auth-token': token, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/**
 * `n` one-volume lists of the quiet project, one every `everyMs` (a tenant within its limit):
 * their latencies in ms.
 */
async function probe(url: string, token: string, projectId: string, n: number, everyMs = PROBE_EVERY_MS): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, everyMs));
    const t0 = performance.now();
    const r = await call(url, token, 'GET', `/volume/v3/${projectId}/volumes`);
    out.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`quiet list: ${r.status}`);
  }
  return out;
}

async function once(label: string, env: Record<string, string>, opts: { connections: number; samples: number }): Promise<FloodRow> {
  const s = await serve(env);
  let flood: ChildProcess | undefined;
  try {
    const admin = await login(s.url, 'admin', ADMIN_PASSWORD, 'admin');
    // The quiet tenant: a project of its own, a member, one volume.
    const p = await call(s.url, admin.token, 'POST', '/identity/v3/projects', { project: { name: 'quiet', domain_id: 'default' } });
    const u = await call(s.url, admin.token, 'POST', '/identity/v3/users', { user: { name: 'quiet', domain_id: 'default', password: 'quiet-Bench-Pass-3' } });
    const roles = await call(s.url, admin.token, 'GET', '/identity/v3/roles?name=member');
    const roleId = (roles.body['roles'] as { id: string }[])[0]?.id;
    const pid = (p.body['project'] as { id: string }).id;
    const uid = (u.body['user'] as { id: string }).id;
    const g = await fetch(`${s.url}/identity/v3/projects/${pid}/users/${uid}/roles/${roleId}`, { method: 'PUT', headers: { 'x-auth-token': admin.token } });
    if (g.status !== 204) throw new Error(`role assignment: ${g.status}`);
    const quiet = await login(s.url, 'quiet', 'quiet-Bench-Pass-3', 'quiet');
    if ((await call(s.url, quiet.token, 'POST', `/volume/v3/${quiet.projectId}/volumes`, { volume: { size: 1, name: 'only' } })).status !== 202) throw new Error('quiet volume');
    // The flooding tenant: demo, with as many volumes as its default quota allows (10).
    const creds = JSON.parse(readFileSync(join(s.dir, 'credentials.json'), 'utf8')) as { demo: { password: string } };
    const demo = await login(s.url, 'demo', creds.demo.password, 'demo');
    for (let i = 0; i < 10; i++) await call(s.url, demo.token, 'POST', `/volume/v3/${demo.projectId}/volumes`, { volume: { size: 1, name: `flood-${i}` } });

    await probe(s.url, quiet.token, quiet.projectId, 30, 0); // warm-up (JIT, caches), within the burst
    const alone = await probe(s.url, quiet.token, quiet.projectId, opts.samples);

    // Long enough for the warm-up and the probe; autocannon prints its counts when it ends.
    const duration = Math.ceil(3 + (opts.samples * PROBE_EVERY_MS * 2) / 1000 + 5);
    flood = spawn(
      process.execPath,
      [join(ROOT, 'node_modules/autocannon/autocannon.js'), '-c', String(opts.connections), '-d', String(duration), '-j', '-H', `x-auth-token=${demo.token}`, `${s.url}/volume/v3/${demo.projectId}/volumes/detail`],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let report = '';
    flood.stdout?.on('data', (d) => (report += String(d)));
    const done = new Promise<void>((res) => flood?.once('close', () => res()));
    // Let the flood reach full speed before timing the quiet tenant.
    const before = Date.now();
    while (Date.now() - before < 3000) await new Promise((r) => setTimeout(r, 100));
    const during = await probe(s.url, quiet.token, quiet.projectId, opts.samples);
    await done;
    let floodRequests = 0;
    let flood429 = 0;
    try {
      const j = JSON.parse(report) as { requests: { total: number }; non2xx: number };
      floodRequests = j.requests.total;
      flood429 = j.non2xx;
    } catch {
      // autocannon interrupted before it printed: the counts stay 0
    }
    const quietP99Ms = percentile(alone, 99);
    const floodP99Ms = percentile(during, 99);
    return { limit: label, quietP99Ms, floodP99Ms, ratio: floodP99Ms / quietP99Ms, floodRequests, flood429, loadAverage: loadavg().map((x) => Math.round(x * 100) / 100) };
  } finally {
    if (flood && flood.exitCode === null) flood.kill('SIGKILL');
    s.child.kill('SIGTERM');
    await new Promise((r) => s.child.once('close', r));
    rmSync(s.dir, { recursive: true, force: true });
  }
}

/** The figure: without a limit, then with `projectRateLimit` at `perSecond`. */
export async function measureFlood(opts: { connections: number; samples: number; perSecond: number }): Promise<FloodRow[]> {
  return [
    await once('none', {}, opts),
    await once(`projectRateLimit ${opts.perSecond}/s`, { HITCH_PROJECT_RATE_LIMIT: String(opts.perSecond) }, opts),
  ];
}
