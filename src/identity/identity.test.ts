/**
 * Identity on both dialects: seeding, password and token storage, token lifecycle, the
 * catalog, and admin-only administration.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_PASSWORD, buildApp, DEMO_PASSWORD, type HitchTestApp } from '../test-support/build-app.ts';
import { describeEachDialect } from '../test-support/dialects.ts';

const authBody = (name: string, password: string, project?: string) => ({
  auth: {
    identity: { methods: ['password'], password: { user: { name, domain: { name: 'Default' }, password } } },
    ...(project ? { scope: { project: { name: project, domain: { name: 'Default' } } } } : {}),
  },
});

describeEachDialect('identity', (ctx) => {
  let t: HitchTestApp;
  beforeAll(async () => {
    t = await buildApp({ dbUrl: await ctx.freshUrl() });
  });
  afterAll(async () => t?.close());

  const login = async (name = 'admin', password = ADMIN_PASSWORD, project: string | null = name) =>
    t.app.inject({ method: 'POST', url: '/identity/v3/auth/tokens', payload: authBody(name, password, project ?? undefined) });

  it('seeds roles, projects and users once', async () => {
    await t.identity.seed({ adminPassword: 'other' });
    expect((await t.identity.store.listRoles()).map((r) => r.name)).toEqual(['admin', 'member', 'reader']);
    expect((await t.identity.store.listUsers()).map((u) => u.name)).toEqual(['admin', 'demo']);
    expect((await login()).statusCode).toBe(201);
  });

  it('stores passwords with scrypt and tokens only as hashes', async () => {
    const r = await login();
    const tok = String(r.headers['x-subject-token']);
    const users = await t.db.db.selectFrom('users').select('password_hash').execute();
    for (const u of users) {
      expect(u.password_hash).toMatch(/^scrypt\$16384\$8\$1\$/);
      expect(u.password_hash).not.toContain(ADMIN_PASSWORD);
    }
    const rows = JSON.stringify(await t.db.db.selectFrom('tokens').selectAll().execute());
    expect(rows).not.toContain(tok);
  });

  it('a project-scoped token carries roles and the five-service catalog', async () => {
    const r = await login();
    expect(r.statusCode).toBe(201);
    const body = r.json<{ token: { project: { id: string; name: string }; roles: { name: string }[]; catalog: { type: string; endpoints: { interface: string; url: string }[] }[]; expires_at: string } }>().token;
    expect(body.project.name).toBe('admin');
    expect(body.roles.map((x) => x.name).sort()).toEqual(['admin', 'member', 'reader']);
    expect(body.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const urls = Object.fromEntries(body.catalog.map((c) => [c.type, c.endpoints.find((e) => e.interface === 'public')?.url]));
    expect(urls).toEqual({
      identity: 'http://localhost:80/identity/v3',
      volumev3: `http://localhost:80/volume/v3/${body.project.id}`,
      'block-storage': `http://localhost:80/volume/v3/${body.project.id}`,
      compute: 'http://localhost:80/compute/v2.1',
      image: 'http://localhost:80/image',
    });
  });

  it('an unscoped token has no project and no catalog', async () => {
    const r = await login('demo', DEMO_PASSWORD, null);
    expect(r.statusCode).toBe(201);
    const body = r.json<{ token: Record<string, unknown> }>().token;
    expect(body.project).toBeUndefined();
    expect(body.catalog).toBeUndefined();
  });

  it('rejects a wrong password, an unknown user and a project without roles with 401', async () => {
    expect((await login('admin', 'nope')).statusCode).toBe(401);
    expect((await login('nobody', 'x')).statusCode).toBe(401);
    expect((await login('demo', DEMO_PASSWORD, 'admin')).statusCode).toBe(401);
  });

  it('validates (GET, HEAD) and revokes (DELETE) a token', async () => {
    const admin = String((await login()).headers['x-subject-token']);
    const demo = String((await login('demo', DEMO_PASSWORD)).headers['x-subject-token']);
    const check = (method: 'GET' | 'HEAD' | 'DELETE', caller: string, subject: string) =>
      t.app.inject({ method, url: '/identity/v3/auth/tokens', headers: { 'x-auth-token': caller, 'x-subject-token': subject } });
    const v = await check('GET', admin, demo);
    expect(v.statusCode).toBe(200);
    expect(v.headers['x-subject-token']).toBe(demo);
    expect(v.json<{ token: { user: { name: string } } }>().token.user.name).toBe('demo');
    expect((await check('HEAD', demo, demo)).statusCode).toBe(200);
    expect((await check('GET', demo, admin)).statusCode).toBe(403);
    expect((await check('DELETE', admin, demo)).statusCode).toBe(204);
    expect((await check('GET', admin, demo)).statusCode).toBe(404);
    const vol = await t.app.inject({ method: 'GET', url: '/volume/v3/volumes', headers: { 'x-auth-token': demo } });
    expect(vol.statusCode).toBe(401);
  });

  it('expired tokens are refused everywhere', async () => {
    const tok = String((await login()).headers['x-subject-token']);
    await t.identity.store.expireToken(tok, Date.now());
    const r = await t.app.inject({ method: 'GET', url: '/identity/v3/users', headers: { 'x-auth-token': tok } });
    expect(r.statusCode).toBe(401);
    expect(r.json()).toEqual({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication. Log in again: the token is missing, invalid or expired.' } });
  });

  it('admin creates a project, a user and a grant; a member may not', async () => {
    const admin = String((await login()).headers['x-subject-token']);
    const demo = String((await login('demo', DEMO_PASSWORD)).headers['x-subject-token']);
    expect((await t.app.inject({ method: 'GET', url: '/identity/v3/users', headers: { 'x-auth-token': demo } })).statusCode).toBe(403);
    const p = await t.app.inject({ method: 'POST', url: '/identity/v3/projects', headers: { 'x-auth-token': admin }, payload: { project: { name: 'team' } } });
    expect(p.statusCode).toBe(201);
    const u = await t.app.inject({ method: 'POST', url: '/identity/v3/users', headers: { 'x-auth-token': admin }, payload: { user: { name: 'alice', password: 'pw-alice' } } });
    expect(u.statusCode).toBe(201);
    const member = (await t.identity.store.listRoles()).find((r) => r.name === 'member');
    const g = await t.app.inject({
      method: 'PUT',
      url: `/identity/v3/projects/${p.json<{ project: { id: string } }>().project.id}/users/${u.json<{ user: { id: string } }>().user.id}/roles/${member?.id}`,
      headers: { 'x-auth-token': admin },
    });
    expect(g.statusCode).toBe(204);
    expect((await login('alice', 'pw-alice', 'team')).statusCode).toBe(201);
    const dup = await t.app.inject({ method: 'POST', url: '/identity/v3/users', headers: { 'x-auth-token': admin }, payload: { user: { name: 'alice' } } });
    expect(dup.statusCode).toBe(409);
  });

  it('answers version discovery for identity and image', async () => {
    const v = await t.app.inject({ method: 'GET', url: '/identity/v3' });
    expect(v.json<{ version: { id: string; status: string } }>().version).toMatchObject({ id: 'v3.14', status: 'stable' });
    const i = await t.app.inject({ method: 'GET', url: '/image' });
    expect(i.statusCode).toBe(300);
    expect(i.json<{ versions: { id: string }[] }>().versions[0]?.id).toBe('v2.16');
  });
});
