/**
 * The invariants that must hold whenever Hitch is at rest, checked against every party's own
 * state — the block storage service's volumes and attachments, the compute service's mappings
 * and operations, the hypervisor's domains, each compute host's kernel (node records, sessions,
 * SCSI disks, multipath maps) and each array's exports — never against Hitch's belief alone.
 */
import type { Services } from '../server/cloud.ts';
import type { SimHypervisor } from '../virt/sim-hypervisor.ts';

const STABLE = new Set(['available', 'in-use', 'error', 'creating', 'deleting']);
const ADMIN = { userId: 'fuzz', projectId: 'fuzz', isAdmin: true } as const;

/** Target IQNs a mapping's connection_info names. */
function targetsOf(connectionInfo: string | null): string[] {
  if (!connectionInfo) return [];
  const data = (JSON.parse(connectionInfo) as { data?: Record<string, unknown> }).data ?? {};
  const many = Array.isArray(data['target_iqns']) ? (data['target_iqns'] as unknown[]) : [];
  return [...new Set([...many, data['target_iqn']].filter((x): x is string => typeof x === 'string'))];
}

export async function checkInvariants(s: Services): Promise<string[]> {
  const v: string[] = [];
  const repo = s.compute.repo;
  const running = (await repo.listUnfinished()).map((o) => `${o.kind} ${o.id} at ${o.step ?? 'start'}`);
  for (const r of running) v.push(`operation still running: ${r}`);

  const bdms = await repo.listAllBdms();
  const servers = new Map((await repo.listServers(undefined)).map((x) => [x.id, x]));
  const volumes = await s.volumes.listAttachments(ADMIN, { allTenants: true }).then(async (atts) => {
    const ids = [...new Set([...atts.map((a) => a.volume_id), ...bdms.map((b) => b.volume_id)])];
    return { atts, ids };
  });

  // Every volume's status agrees with its attachments and mappings.
  const allVolumeIds = new Set(volumes.ids);
  for (const arr of s.sim?.arrays() ?? []) {
    for (const e of arr.exports()) {
      const m = /volume-([0-9a-f-]{36})$/.exec(e.target);
      if (m?.[1]) allVolumeIds.add(m[1]);
    }
  }
  for (const id of allVolumeIds) {
    let status: string;
    let multiattach = false;
    try {
      const vol = await s.volumes.get(ADMIN, id);
      status = vol.status;
      multiattach = Boolean(vol.multiattach);
    } catch {
      status = 'deleted';
    }
    const mine = bdms.filter((b) => b.volume_id === id);
    const atts = volumes.atts.filter((a) => a.volume_id === id);
    if (status !== 'deleted' && !STABLE.has(status)) v.push(`volume ${id} left in transitional status ${status}`);
    if (!multiattach && mine.length > 1) v.push(`volume ${id} has ${mine.length} mappings`);
    if (!multiattach && atts.length > 1) v.push(`volume ${id} has ${atts.length} storage attachments`);
    const attached = mine.filter((b) => b.status === 'attached');
    if (status === 'in-use' && attached.length === 0) v.push(`volume ${id} is in-use with no attached mapping`);
    if (status === 'available' && mine.length > 0) v.push(`volume ${id} is available but mapped (${mine.map((b) => b.status).join(',')})`);
    if (status === 'available' && atts.length > 0) v.push(`volume ${id} is available with ${atts.length} storage attachment(s)`);
    if (status === 'deleted' && mine.length > 0) v.push(`deleted volume ${id} still mapped`);
  }

  // Every mapping is attached (at rest) and agrees with a plugged disk; no disk without a mapping.
  for (const b of bdms) if (b.status !== 'attached') v.push(`mapping ${b.id} of volume ${b.volume_id} left ${b.status}`);
  for (const h of s.hosts) {
    const hv = h.hypervisor as SimHypervisor;
    if (typeof hv.domains !== 'function') continue;
    for (const d of hv.domains()) {
      const server = [...servers.values()].find((x) => x.domain_name === d.name);
      const want = bdms.filter((b) => b.server_id === server?.id && b.status === 'attached').map((b) => b.volume_id).sort();
      const live = d.liveDisks.map((x) => x.serial ?? '?').sort();
      const config = d.configDisks.map((x) => x.serial ?? '?').sort();
      if (JSON.stringify(live) !== JSON.stringify(want)) v.push(`domain ${d.name} has live disks [${live}] but mappings [${want}]`);
      if (JSON.stringify(config) !== JSON.stringify(want)) v.push(`domain ${d.name} has persistent disks [${config}] but mappings [${want}]`);
    }
  }

  // No host object without a live attachment that needs it; no export without an attachment.
  if (s.sim) {
    const sim = s.sim;
    for (const h of s.hosts) {
      const needed = new Set(
        bdms.filter((b) => b.status === 'attached' && servers.get(b.server_id)?.host === h.name).flatMap((b) => targetsOf(b.connection_info)),
      );
      const snap = sim.inspectHost(h.name);
      for (const n of snap.nodes) if (!needed.has(n.target)) v.push(`host ${h.name}: node record ${n.portal} ${n.target} with no attachment`);
      for (const x of snap.sessions) if (!needed.has(x.target)) v.push(`host ${h.name}: session ${x.sid} ${x.portal} ${x.target} with no attachment`);
      const model = sim.host(h.name);
      for (const d of snap.disks) if (!needed.has(d.target)) v.push(`host ${h.name}: disk ${d.name} ${d.hctl} of ${d.target} with no attachment`);
      const neededWwns = new Set(snap.disks.filter((d) => needed.has(d.target)).map((d) => d.wwn));
      for (const m of snap.maps) if (!neededWwns.has(m.wwn)) v.push(`host ${h.name}: dm map ${m.dm} ${m.wwn} with no attachment`);
      const initiator = model.initiator;
      for (const arr of sim.arrays()) {
        for (const e of arr.exports()) {
          const m = /volume-([0-9a-f-]{36})$/.exec(e.target);
          if (!m?.[1]) continue;
          const volumeId = m[1];
          const mappedHere = bdms.some((b) => b.volume_id === volumeId && b.status === 'attached' && servers.get(b.server_id)?.host === h.name);
          if (e.acls.some((a) => a.initiator === initiator) && !mappedHere) v.push(`array ${arr.name}: ${e.target} exported to ${h.name} with no attachment`);
        }
      }
    }
  }
  return v;
}
