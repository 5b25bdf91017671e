/**
 * Nova's response bodies, gated by microversion the way Nova gates them (fields as tempest's
 * `api_schema/response/compute` checks them).
 */
import type { ApiVersion } from '../../http/microversion.ts';
import { FLAVORS, type Flavor } from '../flavors.ts';
import type { BdmRow, ServerRow } from '../repository.ts';

const isoNoMs = (iso: string | null): string | null => (iso ? iso.replace(/\.\d{3}Z$/, 'Z') : null);

export function flavorView(f: Flavor, base: string) {
  return {
    id: f.id,
    name: f.name,
    links: [
      { rel: 'self', href: `${base}/v2.1/flavors/${f.id}` },
      { rel: 'bookmark', href: `${base}/flavors/${f.id}` },
    ],
  };
}

export function flavorDetailView(f: Flavor, base: string, v: ApiVersion) {
  return {
    ...flavorView(f, base),
    ram: f.ram,
    vcpus: f.vcpus,
    disk: f.disk,
    'OS-FLV-EXT-DATA:ephemeral': 0,
    'OS-FLV-DISABLED:disabled': false,
    swap: '',
    rxtx_factor: 1.0,
    'os-flavor-access:is_public': true,
    ...(v.atLeast('2.55') ? { description: null } : {}),
    ...(v.atLeast('2.61') ? { extra_specs: {} } : {}),
  };
}

export function serverLinks(id: string, base: string) {
  return [
    { rel: 'self', href: `${base}/v2.1/servers/${id}` },
    { rel: 'bookmark', href: `${base}/servers/${id}` },
  ];
}

const VM_STATE: Record<string, string> = { BUILD: 'building', ACTIVE: 'active', ERROR: 'error', DELETED: 'deleted' };
const POWER_STATE: Record<string, number> = { BUILD: 0, ACTIVE: 1, ERROR: 0, DELETED: 0 };

export function serverDetailView(s: ServerRow, bdms: readonly BdmRow[], base: string, v: ApiVersion, isAdmin: boolean) {
  const flavor = FLAVORS.find((f) => f.id === s.flavor_id) ?? (FLAVORS[0] as Flavor);
  const view: Record<string, unknown> = {
    id: s.id,
    name: s.name,
    status: s.status,
    tenant_id: s.project_id,
    user_id: s.user_id,
    metadata: JSON.parse(s.metadata) as Record<string, string>,
    hostId: s.host ? hostIdOf(s.project_id, s.host) : '',
    image: { id: s.image_id, links: [{ rel: 'bookmark', href: `${base}/images/${s.image_id}` }] },
    flavor: v.atLeast('2.47')
      ? { vcpus: flavor.vcpus, ram: flavor.ram, disk: flavor.disk, ephemeral: 0, swap: 0, original_name: flavor.name, extra_specs: {} }
      : { id: flavor.id, links: [{ rel: 'bookmark', href: `${base}/flavors/${flavor.id}` }] },
    created: isoNoMs(s.created_at),
    updated: isoNoMs(s.updated_at ?? s.created_at),
    addresses: {},
    accessIPv4: '',
    accessIPv6: '',
    links: serverLinks(s.id, base),
    'OS-DCF:diskConfig': 'MANUAL',
    progress: 0,
    'OS-EXT-AZ:availability_zone': 'nova',
    config_drive: '',
    key_name: null,
    'OS-SRV-USG:launched_at': s.status === 'ACTIVE' ? isoNoMs(s.updated_at ?? s.created_at)?.replace('Z', '.000000') : null,
    'OS-SRV-USG:terminated_at': null,
    security_groups: [{ name: 'default' }],
    'OS-EXT-STS:task_state': s.task_state,
    'OS-EXT-STS:vm_state': VM_STATE[s.status] ?? 'error',
    'OS-EXT-STS:power_state': POWER_STATE[s.status] ?? 0,
    'os-extended-volumes:volumes_attached': bdms
      .filter((b) => b.status === 'attached')
      .map((b) => (v.atLeast('2.3') ? { id: b.volume_id, delete_on_termination: false } : { id: b.volume_id })),
  };
  if (isAdmin) {
    view['OS-EXT-SRV-ATTR:host'] = s.host;
    view['OS-EXT-SRV-ATTR:instance_name'] = s.domain_name;
    view['OS-EXT-SRV-ATTR:hypervisor_hostname'] = s.host;
    if (v.atLeast('2.3')) {
      Object.assign(view, {
        'OS-EXT-SRV-ATTR:reservation_id': `r-${s.id.slice(0, 8)}`,
        'OS-EXT-SRV-ATTR:launch_index': 0,
        'OS-EXT-SRV-ATTR:hostname': s.name.toLowerCase().replace(/[^a-z0-9-]/g, '-'),
        'OS-EXT-SRV-ATTR:kernel_id': '',
        'OS-EXT-SRV-ATTR:ramdisk_id': '',
        'OS-EXT-SRV-ATTR:root_device_name': '/dev/vda',
        'OS-EXT-SRV-ATTR:user_data': null,
      });
    }
  }
  if (v.atLeast('2.9')) view['locked'] = false;
  if (v.atLeast('2.16') && isAdmin) view['host_status'] = 'UP';
  if (v.atLeast('2.19')) view['description'] = null;
  if (v.atLeast('2.26')) view['tags'] = [];
  if (v.atLeast('2.63')) view['trusted_image_certificates'] = null;
  if (v.atLeast('2.71')) view['server_groups'] = [];
  if (v.atLeast('2.73')) view['locked_reason'] = null;
  return view;
}

/** Nova's hostId: a hash of project and host, so tenants cannot learn host names. */
function hostIdOf(projectId: string, host: string): string {
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
  if (v.atLeast('2.70')) view['tag'] = null;
  if (v.atLeast('2.79')) view['delete_on_termination'] = false;
  if (v.atLeast('2.89')) {
    view['attachment_id'] = b.attachment_id;
    view['bdm_uuid'] = b.id;
  }
  return view;
}
