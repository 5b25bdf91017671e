/**
 * Volumes, metadata, types and the legacy volume actions of the Cinder v3 API.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HitchError } from '../errors.ts';
import { isUuid, validate } from '../http/validate.ts';
import { requireAdmin, type RequestState } from './api-context.ts';
import { connectorOrNull, parseConnector } from './connector.ts';
import { actionSchemas, createVolumeSchema, metadataBodySchema, metaItemBodySchema, updateVolumeSchema } from './request-schemas.ts';
import { RESETTABLE_STATUSES, type VolumeService } from './volume-service.ts';
import { SORT_KEYS, cinderTime, type SortKey, type SortSpec, type TimeOp, type VolumeFilter, type VolumeRow } from './volume-repo.ts';
import { volumeSummaryView, volumeTypeView, volumeView } from './views.ts';

export type Handler = (req: FastifyRequest, reply: FastifyReply, state: RequestState) => Promise<unknown>;
export type RouteFn = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, handler: Handler) => void;

type Query = Record<string, string | string[] | undefined>;

function q1(q: Query, k: string): string | undefined {
  const v = q[k];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

function invalidInput(reason: string): HitchError {
  return new HitchError('HITCH_INVALID_INPUT', { reason });
}

/** `limit`: a non-negative integer, at most 1000 (Cinder's osapi_max_limit). */
export function parseLimit(q: Query): number | undefined {
  const s = q1(q, 'limit');
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s)) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'limit' }, { message: 'limit param must be an integer' });
  const n = Number(s);
  if (n < 0) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'limit' }, { message: 'limit param must be positive' });
  return Math.min(n, 1000);
}

/** `sort=name:asc,created_at` or `sort_key=…&sort_dir=…`; default created_at desc. */
function parseSort(q: Query): SortSpec[] {
  const sort = q1(q, 'sort');
  const key = q1(q, 'sort_key');
  const dir = q1(q, 'sort_dir');
  if (sort !== undefined && (key !== undefined || dir !== undefined)) {
    throw invalidInput("The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.");
  }
  const parts: [string, string | undefined][] = sort !== undefined
    ? sort.split(',').map((p) => { const [k, d] = p.split(':'); return [(k ?? '').trim(), d?.trim()]; })
    : key !== undefined ? [[key, dir]] : [['created_at', dir ?? 'desc']];
  return parts.map(([k, d]) => {
    const keyName = k === 'display_name' ? 'name' : k;
    if (!(SORT_KEYS as readonly string[]).includes(keyName)) throw invalidInput(`Invalid sort key ${k}`);
    const dd = (d ?? 'desc').toLowerCase();
    if (dd !== 'asc' && dd !== 'desc') throw invalidInput(`Unknown sort direction, must be 'desc' or 'asc'`);
    return { key: keyName as SortKey, dir: dd };
  });
}

function parseBool(s: string, field: string): boolean {
  const v = s.toLowerCase();
  if (['true', '1', 't', 'yes', 'y', 'on'].includes(v)) return true;
  if (['false', '0', 'f', 'no', 'n', 'off'].includes(v)) return false;
  throw invalidInput(`Invalid value '${s}' for ${field}`);
}

function parseFilter(q: Query, state: RequestState): VolumeFilter {
  const allTenants = q1(q, 'all_tenants');
  const all = state.caller.isAdmin && allTenants !== undefined && parseBool(allTenants, 'all_tenants');
  const projectQ = q1(q, 'project_id');
  let metadata: Record<string, string> | undefined;
  const md = q1(q, 'metadata');
  if (md !== undefined) {
    try {
      const parsed: unknown = JSON.parse(md.replace(/'/g, '"'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      metadata = Object.fromEntries(Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    } catch {
      throw invalidInput(`Invalid filter metadata=${md}`);
    }
  }
  const bootable = q1(q, 'bootable');
  const times: NonNullable<VolumeFilter['times']>[number][] = [];
  if (state.version.atLeast('3.60')) {
    for (const column of ['created_at', 'updated_at'] as const) {
      const t = q1(q, column);
      if (t !== undefined) times.push(parseTimeFilter(column, t));
    }
  }
  return {
    ...(times.length > 0 ? { times } : {}),
    projectId: all ? (projectQ ?? null) : state.caller.projectId,
    name: q1(q, 'name') ?? q1(q, 'display_name'),
    // Cinder's inexact filters start at 3.34 ("resource filters"); before, the key is not a filter.
    ...(state.version.atLeast('3.34') && q1(q, 'name~') !== undefined ? { nameContains: q1(q, 'name~') } : {}),
    status: q1(q, 'status'),
    availabilityZone: q1(q, 'availability_zone'),
    bootable: bootable === undefined ? undefined : parseBool(bootable, 'bootable'),
    metadata,
  };
}

const TIME_OPS: Readonly<Record<string, TimeOp>> = { gt: '>', gte: '>=', eq: '=', neq: '<>', lt: '<', lte: '<=' };

/**
 * 3.60's time filter, `created_at=gte:2026-11-25T19:00:00Z` (`OP:` optional, `eq` by default):
 * compared in Cinder's stored format (UTC, microseconds), which sorts as the time does.
 */
function parseTimeFilter(column: 'created_at' | 'updated_at', s: string): { column: 'created_at' | 'updated_at'; op: TimeOp; value: string } {
  const m = /^(?:(gt|gte|eq|neq|lt|lte):)?(.+)$/.exec(s);
  const raw = m?.[2] ?? '';
  // A time without a zone is UTC, as Cinder reads it.
  const ms = Date.parse(/(Z|[+-]\d\d:?\d\d)$/.test(raw) ? raw : `${raw}Z`);
  if (!m || Number.isNaN(ms)) throw invalidInput(`Invalid filter ${column}=${s}: expected [gt|gte|eq|neq|lt|lte:]ISO-8601 time`);
  return { column, op: TIME_OPS[m[1] ?? 'eq'] as TimeOp, value: cinderTime(ms) };
}

function checkId(id: string): void {
  // Cinder looks the id up and answers 404 whatever its shape; so do we, without a query.
  if (!isUuid(id)) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Volume', id }, { message: `Volume ${id} could not be found.` });
}

interface VolumeBody {
  volume: {
    name?: string | null; description?: string | null; display_name?: string | null; display_description?: string | null;
    size?: number | string | null; availability_zone?: string | null; multiattach?: boolean | string; volume_type?: string | null;
    metadata?: Record<string, string> | null; snapshot_id?: string | null; source_volid?: string | null; backup_id?: string | null;
    imageRef?: string | null; group_id?: string | null; consistencygroup_id?: string | null;
  };
}

export function registerVolumeRoutes(route: RouteFn, svc: VolumeService): void {
  const showBody = async (v: VolumeRow, state: RequestState, kind: 'detail' | 'create' = 'detail') => {
    const type = await svc.repo.findType(v.volume_type_id);
    const atts = await svc.repo.attachmentsOfVolume(v.id);
    return { volume: volumeView(v, type, atts, state, kind) };
  };

  const listVolumes = async (req: FastifyRequest, state: RequestState, detail: boolean) => {
    const q = req.query as Query;
    const limit = parseLimit(q);
    const sort = parseSort(q);
    const filter = parseFilter(q, state);
    let marker: VolumeRow | undefined;
    const markerId = q1(q, 'marker');
    if (markerId !== undefined) {
      marker = await svc.repo.getVolume(markerId);
      if (!marker || (filter.projectId !== null && marker.project_id !== filter.projectId)) {
        throw new HitchError('HITCH_NOT_FOUND', { kind: 'Marker', id: markerId }, { message: `Marker ${markerId} could not be found.` });
      }
    }
    // The types do not depend on the page: read beside it, not after it (one wait fewer).
    const [rows, typeRows] = await Promise.all([svc.list(filter, sort, limit, marker), detail ? svc.repo.listTypes() : undefined]);
    let volumes: Record<string, unknown>[];
    if (detail) {
      const types = new Map((typeRows ?? []).map((t) => [t.id, t]));
      const atts = await svc.repo.attachmentsOfVolumes(rows.map((r) => r.id));
      volumes = rows.map((r) => volumeView(r, types.get(r.volume_type_id), atts.get(r.id) ?? [], state));
    } else {
      volumes = rows.map((r) => volumeSummaryView(r, state));
    }
    const body: Record<string, unknown> = { volumes };
    const last = rows[rows.length - 1];
    if (limit !== undefined && rows.length === limit && last) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(q)) if (k !== 'marker' && typeof v === 'string') params.set(k, v);
      params.set('marker', last.id);
      body.volumes_links = [{ href: `${state.baseUrl}/volumes${detail ? '/detail' : ''}?${params.toString()}`, rel: 'next' }];
    }
    const withCount = q1(q, 'with_count');
    if (state.version.atLeast('3.45') && withCount !== undefined && parseBool(withCount, 'with_count')) {
      body.count = await svc.repo.countVolumes(filter);
    }
    return body;
  };

  route('GET', '/volumes', async (req, _reply, state) => listVolumes(req, state, false));
  route('GET', '/volumes/detail', async (req, _reply, state) => listVolumes(req, state, true));

  route('POST', '/volumes', async (req, reply, state) => {
    validate(createVolumeSchema, req.body);
    const v = (req.body as VolumeBody).volume;
    if (v.snapshot_id || v.source_volid || v.backup_id || v.imageRef || v.group_id || v.consistencygroup_id) {
      throw invalidInput('Creating a volume from a snapshot, volume, backup, image or group is not supported by Hitch.');
    }
    if (v.size === undefined || v.size === null) throw invalidInput(`Volume size '${String(v.size ?? 'None')}' must be an integer and greater than 0`);
    const row = await svc.create(state.caller, {
      size: Number(v.size),
      name: v.name ?? v.display_name,
      description: v.description ?? v.display_description,
      volumeType: v.volume_type,
      availabilityZone: v.availability_zone,
      metadata: v.metadata,
      multiattach: v.multiattach === undefined ? undefined : parseBool(String(v.multiattach), 'multiattach'),
    });
    return reply.code(202).send(await showBody(row, state, 'create'));
  });

  route('GET', '/volumes/:id', async (req, _reply, state) => {
    const { id } = req.params as { id: string };
    checkId(id);
    return showBody(await svc.get(state.caller, id), state);
  });

  route('PUT', '/volumes/:id', async (req, _reply, state) => {
    const { id } = req.params as { id: string };
    checkId(id);
    validate(updateVolumeSchema, req.body);
    const v = (req.body as VolumeBody).volume;
    if (Object.keys(v).length === 0) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'empty' }, { message: 'Missing required element volume in request body.' });
    const row = await svc.update(state.caller, id, {
      name: v.name !== undefined ? v.name : v.display_name,
      description: v.description !== undefined ? v.description : v.display_description,
      metadata: v.metadata ?? undefined,
    });
    return showBody(row, state, 'create');
  });

  route('DELETE', '/volumes/:id', async (req, reply, state) => {
    const { id } = req.params as { id: string };
    checkId(id);
    await svc.delete(state.caller, id);
    return reply.code(202).send();
  });

  // --- metadata ---------------------------------------------------------------------------
  route('GET', '/volumes/:id/metadata', async (req, _reply, state) => {
    const { id } = req.params as { id: string };
    checkId(id);
    return { metadata: JSON.parse((await svc.get(state.caller, id)).metadata) as Record<string, string> };
  });
  const setMd = (replace: boolean): Handler => async (req, _reply, state) => {
    const { id } = req.params as { id: string };
    checkId(id);
    validate(metadataBodySchema, req.body);
    const md = (req.body as { metadata: Record<string, string> }).metadata;
    return { metadata: await svc.setMetadata(state.caller, id, md, replace) };
  };
  route('POST', '/volumes/:id/metadata', setMd(false));
  route('PUT', '/volumes/:id/metadata', setMd(true));
  route('GET', '/volumes/:id/metadata/:key', async (req, _reply, state) => {
    const { id, key } = req.params as { id: string; key: string };
    checkId(id);
    const md = JSON.parse((await svc.get(state.caller, id)).metadata) as Record<string, string>;
    if (!(key in md)) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Metadata', id: key }, { message: `Volume ${id} has no metadata with key ${key}.` });
    return { meta: { [key]: md[key] } };
  });
  route('PUT', '/volumes/:id/metadata/:key', async (req, _reply, state) => {
    const { id, key } = req.params as { id: string; key: string };
    checkId(id);
    validate(metaItemBodySchema, req.body);
    const meta = (req.body as { meta: Record<string, string> }).meta;
    if (!(key in meta)) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'meta' }, { message: 'Request body and URI mismatch' });
    await svc.setMetadata(state.caller, id, meta, false);
    return { meta };
  });
  route('DELETE', '/volumes/:id/metadata/:key', async (req, reply, state) => {
    const { id, key } = req.params as { id: string; key: string };
    checkId(id);
    await svc.deleteMetadataKey(state.caller, id, key);
    return reply.code(200).send();
  });

  // --- types ------------------------------------------------------------------------------
  route('GET', '/types', async (_req, _reply, state) => ({ volume_types: (await svc.repo.listTypes()).map((t) => volumeTypeView(t, state.isAdmin)) }));
  route('GET', '/types/default', async (_req, _reply, state) => {
    const t = await svc.repo.findType('__DEFAULT__');
    if (!t) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Volume type', id: 'default' });
    return { volume_type: volumeTypeView(t, state.isAdmin) };
  });
  route('GET', '/types/:id', async (req, _reply, state) => {
    const { id } = req.params as { id: string };
    const t = await svc.repo.findType(id);
    if (!t || t.id !== id) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Volume type', id }, { message: `Volume type ${id} could not be found.` });
    return { volume_type: volumeTypeView(t, state.isAdmin) };
  });

  // --- legacy actions -----------------------------------------------------------------------
  route('POST', '/volumes/:id/action', async (req, reply, state) => {
    const { id } = req.params as { id: string };
    checkId(id);
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).length !== 1) {
      throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'body' }, { message: 'Malformed request body' });
    }
    const [action, arg] = Object.entries(body as Record<string, unknown>)[0] as [string, unknown];
    const schema = actionSchemas[action];
    if (!schema) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: action }, { message: `There is no such action: ${action}` });
    validate(schema, arg, [action]);
    const c = state.caller;
    const a = (arg ?? {}) as Record<string, unknown>;
    switch (action) {
      case 'os-reserve':
        await svc.reserve(c, id);
        break;
      case 'os-unreserve':
        await svc.unreserve(c, id);
        break;
      case 'os-begin_detaching':
        await svc.beginDetaching(c, id);
        break;
      case 'os-roll_detaching':
        await svc.rollDetaching(c, id);
        break;
      case 'os-initialize_connection': {
        const info = await svc.initializeConnection(c, id, parseConnector(a.connector));
        return reply.code(200).send({ connection_info: info });
      }
      case 'os-terminate_connection':
        await svc.terminateConnection(c, id, connectorOrNull(a.connector));
        break;
      case 'os-attach': {
        const instanceUuid = typeof a.instance_uuid === 'string' ? a.instance_uuid : null;
        const hostName = typeof a.host_name === 'string' ? a.host_name : null;
        if (!instanceUuid && !hostName) throw invalidInput('Invalid request to attach volume to an invalid target');
        await svc.attach(c, id, { instanceUuid, hostName, mountpoint: String(a.mountpoint), mode: typeof a.mode === 'string' ? a.mode : 'rw' });
        break;
      }
      case 'os-detach':
        await svc.detach(c, id, typeof a.attachment_id === 'string' ? a.attachment_id : null);
        break;
      case 'os-force_detach':
        requireAdmin(state, 'volume_extension:volume_admin_actions:force_detach');
        await svc.forceDetach(c, id, typeof a.attachment_id === 'string' ? a.attachment_id : null, connectorOrNull(a.connector));
        break;
      case 'os-reset_status': {
        requireAdmin(state, 'volume_extension:volume_admin_actions:reset_status');
        const status = typeof a.status === 'string' ? a.status.toLowerCase() : undefined;
        if (status === undefined && a.attach_status === undefined && a.migration_status === undefined) {
          throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'reset' }, { message: 'Must specify status, attach_status or migration_status for update.' });
        }
        if (status !== undefined && !RESETTABLE_STATUSES.includes(status)) throw invalidInput(`Must specify a valid status`);
        await svc.resetStatus(c, id, { status, attachStatus: a.attach_status as string | undefined, migrationStatus: a.migration_status as string | undefined });
        break;
      }
    }
    return reply.code(202).send();
  });
}
