/**
 * Cinder's inexact name filter (`name~=`, from 3.34) — what the dashboard's search sends: a
 * name that contains the text, in any case, paged with limit/marker on the server, `%` and `_`
 * taken literally, on SQLite and PostgreSQL alike; before 3.34 it is not a filter.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp, type HitchTestApp } from '../../src/test-support/build-app.ts';
import { describeEachDialect } from '../../src/test-support/dialects.ts';
import { headers, token } from './test-helpers.ts';

describeEachDialect('volume name search', (ctx) => {
  let t: HitchTestApp;
  let tok: string;
  let P: string;
  beforeAll(async () => {
    t = await buildApp({ dbUrl: await ctx.freshUrl() });
    const a = await token(t, 'demo');
    tok = a.token;
    P = `/volume/v3/${a.projectId}`;
    for (const name of ['Data-1', 'data-2', 'logs', 'big_data', 'bigXdata', '50%-full', null]) {
      await t.app.inject({ method: 'POST', url: `${P}/volumes`, headers: headers(tok), payload: { volume: { size: 1, name } } });
    }
  });
  afterAll(async () => t?.close());

  const names = async (query: string, mv = '3.70'): Promise<string[]> => {
    const r = await t.app.inject({ method: 'GET', url: `${P}/volumes/detail?${query}`, headers: headers(tok, mv) });
    expect(r.statusCode, r.body).toBe(200);
    return r.json<{ volumes: { name: string | null }[] }>().volumes.map((v) => v.name ?? '(none)').sort();
  };

  it('matches any part of the name, in any case', async () => {
    expect(await names('name~=DATA')).toEqual(['Data-1', 'big_data', 'bigXdata', 'data-2'].sort());
  });

  it('takes % and _ as themselves', async () => {
    expect(await names(`name~=${encodeURIComponent('g_d')}`)).toEqual(['big_data']);
    expect(await names(`name~=${encodeURIComponent('%')}`)).toEqual(['50%-full']);
  });

  it('pages the matches with limit and marker', async () => {
    const first = await t.app.inject({ method: 'GET', url: `${P}/volumes/detail?name~=data&limit=3&sort=name:asc`, headers: headers(tok) });
    const page1 = first.json<{ volumes: { id: string; name: string }[]; volumes_links?: { href: string }[] }>();
    expect(page1.volumes).toHaveLength(3);
    expect(page1.volumes_links?.[0]?.href).toContain('name%7E=data');
    const second = await names(`name~=data&limit=3&sort=name:asc&marker=${page1.volumes[2]?.id}`);
    expect(second).toHaveLength(1);
    expect([...page1.volumes.map((v) => v.name), ...second].sort()).toEqual(['Data-1', 'big_data', 'bigXdata', 'data-2'].sort());
  });

  it('is not a filter before 3.34', async () => {
    expect((await names('name~=data', '3.33')).length).toBe(7);
  });
});
