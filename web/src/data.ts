/**
 * What the pages read, in the shapes the APIs answer, and small caches of names by id (a row
 * names its volume and server, and the API gives only the id).
 */
import { api } from './api.ts';
import type { PageQuery } from './list.ts';

export interface Volume {
  id: string;
  name: string | null;
  status: string;
  size: number;
  created_at: string;
  updated_at: string | null;
  description: string | null;
  attachments: { server_id: string; attachment_id: string; device: string | null; attached_at: string | null }[];
}

export interface Server {
  id: string;
  name: string;
  status: string;
  created: string;
  updated: string;
  'os-extended-volumes:volumes_attached'?: { id: string }[];
}

export interface VolumeAttachment {
  id: string;
  volumeId: string;
  serverId: string;
  device: string | null;
}

const qs = (params: Record<string, string | number | null | undefined>): string => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') p.set(k, String(v));
  return p.toString();
};

/** Volumes, newest first: `name~` (Cinder's search, 3.34+) and `status` filters, limit/marker. */
export async function volumePage(q: PageQuery): Promise<Volume[]> {
  const r = await api<{ volumes: Volume[] }>('GET', `/volume/v3/volumes/detail?${qs({ 'name~': q.search, status: q.filter, limit: q.limit, marker: q.marker, sort: 'created_at:desc' })}`);
  for (const v of r.body.volumes) names.volumes.set(v.id, v.name);
  return r.body.volumes;
}

/** Servers, newest first: names that begin with the search (Nova's `name=^…`), `status`, limit/marker. */
export async function serverPage(q: PageQuery): Promise<Server[]> {
  const r = await api<{ servers: Server[] }>('GET', `/compute/v2.1/servers/detail?${qs({ name: q.search ? `^${q.search}` : '', status: q.filter, limit: q.limit, marker: q.marker })}`);
  for (const s of r.body.servers) names.servers.set(s.id, s.name);
  return r.body.servers;
}

export const getVolume = async (id: string): Promise<Volume> => (await api<{ volume: Volume }>('GET', `/volume/v3/volumes/${id}`)).body.volume;
export const getServer = async (id: string): Promise<Server> => (await api<{ server: Server }>('GET', `/compute/v2.1/servers/${id}`)).body.server;
export const serverAttachments = async (id: string): Promise<VolumeAttachment[]> =>
  (await api<{ volumeAttachments: VolumeAttachment[] }>('GET', `/compute/v2.1/servers/${id}/os-volume_attachments`)).body.volumeAttachments;

/** Names seen so far, by id (null: a volume without a name). */
export const names = { volumes: new Map<string, string | null>(), servers: new Map<string, string>() };

/** Learn the names of these ids that are not known yet (one request each, a page's worth at most). */
export async function learnNames(kind: 'volumes' | 'servers', ids: Iterable<string>): Promise<void> {
  const missing = [...new Set(ids)].filter((id) => !names[kind].has(id));
  await Promise.all(
    missing.map(async (id) => {
      try {
        if (kind === 'volumes') names.volumes.set(id, (await getVolume(id)).name);
        else names.servers.set(id, (await getServer(id)).name);
      } catch {
        // Gone or not ours: the id alone will do.
      }
    }),
  );
}

/** The largest volume this cloud creates, GiB (config maxVolumeSizeGiB, served in the page). */
export function maxVolumeSizeGiB(): number | null {
  const v = document.querySelector('meta[name="hitch-max-volume-size-gib"]')?.getAttribute('content') ?? '';
  return /^\d+$/.test(v) ? Number(v) : null;
}
