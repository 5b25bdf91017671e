import { describe, expect, it } from 'vitest';
import { createSimHost } from '../../sim/sim-host.ts';
import { RecordingHost } from '../../host/recording-host.ts';
import { Trace } from '../../trace/span.ts';
import { NodeRecordCache, parseRecordSettings, recordAddress, writeNodeRecord } from './node-record.ts';

const T = 'iqn.2010-10.org.openstack:volume-0001';
const P = '192.0.2.10:3260';
const t = { portal: P, iqn: T, lun: 1 };

function ctxOn(scenario = 'healthy-single') {
  const sim = createSimHost(scenario);
  const host = new RecordingHost(sim);
  return { sim, host, ctx: { host, span: new Trace(host.clock).root() } };
}

describe('node records brick writes itself', () => {
  it('reads settings as open-iscsi does: comments, blanks and value-less lines skipped, the last one wins', () => {
    const s = parseRecordSettings('# BEGIN RECORD 2.1.8\n\nnode.startup = manual\n  node.startup=automatic  \nnode.session.cmds_max =\nbogus line\n# END RECORD\n');
    expect([...s]).toEqual([['node.startup', 'automatic']]);
  });

  it('names the record by the portal as the record stores it (IPv6 without brackets)', () => {
    expect(recordAddress('192.0.2.10:3260')).toEqual({ address: '192.0.2.10', port: '3260' });
    expect(recordAddress('[fd00::10]:3261')).toEqual({ address: 'fd00::10', port: '3261' });
  });

  it('a new record: iscsid.conf node.* settings, then brick\'s; iscsiadm on the host reads it', async () => {
    const { sim, host, ctx } = ctxOn();
    await sim.writeFile('/etc/iscsi/iscsid.conf', 'iscsid.startup = /usr/sbin/iscsid\nnode.startup = manual\nnode.conn[0].timeo.login_timeout = 15\ndiscovery.sendtargets.auth.authmethod = CHAP\n');
    expect(await writeNodeRecord(ctx, '/etc/iscsi/nodes', t, null)).toBe(true);
    const text = await sim.readFile(`/etc/iscsi/nodes/${T}/192.0.2.10,3260`);
    expect(text).toContain('\nnode.conn[0].timeo.login_timeout = 15\n');
    expect(text).toContain('\nnode.startup = automatic\n');
    expect(text).not.toContain('iscsid.startup');
    expect(text).not.toContain('discovery.');
    const show = (await sim.exec('iscsiadm', ['-m', 'node', '-T', T, '-p', P])).stdout;
    expect(show).toContain('\nnode.startup = automatic\n');
    expect(show).toContain('\nnode.session.scan = manual\n');
    expect(show).toContain('\nnode.conn[0].timeo.login_timeout = 15\n');
    expect(host.commands()).toEqual([]);
  });

  it('a discovered record (<ip>,<port>,<tpgt>/default) is updated in place: its TPGT and discovery settings stay', async () => {
    const { sim, ctx } = ctxOn();
    await sim.exec('iscsiadm', ['-m', 'discovery', '-t', 'sendtargets', '-p', P]);
    expect(await writeNodeRecord(ctx, '/etc/iscsi/nodes', t, { method: 'CHAP', username: 'u', password: 'pw' })).toBe(true);
    expect(sim.model.vfs.readdir(`/etc/iscsi/nodes/${T}`)).toEqual(['192.0.2.10,3260,1']);
    const text = await sim.readFile(`/etc/iscsi/nodes/${T}/192.0.2.10,3260,1/default`);
    expect(text).toContain('\nnode.tpgt = 1\n');
    expect(text).toContain('\nnode.discovery_type = send_targets\n');
    expect(text).toContain('\nnode.session.auth.username = u\n');
    expect(sim.sim.inspectHost('compute-1').nodes).toEqual([{ target: T, portal: P, tpgt: 1, iface: 'default', startup: 'automatic', scan: 'manual', authmethod: 'CHAP' }]);
  });

  it('the portals of one target written at once share one listing of its directory, and each gets its record', async () => {
    const { sim, host, ctx } = ctxOn('healthy-multipath');
    await sim.exec('iscsiadm', ['-m', 'discovery', '-t', 'sendtargets', '-p', P]);
    const listed: string[] = [];
    const readdir = host.readdir.bind(host);
    host.readdir = (path: string) => (listed.push(path), readdir(path));
    const cache = new NodeRecordCache();
    const second = { ...t, portal: '192.0.2.11:3260' };
    expect(await Promise.all([writeNodeRecord(ctx, '/etc/iscsi/nodes', t, null, cache), writeNodeRecord(ctx, '/etc/iscsi/nodes', second, null, cache)])).toEqual([true, true]);
    expect(listed).toEqual([`/etc/iscsi/nodes/${T}`]);
    // Each portal's discovered record was found in the shared listing and updated in place.
    expect(sim.model.vfs.readdir(`/etc/iscsi/nodes/${T}`).sort()).toEqual(['192.0.2.10,3260,1', '192.0.2.11,3260,1']);
    expect(sim.sim.inspectHost('compute-1').nodes.map((n) => [n.portal, n.scan])).toEqual([[P, 'manual'], ['192.0.2.11:3260', 'manual']]);
    // A later write lists again (nothing is kept once the listing is done).
    await writeNodeRecord(ctx, '/etc/iscsi/nodes', second, null, cache);
    expect(listed).toHaveLength(2);
  });

  it('writes nothing (and says so) when the nodes directory is not there', async () => {
    const { sim, ctx } = ctxOn();
    expect(await writeNodeRecord(ctx, '/etc/iscsi/no-such-nodes', t, null)).toBe(false);
    expect(sim.model.vfs.exists('/etc/iscsi/no-such-nodes')).toBe(false);
    expect(sim.sim.inspectHost('compute-1').nodes).toEqual([]);
  });
});
