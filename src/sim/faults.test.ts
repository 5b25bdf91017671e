import { describe, expect, it } from 'vitest';
import { createSimHost, type SimHost } from './sim-host.ts';
import type { FaultSpec } from './faults.ts';

const T = 'iqn.2010-10.org.openstack:volume-0001';
const P = '192.0.2.10:3260';
const BY_PATH = `/dev/disk/by-path/ip-${P}-iscsi-${T}-lun-1`;
const any = { okCodes: 'any' as const, timeoutMs: 600_000 };

function single(faults: FaultSpec[] = []): SimHost {
  return createSimHost('healthy-single', { faults });
}

async function login(host: SimHost, portal = P, target = T): Promise<{ code: number; stderr: string; ms: number }> {
  const probe = await host.exec('iscsiadm', ['-m', 'node', '-T', target, '-p', portal], any);
  if (probe.code === 21) await host.exec('iscsiadm', ['-m', 'node', '-T', target, '-p', portal, '--op', 'new'], any);
  const t = host.clock.now();
  const r = await host.exec('iscsiadm', ['-m', 'node', '-T', target, '-p', portal, '--login'], any);
  return { code: r.code, stderr: r.stderr, ms: host.clock.now() - t };
}

describe('faults', () => {
  it('portal-dead: the login hangs for the iscsid timeout, then exit 8', async () => {
    const r = await login(single([{ fault: 'portal-dead', portal: P }]));
    expect(r.code).toBe(8);
    expect(r.stderr).toContain('(8 - connection timed out)');
    expect(r.ms).toBe(5 + 120_000);
  });

  it('portal-dead with a configured timeout; portal-refusing costs what a dead one does (iscsid reconnects until each attempt is over)', async () => {
    expect((await login(single([{ fault: 'portal-dead', portal: P, loginTimeoutMs: 30_000 }]))).ms).toBe(5 + 30_000);
    // Measured on the storage host guest (fidelity scene dead-login): a closed port fails the
    // login with exit 8 "connection timed out" after the record's attempts × login_timeout,
    // as a dropped one does — iscsid.conf's 8 × 15 s here.
    const refused = await login(single([{ fault: 'portal-refusing', portal: P }]));
    expect([refused.code, refused.ms]).toEqual([8, 5 + 8 * 15_000]);
  });

  it('a dead portal that comes back during a login: iscsid connects at the next SYN of the attempt in progress', async () => {
    // Dead from 0 to 20 s; the login (8 attempts × 15 s) started at 0: attempt 2 (15–30 s) sends
    // its SYNs at 15, 16, 18, 22 s (after the command's 5 ms) — the one at 22 s gets through.
    const host = single([{ fault: 'portal-dead', portal: P, until: 20_000 }]);
    const r = await login(host);
    expect([r.code, r.ms]).toEqual([0, 5 + 22_000 + 40 + 15]);
  });

  it('portal-slow adds two one-way latencies to the login round trip', async () => {
    expect((await login(single([{ fault: 'portal-slow', portal: P, latencyMs: 250 }]))).ms).toBe(5 + 40 + 500 + 15);
  });

  it('scheduled: a portal dies at t=10 s and comes back at t=200 s', async () => {
    const host = single([{ fault: 'portal-dead', portal: P, at: 10_000, until: 200_000 }]);
    await host.clock.sleep(10_000);
    expect((await login(host)).code).toBe(8);
    await host.clock.sleep(200_000 - host.clock.now());
    expect((await login(host)).code).toBe(0);
    expect(host.sim.traceText()).toMatch(/10\.000 network portal 192\.0\.2\.10:3260 dead\n[\s\S]*200\.000 network portal 192\.0\.2\.10:3260 healthy/);
  });

  it('login-auth-failure (exit 24), only on the 1st call with nth; target-not-found (exit 19)', async () => {
    const host = single([{ fault: 'login-auth-failure', nth: 1 }]);
    const first = await login(host);
    expect(first.code).toBe(24);
    expect(first.stderr).toContain('iscsiadm: initiator reported error (24 - iSCSI login failed due to authorization failure)');
    expect((await login(host)).code).toBe(0);
    expect((await login(single([{ fault: 'target-not-found' }]))).code).toBe(19);
  });

  it('ACLs and CHAP: a LUN is visible only to initiators it was exported to', async () => {
    const host = single();
    const arr = host.sim.array('array1');
    arr.createTarget('iqn.t:chap');
    arr.addLun('iqn.t:chap', { lun: 3 });
    expect((await login(host, P, 'iqn.t:chap')).code).toBe(24);
    arr.allowInitiator('iqn.t:chap', host.model.initiator, { chapUser: 'u', chapPassword: 'p' });
    expect((await login(host, P, 'iqn.t:chap')).code).toBe(24);
    for (const [n, v] of [['node.session.auth.authmethod', 'CHAP'], ['node.session.auth.username', 'u'], ['node.session.auth.password', 'p']]) {
      await host.exec('iscsiadm', ['-m', 'node', '-T', 'iqn.t:chap', '-p', P, '--op', 'update', '-n', n as string, '-v', v as string]);
    }
    expect((await login(host, P, 'iqn.t:chap')).code).toBe(0);
    expect(host.sim.inspectHost('compute-1').disks.map((d) => d.lun)).toEqual([3]);
    // Another initiator's LUN on the same target stays invisible.
    arr.addLun('iqn.t:chap', { lun: 4 });
    arr.denyInitiator('iqn.t:chap', host.model.initiator, [4]);
    await host.exec('iscsiadm', ['-m', 'session', '-r', '1', '--rescan']);
    expect(host.sim.inspectHost('compute-1').disks.map((d) => d.lun)).toEqual([3]);
  });

  it('device-never-appears and device-appears-late', async () => {
    const never = single([{ fault: 'device-never-appears' }]);
    expect((await login(never)).code).toBe(0);
    expect(await never.waitForPath(BY_PATH, { timeoutMs: 20_000 })).toBe(false);
    const late = single([{ fault: 'device-appears-late', delayMs: 7_000 }]);
    await login(late);
    const t = late.clock.now();
    expect(await late.waitForPath(BY_PATH, { timeoutMs: 20_000 })).toBe(true);
    expect(late.clock.now() - t).toBe(7_000 + 100);
  });

  it('multipathd-down: show status exits 1 and no map is built', async () => {
    const host = single([{ fault: 'multipathd-down' }]);
    expect((await host.exec('multipathd', ['show', 'status'], any)).code).toBe(1);
    await login(host);
    expect(await host.waitForPath(BY_PATH, { timeoutMs: 1_000 })).toBe(true);
    await host.clock.sleep(10_000);
    expect(host.sim.inspectHost('compute-1').maps).toEqual([]);
  });

  it('scsi-id-failure and read-only', async () => {
    const host = single([{ fault: 'scsi-id-failure', nth: 1 }, { fault: 'read-only' }]);
    await login(host);
    await host.waitForPath(BY_PATH, { timeoutMs: 1_000 });
    expect(await host.exec('/lib/udev/scsi_id', ['--page', '0x83', '--whitelisted', BY_PATH], any)).toEqual({ code: 1, stdout: '', stderr: '' });
    expect((await host.exec('/lib/udev/scsi_id', ['--page', '0x83', '--whitelisted', BY_PATH], any)).stdout).toMatch(/^36001405[0-9a-f]{25}\n$/);
    expect((await host.exec('blockdev', ['--getro', BY_PATH])).stdout).toBe('1\n');
    expect(await host.readFile('/sys/block/sda/ro')).toBe('1\n');
    expect((await host.exec('lsblk', ['-o', 'NAME,RO', '-l', '-n'])).stdout).toMatch(/^sda +1$/m);
  });

  it('command-hangs on the nth call only', async () => {
    const host = single([{ fault: 'command-hangs', command: 'iscsiadm', match: '-m session', nth: 2 }]);
    expect((await host.exec('iscsiadm', ['-m', 'session'], { okCodes: [21] })).code).toBe(21);
    await expect(host.exec('iscsiadm', ['-m', 'session'], { okCodes: [21], timeoutMs: 2_000 })).rejects.toMatchObject({ code: 'HITCH_EXEC_TIMEOUT' });
    expect((await host.exec('iscsiadm', ['-m', 'session'], { okCodes: [21] })).code).toBe(21);
  });

  it('a node record a session uses cannot be deleted before the logout (exit 15)', async () => {
    const host = single();
    await login(host);
    const r = await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', P, '--op', 'delete'], any);
    expect(r.code).toBe(15);
    expect(r.stderr).toBe(
      `iscsiadm: This command will remove the record [iface: default, target: ${T}, portal: 192.0.2.10,3260], but a session is using it. Logout session then rerun command to remove record.\n` +
        'iscsiadm: Could not execute operation on all records: session exists\n',
    );
    await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', P, '--logout']);
    expect((await host.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', P, '--op', 'delete'])).code).toBe(0);
  });
});
