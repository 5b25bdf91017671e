/**
 * Compute quotas per project, as Nova's database quota driver keeps them: a limit per resource
 * (the default unless a project has its own; -1 is unlimited) and usage counted from the
 * servers themselves (instances, and the cores and RAM of their flavors), so there is no usage
 * table to drift. Server create checks the request against them before anything is created.
 */
import type { Kysely } from 'kysely';
import { HitchError } from '../errors.ts';
import type { ServerFlavor } from './flavor-store.ts';
import type { ComputeTables } from './schema.ts';

/** Nova's defaults (`[quota]` in nova.conf). The legacy network quotas are unlimited since nova-network left. */
export const QUOTA_DEFAULTS: Readonly<Record<string, number>> = Object.freeze({
  instances: 10,
  cores: 20,
  ram: 51200,
  metadata_items: 128,
  injected_files: 5,
  injected_file_content_bytes: 10240,
  injected_file_path_bytes: 255,
  key_pairs: 100,
  server_groups: 10,
  server_group_members: 10,
  fixed_ips: -1,
  floating_ips: -1,
  security_groups: -1,
  security_group_rules: -1,
});

/** Resources counted from servers; the others are limits checked against a request's own size. */
const COUNTED = ['instances', 'cores', 'ram'] as const;

export interface QuotaDetail {
  readonly limit: number;
  readonly in_use: number;
  readonly reserved: number;
}

export class QuotaStore {
  readonly #db: Kysely<ComputeTables>;
  readonly #flavorOf: (server: { flavor: string | null; flavor_id: string }) => Promise<ServerFlavor | undefined>;

  constructor(db: object, flavorOf: (server: { flavor: string | null; flavor_id: string }) => Promise<ServerFlavor | undefined>) {
    this.#db = db as Kysely<ComputeTables>;
    this.#flavorOf = flavorOf;
  }

  async limits(projectId: string): Promise<Record<string, number>> {
    const rows = await this.#db.selectFrom('quotas').selectAll().where('project_id', '=', projectId).execute();
    const out: Record<string, number> = { ...QUOTA_DEFAULTS };
    for (const r of rows) out[r.resource] = Number(r.hard_limit);
    return out;
  }

  async usage(projectId: string): Promise<Record<string, number>> {
    const servers = await this.#db.selectFrom('servers').select(['flavor', 'flavor_id']).where('project_id', '=', projectId).where('status', '!=', 'DELETED').execute();
    let cores = 0;
    let ram = 0;
    for (const s of servers) {
      const f = await this.#flavorOf(s);
      cores += f?.vcpus ?? 0;
      ram += f?.ram ?? 0;
    }
    return { instances: servers.length, cores, ram };
  }

  async detail(projectId: string): Promise<Record<string, QuotaDetail>> {
    const [limits, used] = await Promise.all([this.limits(projectId), this.usage(projectId)]);
    const out: Record<string, QuotaDetail> = {};
    for (const [k, limit] of Object.entries(limits)) out[k] = { limit, in_use: used[k] ?? 0, reserved: 0 };
    return out;
  }

  async set(projectId: string, values: Readonly<Record<string, number>>): Promise<void> {
    for (const [resource, hard_limit] of Object.entries(values)) {
      await this.#db
        .insertInto('quotas')
        .values({ project_id: projectId, resource, hard_limit })
        .onConflict((oc) => oc.columns(['project_id', 'resource']).doUpdateSet({ hard_limit }))
        .execute();
    }
  }

  /** Back to the defaults. */
  async reset(projectId: string): Promise<void> {
    await this.#db.deleteFrom('quotas').where('project_id', '=', projectId).execute();
  }

  /**
   * How many servers of `flavor` the project may still create, between `min` and `max`; below
   * `min` it is Nova's 403 naming each resource over its limit.
   */
  async allowedServers(projectId: string, flavor: ServerFlavor, min: number, max: number): Promise<number> {
    const [limits, used] = await Promise.all([this.limits(projectId), this.usage(projectId)]);
    const per: Record<(typeof COUNTED)[number], number> = { instances: 1, cores: flavor.vcpus, ram: flavor.ram };
    let allowed = max;
    for (const r of COUNTED) {
      const limit = limits[r] ?? -1;
      if (limit < 0 || per[r] === 0) continue;
      allowed = Math.min(allowed, Math.floor(Math.max(0, limit - (used[r] ?? 0)) / per[r]));
    }
    if (allowed >= min) return allowed;
    const overs = COUNTED.filter((r) => (limits[r] ?? -1) >= 0 && (used[r] ?? 0) + per[r] * min > (limits[r] ?? -1));
    const list = (f: (r: (typeof COUNTED)[number]) => number) => overs.map((r) => String(f(r))).join(', ');
    const message =
      `Quota exceeded for ${overs.join(', ')}: Requested ${list((r) => per[r] * min)}, ` +
      `but already used ${list((r) => used[r] ?? 0)} of ${list((r) => limits[r] ?? -1)} ${overs.join(', ')}`;
    throw new HitchError('HITCH_COMPUTE_QUOTA_EXCEEDED', { reason: message }, { message });
  }

  /** Nova checks metadata items against their limit at create. */
  async checkMetadata(projectId: string, count: number): Promise<void> {
    const limit = (await this.limits(projectId))['metadata_items'] ?? -1;
    if (limit >= 0 && count > limit) {
      const message = `Maximum number of metadata items exceeds ${limit}`;
      throw new HitchError('HITCH_COMPUTE_QUOTA_EXCEEDED', { reason: message }, { message });
    }
  }
}
