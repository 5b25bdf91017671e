/**
 * The Keystone calls beyond tokens, on both dialects: name and domain filters, roles by id,
 * the Default domain, role assignments and their filters, users in a domain, the password
 * change that ends the user's tokens, and application credentials.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_PASSWORD, buildApp, type HitchTestApp } from '../test-support/build-app.ts';
import { describeEachDialect } from '../test-support/dialects.ts';

type Json = Record<string, any>;

describeEachDialect('keystone API', (ctx) => {
  let t: HitchTestApp;
  let admin = '';
  const api = async (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD', url: string, body?: unknown, token = admin) =>
    t.app.inject({ method, url: `/identity${url}`, headers: token ? { 'x-auth-token': token } : {}, ...(body !== undefined ? { payload: body as Json } : {}) });
  const login = async (name: string, password: string, project?: string) =>
    t.app.inject({
      method: 'POST',
      url: '/identity/v3/auth/tokens',
      payload: { auth: { identity: { methods: ['password'], password: { user: { name, domain: { id: 'default' }, password } } }, ...(project ? { scope: { project: { name: project, domain: { id: 'default' } } } } : {}) } },
    });
  const tokenOf = async (name: string, password: string, project?: string): Promise<string> => {
    const r = await login(name, password, project);
    expect(r.statusCode, r.body).toBe(201);
    return String(r.headers['x-subject-token']);
  };
  const roleId = async (name: string): Promise<string> => (await t.identity.store.listRoles({ name }))[0]!.id;

  let altUser = '';
  let altProject = '';

  beforeAll(async () => {
    t = await buildApp({ dbUrl: await ctx.freshUrl() });
    admin = await tokenOf('admin', ADMIN_PASSWORD, 'admin');
    altProject = (await api('POST', '/v3/projects', { project: { name: 'alt', domain_id: 'default', description: null, enabled: true } })).json<Json>().project.id;
    const u = await api('POST', '/v3/users', { user: { name: 'alt', domain_id: 'default', password: 'alt-pw', email: 'alt@example.org', enabled: true } });
    expect(u.statusCode, u.body).toBe(201);
    altUser = u.json<Json>().user.id;
    expect(u.json<Json>().user).toMatchObject({ name: 'alt', domain_id: 'default', email: 'alt@example.org', enabled: true });
    expect((await api('PUT', `/v3/projects/${altProject}/users/${altUser}/roles/${await roleId('member')}`)).statusCode).toBe(204);
  });
  afterAll(async () => t?.close());

  it('filters projects, users and roles by name and domain', async () => {
    const names = (r: { json: <T>() => T }, key: string) => r.json<Json>()[key].map((x: Json) => x.name);
    expect(names(await api('GET', '/v3/projects?name=alt'), 'projects')).toEqual(['alt']);
    expect(names(await api('GET', '/v3/projects?name=nope'), 'projects')).toEqual([]);
    expect(names(await api('GET', '/v3/projects?domain_id=default&name=demo'), 'projects')).toEqual(['demo']);
    expect(names(await api('GET', '/v3/projects?domain_id=other'), 'projects')).toEqual([]);
    expect(names(await api('GET', '/v3/users?name=alt'), 'users')).toEqual(['alt']);
    expect(names(await api('GET', '/v3/users?domain_id=default'), 'users')).toEqual(['admin', 'alt', 'demo']);
    expect(names(await api('GET', '/v3/users?enabled=false'), 'users')).toEqual([]);
    expect(names(await api('GET', '/v3/roles?name=member'), 'roles')).toEqual(['member']);
    expect(names(await api('GET', '/v3/roles?domain_id=default'), 'roles')).toEqual([]);
    const self = (await api('GET', '/v3/users?name=alt')).json<Json>().links;
    expect(self).toEqual({ self: 'http://localhost:80/identity/v3/users?name=alt', previous: null, next: null });
  });

  it('shows a role by id (and 404 by name), the Default domain, and 404 for another', async () => {
    const id = await roleId('reader');
    const r = await api('GET', `/v3/roles/${id}`);
    expect(r.json<Json>().role).toMatchObject({ id, name: 'reader', domain_id: null });
    const byName = await api('GET', '/v3/roles/reader');
    expect(byName.statusCode).toBe(404);
    expect(byName.json()).toEqual({ error: { code: 404, title: 'Not Found', message: 'Could not find role: reader.' } });
    expect((await api('GET', '/v3/domains/default')).json<Json>().domain).toMatchObject({ id: 'default', name: 'Default', enabled: true });
    expect((await api('GET', '/v3/domains?name=Default')).json<Json>().domains.map((d: Json) => d.id)).toEqual(['default']);
    expect((await api('GET', '/v3/domains?name=Other')).json<Json>().domains).toEqual([]);
    expect((await api('GET', '/v3/domains/Default')).statusCode).toBe(404);
  });

  it('creates users in the Default domain only; a duplicate name is 409', async () => {
    const other = await api('POST', '/v3/users', { user: { name: 'x', domain_id: 'elsewhere' } });
    expect(other.statusCode).toBe(404);
    expect(other.json<Json>().error.message).toBe('Could not find domain: elsewhere.');
    expect((await api('POST', '/v3/users', { user: { name: 'alt', domain_id: 'default' } })).statusCode).toBe(409);
    expect((await api('POST', '/v3/users', { user: { name: '   ' } })).statusCode).toBe(400);
    expect((await api('POST', '/v3/users', { user: { name: 'y', enabled: 'yes' } })).statusCode).toBe(400);
  });

  it('lists role assignments with their filters and names', async () => {
    const member = await roleId('member');
    const mine = (await api('GET', `/v3/role_assignments?user.id=${altUser}`)).json<Json>().role_assignments;
    expect(mine).toEqual([
      {
        scope: { project: { id: altProject } },
        user: { id: altUser },
        role: { id: member },
        links: { assignment: `http://localhost:80/identity/v3/projects/${altProject}/users/${altUser}/roles/${member}` },
      },
    ]);
    const named = (await api('GET', `/v3/role_assignments?user.id=${altUser}&include_names=True`)).json<Json>().role_assignments;
    expect(named[0]).toMatchObject({ user: { id: altUser, name: 'alt', domain: { id: 'default', name: 'Default' } }, scope: { project: { name: 'alt' } }, role: { name: 'member' } });
    const admins = (await api('GET', `/v3/role_assignments?role.id=${await roleId('admin')}`)).json<Json>().role_assignments;
    expect(admins.map((a: Json) => a.user.id)).toEqual([(await t.identity.store.findUser({ name: 'admin' }))!.id]);
    expect((await api('GET', `/v3/role_assignments?scope.project.id=${altProject}`)).json<Json>().role_assignments).toHaveLength(1);
    expect((await api('GET', `/v3/role_assignments?group.id=g`)).json<Json>().role_assignments).toEqual([]);
    expect((await api('GET', `/v3/role_assignments?group.id=g&effective`)).statusCode).toBe(400);
    const demo = await tokenOf('demo', 'hitch-demo-secret', 'demo');
    expect((await api('GET', '/v3/role_assignments', undefined, demo)).statusCode).toBe(403);
  });

  it('checks, lists and revokes a grant', async () => {
    const reader = await roleId('reader');
    const url = `/v3/projects/${altProject}/users/${altUser}/roles/${reader}`;
    expect((await api('HEAD', url)).statusCode).toBe(404);
    expect((await api('PUT', url)).statusCode).toBe(204);
    expect((await api('HEAD', url)).statusCode).toBe(204);
    expect((await api('GET', `/v3/projects/${altProject}/users/${altUser}/roles`)).json<Json>().roles.map((x: Json) => x.name)).toEqual(['member', 'reader']);
    expect((await api('DELETE', url)).statusCode).toBe(204);
    expect((await api('DELETE', url)).statusCode).toBe(404);
    expect((await api('PUT', `/v3/projects/${altProject}/users/nobody/roles/${reader}`)).json<Json>().error.message).toBe('Could not find user: nobody.');
    expect((await api('PUT', `/v3/projects/nowhere/users/${altUser}/roles/${reader}`)).json<Json>().error.message).toBe('Could not find project: nowhere.');
  });

  it("a password change needs the original, ends the user's tokens, and the new one works", async () => {
    const old = await tokenOf('alt', 'alt-pw', 'alt');
    expect((await api('GET', `/v3/users/${altUser}`, undefined, old)).statusCode).toBe(200);
    const wrong = await api('POST', `/v3/users/${altUser}/password`, { user: { original_password: 'nope', password: 'new-pw' } }, '');
    expect(wrong.statusCode).toBe(401);
    expect((await api('GET', `/v3/users/${altUser}`, undefined, old)).statusCode).toBe(200);
    expect((await api('POST', `/v3/users/${altUser}/password`, { user: { password: 'new-pw' } }, '')).statusCode).toBe(400);
    expect((await api('GET', `/v3/users/${altUser}/password`, undefined, '')).statusCode).toBe(405);
    const ok = await api('POST', `/v3/users/${altUser}/password`, { user: { original_password: 'alt-pw', password: 'new-pw' } }, '');
    expect(ok.statusCode).toBe(204);
    expect((await api('GET', `/v3/users/${altUser}`, undefined, old)).statusCode).toBe(401);
    expect((await login('alt', 'alt-pw', 'alt')).statusCode).toBe(401);
    expect((await login('alt', 'new-pw', 'alt')).statusCode).toBe(201);
    // An admin's PATCH of the password ends the tokens too.
    const again = await tokenOf('alt', 'new-pw', 'alt');
    expect((await api('PATCH', `/v3/users/${altUser}`, { user: { password: 'alt-pw' } })).statusCode).toBe(200);
    expect((await api('GET', `/v3/users/${altUser}`, undefined, again)).statusCode).toBe(401);
  });

  it('application credentials: a token with their roles only, restricted, revoked with them', async () => {
    const alt = await tokenOf('alt', 'alt-pw', 'alt');
    const reader = await roleId('reader');
    await api('PUT', `/v3/projects/${altProject}/users/${altUser}/roles/${reader}`);
    const full = await tokenOf('alt', 'alt-pw', 'alt');
    const made = await api('POST', `/v3/users/${altUser}/application_credentials`, { application_credential: { name: 'ci', roles: [{ name: 'reader' }] } }, full);
    expect(made.statusCode, made.body).toBe(201);
    const cred = made.json<Json>().application_credential;
    expect(cred).toMatchObject({ name: 'ci', project_id: altProject, user_id: altUser, unrestricted: false, roles: [{ id: reader, name: 'reader', domain_id: null }] });
    expect(cred.secret).toMatch(/^[A-Za-z0-9_-]{86}$/);
    // Not another user's, not a role the token lacks, not twice the same name.
    expect((await api('POST', `/v3/users/${(await t.identity.store.findUser({ name: 'demo' }))!.id}/application_credentials`, { application_credential: { name: 'x' } }, full)).statusCode).toBe(403);
    expect((await api('POST', `/v3/users/${altUser}/application_credentials`, { application_credential: { name: 'x', roles: [{ name: 'admin' }] } }, full)).statusCode).toBe(400);
    expect((await api('POST', `/v3/users/${altUser}/application_credentials`, { application_credential: { name: 'ci' } }, full)).statusCode).toBe(409);
    expect((await api('POST', `/v3/users/${altUser}/application_credentials`, { application_credential: { name: 'old', expires_at: '2000-01-01T00:00:00' } }, full)).statusCode).toBe(400);
    // The list and show never carry the secret.
    const listed = (await api('GET', `/v3/users/${altUser}/application_credentials?name=ci`, undefined, alt)).json<Json>().application_credentials;
    expect(listed.map((c: Json) => c.id)).toEqual([cred.id]);
    expect(JSON.stringify(listed)).not.toContain(cred.secret);

    const auth = (identity: Json) => t.app.inject({ method: 'POST', url: '/identity/v3/auth/tokens', payload: { auth: { identity: { methods: ['application_credential'], application_credential: identity } } } });
    expect((await auth({ id: cred.id, secret: 'wrong' })).statusCode).toBe(401);
    const byName = await auth({ name: 'ci', user: { name: 'alt', domain: { name: 'Default' } }, secret: cred.secret });
    expect(byName.statusCode).toBe(201);
    const issued = await auth({ id: cred.id, secret: cred.secret });
    expect(issued.statusCode).toBe(201);
    const body = issued.json<Json>().token;
    expect(body.methods).toEqual(['application_credential']);
    expect(body.project.id).toBe(altProject);
    expect(body.roles.map((x: Json) => x.name)).toEqual(['reader']);
    expect(body.application_credential).toEqual({ id: cred.id, name: 'ci', restricted: true });
    const viaCred = String(issued.headers['x-subject-token']);
    const ctxOf = await t.identity.authenticate(viaCred);
    expect(ctxOf.roles).toEqual(['reader']);
    // A restricted credential's token may not make or delete credentials.
    expect((await api('POST', `/v3/users/${altUser}/application_credentials`, { application_credential: { name: 'y' } }, viaCred)).statusCode).toBe(403);
    expect((await api('DELETE', `/v3/users/${altUser}/application_credentials/${cred.id}`, undefined, viaCred)).statusCode).toBe(403);
    // Losing the role on the project takes it from the credential's tokens at once.
    await api('DELETE', `/v3/projects/${altProject}/users/${altUser}/roles/${reader}`);
    expect((await api('GET', '/v3/roles', undefined, viaCred)).statusCode).toBe(401);
    await api('PUT', `/v3/projects/${altProject}/users/${altUser}/roles/${reader}`);
    expect((await api('GET', '/v3/roles', undefined, viaCred)).statusCode).toBe(200);
    // Deleting the credential ends its tokens.
    expect((await api('DELETE', `/v3/users/${altUser}/application_credentials/${cred.id}`, undefined, alt)).statusCode).toBe(204);
    expect((await api('GET', '/v3/roles', undefined, viaCred)).statusCode).toBe(401);
    expect((await auth({ id: cred.id, secret: cred.secret })).statusCode).toBe(401);
    expect((await api('GET', `/v3/users/${altUser}/application_credentials/${cred.id}`, undefined, alt)).statusCode).toBe(404);
  });

  it('updates and deletes projects and users', async () => {
    const p = (await api('POST', '/v3/projects', { project: { name: 'tmp' } })).json<Json>().project.id;
    const patched = await api('PATCH', `/v3/projects/${p}`, { project: { description: 'scratch', enabled: false } });
    expect(patched.json<Json>().project).toMatchObject({ name: 'tmp', description: 'scratch', enabled: false });
    expect((await api('PATCH', `/v3/projects/${p}`, { project: { name: 'alt' } })).statusCode).toBe(409);
    expect((await api('DELETE', `/v3/projects/${p}`)).statusCode).toBe(204);
    expect((await api('GET', `/v3/projects/${p}`)).statusCode).toBe(404);
    const u = (await api('POST', '/v3/users', { user: { name: 'gone', password: 'pw' } })).json<Json>().user.id;
    expect((await api('DELETE', `/v3/users/${u}`)).statusCode).toBe(204);
    expect((await api('DELETE', `/v3/users/${u}`)).statusCode).toBe(404);
  });
});
