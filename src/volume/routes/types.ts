/**
 * `/types`: list, show (`default` too), create, update, delete; extra specs; project access to
 * private types (`os-volume-type-access`, `addProjectAccess`/`removeProjectAccess`); and from
 * 3.62 the per-project default type (`/default-types`).
 */
import { HitchError } from '../../errors.ts';
import { validate } from '../../http/validate.ts';
import { requireAdmin, requireVersion, type RequestState } from '../api-context.ts';
import { createTypeSchema, defaultTypeSchema, extraSpecItemSchema, extraSpecsBodySchema, typeActionSchemas, updateTypeSchema } from '../request-schemas.ts';
import { specsOf, USER_VISIBLE_EXTRA_SPECS, type VolumeTypeRow } from '../type-service.ts';
import type { VolumeService } from '../volume-service.ts';
import { actionOf, badRequest, boolOf, parseBool, q1, type Query, type RouteFn } from './common.ts';

/** The extra specs the caller may read: all for admins, the user-visible ones otherwise. */
function visibleSpecs(t: VolumeTypeRow, isAdmin: boolean): Record<string, string> {
  const specs = specsOf(t);
  if (isAdmin) return specs;
  return Object.fromEntries(Object.entries(specs).filter(([k]) => (USER_VISIBLE_EXTRA_SPECS as readonly string[]).includes(k)));
}

/** `GET /types`, `GET /types/{id}`: Cinder's v3 type view with the type-access extension. */
export function typeView(t: VolumeTypeRow, state: RequestState): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: t.id,
    name: t.name,
    is_public: t.is_public === 1,
    description: t.description,
    extra_specs: visibleSpecs(t, state.isAdmin),
  };
  if (state.isAdmin) out.qos_specs_id = t.qos_specs_id;
  out['os-volume-type-access:is_public'] = t.is_public === 1;
  return out;
}

/** What create and update answer (Cinder's older type view: no `qos_specs_id`). */
function manageView(t: VolumeTypeRow, withAccess: boolean): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    is_public: t.is_public === 1,
    extra_specs: specsOf(t),
    description: t.description,
    ...(withAccess ? { 'os-volume-type-access:is_public': t.is_public === 1 } : {}),
  };
}

function parseIsPublic(v: string | undefined): boolean | null {
  if (v === undefined) return true;
  if (v.toLowerCase() === 'none') return null;
  try {
    return parseBool(v, 'is_public');
  } catch {
    throw badRequest(`Invalid is_public filter [${v}]`);
  }
}

export function registerTypeRoutes(route: RouteFn, svc: VolumeService): void {
  const types = svc.types;
  const typeCaller = (state: RequestState) => ({ projectId: state.caller.projectId, isAdmin: state.caller.isAdmin });

  route('GET', '/types', async (req, _reply, state) => {
    const q = req.query as Query;
    const isPublic = state.caller.isAdmin ? parseIsPublic(q1(q, 'is_public')) : true;
    const rows = await types.list(typeCaller(state), isPublic);
    return { volume_types: rows.map((t) => typeView(t, state)) };
  });

  route('GET', '/types/:id', async (req, _reply, state) => {
    const { id } = req.params as { id: string };
    if (id === 'default') {
      const t = await types.defaultFor(state.caller.projectId);
      if (!t) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Volume type', id }, { message: 'Default volume type can not be found.' });
      return { volume_type: typeView(t, state) };
    }
    return { volume_type: typeView(await types.get(typeCaller(state), id), state) };
  });

  route('POST', '/types', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:types_manage');
    validate(createTypeSchema, req.body);
    const b = (req.body as { volume_type: { name: string; description?: string | null; extra_specs?: Record<string, string | null> | null; 'os-volume-type-access:is_public'?: unknown } }).volume_type;
    const isPublic = b['os-volume-type-access:is_public'] === undefined ? true : boolOf(b['os-volume-type-access:is_public'], 'is_public');
    const specs = Object.fromEntries(Object.entries(b.extra_specs ?? {}).filter((e): e is [string, string] => e[1] !== null));
    const t = await types.create({ name: b.name.trim(), description: b.description ?? null, isPublic, extraSpecs: specs });
    return { volume_type: manageView(t, true) };
  });

  route('PUT', '/types/:id', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:types_manage');
    const { id } = req.params as { id: string };
    validate(updateTypeSchema, req.body);
    const b = (req.body as { volume_type: { name?: string | null; description?: string | null; is_public?: unknown } }).volume_type;
    const name = b.name ?? undefined;
    if (name !== undefined && name.trim().length === 0) throw badRequest('Volume type name can not be empty.');
    if (name === undefined && (b.description === undefined || b.description === null) && b.is_public === undefined) {
      throw badRequest('Specify volume type name, description, is_public or a combination thereof.');
    }
    const t = await types.update(id, {
      name: name?.trim(),
      description: b.description ?? undefined,
      isPublic: b.is_public === undefined ? undefined : boolOf(b.is_public, 'is_public'),
    });
    return { volume_type: manageView(t, false) };
  });

  route('DELETE', '/types/:id', async (req, reply, state) => {
    requireAdmin(state, 'volume_extension:types_manage');
    await types.delete((req.params as { id: string }).id);
    return reply.code(202).send();
  });

  // --- extra specs -------------------------------------------------------------------------
  route('GET', '/types/:id/extra_specs', async (req, _reply, state) => {
    const t = await types.get(typeCaller(state), (req.params as { id: string }).id);
    return { extra_specs: visibleSpecs(t, state.isAdmin) };
  });
  route('POST', '/types/:id/extra_specs', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:types_extra_specs:create');
    validate(extraSpecsBodySchema, req.body);
    const specs = (req.body as { extra_specs: Record<string, string> }).extra_specs;
    await types.setSpecs((req.params as { id: string }).id, specs);
    return { extra_specs: specs };
  });
  route('GET', '/types/:id/extra_specs/:key', async (req, _reply, state) => {
    const { id, key } = req.params as { id: string; key: string };
    const specs = visibleSpecs(await types.get(typeCaller(state), id), state.isAdmin);
    if (!(key in specs)) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Extra spec', id: key }, { message: `Volume Type ${id} has no extra specs with key ${key}.` });
    return { [key]: specs[key] };
  });
  route('PUT', '/types/:id/extra_specs/:key', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:types_extra_specs:update');
    const { id, key } = req.params as { id: string; key: string };
    validate(extraSpecItemSchema, req.body);
    const body = req.body as Record<string, string>;
    if (!(key in body)) throw badRequest('Request body and URI mismatch');
    await types.setSpecs(id, body);
    return body;
  });
  route('DELETE', '/types/:id/extra_specs/:key', async (req, reply, state) => {
    requireAdmin(state, 'volume_extension:types_extra_specs:delete');
    const { id, key } = req.params as { id: string; key: string };
    await types.deleteSpec(id, key);
    return reply.code(202).send();
  });

  // --- access to private types ---------------------------------------------------------------
  route('GET', '/types/:id/os-volume-type-access', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:volume_type_access');
    const { id } = req.params as { id: string };
    return { volume_type_access: (await types.accessList(id)).map((project_id) => ({ volume_type_id: id, project_id })) };
  });
  route('POST', '/types/:id/action', async (req, reply, state) => {
    const { id } = req.params as { id: string };
    const [action, arg] = actionOf(req.body);
    const schema = typeActionSchemas[action];
    if (!schema) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: action }, { message: `There is no such action: ${action}` });
    requireAdmin(state, `volume_extension:volume_type_access:${action === 'addProjectAccess' ? 'addProjectAccess' : 'removeProjectAccess'}`);
    validate(schema, arg, [action]);
    const project = (arg as { project: string }).project;
    if (action === 'addProjectAccess') await types.addAccess(id, project);
    else await types.removeAccess(id, project);
    return reply.code(202).send();
  });

  // --- per-project default types (3.62) --------------------------------------------------------
  const defaultView = (d: { project_id: string; volume_type_id: string }) => ({ project_id: d.project_id, volume_type_id: d.volume_type_id });
  route('PUT', '/default-types/:project', async (req, _reply, state) => {
    requireVersion(state, '3.62');
    requireAdmin(state, 'volume_extension:default_set_or_update');
    validate(defaultTypeSchema, req.body);
    const { project } = req.params as { project: string };
    const t = await types.setProjectDefault(project, (req.body as { default_type: { volume_type: string } }).default_type.volume_type);
    return { default_type: defaultView({ project_id: project, volume_type_id: t.id }) };
  });
  route('GET', '/default-types/:project', async (req, _reply, state) => {
    requireVersion(state, '3.62');
    requireAdmin(state, 'volume_extension:default_get');
    const { project } = req.params as { project: string };
    const [d] = await types.projectDefaults(project);
    if (!d) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Default type', id: project }, { message: `Default type for project ${project} not found.` });
    return { default_type: defaultView(d) };
  });
  route('GET', '/default-types', async (_req, _reply, state) => {
    requireVersion(state, '3.62');
    requireAdmin(state, 'volume_extension:default_get_all');
    return { default_types: (await types.projectDefaults()).map(defaultView) };
  });
  route('DELETE', '/default-types/:project', async (req, reply, state) => {
    requireVersion(state, '3.62');
    requireAdmin(state, 'volume_extension:default_unset');
    await types.unsetProjectDefault((req.params as { project: string }).project);
    return reply.code(204).send();
  });
}
