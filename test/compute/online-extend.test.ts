/**
 * Online extend, compute's side, on the all-in-one cloud over the simulated data plane: the array
 * grows the LUN of an attached volume, block storage sends Nova's `volume-extended` event, and the
 * server's host rescans its paths, resizes the map and grows the guest's disk — each a step of an
 * `extend_volume` instance action named by the event's request id. The simulator holds the host
 * to the kernel: nothing grows before the rescan, and QEMU will not grow a disk past the host's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SimHypervisor } from '../../src/sim/sim-hypervisor.ts';
import { startTestCloud, volumeAndServer, type TestCloud } from '../support/cloud.ts';

const GiB = 1024 ** 3;
const MV = { 'OpenStack-API-Version': 'compute 2.51' };

describe('online extend: the volume-extended event', () => {
  let t: TestCloud | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function attached() {
    t = await startTestCloud();
    const vs = await volumeAndServer(t);
    const a = await t.api('POST', `/compute/v2.1/servers/${vs.serverId}/os-volume_attachments`, { token: vs.token, body: { volumeAttachment: { volumeId: vs.volumeId } } });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    await t.cloud.settle();
    const admin = (await t.token('admin')).token;
    const hv = t.cloud.hosts[0]!.hypervisor as SimHypervisor;
    const guestDisk = () => hv.domains()[0]!.liveDisks.find((d) => d.target === a.body.volumeAttachment.device.replace('/dev/', ''));
    const iqn = `iqn.2010-10.org.openstack:volume-${vs.volumeId}`;
    const array = t.cloud.sim!.arrays().find((x) => x.targets().some((tg) => tg.iqn === iqn))!;
    const hostMap = () => t!.cloud.sim!.host(t!.cloud.hosts[0]!.name).multipath.mapList()[0];
    return { ...vs, admin, hv, guestDisk, grow: (bytes: number) => array.resizeLun(iqn, 1, bytes), hostMap };
  }

  const event = (serverId: string, volumeId: string) => ({ events: [{ name: 'volume-extended', server_uuid: serverId, tag: volumeId }] });

  it('rescans the host, resizes the map and grows the guest disk; the instance action carries the request id', async () => {
    const r = await attached();
    expect(r.guestDisk()?.guestBytes).toBe(GiB);
    r.grow(3 * GiB);
    const sent = await t!.api('POST', '/compute/v2.1/os-server-external-events', { token: r.admin, headers: MV, body: event(r.serverId, r.volumeId) });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    expect(sent.body.events).toEqual([{ name: 'volume-extended', server_uuid: r.serverId, tag: r.volumeId, status: 'completed', code: 200 }]);
    await t!.cloud.settle();
    expect(r.hostMap()?.capacityBytes).toBe(3 * GiB);
    expect(r.guestDisk()?.guestBytes).toBe(3 * GiB);
    const requestId = String(sent.headers.get('x-openstack-request-id'));
    const actions = await t!.api('GET', `/compute/v2.1/servers/${r.serverId}/os-instance-actions`, { token: r.token });
    expect(actions.body.instanceActions.find((x: { request_id: string }) => x.request_id === requestId)?.action).toBe('extend_volume');
    const op = (await t!.cloud.computeRepository.listOperations(r.serverId, r.volumeId)).find((o) => o.kind === 'extend')!;
    expect(op.state).toBe('done');
    const names = (await t!.cloud.computeRepository.loadSpans(op.id)).map((s) => s.name);
    // The host before the hypervisor: QEMU cannot grow a block disk the host has not grown.
    expect(names.indexOf('extend-host')).toBeGreaterThan(-1);
    expect(names.indexOf('resize-disk')).toBeGreaterThan(names.indexOf('extend-host'));
    expect(names).toEqual(expect.arrayContaining(['rescan-path', 'resize-map', 'virt.resize_disk']));
  });

  it('a guest disk cannot grow before the host has rescanned: the simulated QEMU refuses, as the real one does', async () => {
    const r = await attached();
    r.grow(2 * GiB);
    const e = await r.hv.resizeDisk(r.hv.domains()[0]!.name, r.guestDisk()!.target, 2 * GiB).catch((x: unknown) => x);
    expect(String(e)).toContain('Cannot grow device files');
    expect(r.guestDisk()?.guestBytes).toBe(GiB);
  });

  it('a failure is journalled with its step and puts the volume in error_extending', async () => {
    const r = await attached();
    r.grow(2 * GiB);
    r.hv.injectFault({ op: 'resize' });
    const sent = await t!.api('POST', '/compute/v2.1/os-server-external-events', { token: r.admin, headers: MV, body: event(r.serverId, r.volumeId) });
    expect(sent.status).toBe(200);
    await t!.cloud.settle();
    const op = (await t!.cloud.computeRepository.listOperations(r.serverId, r.volumeId)).find((o) => o.kind === 'extend')!;
    expect(op.state).toBe('rolled_back');
    expect(op.error_message).toContain('block_resize');
    const v = await t!.api('GET', `/volume/v3/${r.projectId}/volumes/${r.volumeId}`, { token: r.token });
    expect(v.body.volume.status).toBe('error_extending');
  });

  it('answers per event as Nova: 207 when some are refused, 404 when none is accepted, 400 before 2.51, 403 for members', async () => {
    const r = await attached();
    const unknown = '0b8fd5f5-5d68-4b5a-9d3f-6d1a3e7d9a01';
    const mixed = await t!.api('POST', '/compute/v2.1/os-server-external-events', {
      token: r.admin,
      headers: MV,
      body: { events: [{ name: 'network-changed', server_uuid: r.serverId }, { name: 'volume-extended', server_uuid: unknown, tag: r.volumeId }, { name: 'volume-extended', server_uuid: r.serverId, tag: unknown }] },
    });
    expect(mixed.status, JSON.stringify(mixed.body)).toBe(207);
    expect(mixed.body.events.map((e: { code: number; status: string }) => [e.code, e.status])).toEqual([
      [200, 'completed'],
      [404, 'failed'],
      [422, 'failed'],
    ]);
    const none = await t!.api('POST', '/compute/v2.1/os-server-external-events', { token: r.admin, headers: MV, body: event(unknown, r.volumeId) });
    expect(none.status).toBe(404);
    const old = await t!.api('POST', '/compute/v2.1/os-server-external-events', { token: r.admin, headers: { 'OpenStack-API-Version': 'compute 2.50' }, body: event(r.serverId, r.volumeId) });
    expect(old.status).toBe(400);
    const member = await t!.api('POST', '/compute/v2.1/os-server-external-events', { token: r.token, headers: MV, body: event(r.serverId, r.volumeId) });
    expect(member.status).toBe(403);
  });
});
