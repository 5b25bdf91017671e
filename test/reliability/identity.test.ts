/**
 * Issue 23's identity defects, each as it was found:
 *
 * 1. A user created without a password (`openstack user create svc`) logged in with `"password": ""`:
 *    the store kept the hash of ''. Keystone keeps no password and refuses every one.
 * 8. The login limiter locked the real admin out: after 10 wrong passwords for `admin` the right one
 *    got 429 for 60 s from that address, and naming the same user by id started a new count.
 *    Now: one count per address and resolved user, and a back-off from 1 s up to 60 s (the rule:
 *    src/http/rate-limit.ts), on a clock the test moves.
 * 9. Submitted passwords were echoed in 400 bodies ("Value: ['scwFKax4…']"): jsonschema's message
 *    prints the value. Now a secret's value is shown as '***'.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { openDatabase, type HitchDb } from '../../src/db/open-database.ts';
import { validate } from '../../src/http/validate.ts';
import { identityPlugin } from '../../src/identity/identity-plugin.ts';
import { IdentityService } from '../../src/identity/identity-service.ts';
import { ADMIN_PASSWORD, ADMIN_PROJECT_ID, ADMIN_USER_ID } from '../../src/test-support/build-app.ts';
import { describeEachDialect } from '../../src/test-support/dialects.ts';

type Json = Record<string, any>;

describeEachDialect('identity defects of issue 23', (ctx) => {
  let db: HitchDb;
  let app: FastifyInstance;
  let now = 1_000_000;
  let admin = '';
  const password = (user: Json, pw: unknown, ip = '10.0.0.7', scope?: Json) =>
    app.inject({ method: 'POST', url: '/identity/v3/auth/tokens', remoteAddress: ip, payload: { auth: { identity: { methods: ['password'], password: { user: { ...user, password: pw } } }, ...(scope ? { scope } : {}) } } });
  const api = (method: 'POST' | 'PATCH' | 'PUT', url: string, body?: Json) => app.inject({ method, url: `/identity${url}`, headers: { 'x-auth-token': admin }, ...(body ? { payload: body } : {}) });

  beforeAll(async () => {
    db = await openDatabase(await ctx.freshUrl());
    const identity = new IdentityService(db.db, {});
    await identity.seed({ adminPassword: ADMIN_PASSWORD, adminProjectId: ADMIN_PROJECT_ID, adminUserId: ADMIN_USER_ID });
    app = Fastify({ logger: false });
    await app.register(identityPlugin, { prefix: '/identity', identity, now: () => now });
    const r = await password({ name: 'admin', domain: { id: 'default' } }, ADMIN_PASSWORD, '127.0.0.1', { project: { id: ADMIN_PROJECT_ID } });
    expect(r.statusCode, r.body).toBe(201);
    admin = String(r.headers['x-subject-token']);
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });
  // Each case starts long after the last: the limiter has forgotten every count.
  beforeEach(() => {
    now += 3_600_000;
  });

  it('1: a user created without a password cannot log in with any password, the empty one included', async () => {
    const u = await api('POST', '/v3/users', { user: { name: 'svc', domain_id: 'default' } });
    expect(u.statusCode, u.body).toBe(201);
    const id = u.json<Json>().user.id as string;
    for (const pw of ['', ' ', 'x']) {
      expect((await password({ name: 'svc', domain: { id: 'default' } }, pw)).statusCode, JSON.stringify(pw)).toBe(401);
      expect((await password({ id }, pw)).statusCode, JSON.stringify(pw)).toBe(401);
    }
    // An empty password given at creation is no password either.
    expect((await api('POST', '/v3/users', { user: { name: 'svc2', domain_id: 'default', password: '' } })).statusCode).toBe(201);
    expect((await password({ name: 'svc2', domain: { id: 'default' } }, '')).statusCode).toBe(401);
    // Once given one, the user logs in with it; PATCH with null takes it away again, as in Keystone.
    expect((await api('PATCH', `/v3/users/${id}`, { user: { password: 'svc-pw-1' } })).statusCode).toBe(200);
    expect((await password({ id }, 'svc-pw-1')).statusCode).toBe(201);
    expect((await api('PATCH', `/v3/users/${id}`, { user: { password: null } })).statusCode).toBe(200);
    expect((await password({ id }, 'svc-pw-1')).statusCode).toBe(401);
    expect((await password({ id }, '')).statusCode).toBe(401);
  });

  it('8: after 10 wrong passwords the right one waits a second, not a minute, and then logs in', async () => {
    for (let i = 0; i < 10; i++) expect((await password({ name: 'admin', domain: { id: 'default' } }, `wrong-${i}`)).statusCode).toBe(401);
    const held = await password({ name: 'admin', domain: { id: 'default' } }, ADMIN_PASSWORD);
    expect(held.statusCode).toBe(429);
    expect(held.headers['retry-after']).toBe('1');
    now += 1000;
    expect((await password({ name: 'admin', domain: { id: 'default' } }, ADMIN_PASSWORD)).statusCode).toBe(201);
    // Another address was never held.
    now -= 500;
    for (let i = 0; i < 3; i++) expect((await password({ name: 'admin', domain: { id: 'default' } }, ADMIN_PASSWORD, '10.0.0.8')).statusCode).toBe(201);
  });

  it('8: the right password does not reset the count; each further failure doubles the wait, up to a minute', async () => {
    const name = { name: 'admin', domain: { id: 'default' } };
    for (let i = 0; i < 10; i++) await password(name, `wrong-${i}`);
    now += 1000;
    expect((await password(name, ADMIN_PASSWORD)).statusCode).toBe(201);
    // Had that login reset the count, the next failure would be the first of ten free ones.
    const waits: string[] = [];
    for (let i = 0; i < 9; i++) {
      // The guesser comes back as soon as allowed; every attempt in the wait is 429, unchecked.
      expect((await password(name, `again-${i}`)).statusCode).toBe(401);
      const r = await password(name, `early-${i}`);
      expect(r.statusCode).toBe(429);
      waits.push(String(r.headers['retry-after']));
      now += Number(r.headers['retry-after']) * 1000;
    }
    expect(waits).toEqual(['2', '4', '8', '16', '32', '60', '60', '60', '60']);
  });

  it('8: a user named by id and by name is one count', async () => {
    for (let i = 0; i < 5; i++) expect((await password({ name: 'admin', domain: { id: 'default' } }, `wrong-${i}`)).statusCode).toBe(401);
    for (let i = 0; i < 5; i++) expect((await password({ id: ADMIN_USER_ID }, `wrong-id-${i}`)).statusCode).toBe(401);
    expect((await password({ id: ADMIN_USER_ID }, ADMIN_PASSWORD)).statusCode).toBe(429);
    expect((await password({ name: 'admin', domain: { id: 'default' } }, ADMIN_PASSWORD)).statusCode).toBe(429);
    // A name no user has is counted by itself: guessing it does not hold the real admin.
    for (let i = 0; i < 12; i++) await password({ name: 'nobody', domain: { id: 'default' } }, 'x');
    expect((await password({ name: 'nobody', domain: { id: 'default' } }, 'x')).statusCode).toBe(429);
    now += 1000;
    expect((await password({ id: ADMIN_USER_ID }, ADMIN_PASSWORD)).statusCode).toBe(201);
  });

  it('9: a submitted password, secret or token is never echoed in a 400', async () => {
    const secret = 'scwFKax4-Zq-never-shown';
    const bodies: [string, string, Json][] = [
      ['POST', '/v3/users', { user: { name: 'echo1', domain_id: 'default', password: [secret] } }],
      ['POST', '/v3/users', { user: { name: 'echo2', domain_id: 'default', password: { p: secret } } }],
      ['POST', '/v3/users', { user: { name: ['x'], domain_id: 'default', password: secret } }],
      ['POST', '/v3/auth/tokens', { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: [secret] } } } } }],
      ['POST', '/v3/auth/tokens', { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: `${secret}${'x'.repeat(5000)}` } } } } }],
      ['POST', '/v3/auth/tokens', { auth: { identity: { methods: ['token'], token: { id: [secret] } } } }],
      ['POST', '/v3/auth/tokens', { auth: { identity: { methods: ['application_credential'], application_credential: { id: 'x', secret: { s: secret } } } } }],
      ['POST', `/v3/users/${ADMIN_USER_ID}/password`, { user: { original_password: [secret], password: 'y' } }],
    ];
    for (const [method, url, payload] of bodies) {
      const r = await app.inject({ method: method as 'POST', url: `/identity${url}`, headers: { 'x-auth-token': admin }, payload });
      expect(r.statusCode, `${url} ${r.body}`).toBe(400);
      expect(r.body, url).not.toContain('scwFKax4');
      expect(r.body, url).toMatch(/Invalid input/);
    }
    // The same rule for every service's schemas (Nova's adminPass, a CHAP secret in connection_info).
    const schema = { type: 'object', properties: { server: { type: 'object', properties: { adminPass: { type: 'string' }, name: { type: 'string' } } }, auth_password: { type: 'string', maxLength: 4 } } } as const;
    for (const body of [{ server: { adminPass: [secret] } }, { server: { adminPass: 7, name: 1 } }, { auth_password: secret }]) {
      let message = '';
      try {
        validate(schema, body);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/^Invalid input for field\/attribute /);
      expect(message).not.toContain('scwFKax4');
    }
    // What is not a secret is still shown, as Cinder shows it.
    expect(() => validate(schema, { server: { name: 12345 } })).toThrow("Invalid input for field/attribute name. Value: 12345. 12345 is not of type 'string'");
  });
});
