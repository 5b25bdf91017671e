/**
 * Bad requests, table-driven: each gets Cinder's (or keystonemiddleware's) status and error
 * body, never a 500, and leaves every volume and attachment row exactly as it was.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp, type HitchTestApp } from '../../src/test-support/build-app.ts';
import { describeEachDialect } from '../../src/test-support/dialects.ts';
import { headers, token } from './test-helpers.ts';

interface Case {
  readonly name: string;
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** `{P}` = `/volume/v3/{project}`, `{V}` = a volume of the project, `{A}` = an attachment. */
  readonly url: string;
  readonly body?: unknown;
  /** A raw body (sent as application/json). */
  readonly raw?: string;
  readonly version?: string | null;
  readonly auth?: 'admin' | 'demo' | 'none' | 'expired' | 'garbage' | 'revoked';
  readonly status: number;
  readonly fault: string;
  readonly message?: RegExp;
}

const I = '11111111-2222-3333-4444-555555555555';

const CASES: readonly Case[] = [
  // --- body syntax and size
  { name: 'malformed JSON', method: 'POST', url: '{P}/volumes', raw: '{"volume": {"size": 1', status: 400, fault: 'badRequest', message: /^Malformed request body$/ },
  { name: 'JSON array body', method: 'POST', url: '{P}/volumes', raw: '[1, 2]', status: 400, fault: 'badRequest', message: /is not of type 'object'/ },
  { name: 'empty body', method: 'POST', url: '{P}/volumes', raw: '', status: 400, fault: 'badRequest', message: /None is not of type 'object'/ },
  { name: 'huge body', method: 'POST', url: '{P}/volumes', raw: JSON.stringify({ volume: { size: 1, description: 'x'.repeat(200_000) } }), status: 413, fault: 'requestEntityTooLarge' },
  { name: 'NUL in a JSON string', method: 'POST', url: '{P}/volumes', raw: '{"volume": {"size": 1, "name": "a\\u0000b"}}', status: 400, fault: 'badRequest', message: /^Malformed request body$/ },
  { name: 'NUL in the URL', url: '{P}/volumes?name=a%00b', status: 400, fault: 'badRequest', message: /^Malformed request url$/ },
  // --- schema
  { name: 'missing volume', method: 'POST', url: '{P}/volumes', body: {}, status: 400, fault: 'badRequest', message: /'volume' is a required property/ },
  { name: 'size not a number', method: 'POST', url: '{P}/volumes', body: { volume: { size: 'abc' } }, status: 400, fault: 'badRequest', message: /^Invalid input for field\/attribute size\. Value: 'abc'\./ },
  { name: 'size zero', method: 'POST', url: '{P}/volumes', body: { volume: { size: 0 } }, status: 400, fault: 'badRequest', message: /less than the minimum of 1/ },
  { name: 'size fractional', method: 'POST', url: '{P}/volumes', body: { volume: { size: 1.5 } }, status: 400, fault: 'badRequest', message: /field\/attribute size/ },
  { name: 'size missing', method: 'POST', url: '{P}/volumes', body: { volume: { name: 'x' } }, status: 400, fault: 'badRequest', message: /^Invalid input received: Volume size/ },
  { name: 'name too long', method: 'POST', url: '{P}/volumes', body: { volume: { size: 1, name: 'n'.repeat(256) } }, status: 400, fault: 'badRequest', message: /is too long/ },
  { name: 'unknown field in volume', method: 'POST', url: '{P}/volumes', body: { volume: { size: 1, colour: 'red' } }, status: 400, fault: 'badRequest', message: /Additional properties are not allowed \('colour' was unexpected\)/ },
  { name: 'unknown top-level field', method: 'POST', url: '{P}/volumes', body: { volume: { size: 1 }, extra: 1 }, status: 400, fault: 'badRequest', message: /'extra' was unexpected/ },
  { name: 'metadata value not a string', method: 'POST', url: '{P}/volumes', body: { volume: { size: 1, metadata: { a: 1 } } }, status: 400, fault: 'badRequest', message: /field\/attribute a/ },
  { name: 'unknown volume type', method: 'POST', url: '{P}/volumes', body: { volume: { size: 1, volume_type: 'gold' } }, status: 404, fault: 'itemNotFound', message: /Volume type with name gold could not be found/ },
  { name: 'bad availability zone', method: 'POST', url: '{P}/volumes', body: { volume: { size: 1, availability_zone: 'mars' } }, status: 400, fault: 'badRequest', message: /Availability zone 'mars' is invalid/ },
  { name: 'update with unknown field', method: 'PUT', url: '{P}/volumes/{V}', body: { volume: { size: 2 } }, status: 400, fault: 'badRequest', message: /'size' was unexpected/ },
  // --- ids
  { name: 'volume id not a UUID', url: '{P}/volumes/not-a-uuid', status: 404, fault: 'itemNotFound', message: /^Volume not-a-uuid could not be found\.$/ },
  { name: 'volume that does not exist', url: '{P}/volumes/00000000-0000-4000-8000-000000000000', status: 404, fault: 'itemNotFound' },
  { name: 'delete a volume that does not exist', method: 'DELETE', url: '{P}/volumes/00000000-0000-4000-8000-000000000000', status: 404, fault: 'itemNotFound' },
  { name: 'attachment with a bad volume_uuid', method: 'POST', url: '{P}/attachments', version: '3.44', body: { attachment: { volume_uuid: 'nope', instance_uuid: I } }, status: 400, fault: 'badRequest', message: /is not a 'uuid'/ },
  { name: 'attachment with a bad instance_uuid', method: 'POST', url: '{P}/attachments', version: '3.44', body: { attachment: { volume_uuid: '{V}', instance_uuid: 'x' } }, status: 400, fault: 'badRequest' },
  { name: 'attachment that does not exist', url: '{P}/attachments/00000000-0000-4000-8000-000000000000', version: '3.44', status: 404, fault: 'itemNotFound' },
  // --- microversions
  { name: 'attachments before 3.27', method: 'POST', url: '{P}/attachments', version: '3.26', body: { attachment: { volume_uuid: '{V}', instance_uuid: I } }, status: 404, fault: 'itemNotFound' },
  { name: 'os-complete before 3.44', method: 'POST', url: '{P}/attachments/{A}/action', version: '3.43', body: { 'os-complete': null }, status: 404, fault: 'itemNotFound' },
  { name: 'attachment mode before 3.54', method: 'POST', url: '{P}/attachments', version: '3.44', body: { attachment: { volume_uuid: '{V}', instance_uuid: I, mode: 'ro' } }, status: 400, fault: 'badRequest', message: /'mode' was unexpected/ },
  { name: 'malformed microversion', url: '{P}/volumes', version: '3.x', status: 400, fault: 'badRequest', message: /^API Version String 3\.x is of invalid format\. Must be of format MajorNum\.MinorNum\.$/ },
  { name: 'microversion too new', url: '{P}/volumes', version: '3.99', status: 406, fault: 'computeFault', message: /^Version 3\.99 is not supported by the API\. Minimum is 3\.0 and maximum is 3\.71\. Ask for a version in that range/ },
  { name: 'microversion too old', url: '{P}/volumes', version: '2.0', status: 406, fault: 'computeFault' },
  // --- list parameters
  { name: 'limit not an integer', url: '{P}/volumes/detail?limit=abc', status: 400, fault: 'badRequest', message: /limit param must be an integer/ },
  { name: 'negative limit', url: '{P}/volumes?limit=-1', status: 400, fault: 'badRequest', message: /limit param must be positive/ },
  { name: 'bad sort key', url: '{P}/volumes?sort=colour:asc', status: 400, fault: 'badRequest', message: /Invalid sort key/ },
  { name: 'bad sort direction', url: '{P}/volumes?sort=name:sideways', status: 400, fault: 'badRequest' },
  { name: 'unknown marker', url: '{P}/volumes?marker=00000000-0000-4000-8000-000000000000', status: 404, fault: 'itemNotFound', message: /^Marker .* could not be found\.$/ },
  // --- actions
  { name: 'unknown action', method: 'POST', url: '{P}/volumes/{V}/action', body: { 'os-frobnicate': null }, status: 400, fault: 'badRequest', message: /^There is no such action: os-frobnicate$/ },
  { name: 'two actions at once', method: 'POST', url: '{P}/volumes/{V}/action', body: { 'os-reserve': null, 'os-unreserve': null }, status: 400, fault: 'badRequest' },
  { name: 'os-attach without mountpoint', method: 'POST', url: '{P}/volumes/{V}/action', body: { 'os-attach': { instance_uuid: I } }, status: 400, fault: 'badRequest', message: /'mountpoint' is a required property/ },
  { name: 'os-attach with a bad instance uuid', method: 'POST', url: '{P}/volumes/{V}/action', body: { 'os-attach': { instance_uuid: 'x', mountpoint: '/dev/vdb' } }, status: 400, fault: 'badRequest' },
  { name: 'os-attach with mode rw on a read-only volume', method: 'POST', url: '{P}/volumes/{RO}/action', body: { 'os-attach': { instance_uuid: I, mountpoint: '/dev/vdb' } }, status: 400, fault: 'badRequest', message: /^Invalid attaching mode 'rw' for volume [0-9a-f-]{36}\.$/ },
  { name: 'os-begin_detaching on an available volume', method: 'POST', url: '{P}/volumes/{V}/action', body: { 'os-begin_detaching': null }, status: 400, fault: 'badRequest', message: /^Invalid volume: Unable to detach volume\. Volume status must be 'in-use' and attach_status must be 'attached' to detach\.$/ },
  { name: 'os-initialize_connection without connector', method: 'POST', url: '{P}/volumes/{V}/action', body: { 'os-initialize_connection': {} }, status: 400, fault: 'badRequest', message: /'connector' is a required property/ },
  { name: 'os-initialize_connection without initiator', method: 'POST', url: '{P}/volumes/{V}/action', body: { 'os-initialize_connection': { connector: { host: 'c1' } } }, status: 400, fault: 'badRequest' },
  { name: 'os-reset_status to nonsense', method: 'POST', url: '{P}/volumes/{V}/action', body: { 'os-reset_status': { status: 'happy' } }, status: 400, fault: 'badRequest' },
  // --- identity and isolation
  { name: 'another project in the URL', url: '/volume/v3/0123456789abcdef0123456789abcdef/volumes', status: 400, fault: 'badRequest', message: /^Malformed request url$/ },
  { name: "another project's volume", auth: 'demo', url: '/volume/v3/volumes/{V}', status: 404, fault: 'itemNotFound' },
  { name: "delete another project's volume", auth: 'demo', method: 'DELETE', url: '/volume/v3/volumes/{V}', status: 404, fault: 'itemNotFound' },
  { name: "reserve another project's volume", auth: 'demo', method: 'POST', url: '/volume/v3/volumes/{V}/action', body: { 'os-reserve': null }, status: 404, fault: 'itemNotFound' },
  { name: 'reset_status without admin', auth: 'demo', method: 'POST', url: '/volume/v3/volumes/{DV}/action', body: { 'os-reset_status': { status: 'error' } }, status: 403, fault: 'forbidden' },
  { name: 'force_detach without admin', auth: 'demo', method: 'POST', url: '/volume/v3/volumes/{DV}/action', body: { 'os-force_detach': {} }, status: 403, fault: 'forbidden' },
  { name: 'missing token', auth: 'none', url: '{P}/volumes', status: 401, fault: 'error', message: /requires authentication/ },
  { name: 'expired token', auth: 'expired', url: '{P}/volumes', status: 401, fault: 'error' },
  { name: 'revoked token', auth: 'revoked', url: '{P}/volumes', status: 401, fault: 'error' },
  { name: 'garbage token', auth: 'garbage', url: '{P}/volumes', status: 401, fault: 'error' },
  { name: 'unknown path', url: '{P}/flavours', status: 404, fault: 'itemNotFound' },
  // --- identity API
  { name: 'keystone: wrong password', auth: 'none', method: 'POST', url: '/identity/v3/auth/tokens', body: { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: 'wrong' } } } } }, status: 401, fault: 'error' },
  { name: 'keystone: malformed auth', auth: 'none', method: 'POST', url: '/identity/v3/auth/tokens', body: { auth: {} }, status: 400, fault: 'error', message: /'identity' is a required property/ },
  { name: 'keystone: bad JSON', auth: 'none', method: 'POST', url: '/identity/v3/auth/tokens', raw: '{', status: 400, fault: 'error' },
];

describeEachDialect('bad requests', (ctx) => {
  let t: HitchTestApp;
  const tokens: Record<string, string> = {};
  let P = '';
  let V = '';
  let DV = '';
  let A = '';
  let RO = '';

  beforeAll(async () => {
    t = await buildApp({ dbUrl: await ctx.freshUrl() });
    const admin = await token(t, 'admin');
    const demo = await token(t, 'demo');
    tokens.admin = admin.token;
    tokens.demo = demo.token;
    tokens.garbage = 'gAAAAABnot-a-real-token';
    const expired = await token(t, 'admin');
    await t.identity.store.expireToken(expired.token, Date.now());
    tokens.expired = expired.token;
    const revoked = await token(t, 'admin');
    await t.identity.revoke(revoked.token);
    tokens.revoked = revoked.token;
    P = `/volume/v3/${admin.projectId}`;
    const mk = async (tok: string) => (await t.app.inject({ method: 'POST', url: '/volume/v3/volumes', headers: headers(tok), payload: { volume: { size: 1 } } })).json<{ volume: { id: string } }>().volume.id;
    V = await mk(tokens.admin);
    DV = await mk(tokens.demo);
    // A second admin volume with a reserved attachment, for the attachment cases.
    const v2 = await mk(tokens.admin);
    A = (await t.app.inject({ method: 'POST', url: `${P}/attachments`, headers: headers(tokens.admin, '3.44'), payload: { attachment: { volume_uuid: v2, instance_uuid: I } } })).json<{ attachment: { id: string } }>().attachment.id;
    // A read-only volume, for the attach-mode case.
    RO = await mk(tokens.admin);
    await t.app.inject({ method: 'POST', url: `${P}/volumes/${RO}/action`, headers: headers(tokens.admin), payload: { 'os-update_readonly_flag': { readonly: true } } });
  });
  afterAll(async () => t?.close());

  const snapshot = async () => ({
    volumes: await t.db.db.selectFrom('volumes').selectAll().orderBy('id').execute(),
    attachments: await t.db.db.selectFrom('attachments').selectAll().orderBy('id').execute(),
  });
  const fill = (s: string) => s.replaceAll('{P}', P).replaceAll('{V}', V).replaceAll('{DV}', DV).replaceAll('{A}', A).replaceAll('{RO}', RO);

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const before = await snapshot();
    const h: Record<string, string> = {};
    const auth = c.auth ?? 'admin';
    if (auth !== 'none') h['x-auth-token'] = tokens[auth] as string;
    if (c.version !== null) h['openstack-api-version'] = `volume ${c.version ?? '3.70'}`;
    let payload: string | undefined;
    if (c.raw !== undefined) payload = c.raw;
    else if (c.body !== undefined) payload = fill(JSON.stringify(c.body));
    if (payload !== undefined) h['content-type'] = 'application/json';
    const r = await t.app.inject({ method: c.method ?? 'GET', url: fill(c.url), headers: h, payload });
    expect(r.statusCode).toBe(c.status);
    expect(r.headers['x-openstack-request-id']).toMatch(/^req-[0-9a-f-]{36}$/);
    const body = r.json<Record<string, { code: number; message: string }>>();
    expect(Object.keys(body)).toEqual([c.fault]);
    expect(body[c.fault]?.code).toBe(c.status);
    if (c.message) expect(body[c.fault]?.message).toMatch(c.message);
    expect(await snapshot()).toEqual(before);
  });
});
