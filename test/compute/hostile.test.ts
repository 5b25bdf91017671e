/**
 * Hostile input and access control on the compute API, on the all-in-one cloud:
 * - property tests over every body-taking route, path parameter and header: never a 5xx, always
 *   an OpenStack error body, and nothing changed by a refused request;
 * - project isolation on every route (another project's server, attachment, trace: 404);
 * - failed logins rate limited;
 * - CHAP passwords and tokens nowhere in traces, the simulator's command log or errors.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startTestCloud, volumeAndServer, type TestCloud } from '../support/cloud.ts';
import { TINY_IMAGE_ID } from '../../src/compute/images.ts';

describe('the compute API under hostile input', () => {
  let t: TestCloud;
  let token: string;
  let volumeId: string;
  let serverId: string;
  let tried = 0;
  let fiveXX = 0;

  beforeAll(async () => {
    t = await startTestCloud({ scenario: 'healthy-multipath' });
    ({ token, volumeId, serverId } = await volumeAndServer(t));
  });
  afterAll(async () => {
    console.log(`hostile input: ${tried} requests tried, ${fiveXX} answered 5xx`);
    await t?.close();
  });

  const send = async (method: string, url: string, body: string | undefined, headers: Record<string, string> = {}) => {
    const r = await t.cloud.app.inject({ method: method as 'POST', url, headers: { 'x-auth-token': token, 'content-type': 'application/json', ...headers }, ...(body !== undefined ? { payload: body } : {}) });
    tried++;
    if (r.statusCode >= 500) fiveXX++;
    return r;
  };

  const snapshot = async () => ({
    bdms: await t.cloud.computeRepository.listAllBdms(),
    servers: (await t.cloud.computeRepository.listServers(undefined)).map((s) => [s.id, s.status]),
    volume: (await t.api('GET', `/volume/v3/volumes/${volumeId}`, { token })).body.volume.status,
  });

  it('random JSON bodies to every body-taking route: 4xx with an OpenStack body, nothing changed', async () => {
    const before = await snapshot();
    const routes = [
      ['POST', '/compute/v2.1/servers'],
      ['POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`],
    ] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), fc.jsonValue({ maxDepth: 4 }), async ([m, url], body) => {
        // A body that is a valid request would legitimately change state: keep to invalid ones.
        const b = body as { server?: unknown; volumeAttachment?: { volumeId?: unknown } };
        fc.pre(!(b && typeof b === 'object' && ('server' in b || (b.volumeAttachment && typeof b.volumeAttachment === 'object' && b.volumeAttachment.volumeId === volumeId))));
        const r = await send(m, url, JSON.stringify(body));
        expect(r.statusCode, `${m} ${url} ${JSON.stringify(body)} → ${r.body}`).toBeGreaterThanOrEqual(400);
        expect(r.statusCode).toBeLessThan(500);
        const parsed = r.json() as Record<string, { code: number; message: string }>;
        const fault = Object.values(parsed)[0];
        expect(fault?.code).toBe(r.statusCode);
        expect(typeof fault?.message).toBe('string');
      }),
      { numRuns: 300 },
    );
    expect(await snapshot()).toEqual(before);
  });

  it('random bytes, path parameters, microversions and query strings: never 5xx', async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'),
        fc.constantFrom('servers', 'servers/detail', `servers/${serverId}`, `servers/${serverId}/os-volume_attachments`, 'flavors', 'os-hitch-operations'),
        fc.string({ maxLength: 60 }),
        fc.string({ maxLength: 30 }),
        fc.string({ maxLength: 200 }),
        async (method, base, tail, version, raw) => {
          const url = `/compute/v2.1/${base}/${encodeURIComponent(tail)}?${encodeURIComponent(raw.slice(0, 40))}=${encodeURIComponent(tail)}`;
          const safe = method === 'GET' ? undefined : raw;
          const r = await send(method, url, safe, { 'openstack-api-version': `compute ${version}`.replace(/[^\t\x20-\x7e]/g, '') });
          expect(r.statusCode, `${method} ${url} → ${r.body}`).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
    expect(await snapshot()).toEqual(before);
  });

  it('a body over the limit is refused with 413 before any work', async () => {
    const r = await send('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, JSON.stringify({ volumeAttachment: { volumeId, device: 'x'.repeat(2 << 20) } }));
    expect(r.statusCode).toBe(413);
  });

  it("another project's token sees none of this project's servers, attachments or traces (404), and cannot act on them", async () => {
    const other = await t.token('admin'); // admin's token is scoped to the admin project: as another tenant it sees…
    const post = await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId } } });
    expect(post.status).toBe(200);
    await t.cloud.settle();
    const opId = (await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}/trace`, { token })).body.operations[0].id;
    // A second ordinary project: create it through the identity API as admin.
    const proj = await t.api('POST', '/identity/v3/projects', { token: other.token, body: { project: { name: 'intruders', domain_id: 'default' } } });
    expect(proj.status).toBe(201);
    const user = await t.api('POST', '/identity/v3/users', { token: other.token, body: { user: { name: 'mallory', password: 'mallory-Secret-3', default_project_id: proj.body.project.id, domain_id: 'default' } } });
    expect(user.status).toBe(201);
    const role = (await t.api('GET', '/identity/v3/roles', { token: other.token })).body.roles.find((r: { name: string }) => r.name === 'member');
    expect((await t.api('PUT', `/identity/v3/projects/${proj.body.project.id}/users/${user.body.user.id}/roles/${role.id}`, { token: other.token })).status).toBe(204);
    const auth = await fetch(`${t.url}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'mallory', domain: { id: 'default' }, password: 'mallory-Secret-3' } } }, scope: { project: { id: proj.body.project.id } } } }),
    });
    expect(auth.status).toBe(201);
    const mallory = auth.headers.get('x-subject-token') as string;
    const routes: Array<[string, string, unknown?]> = [
      ['GET', `/compute/v2.1/servers/${serverId}`],
      ['DELETE', `/compute/v2.1/servers/${serverId}`],
      ['GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments`],
      ['GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}`],
      ['DELETE', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}`],
      ['POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { volumeAttachment: { volumeId } }],
      ['GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}/trace`],
      ['GET', `/compute/v2.1/os-hitch-operations/${opId}`],
      ['GET', `/compute/v2.1/os-hitch-operations/${opId}/normal`],
      ['GET', `/volume/v3/volumes/${volumeId}`],
    ];
    for (const [m, url, body] of routes) {
      const r = await t.api(m, url, { token: mallory, ...(body ? { body } : {}) });
      expect(r.status, `${m} ${url}`).toBe(404);
      expect(r.body.itemNotFound.code).toBe(404);
    }
    expect((await t.api('GET', '/compute/v2.1/servers', { token: mallory })).body.servers).toEqual([]);
    // Mallory's own server cannot take this project's volume either.
    const hers = await t.api('POST', '/compute/v2.1/servers', { token: mallory, body: { server: { name: 'm', imageRef: TINY_IMAGE_ID, flavorRef: '1' } } });
    await t.cloud.settle();
    const steal = await t.api('POST', `/compute/v2.1/servers/${hers.body.server.id}/os-volume_attachments`, { token: mallory, body: { volumeAttachment: { volumeId } } });
    expect(steal.status).toBe(404);
    expect((await t.api('GET', `/volume/v3/volumes/${volumeId}`, { token })).body.volume.status).toBe('in-use');
    // No token, a made-up token: 401.
    expect((await t.api('GET', `/compute/v2.1/servers/${serverId}`)).status).toBe(401);
    expect((await t.api('GET', `/compute/v2.1/servers/${serverId}`, { token: 'gAAAAA-not-a-token' })).status).toBe(401);
  });

  it('failed logins are rate limited per client and user name; other users are not', async () => {
    const attempt = (password: string) =>
      fetch(`${t.url}/identity/v3/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password } } } } }),
      });
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await attempt(`wrong-${i}`)).status);
    expect(codes.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(codes.slice(10)).toEqual([429, 429]);
    const limited = await attempt('wrong-again');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another user from the same client still logs in.
    const admin = await fetch(`${t.url}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } } } } }),
    });
    expect(admin.status).toBe(201);
  });

  it('CHAP passwords and tokens appear in no trace, command log or error', async () => {
    const bdm = await t.cloud.computeRepository.getBdm(serverId, volumeId);
    const info = JSON.parse(bdm!.connection_info!);
    const chap = info.data.auth_password as string;
    expect(chap.length).toBeGreaterThan(8);
    const traces = await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}/trace`, { token });
    // Exercise a failing path too, so error messages are in the haystack.
    const bad = await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId } } });
    const haystack = [JSON.stringify(traces.body), JSON.stringify(bad.body), t.cloud.sim!.traceText()].join('\n');
    expect(haystack).toContain(volumeId);
    expect(haystack).not.toContain(chap);
    expect(haystack).not.toContain(token);
  });
});
