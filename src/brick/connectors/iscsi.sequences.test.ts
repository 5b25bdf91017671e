import { describe, expect, it } from 'vitest';
import { isHitchError } from '../../errors.ts';
import { EMPTY, node, rig } from './iscsi.test-helpers.ts';

const IQN = 'iqn.2010-10.org.openstack:volume-0001';
const W1 = '360000000000000000e00000000010001';
const W2 = '360000000000000000e00000000010002';
const P1 = '127.0.0.1:3260';
const P2 = '127.0.0.2:3261';
const one = { target_portal: P1, target_iqn: IQN, target_lun: 1, volume_id: '00000000-0000-4000-8000-000000000001' };
const two = { ...one, target_portals: [P1, P2], target_iqns: [IQN, IQN], target_luns: [1, 1] };

describe('single path (os-brick-iscsi-singlepath-trace.jsonl, minus its sleeps and globs)', () => {
  it('connect then disconnect: exact commands and sysfs writes', async () => {
    const r = rig({ targets: [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1 } } }] }, { multipath: false });
    const dev = await r.conn.connectVolume(r.trace.root(), one);
    expect(dev).toEqual({ type: 'block', path: '/dev/sdb', scsi_wwn: W1 });
    expect(r.now()).toBe(5 * 4 + (5 + 40) + 5 * 2 + 15 + 100 + 5); // commands, login RTT, scan, udev, getro
    expect(r.host.commands()).toEqual([
      node(IQN, P1),
      node(IQN, P1, '--interface default --op new'),
      node(IQN, P1, '--op update -n node.session.scan -v manual'),
      'iscsiadm -m session',
      node(IQN, P1, '--login'),
      node(IQN, P1, '--op update -n node.startup -v automatic'),
      'iscsiadm -m session',
      'blockdev --getro /dev/sdb',
    ]);
    expect(r.host.writes()).toEqual(['/sys/class/scsi_host/host2/scan <- 0 0 1']);
    r.host.clear();
    await r.conn.disconnectVolume(r.trace.root(), one);
    expect(r.host.commands()).toEqual([
      'iscsiadm -m session',
      'blockdev --flushbufs /dev/sdb',
      node(IQN, P1, '--logout'),
      node(IQN, P1, '--op delete'),
    ]);
    expect(r.host.writes()).toEqual(['/sys/block/sdb/device/delete <- 1']);
    expect(r.fake.snapshot()).toEqual(EMPTY);
  });
});

describe('single path with two portals (multipath off)', () => {
  it('the first disk wins; the other portal is logged out and forgotten once it comes up', async () => {
    const r = rig({ targets: [{ iqn: IQN, portals: [P1, P2], luns: { 1: { wwn: W1 } } }] }, { multipath: false });
    const dev = await r.conn.connectVolume(r.trace.root(), two);
    expect(dev).toEqual({ type: 'block', path: '/dev/sdb', scsi_wwn: W1 });
    await r.conn.settled();
    expect(r.fake.snapshot()).toEqual({ nodes: [`${P1},${IQN}`], sessions: [`${P1},${IQN}`], disks: [`sdb ${P1} lun 1`], maps: [] });
    await r.conn.disconnectVolume(r.trace.root(), two);
    expect(r.fake.snapshot()).toEqual(EMPTY);
  });
});

describe('multipath, both portals healthy (os-brick-iscsi-multipath-trace.jsonl)', () => {
  it('returns on the map with the first path; the second joins it in the background', async () => {
    const r = rig({ targets: [{ iqn: IQN, portals: [P1, P2], luns: { 1: { wwn: W1 } } }] });
    const dev = await r.conn.connectVolume(r.trace.root(), two);
    expect(dev).toEqual({ type: 'block', path: '/dev/dm-0', scsi_wwn: W1, multipath_id: W1 });
    await r.conn.settled();
    expect(r.fake.snapshot().maps).toEqual([`${W1} dm-0 [sdb,sdc]`]);
    expect(r.host.commands()).toEqual([
      node(IQN, P1),
      node(IQN, P2),
      node(IQN, P1, '--interface default --op new'),
      node(IQN, P2, '--interface default --op new'),
      node(IQN, P1, '--op update -n node.session.scan -v manual'),
      node(IQN, P2, '--op update -n node.session.scan -v manual'),
      'iscsiadm -m session',
      'iscsiadm -m session',
      node(IQN, P1, '--login'),
      node(IQN, P2, '--login'),
      node(IQN, P1, '--op update -n node.startup -v automatic'),
      node(IQN, P2, '--op update -n node.startup -v automatic'),
      'iscsiadm -m session',
      'iscsiadm -m session',
      `multipath -a ${W1}`, // build the map on the first path now, not at multipathd's pace
      'multipathd add path /dev/sdb',
      'blockdev --getro /dev/dm-0',
      'multipathd add path /dev/sdc', // the second path joins the map the caller already has
    ]);
    expect(r.host.writes()).toEqual(['/sys/class/scsi_host/host2/scan <- 0 0 1', '/sys/class/scsi_host/host3/scan <- 0 0 1']);
    r.host.clear();
    await r.conn.disconnectVolume(r.trace.root(), two);
    expect(r.host.commands()).toEqual([
      'iscsiadm -m session',
      'blockdev --flushbufs /dev/dm-0',
      `multipath -f ${W1}`,
      'multipathd del path /dev/sdb',
      'multipathd del path /dev/sdc',
      node(IQN, P1, '--logout'),
      node(IQN, P1, '--op delete'),
      node(IQN, P2, '--logout'),
      node(IQN, P2, '--op delete'),
    ]);
    expect(r.host.writes()).toEqual(['/sys/block/sdb/device/delete <- 1', '/sys/block/sdc/device/delete <- 1']);
    expect(r.fake.snapshot()).toEqual(EMPTY);
  });

  it('multipathd does not map a lone path: forced with multipath -a + multipathd add path', async () => {
    const r = rig({ targets: [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1 } } }], autoMap: false });
    const dev = await r.conn.connectVolume(r.trace.root(), one);
    expect(dev.path).toBe('/dev/dm-0');
    expect(r.host.commands().slice(-3)).toEqual([`multipath -a ${W1}`, 'multipathd add path /dev/sdb', 'blockdev --getro /dev/dm-0']);
  });

  it('no map ever: single-path fallback, or HITCH_MULTIPATH_NOT_FOUND (and clean) when enforced', async () => {
    const targets = [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1 } } }];
    const r = rig({ targets, noMaps: true });
    const dev = await r.conn.connectVolume(r.trace.root(), one);
    expect(dev).toEqual({ type: 'block', path: '/dev/sdb', scsi_wwn: W1 });
    expect(r.logs).toContain('warning Unable to find multipath device name for volume. Using path /dev/sdb for volume.');

    const e = rig({ targets, noMaps: true }, { enforceMultipath: true });
    await expect(e.conn.connectVolume(e.trace.root(), one)).rejects.toMatchObject({ code: 'HITCH_MULTIPATH_NOT_FOUND' });
    expect(e.fake.snapshot()).toEqual(EMPTY);
  });
});

describe('device never appears (os-brick-iscsi-nodevice-trace.jsonl)', () => {
  it('fails cleanly with HITCH_DEVICE_NOT_FOUND after a bounded, event-driven wait; nothing left', async () => {
    const r = rig({ targets: [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1 } } }], silentLuns: [1] }, { multipath: false });
    const err = await r.conn.connectVolume(r.trace.root(), one).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_DEVICE_NOT_FOUND')).toBe(true);
    expect(r.now()).toBeLessThan(16_000); // os-brick: three full connect attempts and ~90 s of sleeps
    expect(r.host.commands()).toEqual([
      node(IQN, P1),
      node(IQN, P1, '--interface default --op new'),
      node(IQN, P1, '--op update -n node.session.scan -v manual'),
      'iscsiadm -m session',
      node(IQN, P1, '--login'),
      node(IQN, P1, '--op update -n node.startup -v automatic'),
      'iscsiadm -m session',
      'iscsiadm -m session',
      node(IQN, P1, '--logout'),
      node(IQN, P1, '--op delete'),
    ]);
    expect(r.host.writes()).toEqual([
      '/sys/class/scsi_host/host2/scan <- 0 0 1',
      '/sys/class/scsi_host/host2/scan <- 0 0 1',
      '/sys/class/scsi_host/host2/scan <- 0 0 1',
    ]);
    expect(r.fake.snapshot()).toEqual(EMPTY);
    expect(r.trace.spans.find((s) => s.name === 'connect_volume')?.error?.code).toBe('HITCH_DEVICE_NOT_FOUND');
  });
});

describe('CHAP', () => {
  const chap = { ...one, auth_method: 'CHAP', auth_username: 'u', auth_password: 's3cr3t-pw' };
  const targets = [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1 } }, chap: { user: 'u', pass: 's3cr3t-pw' } }];

  it('sets authmethod, username, password (masked everywhere) before the login', async () => {
    const r = rig({ targets }, { multipath: false });
    await r.conn.connectVolume(r.trace.root(), chap);
    expect(r.host.commands()).toEqual([
      node(IQN, P1),
      node(IQN, P1, '--interface default --op new'),
      node(IQN, P1, '--op update -n node.session.scan -v manual'),
      node(IQN, P1, '--op update -n node.session.auth.authmethod -v CHAP'),
      node(IQN, P1, '--op update -n node.session.auth.username -v u'),
      node(IQN, P1, '--op update -n node.session.auth.password -v ***'),
      'iscsiadm -m session',
      node(IQN, P1, '--login'),
      node(IQN, P1, '--op update -n node.startup -v automatic'),
      'iscsiadm -m session',
      'blockdev --getro /dev/sdb',
    ]);
    expect(r.trace.toText()).not.toContain('s3cr3t-pw');
    expect(r.logs.join('\n')).not.toContain('s3cr3t-pw');
  });

  it('a wrong secret: HITCH_ISCSI_LOGIN_FAILED naming the auth failure, record removed', async () => {
    const r = rig({ targets }, { multipath: false });
    const err = await r.conn.connectVolume(r.trace.root(), { ...chap, auth_password: 'wrong' }).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_ISCSI_LOGIN_FAILED')).toBe(true);
    expect(String(err)).toContain('authentication failed');
    expect(r.fake.snapshot()).toEqual(EMPTY);
  });
});

describe('a session shared by two volumes', () => {
  const targets = [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1 }, 2: { wwn: W2 } } }];
  const volA = one;
  const volB = { ...one, target_lun: 2, volume_id: '00000000-0000-4000-8000-000000000002' };

  it('concurrent attaches log in once; disconnecting one LUN keeps the session (no logout)', async () => {
    const r = rig({ targets }, { multipath: false });
    const [a, b] = await Promise.all([r.conn.connectVolume(r.trace.root(), volA), r.conn.connectVolume(r.trace.root(), volB)]);
    expect([a.path, b.path].sort()).toEqual(['/dev/sdb', '/dev/sdc']);
    expect(r.host.commands().filter((c) => c.endsWith('--login'))).toHaveLength(1);

    r.host.clear();
    await r.conn.disconnectVolume(r.trace.root(), volA);
    expect(r.host.commands()).toEqual(['iscsiadm -m session', `blockdev --flushbufs ${a.path}`]);
    expect(r.host.writes()).toEqual([`/sys/block/${a.path.slice(5)}/device/delete <- 1`]);
    expect(r.logs).toContain(`info Not logging out of ${P1} ${IQN}: the session carries other volumes`);
    expect(r.fake.snapshot()).toMatchObject({ sessions: [`${P1},${IQN}`], disks: [`${b.path.slice(5)} ${P1} lun 2`] });

    r.host.clear();
    await r.conn.disconnectVolume(r.trace.root(), volB);
    expect(r.host.commands()).toEqual([
      'iscsiadm -m session',
      `blockdev --flushbufs ${b.path}`,
      node(IQN, P1, '--logout'),
      node(IQN, P1, '--op delete'),
    ]);
    expect(r.fake.snapshot()).toEqual(EMPTY);
  });

  it('also keeps the session when the other LUN was attached by someone else (seen only in sysfs)', async () => {
    const r = rig({ targets }, { multipath: false });
    await r.conn.connectVolume(r.trace.root(), volA);
    await r.conn.connectVolume(r.trace.root(), volB);
    // A fresh connector (a restarted compute service) knows nothing of volB's claim.
    const { IscsiConnector } = await import('./iscsi.ts');
    const fresh = new IscsiConnector({ host: r.host, multipath: false });
    r.host.clear();
    await fresh.disconnectVolume(r.trace.root(), volA);
    expect(r.host.commands().some((c) => c.endsWith('--logout'))).toBe(false);
  });
});

describe('read-only device', () => {
  it('rw access on a read-only LUN: HITCH_DEVICE_READ_ONLY and everything undone', async () => {
    const r = rig({ targets: [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1, ro: true } } }] }, { multipath: false });
    await expect(r.conn.connectVolume(r.trace.root(), one)).rejects.toMatchObject({ code: 'HITCH_DEVICE_READ_ONLY' });
    expect(r.fake.snapshot()).toEqual(EMPTY);
    const ro = rig({ targets: [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1, ro: true } } }] }, { multipath: false });
    await expect(ro.conn.connectVolume(ro.trace.root(), { ...one, access_mode: 'ro' })).resolves.toMatchObject({ path: '/dev/sdb' });
  });
});
