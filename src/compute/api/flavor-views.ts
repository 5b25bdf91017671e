/**
 * Flavor bodies as Nova's flavor view builder writes them, by microversion: 2.55 adds
 * `description`, 2.61 `extra_specs`, 2.75 makes an empty `swap` 0 instead of "".
 */
import type { ApiVersion } from '../../http/microversion.ts';
import type { Flavor } from '../flavor-store.ts';

function links(f: Flavor, base: string) {
  return [
    { rel: 'self', href: `${base}/v2.1/flavors/${encodeURIComponent(f.id)}` },
    { rel: 'bookmark', href: `${base}/flavors/${encodeURIComponent(f.id)}` },
  ];
}

/** `GET /flavors` entries. */
export function flavorView(f: Flavor, base: string, v: ApiVersion) {
  return { id: f.id, name: f.name, links: links(f, base), ...(v.atLeast('2.55') ? { description: f.description } : {}) };
}

/** `GET /flavors/detail` entries and `GET /flavors/{id}`. */
export function flavorDetailView(f: Flavor, base: string, v: ApiVersion) {
  const view: Record<string, unknown> = {
    id: f.id,
    name: f.name,
    ram: f.memory_mb,
    disk: f.root_gb,
    swap: v.atLeast('2.75') ? f.swap : f.swap || '',
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeral_gb,
    'OS-FLV-DISABLED:disabled': f.disabled === 1,
    vcpus: f.vcpus,
    'os-flavor-access:is_public': f.is_public === 1,
    rxtx_factor: f.rxtx_factor || '',
    links: links(f, base),
  };
  if (v.atLeast('2.55')) view['description'] = f.description;
  if (v.atLeast('2.61')) view['extra_specs'] = { ...f.extraSpecs };
  return view;
}
