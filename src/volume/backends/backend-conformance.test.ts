/**
 * One conformance suite for every VolumeBackend: what the service relies on, whatever stores
 * the bytes. Each implementation supplies a probe that says whether an initiator can see the
 * volume's LUN.
 */
import { describe, expect, it } from 'vitest';
import { Simulation } from '../../sim/simulation.ts';
import type { BackendVolume, VolumeBackend } from '../../ports/volume-backend.ts';
import { FakeBackend } from '../../test-support/fake-backend.ts';
import { SimBackend } from '../../sim/sim-backend.ts';
import { parseConnector } from '../connector.ts';
import { iscsiData } from '../../test-support/iscsi-info.ts';

interface Subject {
  readonly backend: VolumeBackend;
  visible(volumeId: string, providerLocation: string | null, initiator: string): boolean;
  /** The size of the volume's LUN as the storage has it, GiB. */
  sizeGiB(providerLocation: string | null, volumeId: string): number | undefined;
  /** Whether the storage still holds this snapshot's copy. */
  hasSnapshot(providerLocation: string | null, snapshotId: string): boolean;
}

const cases: Record<string, () => Subject> = {
  fake: () => {
    const b = new FakeBackend();
    return {
      backend: b,
      visible: (id, _loc, ini) => b.exportsOf(id).includes(ini),
      sizeGiB: (_loc, id) => b.volume(id)?.size,
      hasSnapshot: (_loc, id) => b.hasSnapshot(id),
    };
  },
  sim: () => {
    const sim = Simulation.create('healthy-multipath');
    const b = new SimBackend({ sim });
    return {
      backend: b,
      visible: (_id, loc, ini) => {
        const l = JSON.parse(loc ?? '{}') as { array: string; iqn: string };
        return sim.array(l.array).visibleLuns(l.iqn, ini).length > 0;
      },
      sizeGiB: (loc) => {
        const l = JSON.parse(loc ?? '{}') as { array: string; iqn: string; lun: number };
        const lun = sim.array(l.array).target(l.iqn)?.luns.get(l.lun);
        return lun && lun.sizeBytes / 1024 ** 3;
      },
      hasSnapshot: (loc) => {
        const l = JSON.parse(loc ?? '{}') as { array: string; iqn: string };
        return sim.array(l.array).target(l.iqn) !== undefined;
      },
    };
  },
};

const INI = 'iqn.1993-08.org.debian:01:compute1';
const OTHER = 'iqn.1993-08.org.debian:01:compute2';
const ID = '132bc10b-6826-4624-9039-370037bf32d9';

for (const [name, make] of Object.entries(cases)) {
  describe(`VolumeBackend conformance [${name}]`, () => {
    const setup = async () => {
      const s = make();
      const { providerLocation } = await s.backend.createVolume({ id: ID, size: 1 });
      const vol: BackendVolume = { id: ID, size: 1, providerLocation };
      return { s, vol };
    };

    it('exports only to the connector that asked, with CHAP, single path', async () => {
      const { s, vol } = await setup();
      const info = await s.backend.initializeConnection(vol, { initiator: INI, host: 'compute1', multipath: false });
      if (info.driver_volume_type !== 'iscsi') throw new Error(`expected iscsi, got ${info.driver_volume_type}`);
      expect(info.data).toMatchObject({ target_iqn: `iqn.2010-10.org.openstack:volume-${ID}`, target_discovered: false, auth_method: 'CHAP', volume_id: ID });
      expect(typeof info.data.target_portal).toBe('string');
      expect(typeof info.data.target_lun).toBe('number');
      expect(info.data.target_portals).toBeUndefined();
      expect(s.visible(ID, vol.providerLocation, INI)).toBe(true);
      expect(s.visible(ID, vol.providerLocation, OTHER)).toBe(false);
    });

    it('lists every portal for a multipath connector ("True" as cinderclient sends it)', async () => {
      const { s, vol } = await setup();
      const info = await s.backend.initializeConnection(vol, parseConnector({ initiator: INI, multipath: 'True' }));
      if (info.driver_volume_type !== 'iscsi') throw new Error(`expected iscsi, got ${info.driver_volume_type}`);
      const portals = info.data.target_portals ?? [];
      expect(portals.length).toBeGreaterThanOrEqual(1);
      expect(portals[0]).toBe(info.data.target_portal);
      expect(info.data.target_iqns).toHaveLength(portals.length);
      expect(info.data.target_luns).toEqual(portals.map(() => info.data.target_lun));
    });

    it('keeps CHAP credentials stable per volume', async () => {
      const { s, vol } = await setup();
      const a = await s.backend.initializeConnection(vol, { initiator: INI, multipath: false });
      const b = await s.backend.initializeConnection(vol, { initiator: OTHER, multipath: false });
      expect([iscsiData(a).auth_username, iscsiData(a).auth_password]).toEqual([iscsiData(b).auth_username, iscsiData(b).auth_password]);
    });

    it('terminate revokes that initiator only; null revokes everyone; both idempotent', async () => {
      const { s, vol } = await setup();
      await s.backend.initializeConnection(vol, { initiator: INI, multipath: false });
      await s.backend.initializeConnection(vol, { initiator: OTHER, multipath: false });
      await s.backend.terminateConnection(vol, { initiator: INI, multipath: false });
      await s.backend.terminateConnection(vol, { initiator: INI, multipath: false });
      expect(s.visible(ID, vol.providerLocation, INI)).toBe(false);
      expect(s.visible(ID, vol.providerLocation, OTHER)).toBe(true);
      await s.backend.terminateConnection(vol, null);
      expect(s.visible(ID, vol.providerLocation, OTHER)).toBe(false);
    });

    it('rejects a connector without an initiator with a 400', async () => {
      const { s, vol } = await setup();
      await expect(s.backend.initializeConnection(vol, { host: 'compute1', multipath: false })).rejects.toMatchObject({ status: 400 });
    });

    it('extend grows the LUN, keeps the export, and a re-run converges', async () => {
      const { s, vol } = await setup();
      await s.backend.initializeConnection(vol, { initiator: INI, multipath: false });
      await s.backend.extendVolume(vol, 3);
      await s.backend.extendVolume(vol, 3);
      expect(s.sizeGiB(vol.providerLocation, ID)).toBe(3);
      expect(s.visible(ID, vol.providerLocation, INI)).toBe(true);
    });

    it('a snapshot is exported to nobody; volumes from it and clones are new LUNs of their size', async () => {
      const { s, vol } = await setup();
      await s.backend.initializeConnection(vol, { initiator: INI, multipath: false });
      const snapId = '2f0c1d9e-7b4a-4c3e-9f21-6a5b4c3d2e1f';
      const snap = await s.backend.createSnapshot({ id: snapId, size: 1 }, vol);
      expect(s.hasSnapshot(snap.providerLocation, snapId)).toBe(true);
      const fromId = '3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
      const from = await s.backend.createVolumeFromSnapshot({ id: fromId, size: 2 }, { id: snapId, size: 1, volumeId: ID, providerLocation: snap.providerLocation });
      expect(s.sizeGiB(from.providerLocation, fromId)).toBe(2);
      expect(s.visible(fromId, from.providerLocation, INI)).toBe(false);
      const cloneId = '4b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e';
      const clone = await s.backend.createClonedVolume({ id: cloneId, size: 1 }, vol);
      expect(s.sizeGiB(clone.providerLocation, cloneId)).toBe(1);
      // The source keeps its export; deleting the snapshot leaves the volume made from it.
      expect(s.visible(ID, vol.providerLocation, INI)).toBe(true);
      await s.backend.deleteSnapshot({ id: snapId, size: 1, volumeId: ID, providerLocation: snap.providerLocation });
      await s.backend.deleteSnapshot({ id: snapId, size: 1, volumeId: ID, providerLocation: snap.providerLocation });
      expect(s.hasSnapshot(snap.providerLocation, snapId)).toBe(false);
      expect(s.sizeGiB(from.providerLocation, fromId)).toBe(2);
    });

    it('reports its pool: total and free after what is allocated', async () => {
      const { s } = await setup();
      const c = await s.backend.capacity(10);
      expect(c.totalGiB).toBeGreaterThan(10);
      expect(c.freeGiB).toBe((c.totalGiB ?? 0) - 10);
      expect(typeof s.backend.backendName).toBe('string');
    });

    it('delete removes the export and is idempotent', async () => {
      const { s, vol } = await setup();
      await s.backend.initializeConnection(vol, { initiator: INI, multipath: false });
      await s.backend.deleteVolume(vol);
      await s.backend.deleteVolume(vol);
      expect(s.visible(ID, vol.providerLocation, INI)).toBe(false);
    });
  });
}
