/**
 * `/snapshots`: list and detail (filters, sort, paging, 3.45 `with_count`), create (`force` for
 * in-use volumes; from 3.66 in-use needs no flag and `force: false` is a 400), show, update,
 * delete, metadata, and the admin actions `os-reset_status` and `os-force_delete`.
 */
import { HitchError } from '../../errors.ts';
import { validate } from '../../http/validate.ts';
import { requireAdmin, type RequestState } from '../api-context.ts';
import { createSnapshotSchema, metadataBodySchema, metaItemBodySchema, snapshotActionSchemas, updateSnapshotSchema } from '../request-schemas.ts';
import { SNAPSHOT_SORT_KEYS, SNAPSHOT_STATUSES, type SnapshotRow } from '../snapshot-service.ts';
import type { VolumeService } from '../volume-service.ts';
import { actionOf, allTenants, boolOf, checkUuid, invalidInput, nextLink, parseBool, parseLimit, parseMetadataFilter, parseSort, q1, type Query, type RouteFn } from './common.ts';

const IN_USE_FLAG_MSG =
  "Since microversion 3.66 the 'force' flag is invalid for this request.  For backward compatability, however, when the 'force' flag is passed with a value evaluating to True, it is silently ignored.";

/** Cinder's snapshot view: `detail` adds the 3.14/3.41/3.65 fields; `extended` the admin-or-owner attributes of show and detail lists. */
export function snapshotView(s: SnapshotRow, state: RequestState, opts: { detail: boolean; extended: boolean }): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: s.id,
    created_at: s.created_at,
    updated_at: s.updated_at,
    name: s.name,
    description: s.description,
    volume_id: s.volume_id,
    status: s.status,
    size: s.size,
    metadata: JSON.parse(s.metadata) as Record<string, string>,
  };
  if (opts.detail) {
    const mv = state.version;
    if (mv.atLeast('3.14')) out.group_snapshot_id = null;
    if (mv.atLeast('3.41')) out.user_id = s.user_id;
    if (mv.atLeast('3.65')) out.consumes_quota = true;
  }
  if (opts.extended) {
    out['os-extended-snapshot-attributes:progress'] = s.progress;
    out['os-extended-snapshot-attributes:project_id'] = s.project_id;
  }
  return out;
}

export function registerSnapshotRoutes(route: RouteFn, svc: VolumeService): void {
  const snaps = svc.snapshots;

  const list = async (q: Query, state: RequestState, detail: boolean) => {
    const limit = parseLimit(q);
    const sort = parseSort(q, SNAPSHOT_SORT_KEYS);
    const filter = {
      projectId: allTenants(q, state) ? (q1(q, 'project_id') ?? null) : state.caller.projectId,
      name: q1(q, 'name') ?? q1(q, 'display_name'),
      status: q1(q, 'status'),
      volumeId: q1(q, 'volume_id'),
      metadata: state.version.atLeast('3.22') ? parseMetadataFilter(q) : undefined,
    };
    let marker: SnapshotRow | undefined;
    const markerId = q1(q, 'marker');
    if (markerId !== undefined) {
      marker = await snaps.get(state.caller, markerId).catch(() => undefined);
      if (!marker) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Marker', id: markerId }, { message: `Marker ${markerId} could not be found.` });
    }
    const rows = await snaps.list(filter, sort, limit, marker);
    const body: Record<string, unknown> = { snapshots: rows.map((r) => snapshotView(r, state, { detail, extended: detail })) };
    const last = rows[rows.length - 1];
    if (rows.length === limit && last) body.snapshots_links = nextLink(state.baseUrl, detail ? 'snapshots/detail' : 'snapshots', q, last.id);
    const withCount = q1(q, 'with_count');
    if (state.version.atLeast('3.45') && withCount !== undefined && parseBool(withCount, 'with_count')) {
      body.count = (await snaps.list({ ...filter }, [], undefined, undefined)).length;
    }
    return body;
  };

  route('GET', '/snapshots', async (req, _reply, state) => list(req.query as Query, state, false));
  route('GET', '/snapshots/detail', async (req, _reply, state) => list(req.query as Query, state, true));

  route('POST', '/snapshots', async (req, reply, state) => {
    validate(createSnapshotSchema, req.body);
    const b = (req.body as { snapshot: { volume_id: string | null; force?: unknown; name?: string | null; display_name?: string | null; description?: string | null; metadata?: Record<string, string> | null } }).snapshot;
    if (b.volume_id === null) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Volume', id: 'None' }, { message: 'Volume None could not be found.' });
    let force = false;
    if (b.force !== undefined) {
      force = boolOf(b.force, 'force');
      if (state.version.atLeast('3.66') && !force) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'force' }, { message: IN_USE_FLAG_MSG });
    }
    const row = await snaps.create(state.caller, {
      volumeId: b.volume_id,
      name: (b.name ?? b.display_name ?? null)?.trim() ?? null,
      description: b.description ?? null,
      metadata: b.metadata ?? null,
      allowInUse: force || state.version.atLeast('3.66'),
    });
    return reply.code(202).send({ snapshot: snapshotView(row, state, { detail: true, extended: false }) });
  });

  route('GET', '/snapshots/:id', async (req, _reply, state) => {
    const { id } = req.params as { id: string };
    checkUuid(id, 'Snapshot');
    return { snapshot: snapshotView(await snaps.get(state.caller, id), state, { detail: true, extended: true }) };
  });

  route('PUT', '/snapshots/:id', async (req, _reply, state) => {
    const { id } = req.params as { id: string };
    checkUuid(id, 'Snapshot');
    validate(updateSnapshotSchema, req.body);
    const b = (req.body as { snapshot: { name?: string | null; display_name?: string | null; description?: string | null; display_description?: string | null } }).snapshot;
    const name = b.name !== undefined ? b.name : b.display_name;
    const description = b.description !== undefined ? b.description : b.display_description;
    const row = await snaps.update(state.caller, id, { name: name === undefined ? undefined : (name?.trim() ?? null), description });
    return { snapshot: snapshotView(row, state, { detail: true, extended: false }) };
  });

  route('DELETE', '/snapshots/:id', async (req, reply, state) => {
    const { id } = req.params as { id: string };
    checkUuid(id, 'Snapshot');
    await snaps.delete(state.caller, id);
    return reply.code(202).send();
  });

  // --- metadata ----------------------------------------------------------------------------
  route('GET', '/snapshots/:id/metadata', async (req, _reply, state) => {
    const { id } = req.params as { id: string };
    checkUuid(id, 'Snapshot');
    return { metadata: JSON.parse((await snaps.get(state.caller, id)).metadata) as Record<string, string> };
  });
  for (const [method, replace] of [['POST', false], ['PUT', true]] as const) {
    route(method, '/snapshots/:id/metadata', async (req, _reply, state) => {
      const { id } = req.params as { id: string };
      checkUuid(id, 'Snapshot');
      validate(metadataBodySchema, req.body);
      return { metadata: await snaps.setMetadata(state.caller, id, (req.body as { metadata: Record<string, string> }).metadata, replace) };
    });
  }
  route('GET', '/snapshots/:id/metadata/:key', async (req, _reply, state) => {
    const { id, key } = req.params as { id: string; key: string };
    checkUuid(id, 'Snapshot');
    const md = JSON.parse((await snaps.get(state.caller, id)).metadata) as Record<string, string>;
    if (!(key in md)) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Metadata', id: key }, { message: 'Metadata item was not found' });
    return { meta: { [key]: md[key] } };
  });
  route('PUT', '/snapshots/:id/metadata/:key', async (req, _reply, state) => {
    const { id, key } = req.params as { id: string; key: string };
    checkUuid(id, 'Snapshot');
    validate(metaItemBodySchema, req.body);
    const meta = (req.body as { meta: Record<string, string> }).meta;
    if (!(key in meta)) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'meta' }, { message: 'Request body and URI mismatch' });
    await snaps.setMetadata(state.caller, id, meta, false);
    return { meta };
  });
  route('DELETE', '/snapshots/:id/metadata/:key', async (req, reply, state) => {
    const { id, key } = req.params as { id: string; key: string };
    checkUuid(id, 'Snapshot');
    await snaps.deleteMetadataKey(state.caller, id, key);
    return reply.code(200).send();
  });

  // --- admin actions -----------------------------------------------------------------------
  route('POST', '/snapshots/:id/action', async (req, reply, state) => {
    const { id } = req.params as { id: string };
    checkUuid(id, 'Snapshot');
    const [action, arg] = actionOf(req.body);
    const schema = snapshotActionSchemas[action];
    if (!schema) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: action }, { message: `There is no such action: ${action}` });
    validate(schema, arg, [action]);
    if (action === 'os-reset_status') {
      requireAdmin(state, 'volume_extension:snapshot_admin_actions:reset_status');
      const status = String((arg as { status: string }).status).toLowerCase();
      if (!(SNAPSHOT_STATUSES as readonly string[]).includes(status)) throw invalidInput('Must specify a valid status');
      await snaps.resetStatus(state.caller, id, status);
    } else {
      requireAdmin(state, 'volume_extension:snapshot_admin_actions:force_delete');
      await snaps.delete(state.caller, id, true);
    }
    return reply.code(202).send();
  });
}
