/**
 * NVMe/TCP through the compute API on the simulator (`nvme-healthy`: an nvmet-like array, native
 * NVMe multipath on the host): attach, then detach — the detach reads back the device_info the
 * attach kept on the mapping (an NVMe head names its namespace, not a SCSI WWN), and leaves the
 * host with no controller, subsystem or namespace device. The storage-host suite's
 * `nvme-api-dead-portal` runs the same calls on a real kernel against the kernel's nvmet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, volumeAndServer, type TestCloud } from '../support/cloud.ts';

describe('NVMe/TCP attach and detach through the compute API (simulator, nvme-healthy)', () => {
  let t: TestCloud;
  beforeAll(async () => {
    t = await startTestCloud({ scenario: 'nvme-healthy' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('attaches the native multipath head, detaches to available, and leaves nothing on the host', async () => {
    const { token, volumeId, serverId } = await volumeAndServer(t);
    const a = await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token, body: { volumeAttachment: { volumeId } } });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    await t.cloud.settle();
    expect((await t.api('GET', `/volume/v3/volumes/${volumeId}`, { token })).body.volume.status).toBe('in-use');
    const bdm = await t.cloud.computeRepository.getBdm(serverId, volumeId);
    expect(JSON.parse(bdm?.connection_info ?? '{}').driver_volume_type).toBe('nvmeof');
    const device = JSON.parse(bdm?.device_info ?? '{}');
    expect(device.path).toMatch(/^\/dev\/nvme\d+n\d+$/);
    expect(device.nvme_ns).toBe(volumeId);
    expect(device.scsi_wwn).toBeUndefined();

    const d = await t.api('DELETE', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}`, { token });
    expect(d.status).toBe(202);
    await t.cloud.settle();
    const op = (await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}/trace`, { token })).body.operations.find((o: { kind: string }) => o.kind === 'detach');
    expect(op.state, JSON.stringify(op.error)).toBe('done');
    expect((await t.api('GET', `/volume/v3/volumes/${volumeId}`, { token })).body.volume.status).toBe('available');
    const vfs = t.cloud.sim?.host('compute-1').vfs;
    expect(vfs?.readdir('/sys/class/nvme')).toEqual([]);
    expect(vfs?.readdir('/sys/class/nvme-subsystem')).toEqual([]);
    expect(vfs?.readdir('/sys/class/block').filter((b) => b.startsWith('nvme'))).toEqual([]);
  });
});
