/**
 * Debian's `openstack` client against Hitch's Keystone: the identity calls a user makes in the
 * first week — a project and a user created in the Default domain, a role granted by names,
 * the assignments listed, the user changing their own password (the old token and password
 * stop working), and an application credential that automation logs in with.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, buildApp, type HitchTestApp } from '../../src/test-support/build-app.ts';
import { peerRequired } from '../../src/test-support/postgres.ts';
import { missingClients, PythonClients, type ClientAuth } from '../../src/test-support/python-clients.ts';

const missing = missingClients(['openstack']);
if (missing.length > 0 && !peerRequired()) {
  console.warn(`[hitch] skipping the identity real-client tests: ${missing.join(', ')} not installed (scripts/install-test-peers.sh)`);
}
const d = missing.length > 0 && !peerRequired() ? describe.skip : describe;

d('openstack identity commands against Hitch', { timeout: 180_000 }, () => {
  let t: HitchTestApp;
  let dir: string;
  const opened: PythonClients[] = [];
  const clientsFor = (auth: Omit<ClientAuth, 'baseUrl'>): PythonClients => {
    const c = new PythonClients({ ...auth, baseUrl: t.url } as ClientAuth);
    opened.push(c);
    return c;
  };
  let admin: PythonClients;

  beforeAll(async () => {
    expect(missing, 'python3-openstackclient must be installed').toEqual([]);
    dir = mkdtempSync(join(tmpdir(), 'hitch-identity-clients-'));
    t = await buildApp({ dbUrl: `sqlite:${join(dir, 'hitch.sqlite')}` });
    await t.listen();
    admin = clientsFor({ username: 'admin', password: ADMIN_PASSWORD, projectName: 'admin' });
  });
  afterAll(async () => {
    for (const c of opened) c.dispose();
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ok = async (c: PythonClients, args: string[]): Promise<string> => {
    const r = await c.run('openstack', args);
    expect(r.code, `openstack ${args.join(' ')}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };

  it('user create --domain Default, role add by names, role assignment list --user, user password set', async () => {
    await ok(admin, ['project', 'create', '--domain', 'Default', 'alt']);
    const user = JSON.parse(await ok(admin, ['user', 'create', '--domain', 'Default', '--password', 'alt-pw', '--email', 'alt@example.org', 'alt', '-f', 'json'])) as Record<string, string>;
    expect(user).toMatchObject({ name: 'alt', domain_id: 'default', email: 'alt@example.org', enabled: true });
    // Names, not ids: the client finds each by `?name=` after a 404 on the name as an id.
    await ok(admin, ['role', 'add', '--project', 'alt', '--user', 'alt', 'member']);
    const rows = JSON.parse(await ok(admin, ['role', 'assignment', 'list', '--user', 'alt', '--names', '-f', 'json'])) as Record<string, string>[];
    expect(rows).toEqual([{ Role: 'member', User: 'alt@Default', Group: '', Project: 'alt@Default', Domain: '', System: '', Inherited: false }]);
    const byId = JSON.parse(await ok(admin, ['role', 'assignment', 'list', '--user', 'alt', '-f', 'json'])) as Record<string, string>[];
    expect(byId.map((r) => r.User)).toEqual([user.id]);
    expect(JSON.parse(await ok(admin, ['role', 'assignment', 'list', '--project', 'alt', '--role', 'member', '-f', 'json']))).toHaveLength(1);

    const alt = clientsFor({ username: 'alt', password: 'alt-pw', projectName: 'alt' });
    expect((await ok(alt, ['token', 'issue', '-f', 'value', '-c', 'project_id'])).trim()).toMatch(/^[0-9a-f]{32}$/);
    const login = await t.app.inject({ method: 'POST', url: '/identity/v3/auth/tokens', payload: { auth: { identity: { methods: ['password'], password: { user: { name: 'alt', domain: { id: 'default' }, password: 'alt-pw' } } } } } });
    const before = String(login.headers['x-subject-token']);
    expect((await t.app.inject({ method: 'GET', url: '/identity/v3/auth/projects', headers: { 'x-auth-token': before } })).statusCode).toBe(200);
    await ok(alt, ['user', 'password', 'set', '--password', 'new-pw', '--original-password', 'alt-pw']);
    const old = await alt.run('openstack', ['token', 'issue']);
    expect(old.code).not.toBe(0);
    expect(old.stderr).toMatch(/HTTP 401/);
    const renewed = clientsFor({ username: 'alt', password: 'new-pw', projectName: 'alt' });
    await ok(renewed, ['token', 'issue']);
    // A token the user held before the change no longer works either.
    expect((await t.app.inject({ method: 'GET', url: '/identity/v3/auth/projects', headers: { 'x-auth-token': before } })).statusCode).toBe(401);

    await ok(admin, ['role', 'remove', '--project', 'alt', '--user', 'alt', 'member']);
    expect(JSON.parse(await ok(admin, ['role', 'assignment', 'list', '--user', 'alt', '-f', 'json']))).toEqual([]);
  });

  it('domain list/show, user list --domain, role show, project list --domain', async () => {
    expect(JSON.parse(await ok(admin, ['domain', 'show', 'Default', '-f', 'json']))).toMatchObject({ id: 'default', name: 'Default', enabled: true });
    expect(JSON.parse(await ok(admin, ['domain', 'list', '-f', 'json']))).toEqual([{ ID: 'default', Name: 'Default', Enabled: true, Description: 'The default domain' }]);
    expect((await ok(admin, ['user', 'list', '--domain', 'Default', '-f', 'value', '-c', 'Name'])).trim().split('\n')).toEqual(['admin', 'alt', 'demo']);
    expect(JSON.parse(await ok(admin, ['role', 'show', 'reader', '-f', 'json']))).toMatchObject({ name: 'reader', domain_id: null });
    expect((await ok(admin, ['project', 'list', '--domain', 'default', '-f', 'value', '-c', 'Name'])).trim().split('\n')).toEqual(['admin', 'alt', 'demo']);
  });

  it('application credential create; automation logs in with it, with its roles only', async () => {
    const demo = clientsFor({ username: 'demo', password: 'hitch-demo-secret', projectName: 'demo' });
    const cred = JSON.parse(await ok(demo, ['application', 'credential', 'create', '--role', 'reader', '--description', 'ci job', 'ci', '-f', 'json'])) as Record<string, string>;
    expect(cred).toMatchObject({ name: 'ci', roles: 'reader', unrestricted: false, description: 'ci job' });
    const auto = clientsFor({ applicationCredentialId: cred.id as string, applicationCredentialSecret: cred.secret as string });
    const tok = JSON.parse(await ok(auto, ['token', 'issue', '-f', 'json'])) as Record<string, string>;
    expect(tok.project_id).toBe(cred.project_id);
    expect(await ok(auto, ['volume', 'list', '-f', 'json'])).toBe('[]\n');
    const refused = await auto.run('openstack', ['application', 'credential', 'create', 'more']);
    expect(refused.stderr).toMatch(/not allowed for managing additional application credentials.*HTTP 403/);
    expect((await ok(demo, ['application', 'credential', 'list', '-f', 'value', '-c', 'Name'])).trim()).toBe('ci');
    await ok(demo, ['application', 'credential', 'delete', 'ci']);
    const after = await auto.run('openstack', ['token', 'issue']);
    expect(after.stderr).toMatch(/HTTP 401/);
  });
});
