import { describe, expect, it } from 'vitest';
import { isHitchError } from '../../errors.ts';
import { EMPTY, rig, type Rig } from './iscsi.test-helpers.ts';

const IQN = 'iqn.2010-10.org.openstack:volume-0001';
const P1 = '127.0.0.1:3260';
const P2 = '127.0.0.2:3261';
const W1 = '360000000000000000e00000000010001';
const two = { target_portals: [P1, P2], target_iqns: [IQN, IQN], target_luns: [1, 1] };

/** A simulated host with both portals; commands in `broken` fail (exit 1) from the moment they are added. */
function faulty(): Rig {
  return rig({ targets: [{ iqn: IQN, portals: [P1, P2], luns: { 1: { wwn: W1 } } }] });
}

describe('disconnectVolume options', () => {
  it('a failed flush without force stops before removing anything (HITCH_DISCONNECT_FAILED)', async () => {
    const f = faulty();
    const conn = f.conn;
    const span = f.trace.root();
    await conn.connectVolume(span, two);
    await conn.settled();
    f.broken.add('blockdev --flushbufs');
    const err = await conn.disconnectVolume(span, two).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_DISCONNECT_FAILED')).toBe(true);
    expect(String(err)).toContain('nothing removed');
    expect(f.state().disks).toHaveLength(2);
    expect(f.state().maps).toHaveLength(1);
  });

  it('force goes on, and every problem is reported together', async () => {
    const f = faulty();
    const { conn, trace } = f;
    await conn.connectVolume(trace.root(), two);
    await conn.settled();
    f.broken.add('blockdev --flushbufs');
    f.broken.add(`iscsiadm -m node -T ${IQN} -p ${P2} --logout`);
    const err = await conn.disconnectVolume(trace.root(), two, { force: true }).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_DISCONNECT_FAILED')).toBe(true);
    if (isHitchError(err)) {
      // The flush, the logout, and the record the session still uses (iscsiadm: session exists).
      expect(err.details['count']).toBe(3);
      expect(String(err.details['detail'])).toContain('flush /dev/dm-0');
      expect(String(err.details['detail'])).toContain(`logout ${P2}`);
      expect(String(err.details['detail'])).toContain(`delete node ${P2}`);
    }
    // Everything that could go, went.
    const snap = f.state();
    expect(snap.disks).toEqual([]);
    expect(snap.maps).toEqual([]);
    expect(snap.sessions).toEqual([`${P2},${IQN}`]);
    expect(snap.nodes).toEqual([`${P2},${IQN}`]);
  });

  it('ignoreErrors: no throw; the problems are in the trace and the log', async () => {
    const f = faulty();
    const { conn, trace } = f;
    const logs = f.logs;
    await conn.connectVolume(trace.root(), two);
    await conn.settled();
    f.broken.add('multipath -f');
    await conn.disconnectVolume(trace.root(), two, { ignoreErrors: true });
    const span = trace.spans.find((s) => s.name === 'disconnect_volume');
    expect(span?.outcome).toBe('ok');
    expect(String(span?.attrs['failures'])).toContain(`multipath -f ${W1}`);
    expect(logs.some((l) => /^\w+ disconnect_volume: 1 problem\(s\)/.test(l))).toBe(true);
  });

  it('a map busy for a moment (both of multipath-tools 0.9.4\'s answers) is flushed once it is free', async () => {
    const f = faulty();
    const { conn, trace } = f;
    await conn.connectVolume(trace.root(), two);
    await conn.settled();
    // As the storage host guest answered: udev's probe opened the map before multipath's
    // open-count check, then between the check and the remove ioctl (main's CI, healthy-multipath-no).
    f.busy.push(
      `Dec 05 11:02:13 | ${W1}: map in use\n`,
      `Dec 05 11:02:13 | libdevmapper: ioctl/libdm-iface.c(1980): device-mapper: remove ioctl on ${W1}  failed: Device or resource busy\nDec 05 11:02:13 | failed to remove multipath map ${W1}\n`,
    );
    f.host.clear();
    const t0 = f.now();
    await conn.disconnectVolume(trace.root(), two);
    expect(f.host.commands().filter((c) => c === `multipath -f ${W1}`)).toHaveLength(3);
    // Two pauses on the host's clock, the first two of the schedule.
    expect(f.now() - t0).toBeGreaterThanOrEqual(750);
    expect(f.logs.filter((l) => l.includes('the map is busy'))).toHaveLength(2);
    expect(f.state()).toEqual(EMPTY);
  });

  it('a map that stays busy: the flush gives up after its last pause, with multipath\'s words', async () => {
    const f = faulty();
    const { conn, trace } = f;
    await conn.connectVolume(trace.root(), two);
    await conn.settled();
    for (let i = 0; i < 10; i++) f.busy.push(`${W1}: map in use\n`);
    f.host.clear();
    const err = await conn.disconnectVolume(trace.root(), two).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_DISCONNECT_FAILED')).toBe(true);
    expect(String(isHitchError(err) ? err.details['detail'] : '')).toContain(`${W1}: map in use`);
    // The first try and one after each of the five pauses.
    expect(f.host.commands().filter((c) => c === `multipath -f ${W1}`)).toHaveLength(6);
  });
});
