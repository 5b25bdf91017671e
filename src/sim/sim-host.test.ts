import { describe, expect, it } from 'vitest';
import { isHitchError, type ErrorCode } from '../errors.ts';
import { hostConformance } from '../host/conformance.ts';
import { createSimHost, createSimHostForConformance, SimHost } from './sim-host.ts';

const A0 = 'iqn.1992-04.com.emc:cx.apm00150602415.a0';
const B0 = 'iqn.1992-04.com.emc:cx.apm00150602415.b0';
const P59 = '192.168.1.59:3260';
const P60 = '192.168.1.60:3260';
const WWN = '36006016074e03a008d3cf25b04e2daae';
const BY_PATH_60 = `/dev/disk/by-path/ip-${P60}-iscsi-${B0}-lun-192`;

/** `iscsiadm -m session` on newton before and after the login to .60, verbatim from the seed. */
const SEED_SESSIONS_BEFORE = `tcp: [1] 10.245.47.95:3260,2 iqn.1992-04.com.emc:cx.fnm00150600267.a0 (non-flash)
tcp: [2] 10.245.47.96:3260,1 iqn.1992-04.com.emc:cx.fnm00150600267.b0 (non-flash)
`;
const SEED_SESSIONS_AFTER = `${SEED_SESSIONS_BEFORE}tcp: [3] 192.168.1.60:3260,5 iqn.1992-04.com.emc:cx.apm00150602415.b0 (non-flash)
`;
const SEED_RESCAN = `Rescanning session [sid: 1, target: iqn.1992-04.com.emc:cx.fnm00150600267.a0, portal: 10.245.47.95,3260]
Rescanning session [sid: 2, target: iqn.1992-04.com.emc:cx.fnm00150600267.b0, portal: 10.245.47.96,3260]
Rescanning session [sid: 3, target: iqn.1992-04.com.emc:cx.apm00150602415.b0, portal: 192.168.1.60,3260]
`;

function hitch(code: ErrorCode) {
  return (e: unknown): boolean => isHitchError(e, code);
}

describe('the seed, by hand, through SimHost', () => {
  it('probe → 21 → --op new → .59 hangs 120 s and fails (exit 8) → .60 logs in → scan → by-path → WWN → no dm map', async () => {
    // The seed's host as the seed shows it: two sessions to another array already exist.
    const host = createSimHost('seed-with-other-sessions');
    const clock = host.clock;
    const { latency } = host.sim;
    const iscsiadm = (args: string[]) => host.exec('iscsiadm', args, { okCodes: 'any', timeoutMs: 300_000 });
    const cmd = latency.commandMs;

    // 6.3 portal .59: no record yet
    let r = await iscsiadm(['-m', 'node', '-T', A0, '-p', P59]);
    expect(r).toEqual({ code: 21, stdout: '', stderr: 'iscsiadm: No records found\n' });
    r = await iscsiadm(['-m', 'node', '-T', A0, '-p', P59, '--interface', 'default', '--op', 'new']);
    expect(r).toEqual({ code: 0, stdout: `New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=default] 192.168.1.59,3260,-1 ${A0}] added\n`, stderr: '' });
    r = await iscsiadm(['-m', 'session']);
    expect(r).toEqual({ code: 0, stdout: SEED_SESSIONS_BEFORE, stderr: '' });
    const beforeLogin = clock.now();
    expect(beforeLogin).toBe(3 * cmd);

    // The dead portal: iscsid's 8 × 15 s, then exit 8 with the seed's text.
    r = await iscsiadm(['-m', 'node', '-T', A0, '-p', P59, '--login']);
    expect(r.code).toBe(8);
    // The seed's older open-iscsi printed ` (multiple)` after the bracket; 2.1.8, which the
    // simulator answers as (measured in the storage host guest), does not.
    expect(r.stdout).toBe(`Logging in to [iface: default, target: ${A0}, portal: 192.168.1.59,3260]\n`);
    expect(r.stderr).toBe(
      `iscsiadm: Could not login to [iface: default, target: ${A0}, portal: 192.168.1.59,3260].\n` +
        'iscsiadm: initiator reported error (8 - connection timed out)\n' +
        'iscsiadm: Could not log into all portals\n',
    );
    expect(clock.now() - beforeLogin).toBe(cmd + 120_000);

    // 6.4 portal .60
    r = await iscsiadm(['-m', 'node', '-T', B0, '-p', P60]);
    expect(r.code).toBe(21);
    r = await iscsiadm(['-m', 'node', '-T', B0, '-p', P60, '--interface', 'default', '--op', 'new']);
    expect(r.stdout).toBe(`New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=default] 192.168.1.60,3260,-1 ${B0}] added\n`);
    r = await iscsiadm(['-m', 'node', '-T', B0, '-p', P60, '--op', 'update', '-n', 'node.session.scan', '-v', 'manual']);
    expect(r.code).toBe(0);
    let t = clock.now();
    r = await iscsiadm(['-m', 'node', '-T', B0, '-p', P60, '--login']);
    expect(r).toEqual({
      code: 0,
      stdout:
        `Logging in to [iface: default, target: ${B0}, portal: 192.168.1.60,3260]\n` +
        `Login to [iface: default, target: ${B0}, portal: 192.168.1.60,3260] successful.\n`,
      stderr: '',
    });
    expect(clock.now() - t).toBe(cmd + latency.loginRttMs);
    r = await iscsiadm(['-m', 'node', '-T', B0, '-p', P60, '--op', 'update', '-n', 'node.startup', '-v', 'automatic']);
    expect(r.code).toBe(0);
    r = await iscsiadm(['-m', 'session']);
    expect(r.stdout).toBe(SEED_SESSIONS_AFTER);

    // node.session.scan = manual: the login scanned nothing.
    expect(await host.glob('/sys/class/scsi_host/host*/device/session3/target*/*:*:*:*/block/*')).toEqual([]);

    // Scan LUN 192 the way os-brick does: find the SCSI host, write "C T L" to its scan file. The
    // session has no SCSI target before its first scan (the kernel makes it then), so os-brick
    // finds the host from the session's place in sysfs.
    expect(await host.glob('/sys/class/iscsi_host/host*/device/session3/target*')).toEqual([]);
    expect(await host.glob('/sys/class/iscsi_host/host*/device/session3')).toEqual(['/sys/class/iscsi_host/host4/device/session3']);
    t = clock.now();
    const tee = await host.exec('tee', ['-a', '/sys/class/scsi_host/host4/scan'], { input: '0 0 192' });
    expect(tee).toEqual({ code: 0, stdout: '0 0 192', stderr: '' });
    const scanned = clock.now();
    expect(scanned - t).toBe(cmd + latency.lunScanMs);
    expect(await host.glob('/sys/class/scsi_host/host4/device/session3/target4:0:0/4:0:0:192/block/*')).toEqual([
      '/sys/class/scsi_host/host4/device/session3/target4:0:0/4:0:0:192/block/sdc',
    ]);
    expect(await host.readFile('/sys/block/sdc/device/wwid')).toBe(`naa.${WWN.slice(1)}\n`);

    // The seed's rescan line, and the by-path link udev makes a little later.
    r = await iscsiadm(['-m', 'node', '--rescan']);
    expect(r.stdout).toBe(SEED_RESCAN);
    expect(await host.exists(BY_PATH_60)).toBe(false);
    expect(await host.waitForPath(BY_PATH_60, { timeoutMs: 10_000 })).toBe(true);
    expect(clock.now()).toBe(scanned + latency.udevDelayMs);
    expect(await host.realpath(BY_PATH_60)).toBe('/dev/sdc');
    expect(await host.exists(`/dev/disk/by-path/ip-${P59}-iscsi-${A0}-lun-192`)).toBe(false);

    // 6.8 the WWN
    r = await host.exec('/lib/udev/scsi_id', ['--page', '0x83', '--whitelisted', BY_PATH_60]);
    expect(r.stdout).toBe(`${WWN}\n`);

    // 6.9 the multipath device never shows up: each wait returns false at its bound.
    t = clock.now();
    expect(await host.waitForPath(`/dev/disk/by-id/dm-uuid-mpath-${WWN}`, { timeoutMs: 6_000 })).toBe(false);
    expect(clock.now() - t).toBe(6_000);
    expect(await host.waitForPath(`/dev/mapper/${WWN}`, { timeoutMs: 6_000 })).toBe(false);
    expect(clock.now() - t).toBe(12_000);
    r = await host.exec('multipath', ['-l', '/dev/sdc']);
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });

    // 6.11 not read-only
    r = await host.exec('lsblk', ['-o', 'NAME,RO', '-l', '-n']);
    const OTHER = '36006016015e03a00ab2df25bb82d0ea9';
    expect(r.stdout).toBe(
      ['vda', 'loop0', 'sda', OTHER, 'sdb', OTHER, 'sdc'].map((n) => `${n.padEnd(OTHER.length)}  0`).join('\n') + '\n',
    );
    r = await host.exec('blockdev', ['--getro', BY_PATH_60]);
    expect(r.stdout).toBe('0\n');

    const state = host.sim.inspectHost('newton');
    expect(state.sessions[2]).toEqual({ sid: 3, portal: P60, target: B0, tpgt: 5, hostNo: 4 });
    expect(state.disks[2]).toMatchObject({ name: 'sdc', hctl: '4:0:0:192', wwn: WWN, linked: true, readOnly: false });
    expect(state.maps.map((m) => m.wwn)).toEqual([OTHER]);
    // What this attach made, beyond the host's two earlier sessions.
    expect(host.model.leftovers()).toEqual([
      `node record ${P59} ${A0}`,
      `node record ${P60} ${B0}`,
      `session 3 ${P60} ${B0}`,
      'disk sdc 4:0:0:192',
    ]);
  });
});

describe('SimHost input checks (the same catalog errors as LinuxHost)', () => {
  const host = createSimHost('healthy-single');

  it('refuses a binary off the allowlist', async () => {
    await expect(host.exec('rm', ['-rf', '/'])).rejects.toSatisfy(hitch('HITCH_EXEC_NOT_ALLOWED'));
    await expect(host.exec('/bin/sh', ['-c', 'true'])).rejects.toSatisfy(hitch('HITCH_EXEC_NOT_ALLOWED'));
  });

  it('refuses an argument with a NUL byte', async () => {
    await expect(host.exec('iscsiadm', ['-m', 'node\0', '-T', 'x'])).rejects.toSatisfy(hitch('HITCH_EXEC_BAD_ARGUMENT'));
  });

  it('refuses paths outside the allowed roots, and `..` escapes', async () => {
    await expect(host.readFile('/etc/passwd')).rejects.toSatisfy(hitch('HITCH_PATH_NOT_ALLOWED'));
    await expect(host.writeFile('/tmp/x', '1')).rejects.toSatisfy(hitch('HITCH_PATH_NOT_ALLOWED'));
    await expect(host.exists('/sys/../etc/shadow')).rejects.toSatisfy(hitch('HITCH_PATH_NOT_ALLOWED'));
    await expect(host.glob('/home/*')).rejects.toSatisfy(hitch('HITCH_PATH_NOT_ALLOWED'));
    await expect(host.waitForPath('relative/path', { timeoutMs: 1 })).rejects.toSatisfy(hitch('HITCH_PATH_NOT_ALLOWED'));
  });

  it('reports a missing file as HITCH_PATH_NOT_FOUND', async () => {
    await expect(host.readFile('/sys/block/sdz/device/wwid')).rejects.toSatisfy(hitch('HITCH_PATH_NOT_FOUND'));
    await expect(host.readlink('/dev/disk/by-path/nope')).rejects.toSatisfy(hitch('HITCH_PATH_NOT_FOUND'));
  });

  it('answers unknown options with the tool’s usage error, not a crash', async () => {
    const r = await host.exec('iscsiadm', ['-m', 'node', '--frobnicate'], { okCodes: 'any' });
    expect(r.code).toBe(7);
    expect(r.stderr).toContain("iscsiadm: unrecognized option '--frobnicate'");
    const m = await host.exec('multipath', ['-z'], { okCodes: 'any' });
    expect(m.code).toBe(1);
    expect(m.stderr).toContain("multipath: invalid option -- 'z'");
    const b = await host.exec('blockdev', ['--frob', '/dev/vda'], { okCodes: 'any' });
    expect(b.code).toBe(1);
    const v = await host.exec('virsh', ['list'], { okCodes: 'any' });
    expect(v.code).toBe(127);
  });
});

describe('SimHost exec semantics', () => {
  it('okCodes: a code outside the list throws HITCH_EXEC_FAILED with the command and output', async () => {
    const host = createSimHost('healthy-single');
    const e = await host.exec('iscsiadm', ['-m', 'session']).catch((x: unknown) => x);
    expect(isHitchError(e, 'HITCH_EXEC_FAILED') && e.details).toMatchObject({ exitCode: 21, command: 'iscsiadm -m session', stderr: 'iscsiadm: No active sessions.' });
    expect((await host.exec('iscsiadm', ['-m', 'session'], { okCodes: [0, 21] })).code).toBe(21);
  });

  it('a hanging command times out at exactly timeoutMs of virtual time', async () => {
    const host = createSimHost('healthy-single', { faults: [{ fault: 'command-hangs', command: 'multipathd', match: 'show status' }] });
    const t = host.clock.now();
    await expect(host.exec('multipathd', ['show', 'status'], { timeoutMs: 45_000 })).rejects.toSatisfy(hitch('HITCH_EXEC_TIMEOUT'));
    expect(host.clock.now() - t).toBe(45_000);
    expect(host.sim.traceText()).toContain('exec timeout (45000 ms) multipathd show status');
  });

  it('aborting an in-flight login to a dead portal rejects with HITCH_ABORTED; no session appears later', async () => {
    const host = createSimHost('seed');
    await host.exec('iscsiadm', ['-m', 'node', '-T', A0, '-p', P59, '--op', 'new']);
    const ac = new AbortController();
    const login = host.exec('iscsiadm', ['-m', 'node', '-T', A0, '-p', P59, '--login'], { timeoutMs: 300_000, signal: ac.signal });
    const t = host.clock.now();
    await host.clock.sleep(10_000);
    ac.abort();
    await expect(login).rejects.toSatisfy(hitch('HITCH_ABORTED'));
    await host.clock.sleep(200_000);
    expect(host.clock.now() - t).toBe(210_000);
    expect(host.sim.inspectHost('newton').sessions).toEqual([]);
  });

  it('masks secrets in the trace and in onExec records', async () => {
    const host = createSimHost('healthy-single');
    const seen: string[] = [];
    host.onExec((rec) => seen.push([rec.cmd, ...rec.args].join(' ')));
    await host.exec('iscsiadm', ['-m', 'node', '-T', 'iqn.x', '-p', '192.0.2.10:3260', '--op', 'new']);
    await host.exec('iscsiadm', ['-m', 'node', '-T', 'iqn.x', '-p', '192.0.2.10:3260', '--op', 'update', '-n', 'node.session.auth.password', '-v', 's3cret'], { secrets: ['s3cret'] });
    expect(seen[1]).not.toContain('s3cret');
    expect(host.sim.traceText()).not.toContain('s3cret');
  });

  it('waitForPath {gone} resolves when a deleted disk’s node disappears', async () => {
    const host = createSimHost('healthy-single');
    const T = 'iqn.2010-10.org.openstack:volume-0001';
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', '192.0.2.10:3260', '--op', 'new']);
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', '192.0.2.10:3260', '--login']);
    expect(await host.waitForPath(`/dev/disk/by-path/ip-192.0.2.10:3260-iscsi-${T}-lun-1`, { timeoutMs: 1_000 })).toBe(true);
    const gone = host.waitForPath('/dev/sda', { timeoutMs: 5_000, gone: true });
    await host.writeFile('/sys/block/sda/device/delete', '1');
    expect(await gone).toBe(true);
    expect(host.model.leftovers()).toEqual([`node record 192.0.2.10:3260 ${T}`, `session 1 192.0.2.10:3260 ${T}`]);
  });

  it('sysfs refuses what the kernel refuses: garbage to scan (EINVAL), new attribute files (EACCES)', async () => {
    const host = createSimHost('healthy-single');
    const T = 'iqn.2010-10.org.openstack:volume-0001';
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', '192.0.2.10:3260', '--op', 'new']);
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', '192.0.2.10:3260', '--login']);
    await expect(host.writeFile('/sys/class/scsi_host/host2/scan', 'all of them')).rejects.toMatchObject({ code: 'HITCH_INTERNAL', message: expect.stringContaining('EINVAL') });
    await expect(host.writeFile('/sys/class/scsi_host/host2/bogus', '1')).rejects.toMatchObject({ code: 'HITCH_INTERNAL', message: expect.stringContaining('EACCES') });
    await expect(host.writeFile('/sys/class/scsi_host/host9/scan', '0 0 1')).rejects.toSatisfy(hitch('HITCH_PATH_NOT_FOUND'));
    const tee = await host.exec('tee', ['-a', '/sys/class/scsi_host/host2/scan'], { input: 'x', okCodes: 'any' });
    expect(tee).toEqual({ code: 1, stdout: 'x', stderr: 'tee: /sys/class/scsi_host/host2/scan: Invalid argument\n' });
  });

  it('gives a Host per compute host of one simulation', () => {
    const host = createSimHost('seed');
    const again = new SimHost(host.sim, 'newton');
    expect(again.clock).toBe(host.clock);
    expect(() => new SimHost(host.sim, 'nosuch')).toThrow(/could not be found/);
  });
});

hostConformance('SimHost', async () => {
  const host = createSimHostForConformance();
  const T = 'iqn.2010-10.org.openstack:volume-0001';
  const P = '192.0.2.10:3260';
  const login = async (): Promise<void> => {
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', P, '--op', 'new']);
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', P, '--login']);
  };
  return {
    host,
    knownFile: { path: '/etc/iscsi/initiatorname.iscsi', content: await host.readFile('/etc/iscsi/initiatorname.iscsi') },
    knownDir: '/etc/iscsi',
    missingPath: '/dev/disk/by-path/ip-192.0.2.99:3260-iscsi-iqn.none-lun-0',
    // The link udev makes after a login scans LUN 1.
    appearing: { path: `/dev/disk/by-path/ip-${P}-iscsi-${T}-lun-1`, make: login },
    vanishing: {
      path: '/dev/vda',
      remove: () => {
        host.model.vfs.remove('/dev/vda');
      },
    },
    // Virtual time moves by itself once everything is idle; a sleep lets it.
    settle: () => host.clock.sleep(1_000),
    // The array's portal; one the network refuses; one nobody serves (its SYNs vanish).
    tcp: async () => {
      host.sim.injectFault({ fault: 'portal-refusing', portal: '192.0.2.11:3260' });
      return { open: { address: '192.0.2.10', port: 3260 }, refused: { address: '192.0.2.11', port: 3260 }, silent: { address: '192.0.2.12', port: 3260 }, close: async () => undefined };
    },
    dispose: async () => undefined,
  };
});

describe('SimHost TCP probe', () => {
  it('answers from the network on virtual time (a handshake, a reset, silence until the timeout), one trace line each', async () => {
    const host = createSimHost('healthy-single');
    host.sim.injectFault({ fault: 'portal-refusing', portal: '192.0.2.11:3260' });
    host.sim.injectFault({ fault: 'portal-dead', portal: '192.0.2.10:3261' });
    host.sim.injectFault({ fault: 'portal-slow', portal: '192.0.2.10:3260', latencyMs: 7 });
    const hs = host.sim.latency.tcpHandshakeMs;
    expect(await host.probeTcp('192.0.2.10', 3260, { timeoutMs: 3_000 })).toEqual({ outcome: 'open', elapsedMs: hs + 14 });
    expect(await host.probeTcp('192.0.2.11', 3260, { timeoutMs: 3_000 })).toEqual({ outcome: 'refused', elapsedMs: hs });
    expect(await host.probeTcp('192.0.2.10', 3261, { timeoutMs: 3_000 })).toEqual({ outcome: 'timeout', elapsedMs: 3_000 });
    // A round trip longer than the timeout is a timeout too.
    expect(await host.probeTcp('192.0.2.10', 3260, { timeoutMs: 10 })).toEqual({ outcome: 'timeout', elapsedMs: 10 });
    expect(host.sim.traceLines().filter((l) => l.includes('probe tcp')).map((l) => l.trim().split(' ').slice(1).join(' '))).toEqual([
      `compute-1 probe tcp 192.0.2.10:3260 open (${hs + 14} ms)`,
      `compute-1 probe tcp 192.0.2.11:3260 refused (${hs} ms)`,
      'compute-1 probe tcp 192.0.2.10:3261 timeout (3000 ms)',
      'compute-1 probe tcp 192.0.2.10:3260 timeout (10 ms)',
    ]);
  });

  it('has no probe when built without one: the exec policy refuses the call', async () => {
    const host = createSimHost('healthy-single', { tcpProbe: false });
    expect(host.capabilities.tcpProbe).toBe(false);
    await expect(host.probeTcp('192.0.2.10', 3260, { timeoutMs: 1_000 })).rejects.toSatisfy(hitch('HITCH_INTERNAL'));
  });
});
