/**
 * Plain-data snapshots of a simulated host, for tests and invariant checks ("after a failed
 * attach nothing is left behind: no node record, no session, no disk, no map").
 */
import type { SimComputeHost } from './compute-host.ts';
import { setting } from './iscsi-node-db.ts';

export interface HostSnapshot {
  readonly multipathd: boolean;
  readonly nodes: Array<{ target: string; portal: string; tpgt: number; iface: string; startup: string; scan: string; authmethod: string }>;
  readonly sessions: Array<{ sid: number; target: string; portal: string; tpgt: number; hostNo: number }>;
  readonly disks: Array<{ name: string; hctl: string; wwn: string; target: string; portal: string; lun: number; linked: boolean; readOnly: boolean; byPath: string }>;
  readonly maps: Array<{ dm: string; name: string; wwn: string; paths: string[] }>;
}

export function inspectHost(h: SimComputeHost): HostSnapshot {
  return {
    multipathd: h.multipath.running(),
    nodes: h.nodes.list().map((r) => ({
      target: r.target,
      portal: r.portal,
      tpgt: r.tpgt,
      iface: r.iface,
      startup: setting(r, 'node.startup'),
      scan: setting(r, 'node.session.scan'),
      authmethod: setting(r, 'node.session.auth.authmethod'),
    })),
    sessions: h.sessionList().map((s) => ({ sid: s.sid, target: s.target, portal: s.portal, tpgt: s.tpgt, hostNo: s.hostNo })),
    disks: h.diskList().map((d) => ({
      name: d.name,
      hctl: `${d.session.hostNo}:0:0:${d.lun.lun}`,
      wwn: d.lun.wwn,
      target: d.session.target,
      portal: d.session.portal,
      lun: d.lun.lun,
      linked: d.linked,
      readOnly: h.isReadOnly(d),
      byPath: h.byPathLink(d),
    })),
    maps: h.multipath.mapList().map((m) => ({ dm: `dm-${m.index}`, name: m.name, wwn: m.wwn, paths: m.paths.map((p) => p.name) })),
  };
}

/** Every piece of iSCSI, multipath and NVMe state on the host, one line each. */
export function stateLines(h: SimComputeHost): string[] {
  const s = inspectHost(h);
  return [
    ...s.nodes.map((n) => `node record ${n.portal} ${n.target}`),
    ...s.sessions.map((x) => `session ${x.sid} ${x.portal} ${x.target}`),
    ...s.disks.map((d) => `disk ${d.name} ${d.hctl}`),
    ...s.maps.map((m) => `dm map ${m.dm} ${m.wwn}`),
    ...(h.nvme?.stateLines() ?? []),
  ];
}

/**
 * What is left beyond the state the scenario started with (`baseline`); empty when an
 * attach-and-detach, or a failed attach, cleaned up after itself.
 */
export function leftovers(h: SimComputeHost, baseline: readonly string[] = []): string[] {
  const base = new Set(baseline);
  return stateLines(h).filter((l) => !base.has(l));
}
