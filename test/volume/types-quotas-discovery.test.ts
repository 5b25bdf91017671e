/**
 * Volume types (extra specs, access, defaults), QoS specs into connection_info, quotas enforced
 * atomically with Cinder's 413 (also under concurrent creates), limits, quota classes, the
 * discovery and admin views (zones, services, pools, hosts, extensions, summary) and volume
 * transfers — on both dialects, through the HTTP API.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp, type HitchTestApp } from '../../src/test-support/build-app.ts';
import { describeEachDialect } from '../../src/test-support/dialects.ts';
import { headers, token } from './test-helpers.ts';

const CONNECTOR = { initiator: 'iqn.1993-08.org.debian:01:abcdef', host: 'compute1', ip: '127.0.0.1', multipath: false };
const INSTANCE = '11111111-2222-3333-4444-555555555555';
type Json = Record<string, any>;

describeEachDialect('types, qos, quotas, discovery and transfers', (ctx) => {
  let t: HitchTestApp;
  let admin = { token: '', projectId: '' };
  let demo = { token: '', projectId: '' };

  beforeAll(async () => {
    t = await buildApp({ dbUrl: await ctx.freshUrl() });
    admin = await token(t, 'admin');
    demo = await token(t, 'demo');
  });
  afterAll(async () => t?.close());

  const api = (who: { token: string; projectId: string }, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, version = '3.70') =>
    t.app.inject({ method, url: `/volume/v3/${who.projectId}${url}`, headers: headers(who.token, version), ...(body !== undefined ? { payload: body as Json } : {}) });

  it('types: create with specs, show, list (admin and project views), update, extra specs, delete', async () => {
    const c = await api(admin, 'POST', '/types', { volume_type: { name: 'fast', description: 'ssd', extra_specs: { multiattach: '<is> True', secret: 'x' } } });
    expect(c.statusCode).toBe(200);
    const fast = c.json<Json>().volume_type;
    expect(fast).toEqual({ id: fast.id, name: 'fast', description: 'ssd', is_public: true, extra_specs: { multiattach: '<is> True', secret: 'x' }, 'os-volume-type-access:is_public': true });
    expect((await api(admin, 'POST', '/types', { volume_type: { name: 'fast' } })).statusCode).toBe(409);
    // A project sees the user-visible specs only, and no qos_specs_id.
    expect((await api(demo, 'GET', `/types/${fast.id}`)).json<Json>().volume_type).toEqual({ id: fast.id, name: 'fast', description: 'ssd', is_public: true, extra_specs: { multiattach: '<is> True' }, 'os-volume-type-access:is_public': true });
    expect((await api(admin, 'GET', `/types/${fast.id}`)).json<Json>().volume_type.qos_specs_id).toBeNull();
    expect((await api(demo, 'POST', '/types', { volume_type: { name: 'mine' } })).statusCode).toBe(403);
    const upd = await api(admin, 'PUT', `/types/${fast.id}`, { volume_type: { description: 'nvme' } });
    expect(upd.json<Json>().volume_type).toMatchObject({ name: 'fast', description: 'nvme' });
    expect((await api(admin, 'PUT', `/types/${fast.id}`, { volume_type: {} })).statusCode).toBe(400);
    expect((await api(admin, 'POST', `/types/${fast.id}/extra_specs`, { extra_specs: { tier: 'one' } })).json()).toEqual({ extra_specs: { tier: 'one' } });
    expect((await api(admin, 'PUT', `/types/${fast.id}/extra_specs/tier`, { tier: 'two' })).json()).toEqual({ tier: 'two' });
    expect((await api(admin, 'GET', `/types/${fast.id}/extra_specs/tier`)).json()).toEqual({ tier: 'two' });
    expect((await api(admin, 'DELETE', `/types/${fast.id}/extra_specs/tier`)).statusCode).toBe(202);
    expect((await api(admin, 'GET', `/types/${fast.id}/extra_specs/tier`)).statusCode).toBe(404);
    // In use, its specs stay and it cannot be deleted.
    const v = (await api(admin, 'POST', '/volumes', { volume: { size: 1, volume_type: 'fast' } })).json<Json>().volume;
    expect(v.multiattach).toBe(true);
    expect((await api(admin, 'POST', `/types/${fast.id}/extra_specs`, { extra_specs: { tier: 'three' } })).json<Json>().badRequest.message).toMatch(/^Volume Type is currently in use\./);
    expect((await api(admin, 'DELETE', `/types/${fast.id}`)).json<Json>().badRequest.message).toMatch(/^Target volume type is still in use\./);
    await api(admin, 'DELETE', `/volumes/${v.id}`);
    expect((await api(admin, 'DELETE', `/types/${fast.id}`)).statusCode).toBe(202);
    expect((await api(admin, 'GET', `/types/${fast.id}`)).statusCode).toBe(404);
  });

  it('private types: only shared projects see and use them; the access list', async () => {
    const priv = (await api(admin, 'POST', '/types', { volume_type: { name: 'private-1', 'os-volume-type-access:is_public': false } })).json<Json>().volume_type;
    expect((await api(demo, 'GET', '/types')).json<Json>().volume_types.map((x: Json) => x.name)).not.toContain('private-1');
    expect((await api(demo, 'POST', '/volumes', { volume: { size: 1, volume_type: 'private-1' } })).statusCode).toBe(404);
    expect((await api(admin, 'GET', '/types?is_public=false')).json<Json>().volume_types.map((x: Json) => x.name)).toEqual(['private-1']);
    expect((await api(admin, 'POST', `/types/${priv.id}/action`, { addProjectAccess: { project: demo.projectId } })).statusCode).toBe(202);
    expect((await api(admin, 'POST', `/types/${priv.id}/action`, { addProjectAccess: { project: demo.projectId } })).statusCode).toBe(409);
    expect((await api(admin, 'GET', `/types/${priv.id}/os-volume-type-access`)).json()).toEqual({ volume_type_access: [{ volume_type_id: priv.id, project_id: demo.projectId }] });
    expect((await api(demo, 'GET', '/types')).json<Json>().volume_types.map((x: Json) => x.name)).toContain('private-1');
    const v = await api(demo, 'POST', '/volumes', { volume: { size: 1, volume_type: 'private-1' } });
    expect(v.statusCode).toBe(202);
    expect((await api(admin, 'POST', `/types/${priv.id}/action`, { removeProjectAccess: { project: demo.projectId } })).statusCode).toBe(202);
    expect((await api(demo, 'GET', `/types/${priv.id}`)).statusCode).toBe(404);
    const pub = (await api(admin, 'GET', '/types/default')).json<Json>().volume_type;
    expect((await api(admin, 'POST', `/types/${pub.id}/action`, { addProjectAccess: { project: demo.projectId } })).statusCode).toBe(400);
    await api(demo, 'DELETE', `/volumes/${v.json<Json>().volume.id}`);
  });

  it('the default type: __DEFAULT__, or a project default from 3.62', async () => {
    expect((await api(demo, 'GET', '/types/default')).json<Json>().volume_type.name).toBe('__DEFAULT__');
    const gold = (await api(admin, 'POST', '/types', { volume_type: { name: 'gold' } })).json<Json>().volume_type;
    expect((await api(admin, 'PUT', `/default-types/${demo.projectId}`, { default_type: { volume_type: 'gold' } }, '3.61')).statusCode).toBe(404);
    const set = await api(admin, 'PUT', `/default-types/${demo.projectId}`, { default_type: { volume_type: 'gold' } }, '3.62');
    expect(set.json()).toEqual({ default_type: { project_id: demo.projectId, volume_type_id: gold.id } });
    expect((await api(demo, 'GET', '/types/default')).json<Json>().volume_type.name).toBe('gold');
    const v = (await api(demo, 'POST', '/volumes', { volume: { size: 1 } })).json<Json>().volume;
    expect(v.volume_type).toBe('gold');
    expect((await api(admin, 'GET', '/default-types', undefined, '3.62')).json<Json>().default_types).toEqual([{ project_id: demo.projectId, volume_type_id: gold.id }]);
    expect((await api(admin, 'DELETE', `/default-types/${demo.projectId}`, undefined, '3.62')).statusCode).toBe(204);
    expect((await api(demo, 'GET', '/types/default')).json<Json>().volume_type.name).toBe('__DEFAULT__');
    await api(demo, 'DELETE', `/volumes/${v.id}`);
  });

  it('qos-specs: create, set, unset, associate; front-end specs reach connection_info.qos_specs', async () => {
    const q = await api(admin, 'POST', '/qos-specs', { qos_specs: { name: 'limited', consumer: 'front-end', read_iops_sec: '500' } });
    expect(q.statusCode).toBe(200);
    const qos = q.json<Json>().qos_specs;
    expect(qos).toEqual({ id: qos.id, name: 'limited', consumer: 'front-end', specs: { read_iops_sec: '500' } });
    expect((await api(admin, 'PUT', `/qos-specs/${qos.id}`, { qos_specs: { write_iops_sec: '300', total_bytes_sec: '1' } })).json()).toEqual({ qos_specs: { write_iops_sec: '300', total_bytes_sec: '1' } });
    expect((await api(admin, 'PUT', `/qos-specs/${qos.id}/delete_keys`, { keys: ['total_bytes_sec'] })).statusCode).toBe(202);
    const typeId = (await api(admin, 'POST', '/types', { volume_type: { name: 'throttled' } })).json<Json>().volume_type.id;
    expect((await api(admin, 'GET', `/qos-specs/${qos.id}/associate?vol_type_id=${typeId}`)).statusCode).toBe(202);
    expect((await api(admin, 'GET', `/qos-specs/${qos.id}/associations`)).json()).toEqual({ qos_associations: [{ association_type: 'volume_type', name: 'throttled', id: typeId }] });
    expect((await api(admin, 'GET', `/types/${typeId}`)).json<Json>().volume_type.qos_specs_id).toBe(qos.id);
    const v = (await api(admin, 'POST', '/volumes', { volume: { size: 1, volume_type: 'throttled' } })).json<Json>().volume;
    const att = await api(admin, 'POST', '/attachments', { attachment: { volume_uuid: v.id, instance_uuid: INSTANCE, connector: CONNECTOR } });
    expect(att.json<Json>().attachment.connection_info.data.qos_specs).toEqual({ read_iops_sec: '500', write_iops_sec: '300' });
    expect((await api(admin, 'DELETE', `/qos-specs/${qos.id}`)).json<Json>().badRequest.message).toMatch(/^Qos specs still in use\./);
    // A back-end consumer's specs are for the array, not the hypervisor: none in connection_info.
    expect((await api(admin, 'PUT', `/qos-specs/${qos.id}`, { qos_specs: { consumer: 'back-end' } })).statusCode).toBe(200);
    const legacy = await api(admin, 'POST', `/volumes/${v.id}/action`, { 'os-initialize_connection': { connector: CONNECTOR } });
    expect(legacy.json<Json>().connection_info.data.qos_specs).toBeNull();
    expect((await api(admin, 'GET', `/qos-specs/${qos.id}/disassociate_all`)).statusCode).toBe(202);
    expect((await api(admin, 'DELETE', `/qos-specs/${qos.id}`)).statusCode).toBe(202);
    expect((await api(admin, 'GET', `/qos-specs/${qos.id}`)).statusCode).toBe(404);
  });

  it("quotas: set, show with usage, Cinder's 413 messages, defaults, classes, delete back to defaults", async () => {
    const p = demo.projectId;
    expect((await api(admin, 'PUT', `/os-quota-sets/${p}`, { quota_set: { volumes: 2, gigabytes: 5, snapshots: 1 } })).json<Json>().quota_set).toMatchObject({ volumes: 2, gigabytes: 5, snapshots: 1 });
    expect((await api(admin, 'PUT', `/os-quota-sets/${p}`, { quota_set: { bogus: 1 } })).json<Json>().badRequest.message).toMatch(/^Invalid input received: Bad key\(s\) in quota set: bogus/);
    expect((await api(demo, 'PUT', `/os-quota-sets/${p}`, { quota_set: { volumes: 50 } })).statusCode).toBe(403);
    const before = (await api(demo, 'GET', '/volumes')).json<Json>().volumes.length;
    const made: string[] = [];
    for (let i = before; i < 2; i++) made.push((await api(demo, 'POST', '/volumes', { volume: { size: 2 } })).json<Json>().volume.id);
    const third = await api(demo, 'POST', '/volumes', { volume: { size: 1 } });
    expect(third.statusCode).toBe(413);
    expect(third.headers['retry-after']).toBe('0');
    expect(third.json<Json>().overLimit).toMatchObject({ code: 413, retryAfter: '0', message: expect.stringMatching(/^Maximum number of volumes allowed \(2\) exceeded for quota 'volumes'\./) });
    const usage = (await api(demo, 'GET', `/os-quota-sets/${p}?usage=true`)).json<Json>().quota_set;
    expect(usage.volumes).toEqual({ limit: 2, in_use: 2, reserved: 0, allocated: 0 });
    await api(admin, 'PUT', `/os-quota-sets/${p}`, { quota_set: { volumes: 10 } });
    const big = await api(demo, 'POST', '/volumes', { volume: { size: 5 } });
    expect(big.json<Json>().overLimit.message).toMatch(/^Requested volume or snapshot exceeds allowed gigabytes quota\. Requested 5G, quota is 5G and \d+G has been consumed\./);
    const lower = await api(admin, 'PUT', `/os-quota-sets/${p}`, { quota_set: { volumes: 1 } });
    expect(lower.json<Json>().badRequest.message).toMatch(/^Quota volumes limit must be equal or greater than existing resources\. Current usage is 2 and the requested limit is 1\./);
    await api(admin, 'PUT', `/os-quota-sets/${p}`, { quota_set: { gigabytes: 20 } });
    const v = (await api(demo, 'GET', '/volumes')).json<Json>().volumes[0].id;
    expect((await api(demo, 'POST', '/snapshots', { snapshot: { volume_id: v } })).statusCode).toBe(202);
    expect((await api(demo, 'POST', '/snapshots', { snapshot: { volume_id: v } })).json<Json>().overLimit.message).toMatch(/^Maximum number of snapshots allowed \(1\) exceeded/);
    const lim = (await api(demo, 'GET', '/limits')).json<Json>().limits;
    expect(lim.rate).toEqual([]);
    expect(lim.absolute).toMatchObject({ maxTotalVolumes: 10, totalVolumesUsed: 2, maxTotalSnapshots: 1, totalSnapshotsUsed: 1, maxTotalVolumeGigabytes: 20, totalGigabytesUsed: 6 });
    expect((await api(admin, 'GET', `/os-quota-sets/${p}/defaults`)).json<Json>().quota_set).toMatchObject({ volumes: 10, gigabytes: 1000, snapshots: 10, backups: 10, groups: 10, per_volume_gigabytes: -1, id: p });
    expect((await api(admin, 'PUT', '/os-quota-class-sets/default', { quota_class_set: { backups: 20 } })).json<Json>().quota_class_set.backups).toBe(20);
    expect((await api(admin, 'GET', '/os-quota-class-sets/default')).json<Json>().quota_class_set).toMatchObject({ backups: 20, id: 'default' });
    expect((await api(admin, 'DELETE', `/os-quota-sets/${p}`)).statusCode).toBe(200);
    expect((await api(admin, 'GET', `/os-quota-sets/${p}`)).json<Json>().quota_set).toMatchObject({ volumes: 10, gigabytes: 1000, snapshots: 10, backups: 20 });
    await api(admin, 'PUT', '/os-quota-class-sets/default', { quota_class_set: { backups: 10 } });
  });

  it('quotas hold under 30 concurrent creates: exactly the limit succeeds, usage equals the rows', async () => {
    const p = (await t.identity.store.createProject('race')).id;
    const u = await t.identity.store.findUser({ name: 'demo' });
    await t.identity.store.assignRole(u!.id, p, 'member');
    const login = await t.app.inject({ method: 'POST', url: '/identity/v3/auth/tokens', payload: { auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { id: 'default' }, password: 'hitch-demo-secret' } } }, scope: { project: { id: p } } } } });
    const who = { token: String(login.headers['x-subject-token']), projectId: p };
    await api(admin, 'PUT', `/os-quota-sets/${p}`, { quota_set: { volumes: 5 } });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => api(who, 'POST', '/volumes', { volume: { size: 1, name: `r${i}` } })));
    expect(results.filter((r) => r.statusCode === 202)).toHaveLength(5);
    expect(results.filter((r) => r.statusCode === 413)).toHaveLength(25);
    const rows = await t.db.db.selectFrom('volumes').select('id').where('project_id', '=', p).execute();
    expect(rows).toHaveLength(5);
    expect((await api(admin, 'GET', `/os-quota-sets/${p}?usage=true`)).json<Json>().quota_set.volumes).toEqual({ limit: 5, in_use: 5, reserved: 0, allocated: 0 });
  });

  it('zones, services (up from heartbeats; disable and enable), pools, hosts, extensions, summary', async () => {
    expect((await api(demo, 'GET', '/os-availability-zone')).json()).toEqual({ availabilityZoneInfo: [{ zoneName: 'nova', zoneState: { available: true } }] });
    const svcs = (await api(admin, 'GET', '/os-services', undefined, '3.0')).json<Json>().services;
    expect(svcs.map((s: Json) => [s.binary, s.host, s.state, s.status])).toEqual([
      ['cinder-api', 'hitch@fake', 'up', 'enabled'],
      ['cinder-volume', 'hitch@fake', 'up', 'enabled'],
    ]);
    expect((await api(demo, 'GET', '/os-services')).statusCode).toBe(403);
    const off = await api(admin, 'PUT', '/os-services/disable-log-reason', { host: 'hitch@fake', binary: 'cinder-volume', disabled_reason: 'maintenance' });
    expect(off.json()).toEqual({ host: 'hitch@fake', service: '', binary: 'cinder-volume', status: 'disabled', disabled: true, disabled_reason: 'maintenance' });
    expect((await api(admin, 'GET', '/os-services?binary=cinder-volume', undefined, '3.0')).json<Json>().services[0]).toMatchObject({ status: 'disabled', disabled_reason: 'maintenance' });
    expect((await api(admin, 'PUT', '/os-services/enable', { host: 'hitch@fake', binary: 'cinder-volume' })).json<Json>().status).toBe('enabled');
    expect((await api(admin, 'PUT', '/os-services/enable', { host: 'nowhere', binary: 'cinder-volume' })).statusCode).toBe(404);
    // A service whose heartbeat is older than service_down_time is down.
    await t.db.db.updateTable('services').set({ updated_at: '2000-01-01T00:00:00.000000' }).where('binary', '=', 'cinder-api').execute();
    expect((await api(admin, 'GET', '/os-services?binary=cinder-api', undefined, '3.0')).json<Json>().services[0].state).toBe('down');
    await t.volumes.services.beat();
    expect((await api(admin, 'GET', '/os-services?binary=cinder-api', undefined, '3.0')).json<Json>().services[0].state).toBe('up');

    expect((await api(admin, 'GET', '/scheduler-stats/get_pools')).json()).toEqual({ pools: [{ name: 'hitch@fake#fake' }] });
    const pool = (await api(admin, 'GET', '/scheduler-stats/get_pools?detail=True')).json<Json>().pools[0];
    expect(pool.capabilities).toMatchObject({ volume_backend_name: 'fake', total_capacity_gb: 1000, storage_protocol: 'iSCSI' });
    expect(pool.capabilities.free_capacity_gb).toBe(1000 - pool.capabilities.allocated_capacity_gb);
    const hosts = (await api(admin, 'GET', '/os-hosts')).json<Json>().hosts;
    expect(hosts).toEqual([{ host_name: 'hitch@fake', service: 'cinder-volume', zone: 'nova', 'service-status': 'available', 'service-state': 'enabled', 'last-update': expect.any(String) }]);
    const host = (await api(admin, 'GET', '/os-hosts/hitch@fake')).json<Json>().host;
    expect(host[0].resource).toMatchObject({ host: 'hitch@fake', project: '(total)' });
    expect((await api(admin, 'GET', '/os-hosts/nowhere')).statusCode).toBe(404);
    const ext = (await api(demo, 'GET', '/extensions')).json<Json>().extensions.map((e: Json) => e.alias);
    expect(ext).toEqual(expect.arrayContaining(['os-quota-sets', 'os-volume-transfer', 'qos-specs', 'scheduler-stats', 'os-services']));
    expect((await api(demo, 'GET', '/volumes/summary', undefined, '3.11')).statusCode).toBe(404);
    const mine = (await api(demo, 'GET', '/volumes/detail')).json<Json>().volumes;
    expect((await api(demo, 'GET', '/volumes/summary', undefined, '3.12')).json()).toEqual({ 'volume-summary': { total_size: mine.reduce((n: number, v: Json) => n + v.size, 0), total_count: mine.length } });
    expect((await api(demo, 'GET', '/volumes/summary', undefined, '3.36')).json<Json>()['volume-summary'].metadata).toEqual({});
  });

  it('transfers: create (auth key once), list, show, accept into another project with its quota, delete', async () => {
    const v = (await api(demo, 'POST', '/volumes', { volume: { size: 1, name: 'gift', metadata: { k: 'v' } } })).json<Json>().volume;
    const c = await api(demo, 'POST', '/os-volume-transfer', { transfer: { volume_id: v.id, name: 'to-admin' } });
    expect(c.statusCode).toBe(202);
    const tr = c.json<Json>().transfer;
    expect(tr).toMatchObject({ volume_id: v.id, name: 'to-admin', auth_key: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect((await api(demo, 'GET', `/volumes/${v.id}`)).json<Json>().volume.status).toBe('awaiting-transfer');
    expect((await api(demo, 'DELETE', `/volumes/${v.id}`)).statusCode).toBe(400);
    expect((await api(demo, 'GET', '/os-volume-transfer')).json<Json>().transfers.map((x: Json) => x.id)).toEqual([tr.id]);
    expect((await api(demo, 'GET', `/os-volume-transfer/${tr.id}`)).json<Json>().transfer).not.toHaveProperty('auth_key');
    expect((await api(demo, 'GET', `/volume-transfers/${tr.id}`, undefined, '3.54')).statusCode).toBe(404);
    expect((await api(demo, 'GET', `/volume-transfers/${tr.id}`, undefined, '3.57')).json<Json>().transfer).toMatchObject({ no_snapshots: false, accepted: false, source_project_id: demo.projectId, destination_project_id: null });
    const wrong = await api(admin, 'POST', `/os-volume-transfer/${tr.id}/accept`, { accept: { auth_key: '0000000000000000' } });
    expect(wrong.json<Json>().badRequest.message).toMatch(/^Invalid auth key: Attempt to transfer/);
    const before = (await api(admin, 'GET', `/os-quota-sets/${admin.projectId}?usage=true`)).json<Json>().quota_set.volumes.in_use;
    const ok = await api(admin, 'POST', `/os-volume-transfer/${tr.id}/accept`, { accept: { auth_key: tr.auth_key } });
    expect(ok.statusCode).toBe(202);
    expect(ok.json<Json>().transfer).toMatchObject({ id: tr.id, volume_id: v.id, name: 'to-admin' });
    expect((await api(admin, 'GET', `/volumes/${v.id}`)).json<Json>().volume).toMatchObject({ status: 'available', metadata: { k: 'v' } });
    expect((await api(demo, 'GET', `/volumes/${v.id}`)).statusCode).toBe(404);
    expect((await api(admin, 'GET', `/os-quota-sets/${admin.projectId}?usage=true`)).json<Json>().quota_set.volumes.in_use).toBe(before + 1);
    expect((await api(admin, 'GET', '/volumes/detail?metadata={"k":"v"}')).json<Json>().volumes.map((x: Json) => x.id)).toContain(v.id);
    // Withdrawn, a transfer leaves the volume available where it was.
    const w = (await api(admin, 'POST', '/volumes', { volume: { size: 1 } })).json<Json>().volume;
    const t2 = (await api(admin, 'POST', '/volume-transfers', { transfer: { volume_id: w.id, no_snapshots: true } }, '3.55')).json<Json>().transfer;
    expect(t2.no_snapshots).toBe(true);
    expect((await api(admin, 'DELETE', `/volume-transfers/${t2.id}`, undefined, '3.55')).statusCode).toBe(202);
    expect((await api(admin, 'GET', `/volumes/${w.id}`)).json<Json>().volume.status).toBe('available');
  });
});
