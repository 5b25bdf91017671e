/**
 * The CLI's view of volumes, servers and attachments over the OpenStack APIs, with names or
 * ids accepted wherever a volume or server is named (a name must be unique in the project).
 */
import { HitchError } from '../errors.ts';
import type { RecentNormal } from '../trace/normal.ts';
import type { HitchClient } from './client.ts';

export interface Volume {
  id: string;
  name: string | null;
  status: string;
  size: number;
  attachments: { server_id: string; device: string | null }[];
  [k: string]: unknown;
}

export interface Server {
  id: string;
  name: string;
  status: string;
  'os-extended-volumes:volumes_attached'?: { id: string }[];
  [k: string]: unknown;
}

export interface Attachment {
  id: string;
  serverId: string;
  volumeId: string;
  device: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function pick<T extends { id: string; name: string | null }>(kind: string, ref: string, all: readonly T[]): T {
  const byId = all.find((x) => x.id === ref.toLowerCase());
  if (byId) return byId;
  const named = all.filter((x) => x.name === ref);
  if (named.length === 1) return named[0] as T;
  if (named.length > 1) {
    throw new HitchError('HITCH_CONFLICT', { reason: `more than one ${kind} is named ${ref}; use an id (${named.map((n) => n.id).join(', ')})` });
  }
  throw new HitchError('HITCH_NOT_FOUND', { kind: kind === 'volume' ? 'Volume' : 'Instance', id: ref });
}

/** A page as the APIs cap it (osapi_max_limit): a list is read page by page, by marker. */
const PAGE = 1000;

async function allPages<T extends { id: string }>(page: (query: string) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let marker: string | undefined; ; ) {
    const rows = await page(`limit=${PAGE}${marker ? `&marker=${encodeURIComponent(marker)}` : ''}`);
    out.push(...rows);
    const last = rows[rows.length - 1];
    if (rows.length < PAGE || !last) return out;
    marker = last.id;
  }
}

export async function listVolumes(c: HitchClient): Promise<Volume[]> {
  return allPages(async (q) => (await c.call<{ volumes: Volume[] }>('volume', 'GET', `/volumes/detail?${q}`)).body.volumes);
}

export async function findVolume(c: HitchClient, ref: string): Promise<Volume> {
  if (UUID.test(ref)) {
    const r = await c.request<{ volume: Volume }>('volume', 'GET', `/volumes/${encodeURIComponent(ref.toLowerCase())}`);
    if (r.status === 200) return r.body.volume;
    if (r.status !== 404) await c.call('volume', 'GET', `/volumes/${encodeURIComponent(ref)}`);
  }
  return pick('volume', ref, await listVolumes(c));
}

export async function listServers(c: HitchClient): Promise<Server[]> {
  const all = await allPages(async (q) => (await c.call<{ servers: Server[] }>('compute', 'GET', `/servers/detail?${q}`)).body.servers);
  return all.filter((s) => s.status !== 'DELETED');
}

export async function findServer(c: HitchClient, ref: string): Promise<Server> {
  if (UUID.test(ref)) {
    const r = await c.request<{ server: Server }>('compute', 'GET', `/servers/${encodeURIComponent(ref.toLowerCase())}`);
    if (r.status === 200) return r.body.server;
  }
  return pick('server', ref, await listServers(c));
}

export async function listAttachments(c: HitchClient, serverId: string): Promise<Attachment[]> {
  return (await c.call<{ volumeAttachments: Attachment[] }>('compute', 'GET', `/servers/${serverId}/os-volume_attachments`)).body.volumeAttachments;
}

/** One span as the trace endpoints give it. */
export interface ApiSpan {
  id: number;
  parent_id: number | null;
  name: string;
  start_ms: number;
  end_ms: number | null;
  outcome: 'ok' | 'error' | 'cancelled' | 'running';
  attrs: Record<string, string | number | boolean | null>;
  error: { code: string; message: string } | null;
}

export interface ApiOperation {
  id: string;
  kind: string;
  server_id: string;
  volume_id: string;
  request_id: string;
  state: string;
  step: string | null;
  error: { code: string; message: string } | null;
  started_ms: number;
  ended_ms: number | null;
  /** Wall-clock time it was asked for (ISO 8601). */
  created_at: string;
  spans: ApiSpan[];
}

export async function getOperation(c: HitchClient, id: string): Promise<ApiOperation> {
  return (await c.call<{ operation: ApiOperation }>('compute', 'GET', `/os-hitch-operations/${encodeURIComponent(id)}`)).body.operation;
}

/** The recent normal of an operation's steps, as the API answers it (trace/normal.ts). */
export async function getRecentNormal(c: HitchClient, id: string): Promise<RecentNormal> {
  const n = (await c.call<{ normal: { kind: string; backend: string | null; sample: number; steps: { step: string; n: number; p50_ms: number; p95_ms: number }[] } }>('compute', 'GET', `/os-hitch-operations/${encodeURIComponent(id)}/normal`)).body.normal;
  return { kind: n.kind, backend: n.backend, sample: n.sample, steps: n.steps.map((x) => ({ step: x.step, n: x.n, p50Ms: x.p50_ms, p95Ms: x.p95_ms })) };
}

/** An operation in the history list (no spans). */
export type ApiOperationSummary = Omit<ApiOperation, 'spans'> & { duration_ms: number | null };

/** One page of the operation history, newest first; `next`: the marker of the page after, if any. */
export async function operationHistory(c: HitchClient, query: Record<string, string>): Promise<{ operations: ApiOperationSummary[]; next: string | null }> {
  const q = new URLSearchParams(query).toString();
  const body = (await c.call<{ operations: ApiOperationSummary[]; operations_links?: { rel: string; href: string }[] }>('compute', 'GET', `/os-hitch-operations${q ? `?${q}` : ''}`)).body;
  const link = body.operations_links?.find((l) => l.rel === 'next');
  return { operations: body.operations, next: link ? new URL(link.href).searchParams.get('marker') : null };
}

export async function listOperations(c: HitchClient, serverId: string, volumeId: string): Promise<ApiOperation[]> {
  return (await c.call<{ operations: ApiOperation[] }>('compute', 'GET', `/servers/${serverId}/os-volume_attachments/${volumeId}/trace`)).body.operations;
}

/** Spans in the shape `explain` reads. */
export function toSpanRecords(spans: readonly ApiSpan[]) {
  return spans.map((s) => ({
    id: s.id,
    parentId: s.parent_id,
    name: s.name,
    startMs: s.start_ms,
    endMs: s.end_ms,
    outcome: s.outcome,
    attrs: s.attrs,
    ...(s.error ? { error: s.error } : {}),
  }));
}

/** A flavor id for `flavorRef`: an id as given, or the id of the flavor with that name. */
export async function flavorId(client: HitchClient, ref: string): Promise<string> {
  const direct = await client.request('compute', 'GET', `/flavors/${encodeURIComponent(ref)}`);
  if (direct.status === 200) return ref;
  const all = (await client.call<{ flavors: { id: string; name: string }[] }>('compute', 'GET', '/flavors')).body.flavors;
  return pick('flavor', ref, all).id;
}

/** An image id for `imageRef`: a UUID as given, or the id of the image with that name. */
export async function imageId(client: HitchClient, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref.toLowerCase();
  const all = (await client.call<{ images: { id: string; name: string }[] }>('image', 'GET', `/v2/images?name=${encodeURIComponent(ref)}`)).body.images;
  return pick('image', ref, all).id;
}
