/**
 * The iSCSI `connection_info` data a scenario's host would get for the targets already exported
 * to it (what Cinder's `initialize_connection` returns): one entry per target × portal × LUN.
 */
import type { Simulation } from '../../src/sim/simulation.ts';

export type IscsiData = Record<string, unknown>;

/** Every (portal, iqn, lun) exported to `hostName`, as one multipath-style connection. */
export function connectionFor(sim: Simulation, hostName: string, opts: { multipath: boolean; iqns?: readonly string[] }): IscsiData {
  const initiator = sim.host(hostName).initiator;
  const paths: Array<{ portal: string; iqn: string; lun: number; chap?: { user: string; password: string } }> = [];
  for (const array of sim.arrays()) {
    for (const t of array.targets()) {
      if (opts.iqns ? !opts.iqns.includes(t.iqn) : !t.acls.has(initiator)) continue;
      const acl = t.acls.get(initiator);
      const luns = [...t.luns.keys()].filter((l) => acl === undefined || array.visibleLuns(t.iqn, initiator).some((v) => v.lun === l));
      for (const portal of t.portals) {
        for (const lun of luns) {
          const chap = acl?.chapUser && acl.chapPassword ? { user: acl.chapUser, password: acl.chapPassword } : undefined;
          paths.push({ portal, iqn: t.iqn, lun, ...(chap ? { chap } : {}) });
        }
      }
    }
  }
  const first = paths[0];
  if (!first) throw new Error(`nothing is exported to ${hostName}`);
  const data: IscsiData = { target_discovered: false, target_portal: first.portal, target_iqn: first.iqn, target_lun: first.lun, access_mode: 'rw', encrypted: false, qos_specs: null, volume_id: '5ed0cc5c-158c-4857-9bd5-3556884a23f0' };
  if (first.chap) Object.assign(data, { auth_method: 'CHAP', auth_username: first.chap.user, auth_password: first.chap.password });
  if (opts.multipath) {
    data['target_portals'] = paths.map((p) => p.portal);
    data['target_iqns'] = paths.map((p) => p.iqn);
    data['target_luns'] = paths.map((p) => p.lun);
  }
  return data;
}
