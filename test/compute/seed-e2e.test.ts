/**
 * The seed, end to end: on the `seed` scenario (portal 192.168.1.59 dead with a 120 s login
 * timeout, 192.168.1.60 healthy), create a volume and a server and attach through the real HTTP
 * APIs. Nova took 254 s here; Hitch must be usable in the healthy path's time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, volumeAndServer, type TestCloud } from '../support/cloud.ts';

const SEED_XML_SHAPE = [
  '<disk type="block" device="disk">',
  '  <driver name="qemu" type="raw" cache="none" io="native"/>',
  '  <source dev="PATH"/>',
  '  <target bus="virtio" dev="vdb"/>',
  '  <serial>VOLUME</serial>',
  '</disk>',
].join('\n');

describe('the seed scenario through the HTTP APIs', () => {
  let t: TestCloud;
  beforeAll(async () => {
    t = await startTestCloud({ scenario: 'seed' });
  });
  afterAll(async () => t?.close());

  it('attaches at the healthy-path floor, records the nine steps, and detaches leaving nothing', async () => {
    const { token, volumeId, serverId } = await volumeAndServer(t);
    const sim = t.cloud.sim!;

    const post = await t.api('POST', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, {
      token,
      body: { volumeAttachment: { volumeId } },
      headers: { 'OpenStack-API-Version': 'compute 2.79' },
    });
    expect(post.status, JSON.stringify(post.body)).toBe(200);
    expect(post.body.volumeAttachment).toEqual({ id: volumeId, serverId, volumeId, device: '/dev/vdb', tag: null, delete_on_termination: false });
    await t.cloud.settle();

    const vol = await t.api('GET', `/volume/v3/volumes/${volumeId}`, { token });
    expect(vol.body.volume.status).toBe('in-use');
    const list = await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token });
    expect(list.body.volumeAttachments.map((a: { device: string }) => a.device)).toEqual(['/dev/vdb']);

    // The BDM keeps connection_info (with both portals: the connector asked for multipath).
    const bdm = await t.cloud.computeRepository.getBdm(serverId, volumeId);
    const info = JSON.parse(bdm!.connection_info!);
    expect(info.driver_volume_type).toBe('iscsi');
    expect(info.data.target_portals).toEqual(['192.168.1.59:3260', '192.168.1.60:3260']);

    const trace = await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}/trace`, { token });
    const op = trace.body.operations[0];
    expect(op.state).toBe('done');
    const top = op.spans.filter((s: { parent_id: number | null }) => s.parent_id === null).map((s: { name: string }) => s.name);
    expect(top).toEqual([
      'reserve', 'lock-instance', 'get-volume', 'connector-properties', 'initialize-connection', 'connect-volume', 'hotplug', 'complete', 'unlock-instance',
    ]);
    const connect = op.spans.find((s: { name: string }) => s.name === 'connect-volume');
    const connectMs = connect.end_ms - connect.start_ms;
    // The floor of the healthy path, without the array's export (that is in initialize-connection).
    const floor = sim.floor({ host: 'newton', multipath: true });
    expect(floor.reachable).toBe(true);
    // + the commands on the way (5 ms each in the model): the node record made with iscsiadm
    // (probe, -o new, -o update, on both portals' way through the per-host iscsiadm), and the
    // startup update after the login — brick writes no record files (src/brick/README.md).
    // + udev's event for the map (100 ms in the model): brick sees the map by its holders in
    // sysfs (looked at with backoff) or by udev's link for it, whichever comes first.
    expect(connectMs).toBeLessThan(floor.totalMs - floor.exportMs + 1_000 + 100 + 10 * 5);
    expect(connectMs).toBeLessThan(120_000);
    // The dead portal's failure is in the trace (it ended after the connect returned).
    const dead = op.spans.find((s: { name: string; attrs: Record<string, unknown> }) => s.name === 'connect_path' && s.attrs['portal'] === '192.168.1.59:3260');
    expect(dead?.outcome).toBe('error');

    // The disk XML is the seed's, modulo the path.
    const domain = t.cloud.hosts[0]!.hypervisor as unknown as { domains(): { liveDisks: { xml: string; source: string }[] }[] };
    const disk = domain.domains()[0]!.liveDisks[0]!;
    expect(disk.xml.replace(/<source dev="[^"]+"\/>/, '<source dev="PATH"/>').replace(volumeId, 'VOLUME').trim()).toBe(SEED_XML_SHAPE);
    expect(disk.source).toMatch(/^\/dev\/disk\/by-id\/dm-uuid-mpath-3/);

    // Detach: nothing left on the host.
    const del = await t.api('DELETE', `/compute/v2.1/servers/${serverId}/os-volume_attachments/${volumeId}`, { token });
    expect(del.status).toBe(202);
    await t.cloud.settle();
    expect((await t.api('GET', `/volume/v3/volumes/${volumeId}`, { token })).body.volume.status).toBe('available');
    expect((await t.api('GET', `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { token })).body.volumeAttachments).toEqual([]);
    const snap = sim.inspectHost('newton');
    expect(snap.sessions).toEqual([]);
    expect(snap.disks.filter((d: { name: string }) => d.name.startsWith('sd'))).toEqual([]);
    expect(snap.maps).toEqual([]);
    expect(snap.nodes).toEqual([]);
  });
});
