/**
 * `/os-quota-sets/{project}` (show, `?usage=true`, `defaults`, update, delete back to the
 * defaults), `/os-quota-class-sets/{class}` and `/limits` — Cinder's quota API over
 * `QuotaService`. A project sees its own quotas; setting them is an admin's.
 */
import { HitchError } from '../../errors.ts';
import { requireAdmin, type RequestState } from '../api-context.ts';
import type { VolumeService } from '../volume-service.ts';
import { parseBool, q1, type Query, type RouteFn } from './common.ts';

/** Keys a quota body may carry that are not quotas. */
const NON_QUOTA_KEYS = ['tenant_id', 'id'];
const DB_MAX_INT = 2147483647;

function badRequest(message: string): HitchError {
  return new HitchError('HITCH_INVALID_ARGUMENT', { reason: message }, { message });
}

/** oslo's `validate_integer`: an integer (or a string of one) from -1. */
function quotaValue(key: string, v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw badRequest(`${key} must be an integer.`);
  if (n < -1) throw badRequest(`${key} must be >= -1`);
  if (n > DB_MAX_INT) throw badRequest(`${key} must be <= ${DB_MAX_INT}`);
  return n;
}

/** The body's quota values, every key a known resource (Cinder's `quota_set` format check). */
function quotaBody(body: unknown, root: 'quota_set' | 'quota_class_set', known: readonly string[]): Record<string, number> {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !(root in body)) {
    throw badRequest(`Invalid input for field/attribute ${root}. Value: ${JSON.stringify(body)}. '${root}' is a required property`);
  }
  const extra = Object.keys(body).filter((k) => k !== root);
  if (extra.length > 0) throw badRequest(`Additional properties are not allowed (${extra.map((k) => `'${k}'`).join(', ')} ${extra.length > 1 ? 'were' : 'was'} unexpected)`);
  const set = (body as Record<string, unknown>)[root];
  if (typeof set !== 'object' || set === null || Array.isArray(set)) throw badRequest(`Invalid input for field/attribute ${root}. Value: ${JSON.stringify(set)}. It is not of type 'object'`);
  const entries = Object.entries(set as Record<string, unknown>).filter(([k]) => root === 'quota_class_set' || !NON_QUOTA_KEYS.includes(k));
  if (root === 'quota_set' && Object.keys(set).length === 0) throw badRequest(`Invalid input for field/attribute quota_set. Value: {}. {} does not have enough properties`);
  const bad = entries.filter(([k]) => !known.includes(k)).map(([k]) => k);
  if (bad.length > 0) {
    throw new HitchError('HITCH_INVALID_INPUT', { reason: `Bad key(s) in ${root === 'quota_set' ? 'quota set' : 'quota class set'}: ${bad.join(', ')}` });
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, quotaValue(k, v)]));
}

/** Cinder's authorization of quota reads: an admin, or a token on that project. */
function checkProject(state: RequestState, project: string): void {
  if (!state.caller.isAdmin && state.caller.projectId !== project) {
    throw new HitchError('HITCH_FORBIDDEN', { action: 'volume_extension:quotas:show' }, { message: "Policy doesn't allow volume_extension:quotas:show to be performed." });
  }
}

export function registerQuotaRoutes(route: RouteFn, svc: VolumeService): void {
  const quotas = svc.quotas;

  route('GET', '/os-quota-sets/:project', async (req, _reply, state) => {
    const { project } = req.params as { project: string };
    checkProject(state, project);
    const usage = q1(req.query as Query, 'usage');
    if (usage !== undefined && parseBool(usage, 'usage')) {
      const u = await quotas.usage(project);
      return { quota_set: { ...Object.fromEntries(Object.entries(u).map(([k, v]) => [k, { limit: v.limit, in_use: v.in_use, reserved: v.reserved, allocated: 0 }])), id: project } };
    }
    return { quota_set: { ...(await quotas.limits(project)), id: project } };
  });

  route('GET', '/os-quota-sets/:project/defaults', async (req, _reply, state) => {
    const { project } = req.params as { project: string };
    checkProject(state, project);
    return { quota_set: { ...(await quotas.defaults()), id: project } };
  });

  route('PUT', '/os-quota-sets/:project', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:quotas:update');
    const { project } = req.params as { project: string };
    if (project.length < 1 || project.length > 255) throw badRequest('quota_set_name has a minimum character requirement of 1.');
    await quotas.setProject(project, quotaBody(req.body, 'quota_set', await quotas.resources()));
    return { quota_set: await quotas.limits(project) };
  });

  route('DELETE', '/os-quota-sets/:project', async (req, reply, state) => {
    requireAdmin(state, 'volume_extension:quotas:delete');
    await quotas.resetProject((req.params as { project: string }).project);
    return reply.code(200).send();
  });

  route('GET', '/os-quota-class-sets/:name', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:quota_classes');
    const { name } = req.params as { name: string };
    return { quota_class_set: { ...(await quotas.classLimits(name)), id: name } };
  });

  route('PUT', '/os-quota-class-sets/:name', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:quota_classes');
    const { name } = req.params as { name: string };
    if (name.length < 1 || name.length > 255) throw badRequest('quota_class_name has a minimum character requirement of 1.');
    await quotas.setClass(name, quotaBody(req.body, 'quota_class_set', await quotas.resources()));
    return { quota_class_set: await quotas.classLimits(name) };
  });

  // The caller's absolute limits and what the project uses of them; no rate limits.
  route('GET', '/limits', async (req, _reply, state) => {
    const asked = q1(req.query as Query, 'project_id');
    const project = state.caller.isAdmin && asked !== undefined && state.version.atLeast('3.39') ? asked : state.caller.projectId;
    const u = await quotas.usage(project);
    const lim = (k: string) => u[k]?.limit ?? -1;
    const used = (k: string) => u[k]?.in_use ?? 0;
    return {
      limits: {
        rate: [],
        absolute: {
          totalSnapshotsUsed: used('snapshots'),
          maxTotalBackups: lim('backups'),
          maxTotalVolumeGigabytes: lim('gigabytes'),
          maxTotalSnapshots: lim('snapshots'),
          maxTotalBackupGigabytes: lim('backup_gigabytes'),
          totalBackupGigabytesUsed: used('backup_gigabytes'),
          maxTotalVolumes: lim('volumes'),
          totalVolumesUsed: used('volumes'),
          totalBackupsUsed: used('backups'),
          totalGigabytesUsed: used('gigabytes'),
        },
      },
    };
  });
}
