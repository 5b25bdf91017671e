import { describe, expect, it } from 'vitest';
import { SimHost } from './sim-host.ts';
import { Simulation } from './simulation.ts';

const TARGET = 'iqn.2010-10.org.openstack:volume-0042';

/**
 * A multipath attach as an initiator would drive it: a new LUN (WWN from the seeded RNG),
 * node records and logins to all eight portals at once (three are dead), LUN scans, waits for
 * every by-path link and for the dm map, then a detach.
 */
async function attachAndDetach(seed: number): Promise<string> {
  const sim = Simulation.create('eight-portals-three-dead', { seed });
  const host = new SimHost(sim);
  const initiator = sim.host(host.name).initiator;
  const array = sim.array('array1');
  array.createTarget(TARGET);
  const lun = array.addLun(TARGET, { lun: 7 });
  await sim.exportTo('array1', TARGET, initiator);
  const any = { okCodes: 'any' as const, timeoutMs: 200_000 };
  await Promise.all(
    array.portals.map(async (p) => {
      await host.exec('iscsiadm', ['-m', 'node', '-T', TARGET, '-p', p], any);
      await host.exec('iscsiadm', ['-m', 'node', '-T', TARGET, '-p', p, '--interface', 'default', '--op', 'new'], any);
      await host.exec('iscsiadm', ['-m', 'node', '-T', TARGET, '-p', p, '--op', 'update', '-n', 'node.session.scan', '-v', 'manual'], any);
      const r = await host.exec('iscsiadm', ['-m', 'node', '-T', TARGET, '-p', p, '--login'], any);
      if (r.code !== 0) return;
      // The session's SCSI host, from where sysfs puts the session (it has no SCSI target before a scan).
      const sid = sim.host(host.name).sessionList().find((s) => s.portal === p)?.sid;
      const hostNo = /\/host(\d+)\/session/.exec(await host.realpath(`/sys/class/iscsi_session/session${sid}`))?.[1];
      await host.exec('tee', ['-a', `/sys/class/scsi_host/host${hostNo}/scan`], { input: '0 0 7' });
      await host.waitForPath(`/dev/disk/by-path/ip-${p}-iscsi-${TARGET}-lun-7`, { timeoutMs: 10_000 });
    }),
  );
  await host.waitForPath(`/dev/disk/by-id/dm-uuid-mpath-${lun.wwn}`, { timeoutMs: 10_000 });
  await host.exec('multipath', ['-ll']);
  await host.exec('multipath', ['-f', lun.wwn]);
  for (const d of sim.host(host.name).diskList()) await host.writeFile(`/sys/block/${d.name}/device/delete`, '1');
  await host.exec('iscsiadm', ['-m', 'node', '-T', TARGET, '--logout'], any);
  await host.exec('iscsiadm', ['-m', 'node', '-T', TARGET, '--op', 'delete'], any);
  expect(sim.host(host.name).leftovers()).toEqual([]);
  return sim.traceText();
}

describe('determinism', () => {
  it('the same scenario and seed give the same trace, byte for byte', async () => {
    const first = await attachAndDetach(7);
    const second = await attachAndDetach(7);
    expect(second).toBe(first);
    // The run did what it claims: five logins, three 120 s timeouts, one map.
    expect(first.match(/exec rc=0 \(\d+ ms\) iscsiadm .* --login/g)).toHaveLength(5);
    expect(first.match(/exec rc=8 \(120005 ms\) iscsiadm .* --login/g)).toHaveLength(3);
    expect(first).toContain('multipathd map add dm-0');
  });

  it('a different seed may differ (here: the generated WWN)', async () => {
    expect(await attachAndDetach(8)).not.toBe(await attachAndDetach(7));
  });
});
