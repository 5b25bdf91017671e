/**
 * Issue 23, deliver 1: a password change (`POST /v3/users/{id}/password`) and a user's deletion
 * end that user's tokens at once in every API process on the database — the validation cache of
 * another process (10 s) must not outlive the revocation.
 *
 * First two IdentityServices on two connections to one database (SQLite file and PostgreSQL),
 * then two real processes (test/support/api-process.ts) sharing a SQLite file: each token is
 * used on process B (so B has it cached), revoked through process A, and refused by B on the
 * very next request. On the old code B answered 200 for up to 10 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type HitchDb } from '../../src/db/open-database.ts';
import { IdentityService } from '../../src/identity/identity-service.ts';
import { ADMIN_PASSWORD, ADMIN_PROJECT_ID, ADMIN_USER_ID } from '../../src/test-support/build-app.ts';
import { describeEachDialect } from '../../src/test-support/dialects.ts';
import { BOUND_MS, ROOT } from '../support/processes.ts';

describeEachDialect('token revocation across two identity services on one database', (ctx) => {
  let a: HitchDb;
  let b: HitchDb;
  let ia: IdentityService;
  let ib: IdentityService;
  beforeAll(async () => {
    const url = await ctx.freshUrl();
    a = await openDatabase(url);
    b = await openDatabase(url);
    ia = new IdentityService(a.db);
    ib = new IdentityService(b.db);
    await ia.seed({ adminPassword: ADMIN_PASSWORD, adminProjectId: ADMIN_PROJECT_ID, adminUserId: ADMIN_USER_ID });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });
  const login = async (name: string, password: string): Promise<string> =>
    (await ia.authenticatePassword({ user: { name }, password }, { project: { id: ADMIN_PROJECT_ID } }, 'http://x')).token;

  it('a password changed through one is refused by the other at its next call', async () => {
    const u = await ia.store.createUser('carol', 'carol-Old-1', {});
    await ia.store.assignRole(u.id, ADMIN_PROJECT_ID, 'member');
    const token = await login('carol', 'carol-Old-1');
    expect((await ib.authenticate(token)).userId).toBe(u.id);
    expect((await ib.authenticate(token)).userId).toBe(u.id); // cached in b now
    await ia.changePassword(u.id, 'carol-Old-1', 'carol-New-2');
    await expect(ib.authenticate(token)).rejects.toMatchObject({ code: 'HITCH_UNAUTHORIZED' });
    // The new password's token works in both.
    const fresh = await login('carol', 'carol-New-2');
    expect((await ib.authenticate(fresh)).userId).toBe(u.id);
  });

  it('a user deleted through one is refused by the other at its next call; other users keep theirs', async () => {
    const u = await ia.store.createUser('dave', 'dave-Pw-1', {});
    await ia.store.assignRole(u.id, ADMIN_PROJECT_ID, 'reader');
    const token = await login('dave', 'dave-Pw-1');
    const admin = await login('admin', ADMIN_PASSWORD);
    expect((await ib.authenticate(token)).userId).toBe(u.id);
    expect((await ib.authenticate(admin)).userId).toBe(ADMIN_USER_ID);
    await ia.store.deleteUser(u.id);
    await expect(ib.authenticate(token)).rejects.toMatchObject({ code: 'HITCH_UNAUTHORIZED' });
    expect((await ib.authenticate(admin)).userId).toBe(ADMIN_USER_ID);
  });
});

interface ApiProc {
  readonly child: ChildProcess;
  readonly url: string;
}

function startApiProcess(dbUrl: string): Promise<ApiProc> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/support/api-process.ts'), dbUrl], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`api process did not start in ${BOUND_MS} ms: ${out}${err}`)), BOUND_MS);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]! });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`api process exited ${code}: ${out}${err}`));
    });
  });
}

describe('token revocation across two API processes sharing a SQLite file', () => {
  let dir: string;
  let one: ApiProc;
  let two: ApiProc;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hitch-revoke-'));
    const dbUrl = `sqlite:${join(dir, 'hitch.db')}`;
    one = await startApiProcess(dbUrl); // seeds the database first
    two = await startApiProcess(dbUrl);
  }, 2 * BOUND_MS);
  afterAll(async () => {
    for (const p of [one, two]) {
      if (p && p.child.exitCode === null) {
        const gone = new Promise((r) => p.child.once('exit', r));
        p.child.kill('SIGTERM');
        await gone;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (base: string, method: string, path: string, token: string | undefined, body?: unknown) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { accept: 'application/json', ...(token ? { 'x-auth-token': token } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, token: r.headers.get('x-subject-token'), body: text ? (JSON.parse(text) as Record<string, any>) : null };
  };
  const login = async (base: string, name: string, password: string) => {
    const r = await call(base, 'POST', '/identity/v3/auth/tokens', undefined, { auth: { identity: { methods: ['password'], password: { user: { name, domain: { id: 'default' }, password } } }, scope: { project: { id: ADMIN_PROJECT_ID } } } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.token as string;
  };
  const makeUser = async (admin: string, name: string, password: string): Promise<string> => {
    const u = await call(one.url, 'POST', '/identity/v3/users', admin, { user: { name, password, domain_id: 'default' } });
    expect(u.status, JSON.stringify(u.body)).toBe(201);
    const id = u.body!.user.id as string;
    const roles = await call(one.url, 'GET', '/identity/v3/roles?name=member', admin);
    const grant = await call(one.url, 'PUT', `/identity/v3/projects/${ADMIN_PROJECT_ID}/users/${id}/roles/${roles.body!.roles[0].id}`, admin);
    expect(grant.status).toBe(204);
    return id;
  };

  it('password change and user deletion through one process end the tokens in the other at its next request', async () => {
    const admin = await login(one.url, 'admin', ADMIN_PASSWORD);
    const volumes = `/volume/v3/${ADMIN_PROJECT_ID}/volumes`;

    const erin = await makeUser(admin, 'erin', 'erin-Old-1');
    const erinToken = await login(one.url, 'erin', 'erin-Old-1');
    expect((await call(two.url, 'GET', volumes, erinToken)).status).toBe(200); // process two caches it
    expect((await call(two.url, 'GET', volumes, erinToken)).status).toBe(200);
    const changed = await call(one.url, 'POST', `/identity/v3/users/${erin}/password`, undefined, { user: { original_password: 'erin-Old-1', password: 'erin-New-2' } });
    expect(changed.status, JSON.stringify(changed.body)).toBe(204);
    expect((await call(two.url, 'GET', volumes, erinToken)).status).toBe(401);
    expect((await call(two.url, 'GET', volumes, await login(two.url, 'erin', 'erin-New-2'))).status).toBe(200);

    await makeUser(admin, 'frank', 'frank-Pw-1');
    const frankToken = await login(one.url, 'frank', 'frank-Pw-1');
    const frank = (await call(two.url, 'GET', '/identity/v3/auth/tokens', frankToken, undefined)).status;
    expect(frank).toBe(404); // no X-Subject-Token: but the caller was accepted (401 otherwise)
    expect((await call(two.url, 'GET', volumes, frankToken)).status).toBe(200);
    const users = await call(one.url, 'GET', '/identity/v3/users?name=frank', admin);
    const del = await call(one.url, 'DELETE', `/identity/v3/users/${users.body!.users[0].id}`, admin);
    expect(del.status).toBe(204);
    expect((await call(two.url, 'GET', volumes, frankToken)).status).toBe(401);
    // The admin's own token, cached in process two, still works there.
    expect((await call(two.url, 'GET', volumes, admin)).status).toBe(200);
  }, 2 * BOUND_MS);
});
