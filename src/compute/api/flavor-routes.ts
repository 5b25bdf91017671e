/**
 * Flavors as Nova serves them: list, detail and show for everyone (private flavors only to
 * the projects on their access list, and to admins); create, update (2.55+), delete, extra specs
 * and access management for admins. Bodies, status codes and messages are Nova's
 * (`flavors.py`, `flavors_extraspecs.py`, `flavor_access.py`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HitchError } from '../../errors.ts';
import type { ApiVersion } from '../../http/microversion.ts';
import { validate, type Schema } from '../../http/validate.ts';
import { flavorNotFound, type FlavorRow, type FlavorStore } from '../flavor-store.ts';
import type { ComputeApi } from './context.ts';
import { checkExtraSpec } from './extra-spec-rules.ts';
import { flavorDetailView, flavorView } from './flavor-views.ts';
import { badRequest, boolean, checkQuery, longDescription, metadataKey, name, page, param, projectId, truthy, type Query } from './nova-types.ts';

const flavorParam = (min: number): Schema => ({ type: 'integer', minimum: min, maximum: 0x7fffffff });

function createSchema(v: ApiVersion): Schema {
  const props: Record<string, Schema> = {
    name,
    id: { type: 'anyOf', anyOf: [{ type: 'string', minLength: 1, maxLength: 255, pattern: /^(?! )[a-zA-Z0-9. _-]+(?<! )$/ }, { type: 'number' }, { type: 'null' }] },
    ram: flavorParam(1),
    vcpus: flavorParam(1),
    disk: flavorParam(0),
    'OS-FLV-EXT-DATA:ephemeral': flavorParam(0),
    swap: flavorParam(0),
    rxtx_factor: { type: 'number', exclusiveMinimum: 0, maximum: 3.40282e38, numericString: /^[0-9]+(\.[0-9]+)?$/ },
    'os-flavor-access:is_public': boolean,
  };
  if (v.atLeast('2.55')) props['description'] = longDescription;
  return {
    type: 'object',
    required: ['flavor'],
    additionalProperties: false,
    properties: { flavor: { type: 'object', required: ['name', 'ram', 'vcpus', 'disk'], additionalProperties: false, properties: props } },
  };
}

const updateSchema: Schema = {
  type: 'object',
  required: ['flavor'],
  additionalProperties: false,
  properties: { flavor: { type: 'object', required: ['description'], additionalProperties: false, properties: { description: longDescription } } },
};

const specValue: Schema = { type: 'anyOf', anyOf: [{ type: 'string', maxLength: 255 }, { type: 'number' }] };
const specs: Schema = { type: 'object', properties: {}, patternProperties: [[metadataKey, specValue]], additionalProperties: false };
const extraSpecsCreate: Schema = { type: 'object', required: ['extra_specs'], additionalProperties: false, properties: { extra_specs: specs } };
const extraSpecUpdate: Schema = { ...specs, minProperties: 1, maxProperties: 1 } as Schema;

const tenantAction = (key: string): Schema => ({
  type: 'object',
  required: [key],
  additionalProperties: false,
  properties: { [key]: { type: 'object', required: ['tenant'], additionalProperties: false, properties: { tenant: { type: 'string', minLength: 1, maxLength: 255 } } } },
});

const SORT_KEYS: Readonly<Record<string, keyof FlavorRow>> = {
  created_at: 'created_at', description: 'description', disabled: 'disabled', ephemeral_gb: 'ephemeral_gb', flavorid: 'id', id: 'seq',
  is_public: 'is_public', memory_mb: 'memory_mb', name: 'name', root_gb: 'root_gb', rxtx_factor: 'rxtx_factor', swap: 'swap', vcpu_weight: 'seq', vcpus: 'vcpus',
};

/** JSON numbers in extra specs are stored (and shown later) as strings, as Nova does. */
function specStrings(body: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(body)) {
    const s = String(x);
    if (typeof x === 'number' && s.length > 255) throw badRequest(`Invalid input for field/attribute extra_specs value. Value: ${s}. It must be 255 characters or less.`);
    out[k] = s;
  }
  return out;
}

export function registerFlavorRoutes(app: FastifyInstance, api: ComputeApi, flavors: FlavorStore): void {
  const list = async (req: FastifyRequest, v: ApiVersion) => {
    const ctx = await api.auth(req);
    const q = req.query as Query;
    checkQuery(q, ['limit', 'marker', 'is_public', 'minRam', 'minDisk', 'sort_key', 'sort_dir'], v.atLeast('2.75'));
    let isPublic: boolean | null = true;
    if (ctx.isAdmin) {
      const raw = param(q, 'is_public');
      if (raw === undefined) isPublic = true;
      else if (['none', 'null'].includes(raw.toLowerCase())) isPublic = null;
      else if (['1', 't', 'true', 'on', 'y', 'yes'].includes(raw.toLowerCase())) isPublic = true;
      else if (['0', 'f', 'false', 'off', 'n', 'no'].includes(raw.toLowerCase())) isPublic = false;
      else throw badRequest(`Invalid is_public filter [${raw}]`);
    }
    const intFilter = (key: string): number | undefined => {
      const raw = param(q, key);
      if (raw === undefined) return undefined;
      if (!/^\s*[-+]?\d+\s*$/.test(raw)) throw badRequest(`Invalid ${key} filter [${raw}]`);
      return Number(raw);
    };
    const sortKey = param(q, 'sort_key') ?? 'flavorid';
    const sortDir = param(q, 'sort_dir') ?? 'asc';
    const key = SORT_KEYS[sortKey];
    if (!key) throw badRequest(`Invalid input for query parameters sort_key. Value: ${sortKey}. '${sortKey}' is not one of ${Object.keys(SORT_KEYS).map((k) => `'${k}'`).join(', ')}`);
    if (sortDir !== 'asc' && sortDir !== 'desc') throw badRequest(`Invalid input for query parameters sort_dir. Value: ${sortDir}. '${sortDir}' is not one of 'asc', 'desc'`);
    const minRam = intFilter('minRam');
    const minDisk = intFilter('minDisk');
    return flavors.list(
      {
        isPublic,
        includeDisabled: ctx.isAdmin,
        ...(ctx.isAdmin ? {} : { projectId: ctx.projectId }),
        ...(minRam !== undefined ? { minRam } : {}),
        ...(minDisk !== undefined ? { minDisk } : {}),
      },
      { key, dir: sortDir },
    );
  };

  app.get('/v2.1/flavors', async (req, reply) => {
    const v = api.mv(req, reply);
    const all = await list(req, v);
    const { items, next } = page(all, (f) => f.id, req.query as Query, `${api.base(req)}/v2.1/flavors`);
    return { flavors: items.map((f) => flavorView(f, api.base(req), v)), ...(next ? { flavors_links: [{ rel: 'next', href: next }] } : {}) };
  });

  app.get('/v2.1/flavors/detail', async (req, reply) => {
    const v = api.mv(req, reply);
    const all = await list(req, v);
    const { items, next } = page(all, (f) => f.id, req.query as Query, `${api.base(req)}/v2.1/flavors/detail`);
    return { flavors: items.map((f) => flavorDetailView(f, api.base(req), v)), ...(next ? { flavors_links: [{ rel: 'next', href: next }] } : {}) };
  });

  app.get<{ Params: { id: string } }>('/v2.1/flavors/:id', async (req, reply) => {
    const v = api.mv(req, reply);
    const ctx = await api.auth(req);
    return { flavor: flavorDetailView(await flavors.getFor(req.params.id, ctx.projectId, ctx.isAdmin), api.base(req), v) };
  });

  // Nova answers 200, not 201, for a created flavor.
  app.post('/v2.1/flavors', async (req, reply) => {
    const v = api.mv(req, reply);
    await api.admin(req, 'os_compute_api:os-flavor-manage:create');
    validate(createSchema(v), req.body);
    const f = (req.body as { flavor: Record<string, unknown> }).flavor;
    const id = f['id'] === undefined || f['id'] === null ? null : String(f['id']);
    if (typeof f['name'] === 'string' && f['name'].trim() === '') throw badRequest('Flavor names can not be empty.');
    const created = await flavors.create({
      id,
      name: String(f['name']),
      ram: Number(f['ram']),
      vcpus: Number(f['vcpus']),
      disk: Number(f['disk']),
      ephemeral: Number(f['OS-FLV-EXT-DATA:ephemeral'] ?? 0),
      swap: Number(f['swap'] ?? 0),
      rxtxFactor: Number(f['rxtx_factor'] ?? 1),
      isPublic: f['os-flavor-access:is_public'] === undefined ? true : truthy(f['os-flavor-access:is_public']),
      description: v.atLeast('2.55') ? ((f['description'] as string | null | undefined) ?? null) : null,
    });
    return { flavor: flavorDetailView(created, api.base(req), v) };
  });

  app.put<{ Params: { id: string } }>('/v2.1/flavors/:id', async (req, reply) => {
    const v = api.mv(req, reply);
    if (!v.atLeast('2.55')) throw methodNotAllowed();
    await api.admin(req, 'os_compute_api:os-flavor-manage:update');
    validate(updateSchema, req.body);
    const f = await flavors.get(req.params.id);
    if (!f) throw flavorNotFound(req.params.id);
    const description = (req.body as { flavor: { description: string | null } }).flavor.description;
    await flavors.setDescription(f.id, description);
    return { flavor: flavorDetailView({ ...f, description }, api.base(req), v) };
  });

  app.delete<{ Params: { id: string } }>('/v2.1/flavors/:id', async (req, reply) => {
    api.mv(req, reply);
    await api.admin(req, 'os_compute_api:os-flavor-manage:delete');
    if (!(await flavors.delete(req.params.id))) throw flavorNotFound(req.params.id);
    return reply.code(202).send();
  });

  // --- access to private flavors ----------------------------------------------------------------
  const accessBody = async (id: string) => ({ flavor_access: (await flavors.projects(id)).map((p) => ({ flavor_id: id, tenant_id: p })) });

  app.get<{ Params: { id: string } }>('/v2.1/flavors/:id/os-flavor-access', async (req, reply) => {
    api.mv(req, reply);
    await api.admin(req, 'os_compute_api:os-flavor-access');
    const f = await flavors.get(req.params.id);
    if (!f) throw flavorNotFound(req.params.id);
    if (f.is_public) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Flavor access', id: f.id }, { message: 'Access list not available for public flavors.' });
    return accessBody(f.id);
  });

  app.post<{ Params: { id: string } }>('/v2.1/flavors/:id/action', async (req, reply) => {
    const v = api.mv(req, reply);
    const body = req.body as Record<string, unknown> | null;
    const add = typeof body === 'object' && body !== null && 'addTenantAccess' in body;
    const remove = typeof body === 'object' && body !== null && 'removeTenantAccess' in body;
    if (!add && !remove) throw badRequest('There is no such action: ' + (typeof body === 'object' && body !== null ? Object.keys(body)[0] ?? '' : ''));
    await api.admin(req, `os_compute_api:os-flavor-access:${add ? 'add_tenant_access' : 'remove_tenant_access'}`);
    validate(tenantAction(add ? 'addTenantAccess' : 'removeTenantAccess'), body);
    const tenant = (body as Record<string, { tenant: string }>)[add ? 'addTenantAccess' : 'removeTenantAccess']!.tenant;
    if (add || remove) {
      validate(projectId, tenant, ['tenant']);
      if (add && !(await api.projectExists(tenant))) throw badRequest(`Project ID ${tenant} is not a valid project.`);
    }
    const f = await flavors.get(req.params.id);
    if (!f) throw flavorNotFound(req.params.id);
    if (add) {
      if (v.atLeast('2.7') && f.is_public) throw new HitchError('HITCH_CONFLICT', { reason: 'Can not add access to a public flavor.' }, { message: 'Can not add access to a public flavor.' });
      if (!(await flavors.addProject(f.id, tenant))) {
        const message = `Flavor access already exists for flavor ${f.id} and project ${tenant} combination.`;
        throw new HitchError('HITCH_CONFLICT', { reason: message }, { message });
      }
    } else if (!(await flavors.removeProject(f.id, tenant))) {
      throw new HitchError('HITCH_NOT_FOUND', { kind: 'Flavor access', id: f.id }, { message: `Flavor access not found for ${f.id} / ${tenant} combination.` });
    }
    return accessBody(f.id);
  });

  // --- extra specs ----------------------------------------------------------------------------
  // Anyone who may see the flavor reads them; admins change them.
  const visible = async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const ctx = await api.auth(req);
    return flavors.getFor(req.params.id, ctx.projectId, ctx.isAdmin);
  };
  const check = (v: ApiVersion, body: Record<string, string>): void => {
    if (v.atLeast('2.86')) for (const [k, x] of Object.entries(body)) checkExtraSpec(k, x);
  };
  const noSuchKey = (flavorId: string, key: string) =>
    new HitchError('HITCH_NOT_FOUND', { kind: 'Flavor extra spec', id: key }, { message: `Flavor ${flavorId} has no extra specs with key ${key}.` });

  app.get<{ Params: { id: string } }>('/v2.1/flavors/:id/os-extra_specs', async (req, reply) => {
    api.mv(req, reply);
    return { extra_specs: { ...(await visible(req)).extraSpecs } };
  });

  app.get<{ Params: { id: string; key: string } }>('/v2.1/flavors/:id/os-extra_specs/:key', async (req, reply) => {
    api.mv(req, reply);
    const f = await visible(req);
    const value = f.extraSpecs[req.params.key];
    if (value === undefined) throw noSuchKey(f.id, req.params.key);
    return { [req.params.key]: value };
  });

  app.post<{ Params: { id: string } }>('/v2.1/flavors/:id/os-extra_specs', async (req, reply) => {
    const v = api.mv(req, reply);
    await api.admin(req, 'os_compute_api:os-flavor-extra-specs:create');
    validate(extraSpecsCreate, req.body);
    const given = (req.body as { extra_specs: Record<string, unknown> }).extra_specs;
    const strings = specStrings(given);
    check(v, strings);
    const f = await flavors.get(req.params.id);
    if (!f) throw flavorNotFound(req.params.id);
    await flavors.setExtraSpecs(f.id, strings);
    return { extra_specs: given };
  });

  app.put<{ Params: { id: string; key: string } }>('/v2.1/flavors/:id/os-extra_specs/:key', async (req, reply) => {
    const v = api.mv(req, reply);
    await api.admin(req, 'os_compute_api:os-flavor-extra-specs:update');
    validate(extraSpecUpdate, req.body);
    const body = req.body as Record<string, unknown>;
    const strings = specStrings(body);
    check(v, strings);
    if (!(req.params.key in body)) throw badRequest('Request body and URI mismatch');
    const f = await flavors.get(req.params.id);
    if (!f) throw flavorNotFound(req.params.id);
    await flavors.setExtraSpecs(f.id, strings);
    return body;
  });

  app.delete<{ Params: { id: string; key: string } }>('/v2.1/flavors/:id/os-extra_specs/:key', async (req, reply) => {
    api.mv(req, reply);
    await api.admin(req, 'os_compute_api:os-flavor-extra-specs:delete');
    const f = await flavors.get(req.params.id);
    if (!f) throw flavorNotFound(req.params.id);
    if (!(await flavors.deleteExtraSpec(f.id, req.params.key))) throw noSuchKey(f.id, req.params.key);
    return reply.code(200).send();
  });
}

/** A call that does not exist at the request's microversion: Nova's 404 for an unversioned method. */
export function methodNotAllowed(): HitchError {
  return new HitchError('HITCH_NOT_FOUND', { kind: 'Resource', id: '' }, { message: 'The resource could not be found.' });
}
