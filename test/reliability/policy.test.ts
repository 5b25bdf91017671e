/**
 * Issue 23, defect 3: a user with only `reader` on a project created, renamed, attached,
 * detached and deleted volumes, and created a server. Now every route of the identity, block
 * storage and compute APIs is guarded by its service's policy table (src/identity/policy.ts,
 * src/volume/policy.ts, src/compute/api/policy.ts), enforced before the route runs.
 *
 * The property, over every route Fastify registered (so a route added later is walked too) ×
 * caller (no token, reader, member, admin — one role each on the `demo` project) × target
 * (the caller's own project and user, or another's):
 * - every route has a rule in its service's table, and every operation in a table is a route;
 * - the answer is the table's: a refusal is a 403 naming the rule, an allowed call is no 403;
 * - and the table is OpenStack's: a reader writes nothing (but its own password, application
 *   credentials and token), a member passes whatever a reader passes, an admin passes all, and
 *   nobody below admin reaches another project named in the path.
 * Resource ids are random, so an allowed call answers 400/404 and changes nothing. A last case
 * reads, renames, attaches and deletes the demo project's real volume and server as each role.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowed, operationIndex, PUBLIC, type PolicyTable } from '../../src/http/policy.ts';
import { COMPUTE_POLICY } from '../../src/compute/api/policy.ts';
import { IDENTITY_POLICY } from '../../src/identity/policy.ts';
import { VOLUME_POLICY } from '../../src/volume/policy.ts';
import { startTestCloud, volumeAndServer, type TestCloud } from '../support/cloud.ts';

const SERVICES: readonly { readonly prefix: string; readonly strip: readonly string[]; readonly table: PolicyTable }[] = [
  { prefix: '/identity', strip: [], table: IDENTITY_POLICY },
  { prefix: '/volume', strip: ['/v3/:project_id', '/v3'], table: VOLUME_POLICY },
  { prefix: '/compute', strip: [], table: COMPUTE_POLICY },
];

/** Routes outside the three services: discovery, the read-only image service and the dashboard's files. None writes. */
const OUTSIDE = /^\/(image(\/.*)?|healthz|metrics|index\.html|assets\/.*)?$/;

type Persona = 'anonymous' | 'reader' | 'member' | 'admin';
const PERSONAS: readonly Persona[] = ['anonymous', 'reader', 'member', 'admin'];

/** Writes a reader may do, as Keystone's owner rules allow: its own password, application credentials and token. */
const READER_MAY_WRITE = new Set(['identity POST /v3/users/:id/password', 'identity POST /v3/auth/tokens', 'identity DELETE /v3/auth/tokens', 'identity POST /v3/users/:uid/application_credentials', 'identity DELETE /v3/users/:uid/application_credentials/:id']);

/** What Keystone refuses even an admin: an application credential is made by its own user only. */
const ADMIN_MAY_NOT = new Set(['identity POST /v3/users/:uid/application_credentials other']);

interface Case {
  readonly service: (typeof SERVICES)[number];
  readonly method: string;
  readonly url: string;
  /** The table key (`METHOD /path`, with `#action` for one action of an action route). */
  readonly key: string;
  readonly rule: string | undefined;
  readonly body: unknown;
}

function keyOf(service: (typeof SERVICES)[number], method: string, url: string): string {
  let path = url.slice(service.prefix.length);
  for (const s of service.strip) {
    if (path === s || path.startsWith(`${s}/`)) { path = path.slice(s.length); break; }
  }
  return `${method === 'HEAD' ? 'GET' : method} ${path === '' ? '/' : path}`;
}

/** Which parameters name a project or a user (the policy's target), by name and place. */
function paramKind(url: string, name: string, at: number): 'project' | 'user' | 'other' {
  if (['project_id', 'project', 'pid'].includes(name)) return 'project';
  if (name === 'uid') return 'user';
  const before = url.slice(0, at);
  if (name === 'id' && /\/(projects|os-quota-sets)\/$/.test(before)) return 'project';
  if (name === 'id' && /\/users\/$/.test(before)) return 'user';
  return 'other';
}

describe('policy: every route × role × project', () => {
  let t: TestCloud;
  let otherProject = '';
  let otherUser = '';
  let demoProject = '';
  const who = new Map<Persona, { token: string; userId: string }>();
  let real: { volumeId: string; serverId: string };

  beforeAll(async () => {
    t = await startTestCloud();
    const store = t.cloud.identity.store;
    const demo = await t.token('demo');
    demoProject = demo.projectId;
    real = await volumeAndServer(t);
    otherProject = (await store.createProject('elsewhere')).id;
    otherUser = (await store.createUser('someone', 'someone-Secret-9', { defaultProjectId: otherProject })).id;
    await store.assignRole(otherUser, otherProject, 'member');
    for (const role of ['reader', 'member', 'admin'] as const) {
      const user = await store.createUser(`only-${role}`, `only-${role}-Secret-1`, { defaultProjectId: demoProject });
      await store.assignRole(user.id, demoProject, role);
      const r = await t.api('POST', '/identity/v3/auth/tokens', {
        body: { auth: { identity: { methods: ['password'], password: { user: { id: user.id, password: `only-${role}-Secret-1` } } }, scope: { project: { id: demoProject } } } },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      who.set(role, { token: r.headers.get('x-subject-token') as string, userId: user.id });
    }
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  const cases = (): Case[] => {
    const out: Case[] = [];
    for (const r of t.cloud.routes) {
      const service = SERVICES.find((s) => r.url === s.prefix || r.url.startsWith(`${s.prefix}/`));
      if (!service) continue;
      const key = keyOf(service, r.method, r.url);
      const idx = operationIndex(service.table);
      out.push({ service, method: r.method, url: r.url, key, rule: idx.get(key), body: r.method === 'GET' || r.method === 'HEAD' || r.method === 'DELETE' ? undefined : [] });
      // Each action of an action route, with the body that names it.
      for (const [op, rule] of idx) {
        if (op.startsWith(`${key}#`)) out.push({ service, method: r.method, url: r.url, key: op, rule, body: { [op.slice(key.length + 1)]: {} } });
      }
    }
    return out;
  };

  it('walks the routes of all three services, and nothing outside them writes', () => {
    const all = t.cloud.routes;
    const outside = all.filter((r) => !SERVICES.some((s) => r.url === s.prefix || r.url.startsWith(`${s.prefix}/`)));
    for (const r of outside) {
      expect(r.url, `${r.method} ${r.url} is served outside any policy table`).toMatch(OUTSIDE);
      expect(['GET', 'HEAD'], `${r.method} ${r.url} writes outside any policy table`).toContain(r.method);
    }
    const c = cases();
    for (const s of SERVICES) expect(c.filter((x) => x.service === s).length, s.prefix).toBeGreaterThan(10);
  });

  it('every route has a rule, and every operation of a table is a route', () => {
    const c = cases();
    const missing = c.filter((x) => x.rule === undefined).map((x) => `${x.service.table.service}: ${x.key} (${x.method} ${x.url})`);
    expect(missing, 'routes with no policy rule').toEqual([]);
    for (const s of SERVICES) {
      const keys = new Set(c.filter((x) => x.service === s).map((x) => x.key.split('#')[0]));
      const stale = [...operationIndex(s.table).keys()].filter((op) => !keys.has(op.split('#')[0]!));
      expect(stale, `${s.table.service}: operations in the table that no route serves`).toEqual([]);
    }
  });

  it('the answer is the table’s, and the table is OpenStack’s', async () => {
    let sent = 0;
    const problems: string[] = [];
    for (const c of cases()) {
      const tag = `${c.service.table.service} ${c.key.split('#')[0]}`;
      for (const persona of PERSONAS) {
        for (const mode of ['own', 'other'] as const) {
          const me = persona === 'anonymous' ? undefined : who.get(persona)!;
          const target: Record<string, string | undefined> = { project_id: demoProject };
          const url = c.url.replace(/:(\w+)/g, (_m, name: string, at: number) => {
            const kind = paramKind(c.url, name, at);
            // A DELETE never names a real project or user: an allowed one must not remove the caller's own.
            if (kind === 'project') {
              const v = c.method === 'DELETE' && name !== 'project_id' ? randomUUID().replace(/-/g, '') : mode === 'own' ? demoProject : otherProject;
              target['project_id'] = v;
              return v;
            }
            if (kind === 'user') {
              const v = c.method === 'DELETE' && c.url.endsWith('/users/:id') ? randomUUID() : mode === 'own' && me ? me.userId : otherUser;
              target['user_id'] = v;
              return v;
            }
            return randomUUID();
          });
          const r = await t.cloud.app.inject({
            method: c.method as 'GET',
            url,
            headers: { accept: 'application/json', ...(me ? { 'x-auth-token': me.token } : {}), ...(c.body !== undefined ? { 'content-type': 'application/json' } : {}) },
            ...(c.body !== undefined ? { payload: JSON.stringify(c.body) } : {}),
          });
          sent++;
          const what = `${persona}/${mode}: ${c.method} ${url} ${c.body !== undefined ? JSON.stringify(c.body) : ''} [${c.key} → ${c.rule}] answered ${r.statusCode} ${r.body.slice(0, 200)}`;
          if (r.statusCode >= 500) problems.push(`5xx: ${what}`);
          if (c.rule === undefined) continue;
          if (c.rule === PUBLIC) {
            if (r.statusCode === 401 || r.statusCode === 403) problems.push(`public route refused: ${what}`);
            continue;
          }
          if (!me) {
            if (r.statusCode !== 401) problems.push(`no token but not 401: ${what}`);
            continue;
          }
          const roles = [persona];
          const ok = allowed(c.service.table, c.rule, { userId: me.userId, projectId: demoProject, roles }, target);
          if (!ok && r.statusCode !== 403) problems.push(`table refuses, API did not: ${what}`);
          if (!ok && r.statusCode === 403 && c.method !== 'HEAD' && !r.body.includes(c.rule)) problems.push(`403 does not name the rule: ${what}`);
          if (ok && r.statusCode === 403 && r.body.includes(c.rule)) problems.push(`table allows, API refused: ${what}`);
          // OpenStack's defaults, whatever the table says.
          const write = !['GET', 'HEAD'].includes(c.method);
          if (persona === 'reader' && write && ok && !READER_MAY_WRITE.has(tag)) problems.push(`a reader may write: ${what}`);
          if (persona === 'admin' && !ok && !ADMIN_MAY_NOT.has(`${tag} ${mode}`)) problems.push(`an admin is refused: ${what}`);
          if (persona === 'member' && !ok && allowed(c.service.table, c.rule, { userId: me.userId, projectId: demoProject, roles: ['reader'] }, target)) problems.push(`a member is refused what a reader may: ${what}`);
          if (persona !== 'admin' && ok && c.service.table.rules[c.rule]?.check !== '@' && mode === 'other' && target['project_id'] === otherProject) problems.push(`reaches another project: ${what}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(sent).toBeGreaterThan(500);
  }, 300_000);

  it('on the demo project’s real volume and server: a reader reads and changes nothing, a member and an admin write', async () => {
    const vol = (tok: string) => t.api('GET', `/volume/v3/${demoProject}/volumes/${real.volumeId}`, { token: tok });
    const reader = who.get('reader')!.token;
    expect((await vol(reader)).status).toBe(200);
    expect((await t.api('GET', `/compute/v2.1/servers/${real.serverId}`, { token: reader })).status).toBe(200);
    const writes: [string, string, unknown][] = [
      ['PUT', `/volume/v3/${demoProject}/volumes/${real.volumeId}`, { volume: { name: 'renamed' } }],
      ['POST', `/volume/v3/${demoProject}/volumes`, { volume: { size: 1, name: 'new' } }],
      ['POST', `/compute/v2.1/servers/${real.serverId}/os-volume_attachments`, { volumeAttachment: { volumeId: real.volumeId } }],
      ['POST', `/compute/v2.1/servers`, { server: { name: 's', imageRef: randomUUID(), flavorRef: '1' } }],
      ['DELETE', `/compute/v2.1/servers/${real.serverId}`, undefined],
      ['DELETE', `/volume/v3/${demoProject}/volumes/${real.volumeId}`, undefined],
    ];
    for (const [method, path, body] of writes) {
      const r = await t.api(method, path, { token: reader, ...(body !== undefined ? { body } : {}) });
      expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(403);
    }
    expect((await vol(reader)).body.volume.name).toBe('vol');
    // A member renames it; an admin renames it back.
    const renamed = await t.api('PUT', `/volume/v3/${demoProject}/volumes/${real.volumeId}`, { token: who.get('member')!.token, body: { volume: { name: 'by-member' } } });
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    const back = await t.api('PUT', `/volume/v3/${demoProject}/volumes/${real.volumeId}`, { token: who.get('admin')!.token, body: { volume: { name: 'vol' } } });
    expect(back.status, JSON.stringify(back.body)).toBe(200);
  });
});
