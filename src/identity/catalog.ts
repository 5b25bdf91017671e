/**
 * The service catalog a project-scoped token carries. Every Hitch service lives under one base
 * URL (the all-in-one server), each at its own prefix; the compute API is listed even before
 * it is mounted so clients find it at the same base URL once it is.
 */
import { createHash } from 'node:crypto';

export interface CatalogEndpoint {
  id: string;
  interface: 'public' | 'internal' | 'admin';
  region: string;
  region_id: string;
  url: string;
}

export interface CatalogEntry {
  id: string;
  type: string;
  name: string;
  endpoints: CatalogEndpoint[];
}

export const REGION = 'RegionOne';

/** Paths of each service under the base URL. */
export const SERVICE_PATHS = {
  identity: '/identity/v3',
  volume: '/volume/v3',
  compute: '/compute/v2.1',
  image: '/image',
} as const;

function stableId(...parts: string[]): string {
  return createHash('sha1').update(parts.join('|')).digest('hex').slice(0, 32);
}

function entry(type: string, name: string, url: string): CatalogEntry {
  const ifaces = ['public', 'internal', 'admin'] as const;
  return {
    id: stableId('service', type),
    type,
    name,
    endpoints: ifaces.map((i) => ({ id: stableId('endpoint', type, i), interface: i, region: REGION, region_id: REGION, url })),
  };
}

/** The catalog for `projectId` at `baseUrl` (no trailing slash). */
export function buildCatalog(baseUrl: string, projectId: string): CatalogEntry[] {
  const volume = `${baseUrl}${SERVICE_PATHS.volume}/${projectId}`;
  return [
    entry('identity', 'keystone', `${baseUrl}${SERVICE_PATHS.identity}`),
    entry('volumev3', 'cinderv3', volume),
    entry('block-storage', 'cinder', volume),
    entry('compute', 'nova', `${baseUrl}${SERVICE_PATHS.compute}`),
    entry('image', 'glance', `${baseUrl}${SERVICE_PATHS.image}`),
  ];
}
