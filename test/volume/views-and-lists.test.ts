/**
 * Response fields per microversion, checked against tempest's strict schemas
 * (tempest/lib/api_schema/response/volume/volumes.py and v3_61..v3_69), and list
 * pagination, sorting and filters — on both dialects (their NULL ordering differs by default).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp, type HitchTestApp } from '../../src/test-support/build-app.ts';
import { describeEachDialect } from '../../src/test-support/dialects.ts';
import { headers, token } from './test-helpers.ts';

// tempest volumes.common_show_volume: properties and required.
const TEMPEST_BASE = ['migration_status', 'attachments', 'links', 'availability_zone', 'os-vol-host-attr:host', 'encrypted', 'updated_at', 'replication_status', 'snapshot_id', 'id', 'size', 'user_id', 'os-vol-tenant-attr:tenant_id', 'os-vol-mig-status-attr:migstat', 'metadata', 'status', 'volume_image_metadata', 'description', 'multiattach', 'source_volid', 'consistencygroup_id', 'os-vol-mig-status-attr:name_id', 'name', 'bootable', 'created_at', 'volume_type', 'group_id', 'provider_id', 'service_uuid', 'shared_targets'];
const TEMPEST_REQUIRED = ['attachments', 'links', 'encrypted', 'updated_at', 'replication_status', 'id', 'size', 'user_id', 'availability_zone', 'metadata', 'status', 'description', 'multiattach', 'consistencygroup_id', 'name', 'bootable', 'created_at', 'volume_type', 'snapshot_id', 'source_volid'];
function tempestAllowed(mv: number): Set<string> {
  const s = new Set(TEMPEST_BASE);
  if (mv >= 61) s.add('cluster_name');
  if (mv >= 63) s.add('volume_type_id');
  if (mv >= 64) s.add('encryption_key_id');
  if (mv >= 65) s.add('consumes_quota');
  return s;
}
// Cinder's v3 view builder: what each microversion adds (admin-only where marked).
function cinderExpected(mv: number, admin: boolean): string[] {
  const k = ['id', 'status', 'size', 'availability_zone', 'created_at', 'updated_at', 'attachments', 'name', 'description', 'volume_type', 'snapshot_id', 'source_volid', 'metadata', 'links', 'user_id', 'bootable', 'encrypted', 'replication_status', 'consistencygroup_id', 'multiattach'];
  if (admin) k.push('migration_status', 'os-vol-host-attr:host', 'os-vol-tenant-attr:tenant_id', 'os-vol-mig-status-attr:migstat', 'os-vol-mig-status-attr:name_id');
  if (mv >= 13) k.push('group_id');
  if (mv >= 21 && admin) k.push('provider_id');
  if (mv >= 48) k.push('shared_targets', 'service_uuid');
  if (mv >= 61 && admin) k.push('cluster_name');
  if (mv >= 63) k.push('volume_type_id');
  if (mv >= 65) k.push('consumes_quota');
  return k.sort();
}

describeEachDialect('volume views and lists', (ctx) => {
  let t: HitchTestApp;
  let admin: string;
  let demo: string;
  let P: string;
  const ids: string[] = [];

  beforeAll(async () => {
    t = await buildApp({ dbUrl: await ctx.freshUrl() });
    const a = await token(t, 'admin');
    admin = a.token;
    demo = (await token(t, 'demo')).token;
    P = `/volume/v3/${a.projectId}`;
    // Seven volumes; two without a name (NULL sorts first ascending on both dialects).
    const names = ['delta', null, 'alpha', 'charlie', null, 'bravo', 'echo'];
    for (const [i, name] of names.entries()) {
      const r = await t.app.inject({ method: 'POST', url: `${P}/volumes`, headers: headers(admin), payload: { volume: { size: i + 1, name, metadata: { idx: String(i), even: String(i % 2 === 0) } } } });
      ids.push(r.json<{ volume: { id: string } }>().volume.id);
    }
    await t.app.inject({ method: 'POST', url: '/volume/v3/volumes', headers: headers(demo), payload: { volume: { size: 1, name: 'demo-vol' } } });
  });
  afterAll(async () => t?.close());

  const get = (url: string, tok = admin, mv = '3.70') => t.app.inject({ method: 'GET', url, headers: headers(tok, mv) });

  for (const mv of [0, 13, 21, 44, 48, 61, 63, 64, 65, 69, 70, 71]) {
    for (const who of ['admin', 'member'] as const) {
      it(`volume show at 3.${mv} as ${who}: Cinder's fields, valid under tempest's schema`, async () => {
        const tok = who === 'admin' ? admin : demo;
        const url = who === 'admin' ? `${P}/volumes/${ids[0]}` : '/volume/v3/volumes?limit=1';
        let vol: Record<string, unknown>;
        if (who === 'admin') vol = (await get(url, tok, `3.${mv}`)).json<{ volume: Record<string, unknown> }>().volume;
        else {
          const list = (await get('/volume/v3/volumes/detail', tok, `3.${mv}`)).json<{ volumes: Record<string, unknown>[] }>().volumes;
          vol = list[0] as Record<string, unknown>;
        }
        const keys = Object.keys(vol).sort();
        expect(keys).toEqual(cinderExpected(mv, who === 'admin'));
        const allowed = tempestAllowed(mv);
        expect(keys.filter((k) => !allowed.has(k))).toEqual([]);
        expect(TEMPEST_REQUIRED.filter((k) => !keys.includes(k))).toEqual([]);
        expect(vol.bootable).toBe('false');
        expect(vol.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
      });
    }
  }

  it('the summary list has exactly id, name, links', async () => {
    const r = (await get(`${P}/volumes`)).json<{ volumes: Record<string, unknown>[] }>();
    for (const v of r.volumes) expect(Object.keys(v).sort()).toEqual(['id', 'links', 'name']);
  });

  it('pages with limit and marker through every volume exactly once, following volumes_links', async () => {
    const seen: string[] = [];
    let url: string | undefined = `${P}/volumes/detail?limit=3&sort=name:asc`;
    for (let i = 0; url && i < 10; i++) {
      const body: { volumes: { id: string }[]; volumes_links?: { href: string; rel: string }[] } = (await get(url)).json();
      seen.push(...body.volumes.map((v) => v.id));
      url = body.volumes_links?.find((l) => l.rel === 'next')?.href.replace(/^http:\/\/[^/]+/, '');
    }
    expect(seen.sort()).toEqual([...ids].sort());
  });

  it('finds the attachments of more volumes than one statement can bind (SQLite 32 766, PostgreSQL 65 535 variables)', async () => {
    const instance = '0b5d7a8e-4c1f-4e7a-9d5e-3f0c2a1b6d70';
    const made: string[] = [];
    for (const v of [ids[0], ids[6]] as string[]) {
      const r = await t.app.inject({ method: 'POST', url: `${P}/attachments`, headers: headers(admin, '3.44'), payload: { attachment: { volume_uuid: v, instance_uuid: instance } } });
      expect(r.statusCode).toBe(200);
      made.push(r.json<{ attachment: { id: string } }>().attachment.id);
    }
    // 70 000 ids: the first and the last name volumes with an attachment, the rest match nothing.
    const many = Array.from({ length: 70_000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    many[0] = ids[0] as string;
    many[many.length - 1] = ids[6] as string;
    const found = await t.volumes.repo.attachmentsOfVolumes(many);
    expect([...found.keys()].sort()).toEqual([ids[0], ids[6]].sort());
    expect([...found.values()].flat().map((a) => a.id).sort()).toEqual(made.sort());
    for (const id of made) expect((await t.app.inject({ method: 'DELETE', url: `${P}/attachments/${id}`, headers: headers(admin, '3.44') })).statusCode).toBe(200);
  });

  it('sorts by name both ways, NULLs first ascending and last descending', async () => {
    const names = async (sort: string) => (await get(`${P}/volumes?sort=${sort}`)).json<{ volumes: { name: string | null }[] }>().volumes.map((v) => v.name);
    expect(await names('name:asc')).toEqual([null, null, 'alpha', 'bravo', 'charlie', 'delta', 'echo']);
    expect(await names('name:desc')).toEqual(['echo', 'delta', 'charlie', 'bravo', 'alpha', null, null]);
    const bySize = (await get(`${P}/volumes/detail?sort_key=size&sort_dir=asc`)).json<{ volumes: { size: number }[] }>().volumes.map((v) => v.size);
    expect(bySize).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('filters by name, status and metadata; counts at 3.45', async () => {
    const n = (await get(`${P}/volumes/detail?name=alpha`)).json<{ volumes: { name: string }[] }>().volumes;
    expect(n.map((v) => v.name)).toEqual(['alpha']);
    const md = (await get(`${P}/volumes/detail?metadata=${encodeURIComponent('{"even": "true"}')}`)).json<{ volumes: unknown[] }>().volumes;
    expect(md).toHaveLength(4);
    expect((await get(`${P}/volumes?status=error`)).json<{ volumes: unknown[] }>().volumes).toHaveLength(0);
    const counted = (await get(`${P}/volumes?with_count=true&limit=2`, admin, '3.45')).json<{ volumes: unknown[]; count: number }>();
    expect([counted.volumes.length, counted.count]).toEqual([2, 7]);
    expect((await get(`${P}/volumes?with_count=true`, admin, '3.44')).json()).not.toHaveProperty('count');
  });

  it('pages in every sort order (NULL names included) exactly as the unpaged list, two at a time', async () => {
    const idsOf = (r: { json: () => unknown }) => (r.json() as { volumes: { id: string }[] }).volumes.map((v) => v.id);
    for (const sort of ['name:asc', 'name:desc', 'size:asc', 'size:desc', 'status:asc', 'created_at:asc', 'created_at', 'updated_at:asc', 'updated_at:desc', 'name:desc,size:asc', 'bootable:asc,name:asc', 'id:asc']) {
      const whole = idsOf(await get(`${P}/volumes?sort=${sort}`));
      expect(whole, sort).toHaveLength(7);
      const paged: string[] = [];
      let marker = '';
      for (let i = 0; i < 8; i++) {
        const page = idsOf(await get(`${P}/volumes?sort=${sort}&limit=2${marker}`));
        paged.push(...page);
        if (page.length < 2) break;
        marker = `&marker=${page[1]}`;
      }
      expect(paged, sort).toEqual(whole);
    }
  });

  it('the metadata filter follows updates, pages, and combines keys; 3.60 filters on created_at and updated_at', async () => {
    const names = async (url: string) => (await get(url)).json<{ volumes: { name: string | null }[] }>().volumes.map((v) => v.name);
    const q = (md: Record<string, string>) => encodeURIComponent(JSON.stringify(md));
    expect(await names(`${P}/volumes?sort=size:asc&metadata=${q({ even: 'true', idx: '2' })}`)).toEqual(['alpha']);
    // Replace one volume's metadata: the old keys no longer match, the new one does; then back.
    const setMd = async (md: Record<string, string>) =>
      expect((await t.app.inject({ method: 'PUT', url: `${P}/volumes/${ids[5]}/metadata`, headers: headers(admin), payload: { metadata: md } })).statusCode).toBe(200);
    await setMd({ tier: 'gold' });
    expect(await names(`${P}/volumes?metadata=${q({ idx: '5' })}`)).toEqual([]);
    expect(await names(`${P}/volumes?metadata=${q({ tier: 'gold' })}`)).toEqual(['bravo']);
    await setMd({ idx: '5', even: 'false' });
    expect(await names(`${P}/volumes?metadata=${q({ tier: 'gold' })}`)).toEqual([]);
    const page1 = (await get(`${P}/volumes?sort=size:asc&limit=2&metadata=${q({ even: 'true' })}`)).json<{ volumes: { id: string; name: string | null }[] }>().volumes;
    expect(page1.map((v) => v.name)).toEqual(['delta', 'alpha']);
    expect(await names(`${P}/volumes?sort=size:asc&limit=2&marker=${page1[1]!.id}&metadata=${q({ even: 'true' })}`)).toEqual([null, 'echo']);
    // Times: what the filter returns is what comparing the shown times says.
    const all = (await get(`${P}/volumes/detail?sort=created_at:asc`)).json<{ volumes: { name: string | null; created_at: string }[] }>().volumes;
    const pivot = all[3]!.created_at;
    expect(await names(`${P}/volumes?sort=created_at:asc&created_at=gte:${pivot}`)).toEqual(all.filter((v) => v.created_at >= pivot).map((v) => v.name));
    expect(await names(`${P}/volumes?sort=created_at:asc&created_at=lt:${pivot}Z`)).toEqual(all.filter((v) => v.created_at < pivot).map((v) => v.name));
    expect(await names(`${P}/volumes?updated_at=gt:2999-01-01T00:00:00`)).toEqual([]);
    // Before 3.60 there is no such filter.
    expect((await get(`${P}/volumes?updated_at=gt:2999-01-01T00:00:00`, admin, '3.59')).json<{ volumes: unknown[] }>().volumes).toHaveLength(7);
    expect((await get(`${P}/volumes?created_at=gt:not-a-time`)).statusCode).toBe(400);
  });

  it('all_tenants shows every project to an admin and nothing more to a member', async () => {
    expect((await get(`${P}/volumes?all_tenants=1`)).json<{ volumes: unknown[] }>().volumes).toHaveLength(8);
    expect((await get('/volume/v3/volumes?all_tenants=1', demo)).json<{ volumes: { name: string }[] }>().volumes.map((v) => v.name)).toEqual(['demo-vol']);
  });

  it('answers with the negotiated version and a request id', async () => {
    const r = await get(`${P}/volumes`, admin, '3.44');
    expect(r.headers['openstack-api-version']).toBe('volume 3.44');
    expect(r.headers['x-openstack-request-id']).toMatch(/^req-/);
    const latest = await t.app.inject({ method: 'GET', url: `${P}/volumes`, headers: { 'x-auth-token': admin, 'openstack-api-version': 'volume latest' } });
    expect(latest.headers['openstack-api-version']).toBe('volume 3.71');
    const none = await t.app.inject({ method: 'GET', url: `${P}/volumes`, headers: { 'x-auth-token': admin } });
    expect(none.headers['openstack-api-version']).toBe('volume 3.0');
  });

  it('version discovery at / (300) and /v3/', async () => {
    const root = await t.app.inject({ method: 'GET', url: '/volume/' });
    expect(root.statusCode).toBe(300);
    const v = root.json<{ versions: Record<string, unknown>[] }>().versions[0];
    expect(v).toMatchObject({ id: 'v3.0', status: 'CURRENT', min_version: '3.0', version: '3.71' });
    for (const k of ['status', 'updated', 'id', 'links', 'min_version', 'version', 'media-types']) expect(v).toHaveProperty([k]);
    expect((await t.app.inject({ method: 'GET', url: '/volume/v3/' })).statusCode).toBe(200);
  });

  it('metadata: show, merge, replace, item get/put/delete', async () => {
    const id = ids[2] as string;
    const H = { ...headers(admin), 'content-type': 'application/json' };
    const md = (await t.app.inject({ method: 'POST', url: `${P}/volumes/${id}/metadata`, headers: H, payload: { metadata: { k: 'v' } } })).json<{ metadata: Record<string, string> }>().metadata;
    expect(md).toEqual({ idx: '2', even: 'true', k: 'v' });
    expect((await t.app.inject({ method: 'PUT', url: `${P}/volumes/${id}/metadata`, headers: H, payload: { metadata: { only: '1' } } })).json()).toEqual({ metadata: { only: '1' } });
    expect((await t.app.inject({ method: 'PUT', url: `${P}/volumes/${id}/metadata/x`, headers: H, payload: { meta: { x: 'y' } } })).json()).toEqual({ meta: { x: 'y' } });
    expect((await get(`${P}/volumes/${id}/metadata/x`)).json()).toEqual({ meta: { x: 'y' } });
    expect((await t.app.inject({ method: 'DELETE', url: `${P}/volumes/${id}/metadata/x`, headers: H })).statusCode).toBe(200);
    expect((await get(`${P}/volumes/${id}/metadata/x`)).statusCode).toBe(404);
  });

  it('volume types: the default and multiattach, tempest-shaped', async () => {
    const types = (await get(`${P}/types`)).json<{ volume_types: Record<string, unknown>[] }>().volume_types;
    expect(types.map((x) => x.name)).toEqual(['__DEFAULT__', 'multiattach']);
    for (const x of types) {
      expect(Object.keys(x).sort()).toEqual(['description', 'extra_specs', 'id', 'is_public', 'name', 'os-volume-type-access:is_public', 'qos_specs_id']);
    }
    expect((await get(`${P}/types/default`)).json<{ volume_type: { name: string } }>().volume_type.name).toBe('__DEFAULT__');
  });
});
