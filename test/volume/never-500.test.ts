/**
 * Property: nothing a client sends makes the block storage API answer 5xx. Random JSON values
 * and random byte strings go to every body-taking endpoint and to the action endpoints.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../../src/test-support/dialects.ts';
import { buildApp, type HitchTestApp } from '../../src/test-support/build-app.ts';
import { headers, token } from './test-helpers.ts';

describeEachDialect('the block storage API never answers 5xx', (ctx) => {
  // PostgreSQL is stricter than SQLite (NUL bytes, types), so it gets the same properties.
  const runs = (n: number) => (ctx.dialect === 'postgres' ? Math.ceil(n / 3) : n);
  let t: HitchTestApp;
  let H: Record<string, string>;
  let P: string;
  let V: string;
  let A: string;

  beforeAll(async () => {
    t = await buildApp({ dbUrl: await ctx.freshUrl() });
    const a = await token(t);
    H = { ...headers(a.token, '3.54'), 'content-type': 'application/json' };
    P = `/volume/v3/${a.projectId}`;
    V = (await t.app.inject({ method: 'POST', url: `${P}/volumes`, headers: H, payload: { volume: { size: 1 } } })).json<{ volume: { id: string } }>().volume.id;
    const v2 = (await t.app.inject({ method: 'POST', url: `${P}/volumes`, headers: H, payload: { volume: { size: 1, volume_type: 'multiattach' } } })).json<{ volume: { id: string } }>().volume.id;
    A = (await t.app.inject({ method: 'POST', url: `${P}/attachments`, headers: H, payload: { attachment: { volume_uuid: v2, instance_uuid: '11111111-2222-3333-4444-555555555555' } } })).json<{ attachment: { id: string } }>().attachment.id;
  });
  afterAll(async () => t?.close());

  const targets = () => [
    { method: 'POST' as const, url: `${P}/volumes` },
    { method: 'PUT' as const, url: `${P}/volumes/${V}` },
    { method: 'POST' as const, url: `${P}/volumes/${V}/action` },
    { method: 'POST' as const, url: `${P}/volumes/${V}/metadata` },
    { method: 'PUT' as const, url: `${P}/volumes/${V}/metadata/k` },
    { method: 'POST' as const, url: `${P}/attachments` },
    { method: 'PUT' as const, url: `${P}/attachments/${A}` },
    { method: 'POST' as const, url: `${P}/attachments/${A}/action` },
  ];
  const actions = ['os-reserve', 'os-unreserve', 'os-initialize_connection', 'os-terminate_connection', 'os-attach', 'os-detach', 'os-begin_detaching', 'os-roll_detaching', 'os-force_detach', 'os-reset_status', 'os-complete'];

  it('random JSON bodies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 7 }), fc.jsonValue({ maxDepth: 4 }), async (i, body) => {
        const tg = targets()[i] as { method: 'POST' | 'PUT'; url: string };
        const r = await t.app.inject({ ...tg, headers: H, payload: JSON.stringify(body) });
        expect(r.statusCode, `${tg.method} ${tg.url} ${JSON.stringify(body)} → ${r.body}`).toBeLessThan(500);
      }),
      { numRuns: runs(300) },
    );
  });

  it('random arguments to every action', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...actions), fc.jsonValue({ maxDepth: 3 }), fc.boolean(), async (action, arg, onAttachment) => {
        const url = onAttachment ? `${P}/attachments/${A}/action` : `${P}/volumes/${V}/action`;
        const r = await t.app.inject({ method: 'POST', url, headers: H, payload: JSON.stringify({ [action]: arg }) });
        expect(r.statusCode, `${url} ${action} ${JSON.stringify(arg)} → ${r.body}`).toBeLessThan(500);
      }),
      { numRuns: runs(300) },
    );
  });

  it('random auth requests to the identity API', async () => {
    const scopeArb = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.record({ project: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ id: fc.jsonValue({ maxDepth: 1 }), name: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] })) }));
    const userArb = fc.record({ name: fc.jsonValue({ maxDepth: 1 }), id: fc.jsonValue({ maxDepth: 1 }), password: fc.jsonValue({ maxDepth: 1 }), domain: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 2 }), userArb, scopeArb, async (methods, user, scope) => {
        const body = { auth: { identity: { methods, password: { user } }, scope } };
        const r = await t.app.inject({ method: 'POST', url: '/identity/v3/auth/tokens', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
        expect(r.statusCode, `${JSON.stringify(body)} → ${r.body}`).toBeLessThan(500);
      }),
      { numRuns: runs(200) },
    );
  });

  it('random bytes, headers and query strings', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 7 }), fc.oneof(fc.string({ maxLength: 200 }), fc.constant('{"volume": {"size": 1, "name": "a\\u0000b"}}')), fc.string({ maxLength: 30 }), fc.string({ maxLength: 40 }), async (i, raw, version, query) => {
        const tg = targets()[i] as { method: 'POST' | 'PUT'; url: string };
        const r = await t.app.inject({ ...tg, url: `${tg.url}?${encodeURIComponent(query)}`, headers: { ...H, 'openstack-api-version': `volume ${version.replace(/[^\x20-\x7e]/g, '')}` }, payload: raw });
        expect(r.statusCode).toBeLessThan(500);
        const list = await t.app.inject({ method: 'GET', url: `${P}/volumes/detail?${query.replace(/[#]/g, '')}`, headers: H });
        expect(list.statusCode).toBeLessThan(500);
      }),
      { numRuns: runs(200) },
    );
  });
});
