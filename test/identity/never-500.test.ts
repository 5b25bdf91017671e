/**
 * Property over every Keystone route Hitch serves beyond tokens: random bodies, ids and query
 * strings never get a 5xx, and a refused request leaves users, projects, roles, grants,
 * application credentials and tokens as they were.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, it } from 'vitest';
import { ADMIN_PASSWORD, buildApp, type HitchTestApp } from '../../src/test-support/build-app.ts';
import { describeEachDialect } from '../../src/test-support/dialects.ts';
import { checkRoutesNeverFail, type RouteUnderTest } from '../../src/test-support/route-property.ts';

const text = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('alt', 'member', 'reader', 'admin', 'default', 'Default', ''));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const userBody = fc.record({ user: fc.record({ name: maybe(text), password: maybe(text), domain_id: maybe(text), enabled: maybe(fc.oneof(fc.boolean(), text)), email: maybe(text), default_project_id: maybe(fc.oneof(text, fc.constant(null))) }, { requiredKeys: [] }) });
const projectBody = fc.record({ project: fc.record({ name: maybe(text), description: maybe(fc.oneof(text, fc.constant(null))), domain_id: maybe(text), parent_id: maybe(text), enabled: maybe(fc.boolean()), is_domain: maybe(fc.boolean()) }, { requiredKeys: [] }) });
const passwordBody = fc.record({ user: fc.record({ original_password: maybe(text), password: maybe(text) }, { requiredKeys: [] }) });
const credBody = fc.record({
  application_credential: fc.record(
    { name: maybe(text), description: maybe(text), secret: maybe(text), expires_at: maybe(fc.oneof(text, fc.date({ noInvalidDate: true }).map((d) => d.toISOString()))), roles: maybe(fc.array(fc.oneof(fc.record({ name: text }), fc.record({ id: text }), fc.jsonValue({ maxDepth: 1 })), { maxLength: 3 })), unrestricted: maybe(fc.boolean()), access_rules: maybe(fc.jsonValue({ maxDepth: 2 })) },
    { requiredKeys: [] },
  ),
});
const roleBody = fc.record({ role: fc.record({ name: maybe(text), description: maybe(text), domain_id: maybe(fc.oneof(text, fc.constant(null))) }, { requiredKeys: [] }) });

const ROUTES: RouteUnderTest[] = [
  { method: 'GET', path: '/identity/v3/users' },
  { method: 'GET', path: '/identity/v3/users/{user}' },
  { method: 'POST', path: '/identity/v3/users', body: userBody },
  { method: 'PATCH', path: '/identity/v3/users/{victim}', body: userBody },
  { method: 'DELETE', path: '/identity/v3/users/{victim}' },
  { method: 'POST', path: '/identity/v3/users/{user}/password', body: passwordBody },
  { method: 'GET', path: '/identity/v3/users/{user}/password' },
  { method: 'GET', path: '/identity/v3/users/{user}/projects' },
  { method: 'GET', path: '/identity/v3/projects' },
  { method: 'GET', path: '/identity/v3/projects/{project}' },
  { method: 'POST', path: '/identity/v3/projects', body: projectBody },
  { method: 'PATCH', path: '/identity/v3/projects/{victimProject}', body: projectBody },
  { method: 'DELETE', path: '/identity/v3/projects/{victimProject}' },
  { method: 'GET', path: '/identity/v3/roles' },
  { method: 'GET', path: '/identity/v3/roles/{role}' },
  { method: 'POST', path: '/identity/v3/roles', body: roleBody },
  { method: 'DELETE', path: '/identity/v3/roles/{victimRole}' },
  { method: 'PUT', path: '/identity/v3/projects/{project}/users/{user}/roles/{role}' },
  { method: 'GET', path: '/identity/v3/projects/{project}/users/{user}/roles/{role}' },
  { method: 'HEAD', path: '/identity/v3/projects/{project}/users/{user}/roles/{role}' },
  { method: 'DELETE', path: '/identity/v3/projects/{victimProject}/users/{victim}/roles/{role}' },
  { method: 'GET', path: '/identity/v3/projects/{project}/users/{user}/roles' },
  { method: 'PUT', path: '/identity/v3/domains/{domain}/users/{user}/roles/{role}' },
  { method: 'GET', path: '/identity/v3/domains' },
  { method: 'GET', path: '/identity/v3/domains/{domain}' },
  { method: 'GET', path: '/identity/v3/role_assignments' },
  { method: 'GET', path: '/identity/v3/auth/domains' },
  { method: 'POST', path: '/identity/v3/users/{user}/application_credentials', body: credBody },
  { method: 'GET', path: '/identity/v3/users/{user}/application_credentials' },
  { method: 'GET', path: '/identity/v3/users/{user}/application_credentials/{cred}' },
  { method: 'DELETE', path: '/identity/v3/users/{victim}/application_credentials/{cred}' },
];

describeEachDialect('the identity API: never 5xx, a refusal changes nothing', (ctx) => {
  let t: HitchTestApp;
  let token = '';
  const ids: Record<string, string[]> = {};

  beforeAll(async () => {
    t = await buildApp({ dbUrl: await ctx.freshUrl() });
    const s = t.identity.store;
    const login = await t.app.inject({ method: 'POST', url: '/identity/v3/auth/tokens', payload: { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } } }, scope: { project: { name: 'admin', domain: { id: 'default' } } } } } });
    token = String(login.headers['x-subject-token']);
    const victimProject = await s.createProject('victim-project');
    const victim = await s.createUser('victim', 'pw');
    await s.assignRole(victim.id, victimProject.id, 'member');
    await s.createRole({ id: 'victimrole0000000000000000000000', name: 'victim-role' });
    const roles = await s.listRoles();
    const admin = (await s.findUser({ name: 'admin' }))!;
    const adminProject = (await s.findProject({ name: 'admin' }))!;
    const cred = await t.identity.appCreds.create({ userId: admin.id, projectId: adminProject.id, name: 'existing', description: null, secret: 's', roleIds: roles.map((r) => r.id), unrestricted: false, expiresAtMs: null });
    Object.assign(ids, {
      user: [admin.id, victim.id],
      victim: [victim.id],
      project: [adminProject.id, victimProject.id],
      victimProject: [victimProject.id],
      role: roles.map((r) => r.id),
      victimRole: ['victimrole0000000000000000000000'],
      domain: ['default', 'Default'],
      cred: [cred.id],
    });
  });
  afterAll(async () => t?.close());

  const snapshot = async () => {
    const db = t.db.db;
    return {
      users: await db.selectFrom('users').selectAll().orderBy('id').execute(),
      projects: await db.selectFrom('projects').selectAll().orderBy('id').execute(),
      roles: await db.selectFrom('roles').selectAll().orderBy('id').execute(),
      grants: await db.selectFrom('role_assignments').selectAll().orderBy('user_id').orderBy('project_id').orderBy('role_id').execute(),
      creds: await db.selectFrom('application_credentials').selectAll().orderBy('id').execute(),
      tokens: await db.selectFrom('tokens').select(['token_hash', 'revoked', 'expires_at']).orderBy('token_hash').execute(),
    };
  };

  it('random bodies, ids and queries to every route', async () => {
    await checkRoutesNeverFail({ app: t.app, routes: ROUTES, ids, headers: () => ({ 'x-auth-token': token }), snapshot, numRuns: ctx.dialect === 'postgres' ? 150 : 400 });
  }, 240_000);
});
