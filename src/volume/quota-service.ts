/**
 * Cinder's quotas: a limit per project and resource (a project's own, else the `default` quota
 * class's, else the built-in default), and the project's usage, enforced atomically.
 *
 * Every check-and-take is ONE conditional UPDATE of the usage row:
 *   `… SET in_use = in_use + d WHERE project_id = ? AND resource = ? AND in_use + reserved + d <= limit`
 * so two creates racing for the last unit cannot both win (PostgreSQL re-checks the WHERE on the
 * row the other transaction committed; SQLite runs writers one at a time). What must hold for
 * several resources at once (volumes, gigabytes, and the type's own) happens in one transaction
 * with the usage write of the volume or snapshot row itself, so usage always equals the rows.
 *
 * An operation that calls the backend before it knows it succeeded (extend) holds a reservation
 * instead: `reserved` grows now, and moves to `in_use` on commit or goes on rollback; one a
 * crash left behind expires after a day (Cinder's `reservation_expire`).
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.ts';
import { HitchError } from '../errors.ts';
import { cinderTime } from './volume-repo.ts';

type Db = Kysely<Database> | Transaction<Database>;

/** Cinder's resources and their built-in defaults (`cinder.conf` [DEFAULT] quota_*). */
export const QUOTA_DEFAULTS: Readonly<Record<string, number>> = Object.freeze({
  volumes: 10,
  snapshots: 10,
  gigabytes: 1000,
  backups: 10,
  backup_gigabytes: 1000,
  groups: 10,
  per_volume_gigabytes: -1,
});

/** Per volume type: `volumes_<name>`, `snapshots_<name>`, `gigabytes_<name>`; unlimited by default. */
export const PER_TYPE_RESOURCES = ['volumes', 'snapshots', 'gigabytes'] as const;

/** How long a reservation a crash left behind holds its units (Cinder's `reservation_expire`). */
export const RESERVATION_EXPIRE_MS = 86_400_000;

export interface QuotaUsage {
  readonly limit: number;
  readonly in_use: number;
  readonly reserved: number;
}

/** The deltas one operation asks for, in the order Cinder checks them (volumes before gigabytes). */
export type QuotaDeltas = ReadonlyArray<readonly [resource: string, delta: number]>;

/** Cinder's 413s, each with its message and `Retry-After: 0`. */
function overQuota(resource: string, limit: number, consumed: number, requested: number): HitchError {
  let message: string;
  if (resource.startsWith('gigabytes')) {
    message = `Requested volume or snapshot exceeds allowed ${resource} quota. Requested ${requested}G, quota is ${limit}G and ${consumed}G has been consumed.`;
  } else if (resource.startsWith('snapshots')) {
    message = `Maximum number of snapshots allowed (${limit}) exceeded`;
  } else {
    message = `Maximum number of volumes allowed (${limit}) exceeded for quota '${resource}'.`;
  }
  return new HitchError('HITCH_OVER_QUOTA', { reason: message, resource, limit, consumed, requested, retryAfter: 0 });
}

export class QuotaService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Every resource name: the built-in ones and the three of each volume type. */
  async resources(db: Db = this.#db): Promise<string[]> {
    const types = await db.selectFrom('volume_types').select('name').orderBy('name').execute();
    return [...Object.keys(QUOTA_DEFAULTS), ...types.flatMap((t) => PER_TYPE_RESOURCES.map((r) => `${r}_${t.name}`))];
  }

  /** The limit of every resource for new projects: the `default` class over the built-in values. */
  async defaults(db: Db = this.#db): Promise<Record<string, number>> {
    return this.classLimits('default', db);
  }

  async classLimits(className: string, db: Db = this.#db): Promise<Record<string, number>> {
    const rows = await db.selectFrom('volume_quota_classes').select(['resource', 'hard_limit']).where('class_name', '=', className).execute();
    const set = new Map(rows.map((r) => [r.resource, r.hard_limit]));
    const defaults = className === 'default' ? set : new Map((await db.selectFrom('volume_quota_classes').select(['resource', 'hard_limit']).where('class_name', '=', 'default').execute()).map((r) => [r.resource, r.hard_limit]));
    const out: Record<string, number> = {};
    for (const r of await this.resources(db)) out[r] = set.get(r) ?? defaults.get(r) ?? QUOTA_DEFAULTS[r] ?? -1;
    return out;
  }

  /** The project's limits: its own where set, else the defaults. */
  async limits(projectId: string, db: Db = this.#db): Promise<Record<string, number>> {
    const own = new Map((await db.selectFrom('volume_quotas').select(['resource', 'hard_limit']).where('project_id', '=', projectId).execute()).map((r) => [r.resource, r.hard_limit]));
    const out = await this.defaults(db);
    for (const r of Object.keys(out)) out[r] = own.get(r) ?? out[r]!;
    return out;
  }

  /** The project's limits with what is in use and reserved (`usage=true`). */
  async usage(projectId: string): Promise<Record<string, QuotaUsage>> {
    await this.#expire();
    const limits = await this.limits(projectId);
    const out: Record<string, QuotaUsage> = {};
    for (const r of Object.keys(limits)) out[r] = { limit: limits[r]!, ...(await this.#usageRow(this.#db, projectId, r)) };
    return out;
  }

  /** Set the project's own limits (values already validated). Lower than what is used: 400. */
  async setProject(projectId: string, values: Readonly<Record<string, number>>): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      for (const [resource, limit] of Object.entries(values)) {
        if (resource !== 'per_volume_gigabytes' && limit !== -1) {
          const u = await this.#usageRow(trx, projectId, resource);
          if (limit < u.in_use + u.reserved) {
            throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'quota' }, {
              message: `Quota ${resource} limit must be equal or greater than existing resources. Current usage is ${u.in_use + u.reserved} and the requested limit is ${limit}.`,
            });
          }
        }
        await trx.insertInto('volume_quotas').values({ project_id: projectId, resource, hard_limit: limit })
          .onConflict((oc) => oc.columns(['project_id', 'resource']).doUpdateSet({ hard_limit: limit })).execute();
      }
    });
  }

  /** Back to the defaults (`DELETE /os-quota-sets/{project}`). */
  async resetProject(projectId: string): Promise<void> {
    await this.#db.deleteFrom('volume_quotas').where('project_id', '=', projectId).execute();
  }

  async setClass(className: string, values: Readonly<Record<string, number>>): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      for (const [resource, limit] of Object.entries(values)) {
        await trx.insertInto('volume_quota_classes').values({ class_name: className, resource, hard_limit: limit })
          .onConflict((oc) => oc.columns(['class_name', 'resource']).doUpdateSet({ hard_limit: limit })).execute();
      }
    });
  }

  /**
   * The size check Cinder makes before any reservation: a volume larger than
   * `per_volume_gigabytes` is a 413 whatever else is free.
   */
  async checkSize(projectId: string, sizeGiB: number, db: Db = this.#db): Promise<void> {
    const limit = (await this.limits(projectId, db))['per_volume_gigabytes'] ?? -1;
    if (limit >= 0 && sizeGiB > limit) {
      throw new HitchError('HITCH_OVER_QUOTA', { reason: `Requested volume size ${sizeGiB}G is larger than maximum allowed limit ${limit}G.`, resource: 'per_volume_gigabytes', limit, retryAfter: 0 });
    }
  }

  /**
   * Take `deltas` into the project's usage now, inside `trx` (with the rows they count): each
   * positive delta only if it fits under its limit, else Cinder's 413 and the transaction rolls
   * back. Negative deltas give units back and never fail.
   */
  async consume(trx: Transaction<Database>, projectId: string, deltas: QuotaDeltas): Promise<void> {
    const limits = await this.limits(projectId, trx);
    for (const [resource, delta] of deltas) {
      if (delta === 0) continue;
      await this.#ensureRow(trx, projectId, resource);
      const limit = limits[resource] ?? -1;
      let q = trx.updateTable('volume_quota_usages').set((eb) => ({ in_use: eb('in_use', '+', delta) })).where('project_id', '=', projectId).where('resource', '=', resource);
      if (delta > 0 && limit >= 0) q = q.where((eb) => eb(eb('in_use', '+', eb('reserved', '+', delta)), '<=', limit));
      const res = await q.executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) {
        const u = await this.#usageRow(trx, projectId, resource);
        throw overQuota(resource, limit, u.in_use + u.reserved, delta);
      }
    }
  }

  /**
   * Hold `deltas` (positive) as reserved until `commit` or `rollback`; over a limit: 413 and
   * nothing held. Returns the reservation's ids.
   */
  async reserve(projectId: string, deltas: QuotaDeltas): Promise<string[]> {
    await this.#expire();
    return this.#db.transaction().execute(async (trx) => {
      const limits = await this.limits(projectId, trx);
      const ids: string[] = [];
      for (const [resource, delta] of deltas) {
        if (delta <= 0) continue;
        await this.#ensureRow(trx, projectId, resource);
        const limit = limits[resource] ?? -1;
        let q = trx.updateTable('volume_quota_usages').set((eb) => ({ reserved: eb('reserved', '+', delta) })).where('project_id', '=', projectId).where('resource', '=', resource);
        if (limit >= 0) q = q.where((eb) => eb(eb('in_use', '+', eb('reserved', '+', delta)), '<=', limit));
        if (Number((await q.executeTakeFirst()).numUpdatedRows) === 0) {
          const u = await this.#usageRow(trx, projectId, resource);
          throw overQuota(resource, limit, u.in_use + u.reserved, delta);
        }
        const id = randomUUID();
        await trx.insertInto('volume_quota_reservations').values({ id, project_id: projectId, resource, delta, expires_at: cinderTime(Date.now() + RESERVATION_EXPIRE_MS) }).execute();
        ids.push(id);
      }
      return ids;
    });
  }

  /** Reserved → in use. Idempotent: a reservation already settled is skipped. */
  async commit(ids: readonly string[], trx?: Transaction<Database>): Promise<void> {
    await this.#settle(ids, true, trx);
  }

  /** Give reserved units back. Idempotent. */
  async rollback(ids: readonly string[], trx?: Transaction<Database>): Promise<void> {
    await this.#settle(ids, false, trx);
  }

  async #settle(ids: readonly string[], commit: boolean, outer?: Transaction<Database>): Promise<void> {
    if (ids.length === 0) return;
    const run = async (trx: Transaction<Database>): Promise<void> => {
      for (const id of ids) {
        // Deleting first claims the reservation: of two settlers racing, one moves the units.
        const r = await trx.deleteFrom('volume_quota_reservations').where('id', '=', id).returningAll().executeTakeFirst();
        if (!r) continue;
        await trx
          .updateTable('volume_quota_usages')
          .set((eb) => ({ reserved: eb('reserved', '-', r.delta), ...(commit ? { in_use: eb('in_use', '+', r.delta) } : {}) }))
          .where('project_id', '=', r.project_id)
          .where('resource', '=', r.resource)
          .execute();
      }
    };
    if (outer) await run(outer);
    else await this.#db.transaction().execute(run);
  }

  /** Roll back reservations past their expiry (a crash between reserve and commit). */
  async #expire(): Promise<void> {
    const stale = await this.#db.selectFrom('volume_quota_reservations').select('id').where('expires_at', '<', cinderTime()).execute();
    if (stale.length > 0) await this.rollback(stale.map((r) => r.id));
  }

  async #usageRow(db: Db, projectId: string, resource: string): Promise<{ in_use: number; reserved: number }> {
    const r = await db.selectFrom('volume_quota_usages').select(['in_use', 'reserved']).where('project_id', '=', projectId).where('resource', '=', resource).executeTakeFirst();
    return r ? { in_use: Number(r.in_use), reserved: Number(r.reserved) } : { in_use: await this.#counted(db, projectId, resource), reserved: 0 };
  }

  /**
   * A usage row, created from what the project holds when it has none yet (a database from
   * before quotas, or a type's first volume), so usage starts equal to the rows it counts.
   */
  async #ensureRow(db: Db, projectId: string, resource: string): Promise<void> {
    const exists = await db.selectFrom('volume_quota_usages').select('resource').where('project_id', '=', projectId).where('resource', '=', resource).executeTakeFirst();
    if (exists) return;
    const in_use = await this.#counted(db, projectId, resource);
    await db.insertInto('volume_quota_usages').values({ project_id: projectId, resource, in_use, reserved: 0 }).onConflict((oc) => oc.columns(['project_id', 'resource']).doNothing()).execute();
  }

  /** What the project's rows add up to for `resource`. */
  async #counted(db: Db, projectId: string, resource: string): Promise<number> {
    const m = /^(volumes|snapshots|gigabytes)(?:_(.+))?$/.exec(resource);
    if (!m) return 0;
    const [, kind, typeName] = m;
    let typeId: string | undefined;
    if (typeName !== undefined) {
      typeId = (await db.selectFrom('volume_types').select('id').where('name', '=', typeName).executeTakeFirst())?.id;
      if (typeId === undefined) return 0;
    }
    const sum = async (table: 'volumes' | 'snapshots', what: 'count' | 'size'): Promise<number> => {
      let q = db.selectFrom(table).where('project_id', '=', projectId);
      if (typeId !== undefined) q = q.where('volume_type_id', '=', typeId);
      const r = await q.select((eb) => (what === 'count' ? eb.fn.countAll<number>().as('n') : eb.fn.coalesce(eb.fn.sum<number>('size'), eb.val(0)).as('n'))).executeTakeFirst();
      return Number(r?.n ?? 0);
    };
    if (kind === 'volumes') return sum('volumes', 'count');
    if (kind === 'snapshots') return sum('snapshots', 'count');
    return (await sum('volumes', 'size')) + (await sum('snapshots', 'size'));
  }
}

/** The deltas of a volume of `size` GiB and type `typeName` (negative `sign` gives them back). */
export function volumeDeltas(size: number, typeName: string, sign = 1): QuotaDeltas {
  return [
    ['volumes', sign],
    ['gigabytes', sign * size],
    [`volumes_${typeName}`, sign],
    [`gigabytes_${typeName}`, sign * size],
  ];
}

/** The deltas of a snapshot: Cinder counts its size in `gigabytes` too. */
export function snapshotDeltas(size: number, typeName: string, sign = 1): QuotaDeltas {
  return [
    ['snapshots', sign],
    ['gigabytes', sign * size],
    [`snapshots_${typeName}`, sign],
    [`gigabytes_${typeName}`, sign * size],
  ];
}
