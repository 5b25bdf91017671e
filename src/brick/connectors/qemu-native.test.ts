import { describe, expect, it } from 'vitest';
import { RecordingHost } from '../../host/recording-host.ts';
import { createSimHost } from '../../sim/sim-host.ts';
import { leftovers } from '../../sim/inspect.ts';
import { Trace } from '../../trace/span.ts';
import { Brick } from '../index.ts';
import { parseIscsiVolume } from '../connection-info.ts';
import { parseConnectionInfo } from '../protocols.ts';
import { connectQemuNative } from './qemu-native.ts';
import { B0, INITIATOR, P59, P60, seedRig, SEED, WWN } from './iscsi.test-helpers.ts';

const INSTANCE = '11111111-2222-3333-4444-555555555555';
const OPTS = { initiator: INITIATOR, instance: INSTANCE };

/** The seed's two targets on a simulated host, portal .59 dead (or every portal listed). */
function seedHost(dead: string[] = [P59]): RecordingHost {
  return seedRig({ deadPortals: dead }).host;
}

describe('QEMU-native iSCSI', () => {
  it('probes every portal in parallel and takes the first that answers: no wait for the dead one', async () => {
    const host = seedHost();
    const trace = new Trace(host.clock);
    const got = await connectQemuNative(trace.root(), parseIscsiVolume(SEED), { host, ...OPTS });
    expect(got).toEqual({
      source: { kind: 'iscsi', iqn: B0, lun: 192, host: { name: '192.168.1.60', port: 3260 }, initiatorIqn: INITIATOR },
      deviceInfo: { type: 'network', name: `${B0}/192`, hosts: '192.168.1.60:3260' },
    });
    expect(host.clock.now()).toBeLessThan(100);
    expect(host.commands()).toEqual([`iscsi-ls -i ${INITIATOR} iscsi://${P59}`, `iscsi-ls -i ${INITIATOR} iscsi://${P60}`]);
    // No host state at all: no node record, session or device.
    expect(host.calls.filter((c) => c.op === 'writeFile')).toEqual([]);
  });

  it('CHAP becomes a libvirt secret reference, never the password', async () => {
    const host = seedHost();
    const trace = new Trace(host.clock);
    const { source } = await connectQemuNative(trace.root(), parseIscsiVolume({ ...SEED, auth_method: 'CHAP', auth_username: 'u', auth_password: 'pw-123' }), { host, ...OPTS });
    expect(source.auth).toEqual({ username: 'u', secretUsage: `hitch-${INSTANCE}-${SEED.volume_id}` });
    expect(JSON.stringify(source)).not.toContain('pw-123');
    expect(trace.toText()).not.toContain('pw-123');
  });

  it('every portal dead: HITCH_ISCSI_LOGIN_FAILED after the short probe timeout, not iscsid’s 120 s', async () => {
    const host = seedHost([P59, P60]);
    const trace = new Trace(host.clock);
    const err: unknown = await connectQemuNative(trace.root(), parseIscsiVolume(SEED), { host, ...OPTS, probeTimeoutMs: 3_000 }).then(
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

  it('through Brick (mode qemu-native): the CHAP password becomes a secret the disk names; disconnect touches nothing', async () => {
    const host = seedHost();
    const brick = new Brick({ host, ip: '172.16.1.11', multipath: false, mode: 'qemu-native' });
    const trace = new Trace(host.clock);
    const info = parseConnectionInfo({ driver_volume_type: 'iscsi', data: { ...SEED, auth_method: 'CHAP', auth_username: 'u', auth_password: 'pw-123' } });
    const attached = await brick.connect(info, trace.root(), { instance: INSTANCE });
    const usage = `hitch-${INSTANCE}-${SEED.volume_id}`;
    expect(attached).toEqual({
      source: { kind: 'iscsi', iqn: B0, lun: 192, host: { name: '192.168.1.60', port: 3260 }, auth: { username: 'u', secretUsage: usage }, initiatorIqn: INITIATOR },
      deviceInfo: { type: 'network', name: `${B0}/192`, hosts: '192.168.1.60:3260' },
      secret: { usage, value: 'pw-123' },
    });
    expect(brick.secretUsage(info, INSTANCE)).toBe(usage);
    expect(trace.toText()).not.toContain('pw-123');
    host.clear();
    await brick.disconnect(info, attached.deviceInfo, trace.root(), { force: false });
    expect(host.calls).toEqual([]);
  });
});

describe('Brick facade, kernel mode', () => {
  it('connector properties, then connect (the stable link of the map, for the hypervisor) and disconnect', async () => {
    const host = seedHost();
    const brick = new Brick({ host, ip: '172.16.1.11', multipath: true });
    const trace = new Trace(host.clock);
    const props = await brick.connectorProperties(trace.root());
    expect(props).toMatchObject({ multipath: true, initiator: INITIATOR, host: 'newton' });
    const info = parseConnectionInfo({ driver_volume_type: 'iscsi', data: SEED });
    const attached = await brick.connect(info, trace.root(), { instance: INSTANCE });
    expect(attached).toEqual({
      source: { kind: 'block', path: `/dev/disk/by-id/dm-uuid-mpath-${WWN}` },
      deviceInfo: { type: 'block', path: '/dev/dm-0', scsi_wwn: WWN, multipath_id: WWN },
    });
    // No CHAP in this connection: no secret to name.
    expect(brick.secretUsage(info, INSTANCE)).toBeNull();
    await brick.disconnect(info, attached.deviceInfo, trace.root(), { force: false });
    await brick.settled();
  });
});

describe('QEMU-native on the simulator (seed scenario)', () => {
  it('picks 192.168.1.60 within one round trip; the dead portal costs nothing; no host state', async () => {
    const sim = createSimHost('seed');
    const host = new RecordingHost(sim);
    const trace = new Trace(host.clock);
    const { source } = await connectQemuNative(trace.root(), parseIscsiVolume(SEED), { host, ...OPTS });
    expect(source).toMatchObject({ iqn: B0, lun: 192, host: { name: '192.168.1.60', port: 3260 } });
    expect(host.clock.now()).toBeLessThan(200);
    expect(leftovers(sim.model)).toEqual([]);
    const lost = trace.spans.find((s) => s.name === 'probe portal' && s.attrs['portal'] === P59);
    expect(lost?.outcome).toBe('error'); // aborted once 192.168.1.60 answered
  });
});
