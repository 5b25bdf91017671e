/**
 * The node database lives in the host's tree in open-iscsi's layout, so a record written by
 * `iscsiadm` and one an initiator writes straight into `/etc/iscsi/nodes` are the same thing.
 */
import { describe, expect, it } from 'vitest';
import { createSimHost } from './sim-host.ts';
import { loadScenario } from './scenario.ts';

const T = 'iqn.2010-10.org.openstack:volume-0001';
const P = '192.0.2.10:3260';
const NODES = '/etc/iscsi/nodes';
const FILE = `${NODES}/${T}/192.0.2.10,3260`;
const BY_PATH = `/dev/disk/by-path/ip-${P}-iscsi-${T}-lun-1`;

function node(...rest: string[]): string[] {
  return ['-m', 'node', '-T', T, '-p', P, ...rest];
}

describe('node records are files under the nodes directory', () => {
  it('--op new writes <target>/<ip>,<port> (TPGT -1: a plain file), root-only, every non-empty setting', async () => {
    const host = createSimHost('healthy-single');
    await host.exec('iscsiadm', node('--interface', 'default', '--op', 'new'));
    await host.exec('iscsiadm', node('--op', 'update', '-n', 'node.session.scan', '-v', 'manual'));
    const vfs = host.model.vfs;
    expect(vfs.readdir(`${NODES}/${T}`)).toEqual(['192.0.2.10,3260']);
    expect(vfs.lstat(FILE)).toMatchObject({ kind: 'file', mode: 0o600 });
    const text = await host.readFile(FILE);
    expect(text.startsWith('# BEGIN RECORD 2.1.8\nnode.name = iqn.2010-10.org.openstack:volume-0001\nnode.tpgt = -1\nnode.startup = manual\n')).toBe(true);
    expect(text).toContain('\nnode.session.scan = manual\n');
    expect(text).toContain('\nnode.conn[0].address = 192.0.2.10\nnode.conn[0].port = 3260\n');
    expect(text).not.toContain('<empty>');
    expect(text.endsWith('# END RECORD\n')).toBe(true);
  });

  it('reads a record written straight into the tree, leniently, as open-iscsi does', async () => {
    const host = createSimHost('healthy-single');
    const secret = 'pw-in-file';
    host.model.vfs.writeText(
      FILE,
      [
        '# written by hand',
        '',
        'node.name = ' + T,
        'node.conn[0].address=192.0.2.10',
        '  node.conn[0].port   =   3260  ',
        'node.startup = automatic',
        'node.session.scan = sometimes', // not a value it can take: stays at its default
        'node.session.scan = manual', // the last valid one wins
        'node.session.auth.authmethod = CHAP',
        'node.session.auth.username = u',
        `node.session.auth.password = ${secret}`,
        'no.such.setting = 1', // unknown: ignored
        'node.session.cmds_max =', // no value: skipped
      ].join('\n') + '\n',
    );
    expect((await host.exec('iscsiadm', ['-m', 'node'])).stdout).toBe(`${P},4294967295 ${T}\n`);
    const show = (await host.exec('iscsiadm', node())).stdout;
    expect(show).toContain('\nnode.startup = automatic\n');
    expect(show).toContain('\nnode.session.scan = manual\n');
    expect(show).toContain('\nnode.session.cmds_max = 128\n'); // the default
    expect(show).toContain('\niface.iscsi_ifacename = default\n');
    expect(show).toContain('\nnode.session.auth.password = ********\n');
    expect(show).not.toContain(secret);
    expect((await host.exec('iscsiadm', [...node(), '-S'])).stdout).toContain(`\nnode.session.auth.password = ${secret}\n`);
    expect(host.sim.inspectHost('compute-1').nodes).toEqual([
      { target: T, portal: P, tpgt: -1, iface: 'default', startup: 'automatic', scan: 'manual', authmethod: 'CHAP' },
    ]);
    // The login uses it: manual scan (no disk until asked for), and CHAP the array does not require.
    await host.exec('iscsiadm', node('--login'));
    expect(host.sim.inspectHost('compute-1').sessions).toHaveLength(1);
    expect(host.sim.inspectHost('compute-1').disks).toEqual([]);
    // And iscsiadm edits the same file.
    await host.exec('iscsiadm', node('--logout'));
    await host.exec('iscsiadm', node('--op', 'update', '-n', 'node.startup', '-v', 'manual'));
    expect(await host.readFile(FILE)).toContain('\nnode.startup = manual\n');
    expect(await host.readFile(FILE)).toContain(`\nnode.session.auth.password = ${secret}\n`);
  });

  it('a record without node.session.scan scans every LUN at login (the default is auto)', async () => {
    const host = createSimHost('healthy-single');
    host.model.vfs.writeText(FILE, `node.name = ${T}\nnode.conn[0].address = 192.0.2.10\nnode.conn[0].port = 3260\n`);
    await host.exec('iscsiadm', node('--login'));
    expect(await host.waitForPath(BY_PATH, { timeoutMs: 1_000 })).toBe(true);
  });

  it('--op delete removes the file and the target directory it leaves empty', async () => {
    const host = createSimHost('healthy-single');
    await host.exec('iscsiadm', node('--op', 'new'));
    await host.exec('iscsiadm', node('--op', 'delete'));
    expect(host.model.vfs.readdir(NODES)).toEqual([]);
    expect((await host.exec('iscsiadm', node('--op', 'delete'), { okCodes: [21] })).stderr).toBe('iscsiadm: No records found\n');
  });

  it('discovery stores <ip>,<port>,<tpgt>/<iface> and replaces the static record with its own settings (iscsid.conf\'s)', async () => {
    const host = createSimHost('healthy-single');
    await host.exec('iscsiadm', node('--op', 'new'));
    await host.exec('iscsiadm', node('--op', 'update', '-n', 'node.session.scan', '-v', 'manual'));
    await host.exec('iscsiadm', ['-m', 'discovery', '-t', 'sendtargets', '-p', P]);
    const vfs = host.model.vfs;
    expect(vfs.readdir(`${NODES}/${T}`)).toEqual(['192.0.2.10,3260,1']);
    expect(vfs.readdir(`${NODES}/${T}/192.0.2.10,3260,1`)).toEqual(['default']);
    const text = await host.readFile(`${NODES}/${T}/192.0.2.10,3260,1/default`);
    expect(text).toContain('\nnode.tpgt = 1\n');
    expect(text).toContain('\nnode.discovery_type = send_targets\n');
    // open-iscsi 2.1.8 writes the discovered record afresh: the manual scan set on the static
    // record is gone (fidelity scene node-records: discovery/show).
    expect(text).toContain('\nnode.session.scan = auto\n');
    expect((await host.exec('iscsiadm', ['-m', 'node'])).stdout).toBe(`${P},1 ${T}\n`);
    await host.exec('iscsiadm', node('--op', 'delete'));
    expect(vfs.readdir(NODES)).toEqual([]);
  });

  it('refuses to change what names a record, and values a setting cannot take', async () => {
    const host = createSimHost('healthy-single');
    await host.exec('iscsiadm', node('--op', 'new'));
    const name = await host.exec('iscsiadm', node('--op', 'update', '-n', 'node.conn[0].port', '-v', '3261'), { okCodes: 'any' });
    expect([name.code, name.stderr]).toEqual([
      7,
      'iscsiadm: Cannot modify node.conn[0].port. It is used to look up the record and cannot be changed.\niscsiadm: Could not execute operation on all records: invalid parameter\n',
    ]);
    const bad = await host.exec('iscsiadm', node('--op', 'update', '-n', 'node.startup', '-v', 'sometimes'), { okCodes: 'any' });
    expect([bad.code, bad.stderr]).toEqual([
      7,
      "iscsiadm: unknown value format 'sometimes' for parameter name 'node.startup'\niscsiadm: Unknown parameter node.startup.\niscsiadm: Could not execute operation on all records: invalid parameter\n",
    ]);
    expect(await host.readFile(FILE)).toContain('\nnode.startup = manual\n');
  });

  it('keeps records where the scenario says open-iscsi keeps them (RHEL: /var/lib/iscsi/nodes)', async () => {
    const base = loadScenario('healthy-single');
    const h0 = base.hosts[0] as NonNullable<(typeof base.hosts)[number]>;
    const host = createSimHost({ ...base, hosts: [{ ...h0, iscsiNodesDir: '/var/lib/iscsi/nodes' }] });
    await host.exec('iscsiadm', node('--op', 'new'));
    expect(host.model.vfs.exists(NODES)).toBe(false);
    expect(host.model.vfs.readdir(`/var/lib/iscsi/nodes/${T}`)).toEqual(['192.0.2.10,3260']);
    expect(host.sim.inspectHost('compute-1').nodes.map((n) => n.portal)).toEqual([P]);
  });
});
