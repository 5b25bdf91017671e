/**
 * Nova's response bodies, gated by microversion the way Nova gates them (fields as tempest's
 * `api_schema/response/compute` checks them).
 */
import type { ApiVersion } from '../../http/microversion.ts';
import type { ServerViewContext } from '../compute-service.ts';
import type { ServerFlavor } from '../flavor-store.ts';
import type { BdmRow, ServerRow } from '../repository.ts';

const isoNoMs = (iso: string | null): string | null => (iso ? iso.replace(/\.\d{3}Z$/, 'Z') : null);

export function serverLinks(id: string, base: string) {
  return [
    { rel: 'self', href: `${base}/v2.1/servers/${id}` },
    { rel: 'bookmark', href: `${base}/servers/${id}` },
  ];
}

const VM_STATE: Record<string, string> = { BUILD: 'building', ACTIVE: 'active', ERROR: 'error', DELETED: 'deleted' };
const POWER_STATE: Record<string, number> = { BUILD: 0, ACTIVE: 1, ERROR: 0, DELETED: 0 };
const PROGRESS_STATUSES = ['ACTIVE', 'BUILD'];

/** Nova's isotime without fractions (`2026-01-02T03:04:05Z`). */
const nova = (iso: string | null): string | null => isoNoMs(iso);
/** `OS-SRV-USG:launched_at`: a naive datetime with microseconds, as Nova's JSON writes it. */
const naive = (iso: string | null): string | null => (iso ? iso.replace(/(\.\d{3})?Z$/, (_m, ms: string | undefined) => `${ms ?? '.000'}000`) : null);

function flavorBody(f: ServerFlavor | undefined, s: ServerRow, base: string, v: ApiVersion) {
  if (!v.atLeast('2.47')) return { id: s.flavor_id, links: [{ rel: 'bookmark', href: `${base}/flavors/${s.flavor_id}` }] };
  const g = f ?? { vcpus: 0, ram: 0, disk: 0, ephemeral: 0, swap: 0, name: s.flavor_id, extra_specs: {} };
  return { vcpus: g.vcpus, ram: g.ram, disk: g.disk, ephemeral: g.ephemeral, swap: g.swap, original_name: g.name, extra_specs: { ...g.extra_specs } };
}

/** A server as `GET /servers/{id}` (`show`) or `GET /servers/detail` (`list`) shows it. */
export function serverDetailView(s: ServerRow, bdms: readonly BdmRow[], base: string, v: ApiVersion, isAdmin: boolean, x: ServerViewContext, kind: 'show' | 'list' = 'show') {
  const view: Record<string, unknown> = {
    id: s.id,
    name: s.name,
    status: s.status,
    tenant_id: s.project_id,
    user_id: s.user_id,
    metadata: JSON.parse(s.metadata) as Record<string, string>,
    hostId: s.host ? hostIdOf(s.project_id, s.host) : '',
    image: s.image_id ? { id: s.image_id, links: [{ rel: 'bookmark', href: `${base}/images/${s.image_id}` }] } : '',
    flavor: flavorBody(x.flavor, s, base, v),
    created: nova(s.created_at),
    updated: nova(s.updated_at ?? s.created_at),
    addresses: {},
    accessIPv4: s.access_ipv4 ?? '',
    accessIPv6: s.access_ipv6 ?? '',
    links: serverLinks(s.id, base),
    'OS-DCF:diskConfig': s.disk_config === 'AUTO' ? 'AUTO' : 'MANUAL',
  };
  if (s.fault && (s.status === 'ERROR' || s.status === 'DELETED')) {
    const f = JSON.parse(s.fault) as { code: number; message: string; created: string; details?: string };
    view['fault'] = { code: f.code, message: f.message, created: nova(f.created), ...(isAdmin && f.details ? { details: f.details } : {}) };
  }
  if (PROGRESS_STATUSES.includes(s.status)) view['progress'] = 0;
  view['OS-EXT-AZ:availability_zone'] = s.host ? 'nova' : '';
  view['config_drive'] = s.config_drive ? 'True' : '';
  view['key_name'] = s.key_name;
  view['OS-SRV-USG:launched_at'] = naive(s.launched_at);
  view['OS-SRV-USG:terminated_at'] = null;
  if (isAdmin) {
    view['OS-EXT-SRV-ATTR:host'] = s.host || null;
    view['OS-EXT-SRV-ATTR:instance_name'] = s.domain_name;
    view['OS-EXT-SRV-ATTR:hypervisor_hostname'] = s.host || null;
    if (v.atLeast('2.3')) {
      Object.assign(view, {
        'OS-EXT-SRV-ATTR:hostname': s.hostname,
        'OS-EXT-SRV-ATTR:kernel_id': '',
        'OS-EXT-SRV-ATTR:launch_index': s.launch_index ?? 0,
        'OS-EXT-SRV-ATTR:ramdisk_id': '',
        'OS-EXT-SRV-ATTR:reservation_id': s.reservation_id ?? `r-${s.id.slice(0, 8)}`,
        'OS-EXT-SRV-ATTR:root_device_name': s.root_device_name,
        'OS-EXT-SRV-ATTR:user_data': s.user_data,
      });
    }
  }
  view['OS-EXT-STS:task_state'] = s.task_state;
  view['OS-EXT-STS:vm_state'] = VM_STATE[s.status] ?? 'error';
  view['OS-EXT-STS:power_state'] = POWER_STATE[s.status] ?? 0;
  view['os-extended-volumes:volumes_attached'] = bdms
    .filter((b) => b.status === 'attached')
    .map((b) => (v.atLeast('2.3') ? { id: b.volume_id, delete_on_termination: b.delete_on_termination === 1 } : { id: b.volume_id }));
  if (v.atLeast('2.9')) view['locked'] = false;
  // Admins see the host's state; others only when it is UNKNOWN (Nova's default policies).
  if (v.atLeast('2.16') && (isAdmin || x.hostStatus === 'UNKNOWN')) view['host_status'] = x.hostStatus;
  if (v.atLeast('2.19')) view['description'] = s.description;
  if (v.atLeast('2.26')) view['tags'] = s.tags ? (JSON.parse(s.tags) as string[]) : [];
  if (v.atLeast('2.63')) view['trusted_image_certificates'] = s.trusted_certs ? (JSON.parse(s.trusted_certs) as string[]) : null;
  // Only the single-server view carries the server's groups (2.71).
  if (v.atLeast('2.71') && kind === 'show') view['server_groups'] = [];
  if (v.atLeast('2.73')) view['locked_reason'] = null;
  if (v.atLeast('2.90') && !isAdmin) view['OS-EXT-SRV-ATTR:hostname'] = s.hostname;
  return view;
}

/** Nova's hostId: a hash of project and host, so tenants cannot learn host names. */
export function hostIdOf(projectId: string, host: string): string {
  let h = 0x811c9dc5;
  const s = `${projectId}${host}`;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0').repeat(7);
}

/** `GET/POST os-volume_attachments` entries: 2.70 adds `tag`, 2.79 `delete_on_termination`, 2.89 swaps `id` for `attachment_id` + `bdm_uuid`. */
export function attachmentView(b: BdmRow, v: ApiVersion) {
  const view: Record<string, unknown> = {};
  if (!v.atLeast('2.89')) view['id'] = b.volume_id;
  view['serverId'] = b.server_id;
  view['volumeId'] = b.volume_id;
  view['device'] = b.device_name;
  if (v.atLeast('2.70')) view['tag'] = b.tag;
  if (v.atLeast('2.79')) view['delete_on_termination'] = b.delete_on_termination === 1;
  if (v.atLeast('2.89')) {
    view['attachment_id'] = b.attachment_id;
    view['bdm_uuid'] = b.id;
  }
  return view;
}
