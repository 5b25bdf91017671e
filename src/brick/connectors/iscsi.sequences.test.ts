import { describe, expect, it } from 'vitest';
import { isHitchError } from '../../errors.ts';
import { DEFAULT_ISCSI_TIMEOUTS } from './iscsi.ts';
import { EMPTY, node, rig } from './iscsi.test-helpers.ts';

/**
 * Before each login brick writes the node record file itself (open-iscsi's layout); sessions,
 * the disk and its read-only flag are read from sysfs. So the login is the one process
 * between a connect's call and its disk.
 */

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
    expect(r.now()).toBe(5 + 40 + 15 + 100); // the login (command + RTT), scan, udev: nothing else
    expect(r.host.commands()).toEqual([node(IQN, P1, '--login')]);
    expect(r.host.commands().some((c) => c.includes('--op new') || c.includes('--op update') || c.includes('-m session') || c.startsWith('blockdev'))).toBe(false);
    expect(r.host.replaced()).toEqual([`/etc/iscsi/nodes/${IQN}/127.0.0.1,3260 (0600)`]);
    expect(r.host.writes()).toEqual(['/sys/class/scsi_host/host2/scan <- - - 1']);
    r.host.clear();
    await r.conn.disconnectVolume(r.trace.root(), one);
    expect(r.host.commands()).toEqual([
      'blockdev --flushbufs /dev/sdb',
      node(IQN, P1, '--logout'),
      node(IQN, P1, '--op delete'),
    ]);
    expect(r.host.writes()).toEqual(['/sys/block/sdb/device/delete <- 1']);
    expect(r.state()).toEqual(EMPTY);
  });
});

describe('single path with two portals (multipath off)', () => {
  it('the first disk wins; the other portal is logged out and forgotten once it comes up', async () => {
    const r = rig({ targets: [{ iqn: IQN, portals: [P1, P2], luns: { 1: { wwn: W1 } } }] }, { multipath: false });
    const dev = await r.conn.connectVolume(r.trace.root(), two);
    expect(dev).toEqual({ type: 'block', path: '/dev/sdb', scsi_wwn: W1 });
    await r.conn.settled();
    expect(r.state()).toEqual({ nodes: [`${P1},${IQN}`], sessions: [`${P1},${IQN}`], disks: [`sdb ${P1} lun 1`], maps: [] });
    await r.conn.disconnectVolume(r.trace.root(), two);
    expect(r.state()).toEqual(EMPTY);
  });
});

describe('multipath, both portals healthy (os-brick-iscsi-multipath-trace.jsonl)', () => {
  it('returns on the map with the first path; the second joins it in the background', async () => {
    const r = rig({ targets: [{ iqn: IQN, portals: [P1, P2], luns: { 1: { wwn: W1 } } }] });
    const dev = await r.conn.connectVolume(r.trace.root(), two);
    expect(dev).toEqual({ type: 'block', path: '/dev/dm-0', scsi_wwn: W1, multipath_id: W1 });
    await r.conn.settled();
    expect(r.state().maps).toEqual([`${W1} dm-0 [sdb,sdc]`]);
    expect(r.host.commands()).toEqual([
      node(IQN, P1, '--login'),
      node(IQN, P2, '--login'),
      // The first disk is in sysfs once its scan returns: its WWID is recorded then, while udev
      // works on its links. multipathd builds the map (and adds the second path) from udev's own
      // events: no `multipathd add path`, which a real multipathd refuses (`fail`) while udev
      // has not stored the disk's ID_SERIAL — and then never maps that path.
      `multipath -a ${W1}`,
    ]);
    const at = (line: string): number => r.host.calls.find((c) => c.op === 'exec' && [c.cmd, ...c.args].join(' ') === line)?.atMs ?? -1;
    expect(at(`multipath -a ${W1}`)).toBeLessThan(45 + 15 + 100); // before the by-path link
    expect(r.host.replaced()).toEqual([`/etc/iscsi/nodes/${IQN}/127.0.0.1,3260 (0600)`, `/etc/iscsi/nodes/${IQN}/127.0.0.2,3261 (0600)`]);
    expect(r.host.writes()).toEqual(['/sys/class/scsi_host/host2/scan <- - - 1', '/sys/class/scsi_host/host3/scan <- - - 1']);
    r.host.clear();
    await r.conn.disconnectVolume(r.trace.root(), two);
    expect(r.host.commands()).toEqual([
      'blockdev --flushbufs /dev/dm-0',
      `multipath -f ${W1}`,
      'multipathd del path /dev/sdb',
      'multipathd del path /dev/sdc',
      // The map was flushed first: multipathd builds no map again on the path still there (only a
      // udev event would), so there is no map left to flush by name.
      node(IQN, P1, '--logout'),
      node(IQN, P1, '--op delete'),
      node(IQN, P2, '--logout'),
      node(IQN, P2, '--op delete'),
    ]);
    expect(r.host.writes()).toEqual(['/sys/block/sdb/device/delete <- 1', '/sys/block/sdc/device/delete <- 1']);
    expect(r.state()).toEqual(EMPTY);
  });

  it('multipathd does not map a lone path by itself: multipath -a makes it, from udev\'s own event (no add path)', async () => {
    const r = rig({ targets: [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1 } } }], autoMap: false });
    const dev = await r.conn.connectVolume(r.trace.root(), one);
    expect(dev.path).toBe('/dev/dm-0');
    expect(r.host.commands()).toEqual([node(IQN, P1, '--login'), `multipath -a ${W1}`]);
    // the login (5 + 40), the scan (15), udev (100), multipathd's map delay (1000), udev's event
    // for the map (100: its by-id link)
    expect(r.now()).toBeLessThanOrEqual(5 + 40 + 15 + 100 + 1000 + 100 + 10);
  });

  it('multipathd never maps it by itself: after the grace, add path, then the map', async () => {
    const r = rig({ targets: [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1 } } }], autoMap: false, mapDelayMs: 60_000 });
    const dev = await r.conn.connectVolume(r.trace.root(), one);
    expect(dev.path).toBe('/dev/dm-0');
    expect(r.host.commands()).toEqual([node(IQN, P1, '--login'), `multipath -a ${W1}`, 'multipathd add path /dev/sdb']);
    expect(r.now()).toBeGreaterThanOrEqual(5 + 40 + 15 + 100 + DEFAULT_ISCSI_TIMEOUTS.mapGraceMs);
    expect(r.now()).toBeLessThanOrEqual(5 + 40 + 15 + 100 + DEFAULT_ISCSI_TIMEOUTS.mapGraceMs + 600);
  });

  it('no map ever: single-path fallback, or HITCH_MULTIPATH_NOT_FOUND (and clean) when enforced', async () => {
    const targets = [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1 } } }];
    const r = rig({ targets, noMaps: true });
    const dev = await r.conn.connectVolume(r.trace.root(), one);
    expect(dev).toEqual({ type: 'block', path: '/dev/sdb', scsi_wwn: W1 });
    expect(r.logs).toContain('warning Unable to find multipath device name for volume. Using path /dev/sdb for volume.');

    const e = rig({ targets, noMaps: true }, { enforceMultipath: true });
    await expect(e.conn.connectVolume(e.trace.root(), one)).rejects.toMatchObject({ code: 'HITCH_MULTIPATH_NOT_FOUND' });
    expect(e.state()).toEqual(EMPTY);
  });
});

describe('device never appears (os-brick-iscsi-nodevice-trace.jsonl)', () => {
  it('fails cleanly with HITCH_DEVICE_NOT_FOUND after a bounded, event-driven wait; nothing left', async () => {
    const r = rig({ targets: [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1 } } }], silentLuns: [1] }, { multipath: false });
    const err = await r.conn.connectVolume(r.trace.root(), one).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_DEVICE_NOT_FOUND')).toBe(true);
    expect(r.now()).toBeLessThan(16_000); // os-brick: three full connect attempts and ~90 s of sleeps
    expect(r.host.commands()).toEqual([node(IQN, P1, '--login'), node(IQN, P1, '--logout'), node(IQN, P1, '--op delete')]);
    expect(r.host.writes()).toEqual([
      '/sys/class/scsi_host/host2/scan <- - - 1',
      '/sys/class/scsi_host/host2/scan <- - - 1',
      '/sys/class/scsi_host/host2/scan <- - - 1',
    ]);
    expect(r.state()).toEqual(EMPTY);
    expect(r.trace.spans.find((s) => s.name === 'connect_volume')?.error?.code).toBe('HITCH_DEVICE_NOT_FOUND');
  });
});

describe('CHAP', () => {
  const chap = { ...one, auth_method: 'CHAP', auth_username: 'u', auth_password: 's3cr3t-pw' };
  const targets = [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1 } }, chap: { user: 'u', pass: 's3cr3t-pw' } }];

  it('writes authmethod, username and password into the root-only record before the login; the secret nowhere else', async () => {
    const r = rig({ targets }, { multipath: false });
    await r.conn.connectVolume(r.trace.root(), chap);
    expect(r.host.commands()).toEqual([node(IQN, P1, '--login')]);
    const file = r.nodeFile(IQN, P1);
    expect(file?.mode).toBe(0o600);
    // The record as iscsiadm -o new makes it: the node's own lines, then every node.* setting of
    // the host's iscsid.conf (Debian's), ours over them, then the connection's address.
    const lines = (file?.text ?? '').split('\n');
    expect(lines.slice(0, 7)).toEqual([
      '# BEGIN RECORD',
      `node.name = ${IQN}`,
      'node.tpgt = -1',
      'node.startup = automatic',
      'iface.iscsi_ifacename = default',
      'iface.transport_name = tcp',
      'node.discovery_type = static',
    ]);
    expect(lines).toContain('node.session.timeo.replacement_timeout = 120');
    expect(lines.filter((l) => l.startsWith('node.session.auth.'))).toEqual([
      'node.session.auth.authmethod = CHAP',
      'node.session.auth.username = u',
      'node.session.auth.password = s3cr3t-pw',
    ]);
    expect(lines.slice(-5)).toEqual(['node.session.scan = manual', 'node.conn[0].address = 127.0.0.1', 'node.conn[0].port = 3260', '# END RECORD', '']);
    for (const l of lines.slice(1, -2)) expect(l).toMatch(/^[a-z][\w.[\]]* = \S/);
    // The login used it (the simulated target checks the CHAP pair).
    expect(r.state().sessions).toEqual([`${P1},${IQN}`]);
    const recorded = r.host.calls.find((c) => c.op === 'writeFileAtomic');
    expect(recorded?.op === 'writeFileAtomic' && recorded.data).toContain('node.session.auth.password = ***');
    expect(JSON.stringify(r.host.calls)).not.toContain('s3cr3t-pw');
    expect(r.trace.toText()).not.toContain('s3cr3t-pw');
    expect(r.logs.join('\n')).not.toContain('s3cr3t-pw');
  });

  it('an existing record keeps its own settings and gets ours over them', async () => {
    const r = rig({ targets }, { multipath: false });
    // Made earlier with iscsiadm (or by an admin): a tuned timeout, an old secret, automatic scan.
    await r.setup('iscsiadm', ['-m', 'node', '-T', IQN, '-p', P1, '--interface', 'default', '--op', 'new']);
    await r.setup('iscsiadm', ['-m', 'node', '-T', IQN, '-p', P1, '--op', 'update', '-n', 'node.session.timeo.replacement_timeout', '-v', '5']);
    await r.setup('iscsiadm', ['-m', 'node', '-T', IQN, '-p', P1, '--op', 'update', '-n', 'node.session.auth.password', '-v', 'old']);
    await r.conn.connectVolume(r.trace.root(), chap);
    const text = r.nodeFile(IQN, P1)?.text ?? '';
    expect(text).toContain('\nnode.session.timeo.replacement_timeout = 5\n');
    expect(text).toContain('\nnode.session.auth.password = s3cr3t-pw\n');
    expect(text).toContain('\nnode.session.scan = manual\n');
    expect(text.match(/^node\.session\.auth\.password =/gm)).toHaveLength(1);
  });

  it('a wrong secret: HITCH_ISCSI_LOGIN_FAILED naming the auth failure, record removed', async () => {
    const r = rig({ targets }, { multipath: false });
    const err = await r.conn.connectVolume(r.trace.root(), { ...chap, auth_password: 'wrong' }).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_ISCSI_LOGIN_FAILED')).toBe(true);
    expect(String(err)).toContain('authentication failed');
    expect(r.state()).toEqual(EMPTY);
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
    expect(r.host.commands()).toEqual([`blockdev --flushbufs ${a.path}`]);
    expect(r.host.writes()).toEqual([`/sys/block/${a.path.slice(5)}/device/delete <- 1`]);
    expect(r.logs).toContain(`info Not logging out of ${P1} ${IQN}: the session carries other volumes`);
    expect(r.state()).toMatchObject({ sessions: [`${P1},${IQN}`], disks: [`${b.path.slice(5)} ${P1} lun 2`] });

    r.host.clear();
    await r.conn.disconnectVolume(r.trace.root(), volB);
    expect(r.host.commands()).toEqual([
      `blockdev --flushbufs ${b.path}`,
      node(IQN, P1, '--logout'),
      node(IQN, P1, '--op delete'),
    ]);
    expect(r.state()).toEqual(EMPTY);
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
    expect(r.state()).toEqual(EMPTY);
    const ro = rig({ targets: [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1, ro: true } } }] }, { multipath: false });
    await expect(ro.conn.connectVolume(ro.trace.root(), { ...one, access_mode: 'ro' })).resolves.toMatchObject({ path: '/dev/sdb' });
  });
});

describe('where brick cannot write the record itself', () => {
  const targets = [{ iqn: IQN, portals: [P1], luns: { 1: { wwn: W1 } }, chap: { user: 'u', pass: 's3cr3t-pw' } }];
  const chap = { ...one, auth_method: 'CHAP', auth_username: 'u', auth_password: 's3cr3t-pw' };
  const iscsiadmWay = [
    node(IQN, P1),
    node(IQN, P1, '--interface default --op new'),
    node(IQN, P1, '--op update -n node.session.scan -v manual'),
    node(IQN, P1, '--op update -n node.session.auth.authmethod -v CHAP'),
    node(IQN, P1, '--op update -n node.session.auth.username -v u'),
    node(IQN, P1, '--op update -n node.session.auth.password -v ***'),
    node(IQN, P1, '--login'),
    node(IQN, P1, '--op update -n node.startup -v automatic'),
  ];

  it('no nodes directory where it looks (open-iscsi keeps records elsewhere): iscsiadm makes the record, as os-brick does', async () => {
    const r = rig({ targets, nodesDir: '/var/lib/iscsi/nodes' }, { multipath: false });
    await r.conn.connectVolume(r.trace.root(), chap);
    expect(r.host.replaced()).toEqual([]);
    expect(r.host.commands()).toEqual(iscsiadmWay);
    expect(r.nodeSetting(IQN, P1, 'node.startup')).toBe('automatic');
    expect(r.trace.toText()).not.toContain('s3cr3t-pw');
    await r.conn.disconnectVolume(r.trace.root(), chap);
    expect(r.state()).toEqual(EMPTY);
  });

  it('told where this host keeps them (RHEL), it writes the record there', async () => {
    const r = rig({ targets, nodesDir: '/var/lib/iscsi/nodes' }, { multipath: false, iscsiNodesDir: '/var/lib/iscsi/nodes' });
    await r.conn.connectVolume(r.trace.root(), chap);
    expect(r.host.replaced()).toEqual([`/var/lib/iscsi/nodes/${IQN}/127.0.0.1,3260 (0600)`]);
    expect(r.host.commands()).toEqual([node(IQN, P1, '--login')]);
  });

  it('a Host without atomic writes: iscsiadm makes the record', async () => {
    const r = rig({ targets, atomicWrite: false }, { multipath: false });
    await r.conn.connectVolume(r.trace.root(), chap);
    expect(r.host.commands()).toEqual(iscsiadmWay);
  });

  it('a failed login removes the record brick wrote', async () => {
    const r = rig({ targets }, { multipath: false });
    const err = await r.conn.connectVolume(r.trace.root(), { ...chap, auth_password: 'wrong' }).catch((e: unknown) => e);
    expect(isHitchError(err, 'HITCH_ISCSI_LOGIN_FAILED')).toBe(true);
    expect(r.host.replaced()).toEqual([`/etc/iscsi/nodes/${IQN}/127.0.0.1,3260 (0600)`]);
    expect(r.host.commands()).toEqual([node(IQN, P1, '--login'), node(IQN, P1, '--op delete')]);
    expect(r.nodeFile(IQN, P1)).toBeUndefined();
    expect(r.exists(`/etc/iscsi/nodes/${IQN}`)).toBe(false);
  });
});
