import { describe, expect, it } from 'vitest';
import { RecordingHost } from '../../host/recording-host.ts';
import { createSimHost } from '../../host/sim-host.ts';
import { leftovers } from '../../sim/inspect.ts';
import { Trace } from '../../trace/span.ts';
import { Brick } from '../index.ts';
import { FakeIscsiHost } from '../testing/fake-iscsi-host.ts';
import { connectQemuNative } from './qemu-native.ts';
import { A0, B0, P59, P60, SEED, WWN } from './iscsi.test-helpers.ts';

const INITIATOR = 'iqn.1993-08.org.debian:01:7cc8838d1c0';

function seedHost(dead: string[] = [P59]): RecordingHost {
  return new RecordingHost(
    new FakeIscsiHost({
      targets: [
        { iqn: A0, portals: [P59], luns: { 192: { wwn: WWN } } },
        { iqn: B0, portals: [P60], luns: { 192: { wwn: WWN } } },
      ],
      deadPortals: dead,
    }),
  );
}

describe('QEMU-native iSCSI', () => {
  it('probes every portal in parallel and takes the first that answers: no wait for the dead one', async () => {
    const host = seedHost();
    const trace = new Trace(host.clock);
    const src = await connectQemuNative(trace.root(), SEED, { host, initiator: INITIATOR });
    expect(src).toEqual({ type: 'network', protocol: 'iscsi', name: `${B0}/192`, hosts: [{ name: '192.168.1.60', port: 3260 }], readonly: false });
    expect(host.clock.now()).toBeLessThan(100);
    expect(host.commands()).toEqual([`iscsi-ls -i ${INITIATOR} iscsi://${P59}`, `iscsi-ls -i ${INITIATOR} iscsi://${P60}`]);
    // No host state at all: no node record, session or device.
    expect(host.calls.filter((c) => c.op === 'writeFile')).toEqual([]);
  });

  it('CHAP becomes a libvirt secret reference, never the password', async () => {
    const host = seedHost();
    const trace = new Trace(host.clock);
    const src = await connectQemuNative(trace.root(), { ...SEED, auth_method: 'CHAP', auth_username: 'u', auth_password: 'pw-123' }, { host, initiator: INITIATOR });
    expect(src.auth).toEqual({ username: 'u', secret: { type: 'iscsi', usage: `hitch-iscsi-${SEED.volume_id}` } });
    expect(JSON.stringify(src)).not.toContain('pw-123');
    expect(trace.toText()).not.toContain('pw-123');
  });

  it('every portal dead: HITCH_ISCSI_LOGIN_FAILED after the short probe timeout, not iscsid’s 120 s', async () => {
    const host = seedHost([P59, P60]);
    const trace = new Trace(host.clock);
    const err: unknown = await connectQemuNative(trace.root(), SEED, { host, initiator: INITIATOR, probeTimeoutMs: 3_000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'HITCH_ISCSI_LOGIN_FAILED' });
    expect(host.clock.now()).toBeLessThanOrEqual(3_100);
    // One sentence per portal, and the next step once, at the end.
    const msg = (err as Error).message;
    expect(msg).toContain(`${P59}: `);
    expect(msg).toContain(`${P60}: `);
    expect(msg.match(/Could not log in/g)).toHaveLength(1);
    expect(msg.match(/Check the network path/g)).toHaveLength(1);
  });

  it('through the Brick facade (mode qemu-native); disconnect touches nothing', async () => {
    const host = seedHost();
    const brick = new Brick({ host, ip: '172.16.1.11', multipath: false, mode: 'qemu-native' });
    const trace = new Trace(host.clock);
    const src = await brick.connectVolume(trace.root(), { driver_volume_type: 'iscsi', data: SEED });
    expect(src).toMatchObject({ type: 'network', name: `${B0}/192` });
    host.clear();
    await brick.disconnectVolume(trace.root(), { driver_volume_type: 'iscsi', data: SEED });
    expect(host.calls).toEqual([]);
  });
});

describe('Brick facade, kernel mode', () => {
  it('connector properties, then connect and disconnect', async () => {
    const host = seedHost();
    const brick = new Brick({ host, ip: '172.16.1.11', multipath: true });
    const trace = new Trace(host.clock);
    const props = await brick.connectorProperties(trace.root());
    expect(props).toMatchObject({ multipath: true, initiator: INITIATOR, host: 'newton' });
    const dev = await brick.connectVolume(trace.root(), { driver_volume_type: 'iscsi', data: SEED });
    expect(dev).toEqual({ type: 'block', path: '/dev/dm-0', scsi_wwn: WWN, multipath_id: WWN });
    await brick.disconnectVolume(trace.root(), { driver_volume_type: 'iscsi', data: SEED });
    await brick.settled();
  });
});

describe('QEMU-native on the simulator (seed scenario)', () => {
  it('picks 192.168.1.60 within one round trip; the dead portal costs nothing; no host state', async () => {
    const sim = createSimHost('seed');
    const host = new RecordingHost(sim);
    const trace = new Trace(host.clock);
    const src = await connectQemuNative(trace.root(), SEED, { host, initiator: INITIATOR });
    expect(src).toMatchObject({ name: `${B0}/192`, hosts: [{ name: '192.168.1.60', port: 3260 }] });
    expect(host.clock.now()).toBeLessThan(200);
    expect(leftovers(sim.model)).toEqual([]);
    const lost = trace.spans.find((s) => s.name === 'probe portal' && s.attrs['portal'] === P59);
    expect(lost?.outcome).toBe('error'); // aborted once 192.168.1.60 answered
  });
});
