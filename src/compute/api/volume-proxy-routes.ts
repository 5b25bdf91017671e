/**
 * The volume proxy Nova kept for old clients: `os-volumes` and `os-snapshots` (list, detail,
 * show, create, delete) from microversion 2.1 to 2.35; from 2.36 they are gone (404), as in
 * Nova. Like Nova, the proxy calls the block storage API as the caller, with the caller's token,
 * and translates Cinder's bodies into Nova's camelCase views and Cinder's errors into Nova's.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HitchError } from '../../errors.ts';
import type { ApiVersion } from '../../http/microversion.ts';
import { validate, type Schema } from '../../http/validate.ts';
import type { ComputeApi } from './context.ts';
import { methodNotAllowed } from './flavor-routes.ts';
import { badRequest, boolean, checkQuery, param, truthy, type Query } from './nova-types.ts';

/** The block storage REST API, called as a client would (Nova's `cinderclient`). */
export interface BlockStorageRest {
  call(method: 'GET' | 'POST' | 'DELETE', path: string, token: string, body?: unknown): Promise<{ status: number; body: unknown }>;
}

const volumeCreate: Schema = {
  type: 'object',
  required: ['volume'],
  additionalProperties: false,
  properties: {
    volume: {
      type: 'object',
      required: ['size'],
      additionalProperties: false,
      properties: {
        volume_type: { type: 'string' },
        metadata: { type: 'object', properties: {}, additionalProperties: true },
        snapshot_id: { type: 'string' },
        size: { type: 'integer', minimum: 1 },
        availability_zone: { type: 'string' },
        display_name: { type: 'string' },
        display_description: { type: 'string' },
      },
    },
  },
};

const snapshotCreate: Schema = {
  type: 'object',
  required: ['snapshot'],
  additionalProperties: false,
  properties: {
    snapshot: {
      type: 'object',
      required: ['volume_id'],
      additionalProperties: false,
      properties: { volume_id: { type: 'string' }, force: boolean, display_name: { type: 'string' }, display_description: { type: 'string' } },
    },
  },
};

type Obj = Record<string, unknown>;

/** Nova's `_translate_volume_summary_view`: the first attachment only, `[{}]` when there is none. */
function volumeView(v: Obj) {
  const atts = (v['attachments'] as Obj[] | undefined) ?? [];
  const first = atts[0];
  return {
    id: v['id'],
    status: v['status'],
    size: v['size'],
    availabilityZone: v['availability_zone'],
    createdAt: v['created_at'],
    attachments: first
      ? [{ id: v['id'], volumeId: v['id'], serverId: first['server_id'], ...(first['device'] ? { device: first['device'] } : {}) }]
      : [{}],
    displayName: v['name'] ?? null,
    displayDescription: v['description'] ?? null,
    volumeType: v['volume_type'] ?? null,
    snapshotId: v['snapshot_id'] ?? null,
    metadata: (v['metadata'] as Obj | undefined) ?? {},
  };
}

function snapshotView(s: Obj) {
  return {
    id: s['id'],
    volumeId: s['volume_id'],
    status: s['status'],
    size: s['size'],
    createdAt: s['created_at'],
    displayName: s['name'] ?? null,
    displayDescription: s['description'] ?? null,
  };
}

/** Cinder's error body → the same status and message, in Nova's fault shape. */
function fromCinder(r: { status: number; body: unknown }, fallback: string): HitchError {
  const b = (r.body ?? {}) as Record<string, { message?: string } | undefined>;
  const message = Object.values(b).find((x) => x && typeof x === 'object' && typeof x.message === 'string')?.message ?? fallback;
  if (r.status === 404) return new HitchError('HITCH_NOT_FOUND', { kind: 'Resource', id: '' }, { message });
  if (r.status === 413 || r.status === 403) return new HitchError('HITCH_COMPUTE_QUOTA_EXCEEDED', { reason: message }, { message });
  if (r.status === 409) return new HitchError('HITCH_CONFLICT', { reason: message }, { message });
  if (r.status >= 400 && r.status < 500) return badRequest(message);
  return new HitchError('HITCH_UPSTREAM_ERROR', { service: 'block storage', status: r.status, method: '', path: '', detail: message });
}

/** Nova's `common.limited`: `offset` and `limit` (at most 1000) over the whole list. */
function limited<T>(items: readonly T[], q: Query): T[] {
  const num = (k: string): number | undefined => {
    const raw = param(q, k);
    if (raw === undefined) return undefined;
    if (!/^\d+$/.test(raw)) throw badRequest(`Invalid input for query parameters ${k}. Value: ${raw}. '${raw}' does not match '^[0-9]*$'`);
    return Number(raw);
  };
  const offset = num('offset') ?? 0;
  const limit = Math.min(num('limit') ?? 1000, 1000);
  return items.slice(offset, offset + limit);
}

export function registerVolumeProxyRoutes(app: FastifyInstance, api: ComputeApi, cinder: BlockStorageRest): void {
  const token = (req: FastifyRequest): string => {
    const t = req.headers['x-auth-token'];
    return (Array.isArray(t) ? t[0] : t) ?? '';
  };
  /** Gone from 2.36 (Nova's `MAX_PROXY_API_SUPPORT_VERSION`). */
  const proxied = async (req: FastifyRequest, reply: FastifyReply): Promise<{ v: ApiVersion; project: string }> => {
    const v = api.mv(req, reply);
    if (v.atLeast('2.36')) throw methodNotAllowed();
    const ctx = await api.auth(req);
    return { v, project: ctx.projectId };
  };

  const listVolumes = async (req: FastifyRequest, reply: FastifyReply) => {
    const { v, project } = await proxied(req, reply);
    checkQuery(req.query as Query, ['limit', 'offset'], v.atLeast('2.75'));
    const r = await cinder.call('GET', `/v3/${project}/volumes/detail`, token(req));
    if (r.status !== 200) throw fromCinder(r, 'The volumes could not be listed.');
    return { volumes: limited((r.body as { volumes: Obj[] }).volumes, req.query as Query).map(volumeView) };
  };
  app.get('/v2.1/os-volumes', listVolumes);
  app.get('/v2.1/os-volumes/detail', listVolumes);

  app.get<{ Params: { id: string } }>('/v2.1/os-volumes/:id', async (req, reply) => {
    const { project } = await proxied(req, reply);
    const r = await cinder.call('GET', `/v3/${project}/volumes/${encodeURIComponent(req.params.id)}`, token(req));
    if (r.status !== 200) throw fromCinder(r, `Volume ${req.params.id} could not be found.`);
    return { volume: volumeView((r.body as { volume: Obj }).volume) };
  });

  app.post('/v2.1/os-volumes', async (req, reply) => {
    const { project } = await proxied(req, reply);
    validate(volumeCreate, req.body);
    const b = (req.body as { volume: Obj }).volume;
    if (typeof b['snapshot_id'] === 'string') {
      const s = await cinder.call('GET', `/v3/${project}/snapshots/${encodeURIComponent(b['snapshot_id'])}`, token(req));
      if (s.status !== 200) throw fromCinder({ status: 404, body: s.body }, `Snapshot ${b['snapshot_id']} could not be found.`);
    }
    const body = {
      volume: {
        size: Number(b['size']),
        ...(b['display_name'] !== undefined ? { name: b['display_name'] } : {}),
        ...(b['display_description'] !== undefined ? { description: b['display_description'] } : {}),
        ...(b['volume_type'] !== undefined ? { volume_type: b['volume_type'] } : {}),
        ...(b['metadata'] !== undefined ? { metadata: Object.fromEntries(Object.entries(b['metadata'] as Obj).map(([k, x]) => [k, String(x)])) } : {}),
        ...(b['availability_zone'] !== undefined ? { availability_zone: b['availability_zone'] } : {}),
        ...(b['snapshot_id'] !== undefined ? { snapshot_id: b['snapshot_id'] } : {}),
      },
    };
    const r = await cinder.call('POST', `/v3/${project}/volumes`, token(req), body);
    if (r.status !== 202 && r.status !== 200) throw fromCinder(r, 'The volume could not be created.');
    const vol = (r.body as { volume: Obj }).volume;
    reply.header('location', `${api.base(req)}/v2.1/os-volumes/${String(vol['id'])}`);
    return { volume: volumeView(vol) };
  });

  app.delete<{ Params: { id: string } }>('/v2.1/os-volumes/:id', async (req, reply) => {
    const { project } = await proxied(req, reply);
    const r = await cinder.call('DELETE', `/v3/${project}/volumes/${encodeURIComponent(req.params.id)}`, token(req));
    if (r.status >= 300) throw fromCinder(r, `Volume ${req.params.id} could not be found.`);
    return reply.code(202).send();
  });

  // --- os-snapshots --------------------------------------------------------------------------------
  const listSnapshots = async (req: FastifyRequest, reply: FastifyReply) => {
    const { v, project } = await proxied(req, reply);
    checkQuery(req.query as Query, ['limit', 'offset'], v.atLeast('2.75'));
    const r = await cinder.call('GET', `/v3/${project}/snapshots/detail`, token(req));
    if (r.status !== 200) throw fromCinder(r, 'The snapshots could not be listed.');
    return { snapshots: limited((r.body as { snapshots: Obj[] }).snapshots, req.query as Query).map(snapshotView) };
  };
  app.get('/v2.1/os-snapshots', listSnapshots);
  app.get('/v2.1/os-snapshots/detail', listSnapshots);

  app.get<{ Params: { id: string } }>('/v2.1/os-snapshots/:id', async (req, reply) => {
    const { project } = await proxied(req, reply);
    const r = await cinder.call('GET', `/v3/${project}/snapshots/${encodeURIComponent(req.params.id)}`, token(req));
    if (r.status !== 200) throw fromCinder({ status: r.status === 404 ? 404 : r.status, body: r.body }, `Snapshot ${req.params.id} could not be found.`);
    return { snapshot: snapshotView((r.body as { snapshot: Obj }).snapshot) };
  });

  app.post('/v2.1/os-snapshots', async (req, reply) => {
    const { project } = await proxied(req, reply);
    validate(snapshotCreate, req.body);
    const b = (req.body as { snapshot: Obj }).snapshot;
    const body = {
      snapshot: {
        volume_id: b['volume_id'],
        force: b['force'] !== undefined && truthy(b['force']),
        ...(b['display_name'] !== undefined ? { name: b['display_name'] } : {}),
        ...(b['display_description'] !== undefined ? { description: b['display_description'] } : {}),
      },
    };
    const r = await cinder.call('POST', `/v3/${project}/snapshots`, token(req), body);
    if (r.status !== 202 && r.status !== 200) throw fromCinder(r.status === 404 ? { status: 400, body: r.body } : r, 'The snapshot could not be created.');
    return { snapshot: snapshotView((r.body as { snapshot: Obj }).snapshot) };
  });

  app.delete<{ Params: { id: string } }>('/v2.1/os-snapshots/:id', async (req, reply) => {
    const { project } = await proxied(req, reply);
    const r = await cinder.call('DELETE', `/v3/${project}/snapshots/${encodeURIComponent(req.params.id)}`, token(req));
    if (r.status >= 300) throw fromCinder(r, `Snapshot ${req.params.id} could not be found.`);
    return reply.code(202).send();
  });
}
