/**
 * Multiattach, checked: three servers on two compute hosts share one multiattach volume. A host
 * connects the volume once however many of its servers use it (one set of iSCSI sessions, one
 * multipath map), keeps that connection until the last attachment on the host leaves — in every
 * order of detaching — and the storage side keeps the host's export as long (Cinder's rule: an
 * initiator's export stays while another attachment of the volume has that initiator).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TINY_IMAGE_ID } from '../../src/compute/images.ts';
import { inspectHost } from '../../src/sim/inspect.ts';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';

const MV = { 'OpenStack-API-Version': 'compute 2.74' };

/** Every order of detaching three servers. */
function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

describe('a multiattach volume on three servers on two hosts', () => {
  let t: TestCloud | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function setup(): Promise<{ admin: string; volumeId: string; servers: Record<'a' | 'b' | 'c', { id: string; host: string }> }> {
    t = await startTestCloud({ scenario: 'three-hosts' });
    const admin = (await t.token('admin')).token;
    const v = await t.api('POST', '/volume/v3/volumes', { token: admin, body: { volume: { size: 1, name: 'shared', volume_type: 'multiattach' } } });
    expect(v.status, JSON.stringify(v.body)).toBe(202);
    expect(v.body.volume.multiattach).toBe(true);
    const place = async (name: string, host: string) => {
      const r = await t!.api('POST', '/compute/v2.1/servers', { token: admin, headers: MV, body: { server: { name, imageRef: TINY_IMAGE_ID, flavorRef: '1', networks: 'none', host } } });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      return { id: r.body.server.id as string, host };
    };
    const servers = { a: await place('a', 'compute-1'), b: await place('b', 'compute-1'), c: await place('c', 'compute-2') };
    await t.cloud.settle();
    return { admin, volumeId: v.body.volume.id, servers };
  }

  /** The volume's footprint on a host: its sessions, disks and maps. */
  function footprint(host: string, volumeId: string) {
    const h = inspectHost(t!.cloud.sim!.host(host));
    const sessions = h.sessions.filter((s) => s.target.endsWith(volumeId));
    const disks = h.disks.filter((d) => d.target.endsWith(volumeId));
    const wwns = new Set(disks.map((d) => d.wwn));
    const maps = h.maps.filter((m) => wwns.has(m.wwn));
    return { sessions: sessions.length, disks: disks.length, maps: maps.length };
  }

  /** The array's export of the volume to each host's initiator. */
  function exportedTo(volumeId: string): string[] {
    return t!.cloud.sim!.arrays().flatMap((a) => a.exports()).filter((e) => e.target.endsWith(volumeId)).flatMap((e) => e.acls.map((a) => a.initiator)).sort();
  }

  async function attach(admin: string, serverId: string, volumeId: string): Promise<void> {
    const r = await t!.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token: admin, headers: { 'OpenStack-API-Version': 'compute 2.60' }, body: { volumeAttachment: { volumeId } } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    await t!.cloud.settle();
  }

  async function detach(admin: string, serverId: string, volumeId: string): Promise<void> {
    const r = await t!.api('DELETE', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}`, { token: admin });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    await t!.cloud.settle();
  }

  it('needs microversion 2.60 to attach it, as Nova', async () => {
    const { admin, volumeId, servers } = await setup();
    const r = await t!.api('POST', `/compute/v2.1/servers/${servers.a.id}/os-volume_attachments`, { token: admin, body: { volumeAttachment: { volumeId } } });
    expect(r.status).toBe(400);
    expect(r.body.badRequest.message).toBe('Multiattach volumes are only supported starting with compute API version 2.60.');
  });

  for (const order of permutations(['a', 'b', 'c'] as const)) {
    it(`connects once per host and keeps each host's connection until its last server detaches (${order.join(', ')})`, async () => {
      const { admin, volumeId, servers } = await setup();
      for (const s of ['a', 'b', 'c'] as const) await attach(admin, servers[s].id, volumeId);
      // Every attach completed (none rolled back): three attachments, the volume in-use.
      const v0 = await t!.api('GET', `/volume/v3/volumes/${volumeId}`, { token: admin });
      expect(v0.body.volume.status).toBe('in-use');
      expect(v0.body.volume.attachments.map((a: { server_id: string }) => a.server_id).sort()).toEqual(Object.values(servers).map((x) => x.id).sort());
      const initiator = (h: string) => t!.cloud.sim!.host(h).config.initiator;
      // Two portals: two sessions, two paths, one map on each host — not one set per server.
      expect(footprint('compute-1', volumeId)).toEqual({ sessions: 2, disks: 2, maps: 1 });
      expect(footprint('compute-2', volumeId)).toEqual({ sessions: 2, disks: 2, maps: 1 });
      expect(exportedTo(volumeId)).toEqual([initiator('compute-1'), initiator('compute-2')].sort());
      const attached = new Set<'a' | 'b' | 'c'>(['a', 'b', 'c']);
      for (const s of order) {
        await detach(admin, servers[s].id, volumeId);
        attached.delete(s);
        for (const host of ['compute-1', 'compute-2']) {
          const inUse = [...attached].some((x) => servers[x].host === host);
          expect(footprint(host, volumeId), `${host} after detaching ${s}`).toEqual(inUse ? { sessions: 2, disks: 2, maps: 1 } : { sessions: 0, disks: 0, maps: 0 });
          expect(exportedTo(volumeId).includes(initiator(host)), `export to ${host} after detaching ${s}`).toBe(inUse);
        }
        const v = await t!.api('GET', `/volume/v3/volumes/${volumeId}`, { token: admin });
        expect(v.body.volume.status).toBe(attached.size > 0 ? 'in-use' : 'available');
        expect(v.body.volume.attachments.map((a: { server_id: string }) => a.server_id).sort()).toEqual([...attached].map((x) => servers[x].id).sort());
      }
    });
  }
});
