/**
 * Compute quotas and limits with Nova's bodies and gates: `os-quota-sets/{project}` (show,
 * detail with usage, update, defaults, delete back to the defaults) and `limits` (absolute
 * limits and what the project uses). The network quotas Nova dropped at 2.36 and the file
 * injection ones at 2.57 go from the bodies at those versions.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiVersion } from '../../http/microversion.ts';
import { validate, type Schema } from '../../http/validate.ts';
import { QUOTA_DEFAULTS, type QuotaStore } from '../quota-store.ts';
import type { Caller, ComputeApi } from './context.ts';
import { forbidden } from './context.ts';
import { badRequest, boolean, checkQuery, param, truthy, type Query } from './nova-types.ts';

const RESOURCES = [
  'instances', 'cores', 'ram', 'floating_ips', 'fixed_ips', 'metadata_items', 'key_pairs', 'security_groups', 'security_group_rules',
  'injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes', 'server_groups', 'server_group_members',
] as const;
const GONE_236 = ['fixed_ips', 'floating_ips', 'security_group_rules', 'security_groups'];
const GONE_257 = [...GONE_236, 'injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes'];

function filtered(v: ApiVersion): readonly string[] {
  return v.atLeast('2.57') ? GONE_257 : v.atLeast('2.36') ? GONE_236 : [];
}

const limitValue: Schema = { type: 'integer', minimum: -1, maximum: 0x7fffffff };

function updateSchema(v: ApiVersion): Schema {
  const gone = filtered(v);
  const props: Record<string, Schema> = { force: boolean };
  for (const r of RESOURCES) if (!gone.includes(r)) props[r] = limitValue;
  return { type: 'object', required: ['quota_set'], additionalProperties: false, properties: { quota_set: { type: 'object', additionalProperties: false, properties: props } } };
}

/** `maxTotalRAMSize` and friends: Nova's names for the absolute limits. */
const LIMIT_NAMES: Readonly<Record<string, readonly string[]>> = {
  ram: ['maxTotalRAMSize'],
  instances: ['maxTotalInstances'],
  cores: ['maxTotalCores'],
  key_pairs: ['maxTotalKeypairs'],
  floating_ips: ['maxTotalFloatingIps'],
  metadata_items: ['maxServerMeta', 'maxImageMeta'],
  injected_files: ['maxPersonality'],
  injected_file_content_bytes: ['maxPersonalitySize'],
  security_groups: ['maxSecurityGroups'],
  security_group_rules: ['maxSecurityGroupRules'],
  server_groups: ['maxServerGroups'],
  server_group_members: ['maxServerGroupMembers'],
};
const USED: ReadonlyArray<readonly [string, string]> = [
  ['totalRAMUsed', 'ram'],
  ['totalCoresUsed', 'cores'],
  ['totalInstancesUsed', 'instances'],
  ['totalFloatingIpsUsed', 'floating_ips'],
  ['totalSecurityGroupsUsed', 'security_groups'],
  ['totalServerGroupsUsed', 'server_groups'],
];
const LIMITS_GONE_236 = ['floating_ips', 'security_groups', 'security_group_rules'];
const LIMITS_GONE_257 = [...LIMITS_GONE_236, 'injected_files', 'injected_file_content_bytes'];

export function registerQuotaRoutes(app: FastifyInstance, api: ComputeApi, quotas: QuotaStore): void {
  /** Admins see any project's quotas; others their own project's only (Nova's default policy). */
  const caller = async (req: FastifyRequest, project: string, policy: string): Promise<Caller> => {
    const ctx = await api.auth(req);
    if (!ctx.isAdmin && ctx.projectId !== project) throw forbidden(`os_compute_api:os-quota-sets:${policy}`);
    return ctx;
  };
  const checkProject = async (id: string): Promise<void> => {
    if (!(await api.projectExists(id))) throw badRequest(`Project ID ${id} is not a valid project.`);
  };
  const body = (v: ApiVersion, values: Readonly<Record<string, unknown>>, id: string | null) => {
    const gone = filtered(v);
    const out: Record<string, unknown> = id === null ? {} : { id };
    for (const r of RESOURCES) if (!gone.includes(r) && r in values) out[r] = values[r];
    return { quota_set: out };
  };
  const query = (req: FastifyRequest, v: ApiVersion): void => {
    const q = req.query as Query;
    checkQuery(q, ['user_id'], v.atLeast('2.75'));
    // Per-user quotas are Nova's; Hitch keeps them per project, so a user_id asks for something it does not hold.
    if (param(q, 'user_id') !== undefined) throw badRequest('Quotas per user are not supported by this cloud; omit user_id.');
  };

  app.get<{ Params: { id: string } }>('/v2.1/os-quota-sets/:id', async (req, reply) => {
    const v = api.mv(req, reply);
    await caller(req, req.params.id, 'show');
    query(req, v);
    await checkProject(req.params.id);
    return body(v, await quotas.limits(req.params.id), req.params.id);
  });

  app.get<{ Params: { id: string } }>('/v2.1/os-quota-sets/:id/detail', async (req, reply) => {
    const v = api.mv(req, reply);
    await caller(req, req.params.id, 'detail');
    query(req, v);
    await checkProject(req.params.id);
    return body(v, await quotas.detail(req.params.id), req.params.id);
  });

  app.get<{ Params: { id: string } }>('/v2.1/os-quota-sets/:id/defaults', async (req, reply) => {
    const v = api.mv(req, reply);
    // Defaults are the cloud's, not a project's: any caller may read them (Nova's rule is '@').
    await api.auth(req);
    await checkProject(req.params.id);
    return body(v, { ...QUOTA_DEFAULTS }, req.params.id);
  });

  app.put<{ Params: { id: string } }>('/v2.1/os-quota-sets/:id', async (req, reply) => {
    const v = api.mv(req, reply);
    await api.admin(req, 'os_compute_api:os-quota-sets:update');
    query(req, v);
    validate(updateSchema(v), req.body);
    await checkProject(req.params.id);
    const given = (req.body as { quota_set: Record<string, unknown> }).quota_set;
    const force = given['force'] !== undefined && truthy(given['force']);
    const used = force ? {} : await quotas.usage(req.params.id);
    const values: Record<string, number> = {};
    for (const [k, raw] of Object.entries(given)) {
      if (k === 'force' || raw === null || raw === '') continue;
      const limit = Number(raw);
      const minimum = used[k] ?? 0;
      if (!force && limit !== -1 && limit < minimum) {
        throw badRequest(`Quota limit ${limit} for ${k} must be greater than or equal to already used and reserved ${minimum}.`);
      }
      values[k] = limit;
    }
    await quotas.set(req.params.id, values);
    return body(v, await quotas.limits(req.params.id), null);
  });

  app.delete<{ Params: { id: string } }>('/v2.1/os-quota-sets/:id', async (req, reply) => {
    const v = api.mv(req, reply);
    await api.admin(req, 'os_compute_api:os-quota-sets:delete');
    query(req, v);
    await quotas.reset(req.params.id);
    return reply.code(202).send();
  });

  app.get('/v2.1/limits', async (req, reply) => {
    const v = api.mv(req, reply);
    const ctx = await api.auth(req);
    const q = req.query as Query;
    checkQuery(q, v.atLeast('2.57') ? ['tenant_id'] : ['tenant_id'], v.atLeast('2.75'));
    let project = ctx.projectId;
    const asked = param(q, 'tenant_id');
    if (asked !== undefined) {
      if (!ctx.isAdmin) throw forbidden('os_compute_api:limits:other_project');
      project = asked;
    }
    const detail = await quotas.detail(project);
    const gone = v.atLeast('2.57') ? LIMITS_GONE_257 : v.atLeast('2.36') ? LIMITS_GONE_236 : [];
    const absolute: Record<string, number> = {};
    for (const [name, d] of Object.entries(detail)) {
      if (gone.includes(name)) continue;
      for (const key of LIMIT_NAMES[name] ?? []) if (!(key === 'maxImageMeta' && v.atLeast('2.39'))) absolute[key] = d.limit;
    }
    for (const [key, name] of USED) if (name in detail && !gone.includes(name)) absolute[key] = detail[name]?.in_use ?? 0;
    return { limits: { rate: [], absolute } };
  });
}
