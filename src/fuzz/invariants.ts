/**
 * The invariants that must hold whenever Hitch is at rest, checked against every party's own
 * state — the block storage service's volumes and attachments, the compute service's mappings
 * and operations, the hypervisor's domains, each compute host's kernel (node records, sessions,
 * SCSI disks, multipath maps) and each array's exports — never against Hitch's belief alone.
 *
 * `checkWorld` is the check itself over plain data (`InvariantView`), so it runs the same on an
 * in-process cloud (`checkInvariants`, the fuzz harness) and on what a test gathers from outside
 * running processes (the SIGKILL test: the APIs, the database, the simulator daemon).
 */
import { readConnectionInfo } from '../brick/index.ts';
import type { Services } from '../server/cloud.ts';
import type { HostSnapshot } from '../sim/inspect.ts';
import type { SimHypervisor } from '../sim/sim-hypervisor.ts';

// Never `reserved`, `attaching`, `detaching` or `deleting` at rest: each of those is an
// operation that did not reach its end.
const STABLE = new Set(['available', 'in-use', 'error', 'error_deleting', 'creating']);
const ADMIN = { userId: 'fuzz', projectId: 'fuzz', isAdmin: true } as const;

type Exports = ReadonlyArray<{ readonly target: string; readonly acls: ReadonlyArray<{ readonly initiator: string }> }>;

export interface InvariantView {
  /** Operations the journal says are still running, one line each. */
  readonly running: readonly string[];
  readonly bdms: ReadonlyArray<{ readonly id: string; readonly volume_id: string; readonly server_id: string; readonly status: string; readonly connection_info: string | null }>;
  readonly servers: ReadonlyArray<{ readonly id: string; readonly host: string; readonly domain_name: string }>;
  /** The block storage service's attachments (every tenant). */
  readonly attachments: ReadonlyArray<{ readonly volume_id: string }>;
  /** A volume's status, or null when it does not exist (deleted). */
  volume(id: string): Promise<{ readonly status: string; readonly multiattach: boolean } | null>;
  /** Each simulated hypervisor's domains, with the serials of their live and persistent disks. */
  readonly domains: ReadonlyArray<{
    readonly host: string;
    readonly domains: ReadonlyArray<{ readonly name: string; readonly liveDisks: ReadonlyArray<{ readonly serial?: string }>; readonly configDisks: ReadonlyArray<{ readonly serial?: string }> }>;
  }>;
  /** Each simulated compute host's kernel state; empty when the data plane is not simulated. */
  readonly hosts: ReadonlyArray<{ readonly name: string; readonly initiator: string; readonly snapshot: HostSnapshot }>;
  readonly arrays: ReadonlyArray<{ readonly name: string; readonly exports: Exports }>;
}

/** Target IQNs a mapping's connection_info names. */
function targetsOf(connectionInfo: string | null): string[] {
  const ci = connectionInfo ? readConnectionInfo(JSON.parse(connectionInfo)) : null;
  if (!ci) return [];
  if (ci.driver_volume_type !== 'iscsi') return [ci.data.target_nqn];
  return [...new Set([...(ci.data.target_iqns ?? []), ...(ci.data.target_iqn !== undefined ? [ci.data.target_iqn] : [])])];
}

export async function checkWorld(w: InvariantView): Promise<string[]> {
  const v: string[] = [];
  for (const r of w.running) v.push(`operation still running: ${r}`);
  const bdms = w.bdms;
  const servers = new Map(w.servers.map((x) => [x.id, x]));

  // Every volume's status agrees with its attachments and mappings.
  const allVolumeIds = new Set([...w.attachments.map((a) => a.volume_id), ...bdms.map((b) => b.volume_id)]);
  for (const arr of w.arrays) {
    for (const e of arr.exports) {
      const m = /volume-([0-9a-f-]{36})$/.exec(e.target);
      if (m?.[1]) allVolumeIds.add(m[1]);
    }
  }
  for (const id of allVolumeIds) {
    const vol = await w.volume(id);
    const status = vol?.status ?? 'deleted';
    const multiattach = vol?.multiattach ?? false;
    const mine = bdms.filter((b) => b.volume_id === id);
    const atts = w.attachments.filter((a) => a.volume_id === id);
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
  for (const h of w.domains) {
    for (const d of h.domains) {
      const server = [...servers.values()].find((x) => x.domain_name === d.name);
      const want = bdms.filter((b) => b.server_id === server?.id && b.status === 'attached').map((b) => b.volume_id).sort();
      const live = d.liveDisks.map((x) => x.serial ?? '?').sort();
      const config = d.configDisks.map((x) => x.serial ?? '?').sort();
      if (JSON.stringify(live) !== JSON.stringify(want)) v.push(`domain ${d.name} has live disks [${live}] but mappings [${want}]`);
      if (JSON.stringify(config) !== JSON.stringify(want)) v.push(`domain ${d.name} has persistent disks [${config}] but mappings [${want}]`);
    }
  }

  // No host object without a live attachment that needs it; no export without an attachment.
  for (const h of w.hosts) {
    const needed = new Set(
      bdms.filter((b) => b.status === 'attached' && servers.get(b.server_id)?.host === h.name).flatMap((b) => targetsOf(b.connection_info)),
    );
    const snap = h.snapshot;
    for (const n of snap.nodes) if (!needed.has(n.target)) v.push(`host ${h.name}: node record ${n.portal} ${n.target} with no attachment`);
    for (const x of snap.sessions) if (!needed.has(x.target)) v.push(`host ${h.name}: session ${x.sid} ${x.portal} ${x.target} with no attachment`);
    for (const d of snap.disks) if (!needed.has(d.target)) v.push(`host ${h.name}: disk ${d.name} ${d.hctl} of ${d.target} with no attachment`);
    const neededWwns = new Set(snap.disks.filter((d) => needed.has(d.target)).map((d) => d.wwn));
    for (const m of snap.maps) if (!neededWwns.has(m.wwn)) v.push(`host ${h.name}: dm map ${m.dm} ${m.wwn} with no attachment`);
    for (const arr of w.arrays) {
      for (const e of arr.exports) {
        const m = /volume-([0-9a-f-]{36})$/.exec(e.target);
        if (!m?.[1]) continue;
        const volumeId = m[1];
        const mappedHere = bdms.some((b) => b.volume_id === volumeId && b.status === 'attached' && servers.get(b.server_id)?.host === h.name);
        if (e.acls.some((a) => a.initiator === h.initiator) && !mappedHere) v.push(`array ${arr.name}: ${e.target} exported to ${h.name} with no attachment`);
      }
    }
  }
  return v;
}

/** The invariants of an in-process cloud (the fuzz harness, crash tests in process). */
export async function checkInvariants(s: Services): Promise<string[]> {
  const repo = s.computeRepository;
  const running = (await repo.listUnfinished()).map((o) => `${o.kind} ${o.id} at ${o.step ?? 'start'}`);
  const bdms = await repo.listAllBdms();
  const servers = await repo.listServers(undefined);
  const attachments = await s.volumes.listAttachments(ADMIN, { allTenants: true });
  const domains = s.hosts.flatMap((h) => {
    const hv = h.hypervisor as SimHypervisor;
    return typeof hv.domains === 'function' ? [{ host: h.name, domains: hv.domains() }] : [];
  });
  const sim = s.sim;
  return checkWorld({
    running,
    bdms,
    servers,
    attachments,
    volume: async (id) => {
      try {
        const vol = await s.volumes.get(ADMIN, id);
        return { status: vol.status, multiattach: Boolean(vol.multiattach) };
      } catch {
        return null;
      }
    },
    domains,
    hosts: sim ? s.hosts.map((h) => ({ name: h.name, initiator: sim.host(h.name).initiator, snapshot: sim.inspectHost(h.name) })) : [],
    arrays: sim ? sim.arrays().map((a) => ({ name: a.name, exports: a.exports() })) : [],
  });
}
