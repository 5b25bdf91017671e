/**
 * Volumes and their metadata in the Cinder v3 API: list (summary, detail, paging, filters,
 * count), create (empty, from a snapshot, as a copy of a volume), show, update, delete (with
 * `cascade` and, 3.23+, `force`), `volumes/summary` (3.12+). Volume actions are in
 * `routes/volume-actions.ts`; types, snapshots and the rest each in their own file there.
 */
import type { FastifyRequest } from 'fastify';
import { HitchError } from '../errors.ts';
import { validate } from '../http/validate.ts';
import { requireVersion, type RequestState } from './api-context.ts';
import { createVolumeSchema, metadataBodySchema, metaItemBodySchema, updateVolumeSchema } from './request-schemas.ts';
import { allTenants, badRequest, checkUuid, invalidInput, parseBool, parseLimit, parseMetadataFilter, parseSort, q1, nextLink, type Handler, type Query, type RouteFn } from './routes/common.ts';
import type { VolumeService } from './volume-service.ts';
import { SORT_KEYS, cinderTime, type AttachmentRow, type TimeOp, type VolumeFilter, type VolumeRow } from './volume-repo.ts';
import { volumeSummaryView, volumeView } from './views.ts';

export type { Handler, RouteFn };
export { parseLimit };

function parseFilter(q: Query, state: RequestState): VolumeFilter {
  const all = allTenants(q, state);
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
    projectId: all ? (q1(q, 'project_id') ?? null) : state.caller.projectId,
    name: q1(q, 'name') ?? q1(q, 'display_name'),
    // Cinder's inexact filters start at 3.34 ("resource filters"); before, the key is not a filter.
    ...(state.version.atLeast('3.34') && q1(q, 'name~') !== undefined ? { nameContains: q1(q, 'name~') } : {}),
    status: q1(q, 'status'),
    availabilityZone: q1(q, 'availability_zone'),
    bootable: bootable === undefined ? undefined : parseBool(bootable, 'bootable'),
    metadata: parseMetadataFilter(q),
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
  checkUuid(id, 'Volume');
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
    const type = await svc.types.byId(v.volume_type_id);
    const atts = await svc.repo.attachmentsOfVolume(v.id);
    return { volume: volumeView(v, type, atts, state, kind) };
  };

  const listVolumes = async (req: FastifyRequest, state: RequestState, detail: boolean) => {
    const q = req.query as Query;
    const limit = parseLimit(q);
    const sort = parseSort(q, SORT_KEYS);
    const filter = parseFilter(q, state);
    let marker: VolumeRow | undefined;
    const markerId = q1(q, 'marker');
    if (markerId !== undefined) {
      marker = await svc.repo.getVolume(markerId);
      if (!marker || (filter.projectId !== null && marker.project_id !== filter.projectId)) {
        throw new HitchError('HITCH_NOT_FOUND', { kind: 'Marker', id: markerId }, { message: `Marker ${markerId} could not be found.` });
      }
    }
    // The types and the page's attachments do not wait for the page: read beside it (the
    // attachments through the page's statement as a subquery), not after it — one wait fewer.
    const [rows, typeRows, pageAtts] = await Promise.all([
      svc.list(filter, sort, limit, marker),
      detail ? svc.repo.listTypes() : undefined,
      detail ? svc.repo.attachmentsOfPage(filter, sort, limit, marker) : undefined,
    ]);
    let volumes: Record<string, unknown>[];
    if (detail) {
      const types = new Map((typeRows ?? []).map((t) => [t.id, t]));
      const atts = pageAtts ?? new Map<string, AttachmentRow[]>();
      volumes = rows.map((r) => volumeView(r, types.get(r.volume_type_id), atts.get(r.id) ?? [], state));
    } else {
      volumes = rows.map((r) => volumeSummaryView(r, state));
    }
    const body: Record<string, unknown> = { volumes };
    const last = rows[rows.length - 1];
    if (rows.length === limit && last) body.volumes_links = nextLink(state.baseUrl, detail ? 'volumes/detail' : 'volumes', q, last.id);
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
    if (v.multiattach !== undefined && parseBool(String(v.multiattach), 'multiattach')) {
      throw badRequest('multiattach parameter has been removed. The default behavior is to use multiattach enabled volume types. Contact your administrator to create a multiattach enabled volume type and use it to create multiattach volumes.');
    }
    // Hitch has no backups or groups, so any id of one is not found — Cinder's answer too.
    if (v.backup_id) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Backup', id: v.backup_id }, { message: `Backup ${v.backup_id} could not be found.` });
    const group = v.group_id ?? v.consistencygroup_id;
    if (group) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Group', id: group }, { message: `Group ${group} could not be found.` });
    if (v.imageRef) throw invalidInput('Creating a volume from an image is not supported by Hitch (it has no image service with data).');
    if ((v.size === undefined || v.size === null) && !v.snapshot_id && !v.source_volid) {
      throw invalidInput(`Volume size '${String(v.size ?? 'None')}' must be an integer and greater than 0`);
    }
    const row = await svc.create(state.caller, {
      size: v.size === undefined || v.size === null ? undefined : Number(v.size),
      name: v.name ?? v.display_name,
      description: v.description ?? v.display_description,
      volumeType: v.volume_type,
      availabilityZone: v.availability_zone,
      metadata: v.metadata,
      snapshotId: v.snapshot_id,
      sourceVolid: v.source_volid,
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
    const q = req.query as Query;
    const cascade = q1(q, 'cascade');
    const forceQ = q1(q, 'force');
    const force = forceQ !== undefined && state.version.atLeast('3.23') && parseBool(forceQ, 'force');
    if (force && !state.caller.isAdmin) throw new HitchError('HITCH_FORBIDDEN', { action: 'volume:force_delete' }, { message: "Policy doesn't allow volume:force_delete to be performed." });
    await svc.delete(state.caller, id, { cascade: cascade !== undefined && parseBool(cascade, 'cascade'), force });
    return reply.code(202).send();
  });

  // 3.12: the count and total size of the caller's volumes (3.36: their metadata keys and values).
  route('GET', '/volumes/summary', async (req, _reply, state) => {
    requireVersion(state, '3.12');
    const q = req.query as Query;
    const rows = await svc.list({ projectId: allTenants(q, state) ? null : state.caller.projectId }, [], undefined, undefined);
    const summary: Record<string, unknown> = { total_size: rows.reduce((n, r) => n + r.size, 0), total_count: rows.length };
    if (state.version.atLeast('3.36')) {
      const md: Record<string, string[]> = {};
      for (const r of rows) {
        for (const [k, v] of Object.entries(JSON.parse(r.metadata) as Record<string, string>)) {
          const list = (md[k] ??= []);
          if (!list.includes(v)) list.push(v);
        }
      }
      summary.metadata = md;
    }
    return { 'volume-summary': summary };
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
}
