/**
 * Property over every block storage route added beyond the attach path (snapshots, the new
 * volume actions, types, extra specs, access, default types, qos-specs, quotas, quota classes,
 * limits, zones, services, pools, hosts, extensions, summary, transfers): random bodies, ids and
 * query strings, as admin and as a project member, never get a 5xx, and a refused request
 * leaves every table those routes write as it was.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, it } from 'vitest';
import { buildApp, type HitchTestApp } from '../../src/test-support/build-app.ts';
import { describeEachDialect } from '../../src/test-support/dialects.ts';
import { checkRoutesNeverFail, type RouteUnderTest } from '../../src/test-support/route-property.ts';
import { headers, token } from './test-helpers.ts';

const text = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('gold', '__DEFAULT__', 'multiattach', 'available', 'in-use', 'error', 'True', 'false', '<is> True', ''));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const sizeArb = fc.oneof(fc.integer({ min: -2, max: 4 }), fc.constantFrom('2', 'x', 2147483648, 1.5, null));
const boolish = fc.oneof(fc.boolean(), fc.constantFrom('true', 'False', '1', 'maybe', null));
const specs = fc.dictionary(fc.oneof(fc.constantFrom('multiattach', 'volume_backend_name', 'cacheable', 'x y', 'a:b'), fc.string({ maxLength: 8 })), fc.oneof(text, fc.constant(null)), { maxKeys: 3 });

const snapshotBody = fc.record({ snapshot: fc.record({ volume_id: maybe(fc.constantFrom('{volume}', '{busy}', '00000000-0000-4000-8000-000000000000', 'x')), name: maybe(text), description: maybe(text), force: maybe(boolish), metadata: maybe(fc.dictionary(fc.string({ maxLength: 5 }), text, { maxKeys: 2 })) }, { requiredKeys: [] }) });
const actionBody = fc.oneof(
  fc.record({ 'os-extend': fc.record({ new_size: sizeArb }, { requiredKeys: [] }) }),
  fc.record({ 'os-set_bootable': fc.record({ bootable: boolish }, { requiredKeys: [] }) }),
  fc.record({ 'os-update_readonly_flag': fc.record({ readonly: boolish }, { requiredKeys: [] }) }),
  fc.record({ 'os-retype': fc.record({ new_type: maybe(text), migration_policy: maybe(fc.constantFrom('never', 'on-demand', 'sometimes')) }, { requiredKeys: [] }) }),
  fc.record({ 'os-force_delete': fc.jsonValue({ maxDepth: 1 }) }),
  fc.record({ 'os-attach': fc.record({ instance_uuid: maybe(fc.uuid()), mountpoint: maybe(text), mode: maybe(fc.constantFrom('rw', 'ro', 'rx')), host_name: maybe(text) }, { requiredKeys: [] }) }),
  fc.record({ 'os-reserve': fc.constant(null) }),
);
const typeBody = fc.record({ volume_type: fc.record({ name: maybe(text), description: maybe(text), extra_specs: maybe(specs), 'os-volume-type-access:is_public': maybe(boolish), is_public: maybe(boolish) }, { requiredKeys: [] }) });
const qosBody = fc.record({ qos_specs: fc.dictionary(fc.constantFrom('name', 'consumer', 'read_iops_sec', 'x'), text, { maxKeys: 3 }) });
const quotaBody = fc.record({ quota_set: fc.dictionary(fc.constantFrom('volumes', 'gigabytes', 'snapshots', 'per_volume_gigabytes', 'volumes_gold', 'bogus', 'id'), fc.oneof(fc.integer({ min: -3, max: 50 }), text), { maxKeys: 3 }) });
const transferBody = fc.record({ transfer: fc.record({ volume_id: maybe(fc.constantFrom('{volume}', '{busy}', '00000000-0000-4000-8000-000000000000')), name: maybe(text), no_snapshots: maybe(boolish) }, { requiredKeys: [] }) });

const ROUTES: RouteUnderTest[] = [
  { method: 'GET', path: '{P}/snapshots' },
  { method: 'GET', path: '{P}/snapshots/detail' },
  { method: 'POST', path: '{P}/snapshots', body: snapshotBody },
  { method: 'GET', path: '{P}/snapshots/{snapshot}' },
  { method: 'PUT', path: '{P}/snapshots/{snapshot}', body: fc.record({ snapshot: fc.record({ name: maybe(text), description: maybe(text) }, { requiredKeys: [] }) }) },
  { method: 'DELETE', path: '{P}/snapshots/{snapshot}' },
  { method: 'GET', path: '{P}/snapshots/{snapshot}/metadata' },
  { method: 'POST', path: '{P}/snapshots/{snapshot}/metadata', body: fc.record({ metadata: fc.dictionary(fc.string({ maxLength: 5 }), text, { maxKeys: 2 }) }) },
  { method: 'PUT', path: '{P}/snapshots/{snapshot}/metadata/{key}', body: fc.record({ meta: fc.dictionary(fc.constantFrom('k', 'x'), text, { maxKeys: 2 }) }) },
  { method: 'DELETE', path: '{P}/snapshots/{snapshot}/metadata/{key}' },
  { method: 'POST', path: '{P}/snapshots/{snapshot}/action', body: fc.oneof(fc.record({ 'os-reset_status': fc.record({ status: text }) }), fc.record({ 'os-force_delete': fc.constant({}) })) },
  { method: 'POST', path: '{P}/volumes', body: fc.record({ volume: fc.record({ size: maybe(sizeArb), snapshot_id: maybe(fc.constantFrom('{snapshot}', '00000000-0000-4000-8000-000000000000')), source_volid: maybe(fc.constantFrom('{volume}', '{busy}')), volume_type: maybe(text), multiattach: maybe(boolish), backup_id: maybe(fc.uuid()), imageRef: maybe(text) }, { requiredKeys: [] }) }) },
  { method: 'POST', path: '{P}/volumes/{volume}/action', body: actionBody },
  { method: 'DELETE', path: '{P}/volumes/{volume}' },
  { method: 'GET', path: '{P}/volumes/summary' },
  { method: 'GET', path: '{P}/types' },
  { method: 'GET', path: '{P}/types/{type}' },
  { method: 'POST', path: '{P}/types', body: typeBody },
  { method: 'PUT', path: '{P}/types/{type}', body: typeBody },
  { method: 'DELETE', path: '{P}/types/{type}' },
  { method: 'GET', path: '{P}/types/{type}/extra_specs' },
  { method: 'POST', path: '{P}/types/{type}/extra_specs', body: fc.record({ extra_specs: specs }) },
  { method: 'GET', path: '{P}/types/{type}/extra_specs/{key}' },
  { method: 'PUT', path: '{P}/types/{type}/extra_specs/{key}', body: specs },
  { method: 'DELETE', path: '{P}/types/{type}/extra_specs/{key}' },
  { method: 'GET', path: '{P}/types/{type}/os-volume-type-access' },
  { method: 'POST', path: '{P}/types/{type}/action', body: fc.oneof(fc.record({ addProjectAccess: fc.record({ project: text }) }), fc.record({ removeProjectAccess: fc.record({ project: text }) })) },
  { method: 'PUT', path: '{P}/default-types/{project}', body: fc.record({ default_type: fc.record({ volume_type: text }) }) },
  { method: 'GET', path: '{P}/default-types/{project}' },
  { method: 'GET', path: '{P}/default-types' },
  { method: 'DELETE', path: '{P}/default-types/{project}' },
  { method: 'GET', path: '{P}/qos-specs' },
  { method: 'POST', path: '{P}/qos-specs', body: qosBody },
  { method: 'GET', path: '{P}/qos-specs/{qos}' },
  { method: 'PUT', path: '{P}/qos-specs/{qos}', body: qosBody },
  { method: 'PUT', path: '{P}/qos-specs/{qos}/delete_keys', body: fc.record({ keys: fc.array(text, { maxLength: 3 }) }) },
  { method: 'DELETE', path: '{P}/qos-specs/{qos}' },
  { method: 'GET', path: '{P}/qos-specs/{qos}/associations' },
  { method: 'GET', path: '{P}/qos-specs/{qos}/associate' },
  { method: 'GET', path: '{P}/qos-specs/{qos}/disassociate' },
  { method: 'GET', path: '{P}/qos-specs/{qos}/disassociate_all' },
  { method: 'GET', path: '{P}/os-quota-sets/{project}' },
  { method: 'GET', path: '{P}/os-quota-sets/{project}/defaults' },
  { method: 'PUT', path: '{P}/os-quota-sets/{project}', body: quotaBody },
  { method: 'DELETE', path: '{P}/os-quota-sets/{project}' },
  { method: 'GET', path: '{P}/os-quota-class-sets/{class}' },
  { method: 'PUT', path: '{P}/os-quota-class-sets/{class}', body: fc.record({ quota_class_set: quotaBody.map((b) => b.quota_set) }) },
  { method: 'GET', path: '{P}/limits' },
  { method: 'GET', path: '{P}/os-availability-zone' },
  { method: 'GET', path: '{P}/os-services' },
  { method: 'PUT', path: '{P}/os-services/{svcaction}', body: fc.record({ host: maybe(fc.constantFrom('hitch@fake', 'nowhere')), binary: maybe(fc.constantFrom('cinder-volume', 'cinder-api', 'x')), disabled_reason: maybe(text) }, { requiredKeys: [] }) },
  { method: 'GET', path: '{P}/scheduler-stats/get_pools' },
  { method: 'GET', path: '{P}/os-hosts' },
  { method: 'GET', path: '{P}/os-hosts/{host}' },
  { method: 'GET', path: '{P}/extensions' },
  { method: 'GET', path: '{P}/os-volume-transfer' },
  { method: 'GET', path: '{P}/os-volume-transfer/detail' },
  { method: 'POST', path: '{P}/os-volume-transfer', body: transferBody },
  { method: 'GET', path: '{P}/os-volume-transfer/{transfer}' },
  { method: 'POST', path: '{P}/os-volume-transfer/{transfer}/accept', body: fc.record({ accept: fc.record({ auth_key: fc.oneof(text, fc.integer()) }, { requiredKeys: [] }) }) },
  { method: 'DELETE', path: '{P}/os-volume-transfer/{transfer}' },
  { method: 'POST', path: '{P}/volume-transfers', body: transferBody },
  { method: 'GET', path: '{P}/volume-transfers/{transfer}' },
  { method: 'DELETE', path: '{P}/volume-transfers/{transfer}' },
];

describeEachDialect('new block storage routes: never 5xx, a refusal changes nothing', (ctx) => {
  let t: HitchTestApp;
  const ids: Record<string, string[]> = {};
  const tokens: Record<'admin' | 'demo', { token: string; projectId: string }> = { admin: { token: '', projectId: '' }, demo: { token: '', projectId: '' } };

  beforeAll(async () => {
    t = await buildApp({ dbUrl: await ctx.freshUrl() });
    tokens.admin = await token(t, 'admin');
    tokens.demo = await token(t, 'demo');
    const a = tokens.admin;
    // Set-up calls must succeed (an action answers 202 with no body).
    const post = async (url: string, body: Record<string, unknown>): Promise<string> => {
      const r = await t.app.inject({ method: 'POST', url: `/volume/v3/${a.projectId}${url}`, headers: headers(a.token), payload: body });
      if (r.statusCode >= 300) throw new Error(`set-up POST ${url}: ${r.statusCode} ${r.body}`);
      return r.body;
    };
    /** The id of what a set-up POST created (its body's one top-level object). */
    const create = async (url: string, body: Record<string, unknown>): Promise<string> => Object.values(JSON.parse(await post(url, body)) as Record<string, { id: string }>)[0]!.id;
    const volume = await create('/volumes', { volume: { size: 1, metadata: { k: 'v' } } });
    const busy = await create('/volumes', { volume: { size: 1 } });
    await post(`/volumes/${busy}/action`, { 'os-attach': { instance_uuid: '11111111-2222-3333-4444-555555555555', mountpoint: '/dev/vdb' } });
    const snapshot = await create('/snapshots', { snapshot: { volume_id: volume, metadata: { k: 'v' } } });
    const type = await create('/types', { volume_type: { name: 'gold', extra_specs: { k: 'v' }, 'os-volume-type-access:is_public': false } });
    const qos = await create('/qos-specs', { qos_specs: { name: 'q', consumer: 'front-end', k: 'v' } });
    const other = await create('/volumes', { volume: { size: 1 } });
    const transfer = await create('/os-volume-transfer', { transfer: { volume_id: other } });
    Object.assign(ids, {
      P: [`/volume/v3/${a.projectId}`, `/volume/v3/${tokens.demo.projectId}`, '/volume/v3'],
      volume: [volume, busy],
      busy: [busy],
      snapshot: [snapshot],
      type: [type, '5e4f1a2b-0000-4000-8000-000000000001', 'default'],
      qos: [qos],
      transfer: [transfer],
      project: [a.projectId, tokens.demo.projectId],
      class: ['default', 'gold'],
      key: ['k', 'x'],
      host: ['hitch@fake', 'nowhere'],
      svcaction: ['enable', 'disable', 'disable-log-reason', 'freeze'],
    });
  });
  afterAll(async () => t?.close());

  const snapshot = async () => {
    const db = t.db.db;
    const all = async (table: 'volumes' | 'volume_metadata' | 'attachments' | 'snapshots' | 'volume_types' | 'volume_type_projects' | 'default_volume_types' | 'qos_specs' | 'volume_quotas' | 'volume_quota_classes' | 'volume_quota_reservations' | 'transfers') =>
      JSON.stringify(await db.selectFrom(table).selectAll().execute().then((rows) => rows.map((r) => JSON.stringify(r)).sort()));
    return {
      volumes: await all('volumes'),
      metadata: await all('volume_metadata'),
      attachments: await all('attachments'),
      snapshots: await all('snapshots'),
      types: await all('volume_types'),
      access: await all('volume_type_projects'),
      defaults: await all('default_volume_types'),
      qos: await all('qos_specs'),
      quotas: await all('volume_quotas'),
      classes: await all('volume_quota_classes'),
      reservations: await all('volume_quota_reservations'),
      transfers: await all('transfers'),
      // Usage changes only with what it counts; the heartbeat's time is not state a request owns.
      usage: JSON.stringify((await db.selectFrom('volume_quota_usages').selectAll().execute()).map((r) => `${r.project_id}/${r.resource}=${r.in_use}+${r.reserved}`).sort()),
      services: JSON.stringify((await db.selectFrom('services').select(['binary', 'host', 'disabled', 'disabled_reason']).execute()).map((r) => JSON.stringify(r)).sort()),
    };
  };

  for (const who of ['admin', 'demo'] as const) {
    it(`random bodies, ids and queries to every new route, as ${who}`, async () => {
      await checkRoutesNeverFail({
        app: t.app,
        routes: ROUTES,
        ids,
        headers: () => ({ 'x-auth-token': tokens[who].token, 'openstack-api-version': 'volume 3.70' }),
        snapshot,
        numRuns: ctx.dialect === 'postgres' ? 200 : 500,
      });
    }, 300_000);
  }
});
