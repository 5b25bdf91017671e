/**
 * The volume status machine through the HTTP API, on SQLite and PostgreSQL: the legacy flow,
 * the attachments flow, multiattach, and races that must have exactly one winner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type HitchTestApp } from '../../src/test-support/build-app.ts';
import { describeEachDialect } from '../../src/test-support/dialects.ts';
import type { FakeBackend } from '../../src/test-support/fake-backend.ts';
import { headers, token } from './test-helpers.ts';

const INSTANCE = '11111111-2222-3333-4444-555555555555';
const INSTANCE2 = '22222222-3333-4444-5555-666666666666';
const CONNECTOR = { initiator: 'iqn.1993-08.org.debian:01:abcdef', ip: '127.0.0.1', host: 'compute1', multipath: true, platform: 'x86_64', os_type: 'linux' };

describeEachDialect('volume status machine', (ctx) => {
  let t: HitchTestApp;
  let H: Record<string, string>;
  let P: string;

  beforeAll(async () => {
    t = await buildApp({ dbUrl: await ctx.freshUrl() });
    const a = await token(t);
    H = headers(a.token);
    P = `/volume/v3/${a.projectId}`;
  });
  afterAll(async () => t?.close());

  const create = async (body: Record<string, unknown> = {}) => {
    const r = await t.app.inject({ method: 'POST', url: `${P}/volumes`, headers: H, payload: { volume: { size: 1, ...body } } });
    expect(r.statusCode).toBe(202);
    return r.json<{ volume: { id: string } }>().volume.id;
  };
  const status = async (id: string) => (await t.app.inject({ method: 'GET', url: `${P}/volumes/${id}`, headers: H })).json<{ volume: { status: string; attachments: unknown[] } }>().volume;
  const action = (id: string, body: unknown) => t.app.inject({ method: 'POST', url: `${P}/volumes/${id}/action`, headers: H, payload: body as Record<string, unknown> });

  it('legacy flow: reserve → initialize → attach → begin_detaching → terminate → detach', async () => {
    const id = await create();
    expect((await action(id, { 'os-reserve': null })).statusCode).toBe(202);
    expect((await status(id)).status).toBe('attaching');
    const init = await action(id, { 'os-initialize_connection': { connector: CONNECTOR } });
    expect(init.statusCode).toBe(200);
    const info = init.json<{ connection_info: { driver_volume_type: string; data: Record<string, unknown> } }>().connection_info;
    expect(info.driver_volume_type).toBe('iscsi');
    expect(info.data.target_portals).toHaveLength(2);
    expect((t.backend as FakeBackend).exportsOf(id)).toEqual([CONNECTOR.initiator]);
    expect((await action(id, { 'os-attach': { mountpoint: '/dev/vdb', mode: 'rw', instance_uuid: INSTANCE } })).statusCode).toBe(202);
    const inUse = await status(id);
    expect(inUse.status).toBe('in-use');
    expect(inUse.attachments).toHaveLength(1);
    expect((await action(id, { 'os-begin_detaching': null })).statusCode).toBe(202);
    expect((await status(id)).status).toBe('detaching');
    expect((await action(id, { 'os-terminate_connection': { connector: CONNECTOR } })).statusCode).toBe(202);
    expect((t.backend as FakeBackend).exportsOf(id)).toEqual([]);
    expect((await action(id, { 'os-detach': { attachment_id: null } })).statusCode).toBe(202);
    expect(await status(id)).toMatchObject({ status: 'available', attachments: [] });
  });

  it('unreserve and roll_detaching undo their step', async () => {
    const id = await create();
    await action(id, { 'os-reserve': null });
    await action(id, { 'os-unreserve': null });
    expect((await status(id)).status).toBe('available');
    await action(id, { 'os-reserve': null });
    await action(id, { 'os-attach': { mountpoint: '/dev/vdb', instance_uuid: INSTANCE } });
    await action(id, { 'os-begin_detaching': null });
    await action(id, { 'os-roll_detaching': null });
    expect((await status(id)).status).toBe('in-use');
  });

  it('attachments flow: create (reserved) → update (attaching) → complete (in-use) → delete (available)', async () => {
    const id = await create();
    const H44 = headers(H['x-auth-token'] as string, '3.44');
    const c = await t.app.inject({ method: 'POST', url: `${P}/attachments`, headers: H44, payload: { attachment: { volume_uuid: id, instance_uuid: INSTANCE } } });
    expect(c.statusCode).toBe(200);
    const att = c.json<{ attachment: { id: string; status: string } }>().attachment;
    expect(att.status).toBe('reserved');
    expect((await status(id)).status).toBe('reserved');
    const u = await t.app.inject({ method: 'PUT', url: `${P}/attachments/${att.id}`, headers: H44, payload: { attachment: { connector: CONNECTOR } } });
    expect(u.statusCode).toBe(200);
    expect(u.json<{ attachment: { status: string; connection_info: { data: { target_iqn: string } } } }>().attachment).toMatchObject({ status: 'attaching', connection_info: { data: { target_iqn: `iqn.2010-10.org.openstack:volume-${id}` } } });
    expect((await status(id)).status).toBe('attaching');
    const done = await t.app.inject({ method: 'POST', url: `${P}/attachments/${att.id}/action`, headers: H44, payload: { 'os-complete': null } });
    expect(done.statusCode).toBe(204);
    const v = await status(id);
    expect(v.status).toBe('in-use');
    expect(v.attachments).toHaveLength(1);
    const d = await t.app.inject({ method: 'DELETE', url: `${P}/attachments/${att.id}`, headers: H44 });
    expect(d.statusCode).toBe(200);
    expect(d.json()).toEqual({ attachments: [] });
    expect((await status(id)).status).toBe('available');
    expect((t.backend as FakeBackend).exportsOf(id)).toEqual([]);
  });

  it('a non-multiattach volume takes one attachment; a multiattach one takes two', async () => {
    const single = await create();
    const multi = await create({ volume_type: 'multiattach' });
    const H44 = headers(H['x-auth-token'] as string, '3.44');
    const attach = (vol: string, inst: string) => t.app.inject({ method: 'POST', url: `${P}/attachments`, headers: H44, payload: { attachment: { volume_uuid: vol, instance_uuid: inst, connector: CONNECTOR } } });
    expect((await attach(single, INSTANCE)).statusCode).toBe(200);
    const second = await attach(single, INSTANCE2);
    // Cinder's InvalidVolume: 400, with the statuses it wanted.
    expect(second.statusCode).toBe(400);
    expect(second.json()).toHaveProperty('badRequest.code', 400);
    expect(second.json<{ badRequest: { message: string } }>().badRequest.message).toBe(`Invalid volume: Volume ${single} status must be available or downloading to reserve, but the current status is attaching.`);
    expect((await attach(multi, INSTANCE)).statusCode).toBe(200);
    expect((await attach(multi, INSTANCE2)).statusCode).toBe(200);
  });

  it('a volume with an attachment cannot be deleted', async () => {
    const id = await create();
    await action(id, { 'os-reserve': null });
    await action(id, { 'os-attach': { mountpoint: '/dev/vdb', instance_uuid: INSTANCE } });
    const r = await t.app.inject({ method: 'DELETE', url: `${P}/volumes/${id}`, headers: H });
    expect(r.statusCode).toBe(400);
    expect(r.json<{ badRequest: { message: string } }>().badRequest.message).toMatch(/^Invalid volume: Volume status must be available/);
    expect((await status(id)).status).toBe('in-use');
  });

  it("50 concurrent reserves of one volume: exactly one winner and 49 of Cinder's 400s", async () => {
    const id = await create();
    const results = await Promise.all(Array.from({ length: 50 }, () => action(id, { 'os-reserve': null })));
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes.filter((c) => c === 202)).toHaveLength(1);
    expect(codes.filter((c) => c === 400)).toHaveLength(49);
    for (const r of results.filter((x) => x.statusCode === 400)) {
      expect(r.json()).toEqual({ badRequest: { code: 400, message: 'Invalid volume: Volume status must be available to reserve, but the status is attaching.' } });
    }
    expect((await status(id)).status).toBe('attaching');
  });

  it('50 concurrent reserves over real HTTP on loopback: one 202, 49 400s', async () => {
    const id = await create();
    const url = t.url || (await t.listen());
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        fetch(`${url}${P}/volumes/${id}/action`, { method: 'POST', headers: { ...H, 'content-type': 'application/json' }, body: '{"os-reserve": null}' }).then(async (r) => ({ status: r.status, body: await r.text() })),
      ),
    );
    expect(results.filter((r) => r.status === 202)).toHaveLength(1);
    expect(results.filter((r) => r.status === 400)).toHaveLength(49);
    expect((await status(id)).status).toBe('attaching');
  });

  it('50 concurrent attachment creates on one volume: exactly one attachment exists', async () => {
    const id = await create();
    const H44 = headers(H['x-auth-token'] as string, '3.44');
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        t.app.inject({ method: 'POST', url: `${P}/attachments`, headers: H44, payload: { attachment: { volume_uuid: id, instance_uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` } } }),
      ),
    );
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(1);
    expect(results.filter((r) => r.statusCode === 400)).toHaveLength(49);
    const list = await t.app.inject({ method: 'GET', url: `${P}/attachments?volume_id=${id}`, headers: H44 });
    expect(list.json<{ attachments: unknown[] }>().attachments).toHaveLength(1);
  });
});

describe('describeEachDialect', () => {
  it('covers both dialects (see the describe names above)', () => {
    expect(['sqlite', 'postgres']).toHaveLength(2);
  });
});
