/**
 * Block storage beyond attach, on both dialects, through the HTTP API: extend (available; in use
 * from 3.42 with Nova's volume-extended event), snapshots and their status machine, volumes
 * from a snapshot or a source volume (the fake backend records whose data a LUN holds), delete
 * with cascade and force, bootable, read-only end to end, retype, and Cinder's 400s.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp, type HitchTestApp } from '../../src/test-support/build-app.ts';
import { describeEachDialect } from '../../src/test-support/dialects.ts';
import type { FakeBackend } from '../../src/test-support/fake-backend.ts';
import type { ServerExternalEvent } from '../../src/volume/compute-events.ts';
import { headers, token } from './test-helpers.ts';

const INSTANCE = '11111111-2222-3333-4444-555555555555';
const CONNECTOR = { initiator: 'iqn.1993-08.org.debian:01:abcdef', host: 'compute1', ip: '127.0.0.1', multipath: false };
type Json = Record<string, any>;

describeEachDialect('snapshots, clones, extend and volume actions', (ctx) => {
  let t: HitchTestApp;
  let H: Record<string, string>;
  let P = '';
  const events: ServerExternalEvent[][] = [];
  const fake = () => t.backend as FakeBackend;

  beforeAll(async () => {
    t = await buildApp({ dbUrl: await ctx.freshUrl() });
    t.volumes.setComputeEvents({ send: async (e) => (events.push([...e]), e.map((x) => ({ ...x, status: 'completed' as const, code: 200 }))) });
    const a = await token(t);
    H = headers(a.token, '3.70');
    P = `/volume/v3/${a.projectId}`;
    // More volumes than Cinder's default quota of 10: the operator lifts it (quotas have their own tests).
    const lifted = await req('PUT', `/os-quota-sets/${a.projectId}`, { quota_set: { volumes: -1, snapshots: -1 } });
    expect(lifted.statusCode, lifted.body).toBe(200);
  });
  afterAll(async () => t?.close());

  const req = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, version = '3.70') =>
    t.app.inject({ method, url: `${P}${url}`, headers: { ...H, 'openstack-api-version': `volume ${version}` }, ...(body !== undefined ? { payload: body as Json } : {}) });
  const create = async (body: Json = { size: 1 }): Promise<Json> => {
    const r = await req('POST', '/volumes', { volume: body });
    expect(r.statusCode, r.body).toBe(202);
    return r.json<Json>().volume;
  };
  const action = (id: string, body: Json, version = '3.70') => req('POST', `/volumes/${id}/action`, body, version);
  const row = (id: string) => t.volumes.repo.getVolume(id);
  const snapshot = async (volumeId: string, extra: Json = {}): Promise<Json> => {
    const r = await req('POST', '/snapshots', { snapshot: { volume_id: volumeId, name: 's', ...extra } });
    expect(r.statusCode, r.body).toBe(202);
    return r.json<Json>().snapshot;
  };

  it('extends an available volume; the quota follows; not smaller, not in use before 3.42', async () => {
    const v = await create();
    expect((await action(v.id, { 'os-extend': { new_size: 1 } })).json()).toEqual({
      badRequest: { code: 400, message: expect.stringMatching(/^Invalid input received: New size for extend must be greater than current size\. \(current: 1, extended: 1\)\./) },
    });
    expect((await action(v.id, { 'os-extend': { new_size: '3' } })).statusCode).toBe(202);
    expect((await row(v.id))?.size).toBe(3);
    expect(fake().volume(v.id)?.size).toBe(3);
    const usage = (await req('GET', `/os-quota-sets/${(await row(v.id))!.project_id}?usage=true`)).json<Json>().quota_set;
    expect(usage.gigabytes).toEqual({ limit: 1000, in_use: 3, reserved: 0, allocated: 0 });

    await action(v.id, { 'os-attach': { instance_uuid: INSTANCE, mountpoint: '/dev/vdb' } });
    const early = await action(v.id, { 'os-extend': { new_size: 4 } }, '3.41');
    expect(early.statusCode).toBe(400);
    expect(early.json<Json>().badRequest.message).toMatch(new RegExp(`^Invalid volume: Volume ${v.id} status must be '\\{'status': 'available'\\}' to extend, currently in-use\\.`));
    expect((await row(v.id))?.status).toBe('in-use');
  });

  it('extends an in-use volume from 3.42 and tells compute with a volume-extended event per server', async () => {
    const v = await create();
    await action(v.id, { 'os-attach': { instance_uuid: INSTANCE, mountpoint: '/dev/vdb' } });
    events.length = 0;
    expect((await action(v.id, { 'os-extend': { new_size: 2 } }, '3.42')).statusCode).toBe(202);
    expect(await row(v.id)).toMatchObject({ size: 2, status: 'in-use' });
    expect(events).toEqual([[{ name: 'volume-extended', server_uuid: INSTANCE, tag: v.id }]]);
  });

  it('a failed backend extend leaves error_extending, the old size and no reservation', async () => {
    const v = await create();
    fake().failNext = 'extendVolume';
    expect((await action(v.id, { 'os-extend': { new_size: 5 } })).statusCode).toBe(202);
    expect(await row(v.id)).toMatchObject({ size: 1, status: 'error_extending' });
    const q = (await req('GET', `/os-quota-sets/${(await row(v.id))!.project_id}?usage=true`)).json<Json>().quota_set;
    expect(q.gigabytes.reserved).toBe(0);
  });

  it('snapshots: create, list, show, update, metadata, delete; in-use needs force before 3.66', async () => {
    const v = await create({ size: 2, name: 'src' });
    const s = await snapshot(v.id, { description: 'd', metadata: { k: 'v' } });
    expect(s).toMatchObject({ volume_id: v.id, size: 2, status: 'available', name: 's', description: 'd', metadata: { k: 'v' } });
    expect(fake().hasSnapshot(s.id)).toBe(true);
    const shown = (await req('GET', `/snapshots/${s.id}`)).json<Json>().snapshot;
    expect(shown).toMatchObject({ 'os-extended-snapshot-attributes:progress': '100%', user_id: expect.any(String), group_snapshot_id: null, consumes_quota: true });
    expect((await req('GET', `/snapshots?volume_id=${v.id}`)).json<Json>().snapshots.map((x: Json) => x.id)).toEqual([s.id]);
    expect((await req('GET', '/snapshots/detail?status=error')).json<Json>().snapshots).toEqual([]);
    expect((await req('PUT', `/snapshots/${s.id}`, { snapshot: { name: 'renamed' } })).json<Json>().snapshot.name).toBe('renamed');
    expect((await req('POST', `/snapshots/${s.id}/metadata`, { metadata: { a: 'b' } })).json()).toEqual({ metadata: { k: 'v', a: 'b' } });
    expect((await req('DELETE', `/snapshots/${s.id}/metadata/k`)).statusCode).toBe(200);
    expect((await req('GET', `/snapshots/${s.id}/metadata`)).json()).toEqual({ metadata: { a: 'b' } });

    await action(v.id, { 'os-attach': { instance_uuid: INSTANCE, mountpoint: '/dev/vdb' } });
    const refused = await req('POST', '/snapshots', { snapshot: { volume_id: v.id } }, '3.65');
    expect(refused.json<Json>().badRequest.message).toMatch(new RegExp(`^Invalid volume: Volume ${v.id} status must be available, but current status is: in-use\\.`));
    expect((await req('POST', '/snapshots', { snapshot: { volume_id: v.id, force: true } }, '3.65')).statusCode).toBe(202);
    expect((await req('POST', '/snapshots', { snapshot: { volume_id: v.id } }, '3.66')).statusCode).toBe(202);
    expect((await req('POST', '/snapshots', { snapshot: { volume_id: v.id, force: false } }, '3.66')).json<Json>().badRequest.message).toMatch(/^Since microversion 3\.66 the 'force' flag is invalid/);

    expect((await req('DELETE', `/snapshots/${s.id}`)).statusCode).toBe(202);
    expect((await req('GET', `/snapshots/${s.id}`)).statusCode).toBe(404);
    expect(fake().hasSnapshot(s.id)).toBe(false);
  });

  it("a snapshot's status machine: error_deleting when the backend fails, reset and force delete by admins", async () => {
    const v = await create();
    const s = await snapshot(v.id);
    fake().failNext = 'deleteSnapshot';
    expect((await req('DELETE', `/snapshots/${s.id}`)).statusCode).toBe(202);
    expect((await req('GET', `/snapshots/${s.id}`)).json<Json>().snapshot.status).toBe('error_deleting');
    const again = await req('DELETE', `/snapshots/${s.id}`);
    expect(again.json<Json>().badRequest.message).toMatch(/^Invalid snapshot: Snapshot status must be available or error/);
    expect((await req('POST', `/snapshots/${s.id}/action`, { 'os-reset_status': { status: 'nonsense' } })).statusCode).toBe(400);
    expect((await req('POST', `/snapshots/${s.id}/action`, { 'os-reset_status': { status: 'error' } })).statusCode).toBe(202);
    expect((await req('POST', `/snapshots/${s.id}/action`, { 'os-force_delete': {} })).statusCode).toBe(202);
    expect((await req('GET', `/snapshots/${s.id}`)).statusCode).toBe(404);
  });

  it("volumes from a snapshot and from a source hold the origin's data; 404 for a missing one", async () => {
    const v = await create({ size: 2, volume_type: 'multiattach' });
    const s = await snapshot(v.id);
    const fromSnap = await create({ snapshot_id: s.id, name: 'from-snap' });
    expect(fromSnap).toMatchObject({ size: 2, snapshot_id: s.id, source_volid: null, volume_type: 'multiattach', status: 'available' });
    expect(fake().volume(fromSnap.id)?.data).toBe(v.id);
    const clone = await create({ source_volid: fromSnap.id, size: 3 });
    expect(clone).toMatchObject({ size: 3, source_volid: fromSnap.id, status: 'available' });
    expect(fake().volume(clone.id)).toEqual({ size: 3, data: v.id });

    const missing = '00000000-0000-4000-8000-00000000abcd';
    expect((await req('POST', '/volumes', { volume: { snapshot_id: missing } })).json()).toEqual({ itemNotFound: { code: 404, message: `Snapshot ${missing} could not be found.` } });
    expect((await req('POST', '/volumes', { volume: { source_volid: missing } })).json()).toEqual({ itemNotFound: { code: 404, message: `Volume ${missing} could not be found.` } });
    const small = await req('POST', '/volumes', { volume: { snapshot_id: s.id, size: 1 } });
    expect(small.json<Json>().badRequest.message).toMatch(/^Invalid input received: Volume size '1'GB cannot be smaller than the snapshot size 2GB\./);
    expect((await req('POST', '/volumes', { volume: { size: 1, multiattach: true } })).json<Json>().badRequest.message).toMatch(/^multiattach parameter has been removed/);
  });

  it('delete: refused with snapshots, cascade takes them; force takes a volume stuck attaching', async () => {
    const v = await create();
    const s = await snapshot(v.id);
    const plain = await req('DELETE', `/volumes/${v.id}`);
    expect(plain.statusCode).toBe(400);
    expect((await req('DELETE', `/volumes/${v.id}?cascade=true`)).statusCode).toBe(202);
    expect(await row(v.id)).toBeUndefined();
    expect((await req('GET', `/snapshots/${s.id}`)).statusCode).toBe(404);

    const stuck = await create();
    expect((await action(stuck.id, { 'os-reserve': null })).statusCode).toBe(202);
    expect((await row(stuck.id))?.status).toBe('attaching');
    expect((await req('DELETE', `/volumes/${stuck.id}`)).statusCode).toBe(400);
    expect((await action(stuck.id, { 'os-force_delete': {} })).statusCode).toBe(202);
    expect(await row(stuck.id)).toBeUndefined();
    expect(fake().volume(stuck.id)).toBeUndefined();
  });

  it('a double os-reserve is a 400; os-attach straight from available succeeds', async () => {
    const v = await create();
    expect((await action(v.id, { 'os-reserve': {} })).statusCode).toBe(202);
    const second = await action(v.id, { 'os-reserve': {} });
    expect(second.statusCode).toBe(400);
    expect(second.json<Json>().badRequest.message).toMatch(/^Invalid volume: Volume status must be available to reserve, but the status is attaching\./);
    const w = await create();
    expect((await action(w.id, { 'os-attach': { instance_uuid: INSTANCE, mountpoint: '/dev/vdc' } })).statusCode).toBe(202);
    expect(await row(w.id)).toMatchObject({ status: 'in-use', attach_status: 'attached' });
    // The same instance again changes nothing; another is refused on a non-multiattach volume.
    expect((await action(w.id, { 'os-attach': { instance_uuid: INSTANCE, mountpoint: '/dev/vdc' } })).statusCode).toBe(202);
    const other = await action(w.id, { 'os-attach': { instance_uuid: '22222222-3333-4444-5555-666666666666', mountpoint: '/dev/vdd' } });
    expect(other.json<Json>().badRequest.message).toMatch(/^Invalid volume: volume is already attached and multiple attachments are not enabled/);
    expect((await req('GET', `/volumes/${w.id}`)).json<Json>().volume.attachments).toHaveLength(1);
  });

  it('read-only end to end: flag while available, ro connection_info and attachments, rw attach refused', async () => {
    const v = await create();
    expect((await action(v.id, { 'os-update_readonly_flag': { readonly: 'true' } })).statusCode).toBe(202);
    expect((await req('GET', `/volumes/${v.id}`)).json<Json>().volume.metadata).toEqual({ readonly: 'True' });
    const legacy = await action(v.id, { 'os-initialize_connection': { connector: CONNECTOR } });
    expect(legacy.json<Json>().connection_info.data.access_mode).toBe('ro');
    const att = await req('POST', '/attachments', { attachment: { volume_uuid: v.id, instance_uuid: INSTANCE, connector: CONNECTOR, mode: 'rw' } });
    expect(att.json<Json>().attachment).toMatchObject({ attach_mode: 'ro', connection_info: { data: { access_mode: 'ro' } } });
    await req('POST', `/attachments/${att.json<Json>().attachment.id}/action`, { 'os-complete': null });
    expect((await req('GET', `/volumes/${v.id}`)).json<Json>().volume.metadata).toEqual({ readonly: 'True', attached_mode: 'ro' });
    const inUse = await action(v.id, { 'os-update_readonly_flag': { readonly: false } });
    expect(inUse.json<Json>().badRequest.message).toMatch(new RegExp(`^Invalid volume: Volume ${v.id} status must be available to update readonly flag, but current status is: in-use\\.`));

    const w = await create();
    await action(w.id, { 'os-update_readonly_flag': { readonly: true } });
    expect((await action(w.id, { 'os-attach': { instance_uuid: INSTANCE, mountpoint: '/dev/vdb', mode: 'ro' } })).statusCode).toBe(202);
  });

  it('bootable; retype moves the per-type quota and refuses the same type and another backend', async () => {
    const v = await create();
    const b = await action(v.id, { 'os-set_bootable': { bootable: true } });
    expect(b.statusCode).toBe(200);
    expect((await req('GET', `/volumes/${v.id}`)).json<Json>().volume.bootable).toBe('true');
    expect((await action(v.id, { 'os-set_bootable': { bootable: 'maybe' } })).statusCode).toBe(400);

    const gold = (await req('POST', '/types', { volume_type: { name: 'gold' } })).json<Json>().volume_type;
    expect((await action(v.id, { 'os-retype': { new_type: 'gold' } })).statusCode).toBe(202);
    expect((await req('GET', `/volumes/${v.id}`)).json<Json>().volume).toMatchObject({ volume_type: 'gold', volume_type_id: gold.id });
    const project = (await row(v.id))!.project_id;
    const q = (await req('GET', `/os-quota-sets/${project}?usage=true`)).json<Json>().quota_set;
    expect(q.volumes_gold.in_use).toBe(1);
    expect((await action(v.id, { 'os-retype': { new_type: 'gold' } })).json<Json>().badRequest.message).toMatch(/^Invalid volume: Retype needs volume to be in available or in-use state/);
    await req('POST', '/types', { volume_type: { name: 'elsewhere', extra_specs: { volume_backend_name: 'lvm-2' } } });
    expect((await action(v.id, { 'os-retype': { new_type: 'elsewhere' } })).statusCode).toBe(400);
    expect((await action(v.id, { 'os-retype': { new_type: 'nope' } })).statusCode).toBe(404);
    // volume_backend_name honoured at create: no backend fits, the volume ends in error as Cinder's would.
    expect((await create({ size: 1, volume_type: 'elsewhere' })).status).toBe('error');
  });
});
