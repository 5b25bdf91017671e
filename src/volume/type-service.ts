/**
 * Volume types as Cinder keeps them: name, description, public or private (with the projects
 * that may use a private one), extra specs (`multiattach <is> True`, `volume_backend_name`, …),
 * the default type (`__DEFAULT__`, or a project's own from 3.62), and QoS specs associated with
 * types and handed to hosts in `connection_info.data.qos_specs`.
 */
import { randomUUID } from 'node:crypto';
import type { ExpressionBuilder, Kysely } from 'kysely';
import type { Database, QosSpecsTable, VolumeTypeTable } from '../db/schema.ts';
import { HitchError } from '../errors.ts';
import { cinderTime } from './volume-repo.ts';

export type VolumeTypeRow = VolumeTypeTable;
export type QosSpecsRow = QosSpecsTable;

/** The type a volume gets when none is asked for and its project has no default of its own. */
export const DEFAULT_TYPE_NAME = '__DEFAULT__';

/** Extra specs a project's reader may see (Cinder's USER_VISIBLE_EXTRA_SPECS). */
export const USER_VISIBLE_EXTRA_SPECS = ['RESKEY:availability_zones', 'multiattach', 'replication_enabled'] as const;

export const QOS_CONSUMERS = ['front-end', 'back-end', 'both'] as const;

/** Who asks: admins see every type; a project sees public ones and private ones shared with it. */
export interface TypeCaller {
  readonly projectId: string;
  readonly isAdmin: boolean;
}

export function typeNotFound(id: string): HitchError {
  return new HitchError('HITCH_NOT_FOUND', { kind: 'Volume type', id }, { message: `Volume type ${id} could not be found.` });
}

function typeNameNotFound(name: string): HitchError {
  return new HitchError('HITCH_NOT_FOUND', { kind: 'Volume type', id: name }, { message: `Volume type with name ${name} could not be found.` });
}

export function qosNotFound(id: string): HitchError {
  return new HitchError('HITCH_NOT_FOUND', { kind: 'QoS spec', id }, { message: `No such QoS spec ${id}.` });
}

function badRequest(message: string): HitchError {
  return new HitchError('HITCH_INVALID_ARGUMENT', { reason: message }, { message });
}

function conflict(message: string): HitchError {
  return new HitchError('HITCH_CONFLICT', { reason: message }, { message });
}

export function specsOf(t: VolumeTypeRow): Record<string, string> {
  return JSON.parse(t.extra_specs) as Record<string, string>;
}

/** `<is> True`, as the scheduler's capability filter reads a boolean spec. */
export function specIsTrue(v: string | undefined): boolean {
  return v !== undefined && /^\s*<is>\s+true\s*$/i.test(v);
}

export class VolumeTypeService {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  // --- types ----------------------------------------------------------------------------

  async #row(id: string): Promise<VolumeTypeRow | undefined> {
    return this.#db.selectFrom('volume_types').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async #byName(name: string): Promise<VolumeTypeRow | undefined> {
    return this.#db.selectFrom('volume_types').selectAll().where('name', '=', name).executeTakeFirst();
  }

  /** Whether `caller` may see and use the type. */
  async visible(caller: TypeCaller, t: VolumeTypeRow): Promise<boolean> {
    if (caller.isAdmin || t.is_public === 1) return true;
    const r = await this.#db.selectFrom('volume_type_projects').select('project_id').where('volume_type_id', '=', t.id).where('project_id', '=', caller.projectId).executeTakeFirst();
    return r !== undefined;
  }

  /** A type by id the caller may see, or 404. */
  async get(caller: TypeCaller, id: string): Promise<VolumeTypeRow> {
    const t = await this.#row(id);
    if (!t || !(await this.visible(caller, t))) throw typeNotFound(id);
    return t;
  }

  /** Any type by id (the service's own lookups: a volume's type). */
  byId(id: string): Promise<VolumeTypeRow | undefined> {
    return this.#row(id);
  }

  /**
   * `GET /types`: a project sees public types and private ones shared with it; an admin sees
   * public ones by default, private ones with `is_public=false`, all with `is_public=None`.
   */
  async list(caller: TypeCaller, isPublic: boolean | null): Promise<VolumeTypeRow[]> {
    let q = this.#db.selectFrom('volume_types').selectAll();
    const shared = (eb: ExpressionBuilder<Database, 'volume_types'>) =>
      eb.exists(eb.selectFrom('volume_type_projects').select('project_id').whereRef('volume_type_projects.volume_type_id', '=', 'volume_types.id').where('volume_type_projects.project_id', '=', caller.projectId));
    if (!caller.isAdmin || isPublic === true) q = q.where((eb) => eb.or([eb('is_public', '=', 1), shared(eb)]));
    else if (isPublic === false) q = q.where('is_public', '=', 0);
    return q.orderBy('name').orderBy('id').execute();
  }

  /** The project's default type: its own (3.62 default-types) or `__DEFAULT__`. */
  async defaultFor(projectId: string): Promise<VolumeTypeRow | undefined> {
    const own = await this.#db
      .selectFrom('default_volume_types')
      .innerJoin('volume_types', 'volume_types.id', 'default_volume_types.volume_type_id')
      .selectAll('volume_types')
      .where('default_volume_types.project_id', '=', projectId)
      .executeTakeFirst();
    return own ?? this.#byName(DEFAULT_TYPE_NAME);
  }

  /** The type a new volume gets: by name or id when asked (and visible to it), else the default. */
  async forCreate(caller: TypeCaller, asked: string | null | undefined): Promise<VolumeTypeRow> {
    if (asked === null || asked === undefined || asked === '') {
      const t = await this.defaultFor(caller.projectId);
      if (!t) throw typeNameNotFound(DEFAULT_TYPE_NAME);
      return t;
    }
    const t = (await this.#byName(asked)) ?? (await this.#row(asked));
    if (!t || !(await this.visible(caller, t))) throw typeNameNotFound(asked);
    return t;
  }

  async create(input: { name: string; description: string | null; isPublic: boolean; extraSpecs: Readonly<Record<string, string>> }): Promise<VolumeTypeRow> {
    checkSpecs(input.extraSpecs, {});
    if (await this.#byName(input.name)) throw conflict(`Volume Type ${input.name} already exists.`);
    const row: VolumeTypeRow = { id: randomUUID(), name: input.name, description: input.description, is_public: input.isPublic ? 1 : 0, extra_specs: JSON.stringify(input.extraSpecs), qos_specs_id: null };
    await this.#db.insertInto('volume_types').values(row).execute();
    return row;
  }

  async update(id: string, fields: { name?: string; description?: string; isPublic?: boolean }): Promise<VolumeTypeRow> {
    const t = await this.#row(id);
    if (!t) throw typeNotFound(id);
    if (fields.name !== undefined && fields.name !== t.name) {
      if (t.name === DEFAULT_TYPE_NAME) throw badRequest(`The volume type ${DEFAULT_TYPE_NAME} is the default volume type and cannot be renamed.`);
      if (await this.#byName(fields.name)) throw conflict(`Volume Type ${fields.name} already exists.`);
    }
    const set: Partial<VolumeTypeRow> = {};
    if (fields.name !== undefined) set.name = fields.name;
    if (fields.description !== undefined) set.description = fields.description;
    if (fields.isPublic !== undefined) set.is_public = fields.isPublic ? 1 : 0;
    if (Object.keys(set).length > 0) await this.#db.updateTable('volume_types').set(set).where('id', '=', id).execute();
    return (await this.#row(id)) ?? t;
  }

  /** Delete a type no volume or snapshot uses and no project has as its default. */
  async delete(id: string): Promise<void> {
    const t = await this.#row(id);
    if (!t) throw typeNotFound(id);
    if (t.name === DEFAULT_TYPE_NAME) throw badRequest(`The volume type ${id} is a default volume type and cannot be deleted.`);
    await this.#db.transaction().execute(async (trx) => {
      const used =
        (await trx.selectFrom('volumes').select('id').where('volume_type_id', '=', id).limit(1).executeTakeFirst()) ??
        (await trx.selectFrom('snapshots').select('id').where('volume_type_id', '=', id).limit(1).executeTakeFirst());
      if (used) throw badRequest('Target volume type is still in use.');
      if (await trx.selectFrom('default_volume_types').select('project_id').where('volume_type_id', '=', id).limit(1).executeTakeFirst()) {
        throw badRequest(`The volume type ${id} is a default volume type and cannot be deleted.`);
      }
      await trx.deleteFrom('volume_types').where('id', '=', id).execute();
    });
  }

  // --- extra specs ----------------------------------------------------------------------

  /** Set (merge) extra specs; refused while any volume has the type, as in Cinder. */
  async setSpecs(id: string, specs: Readonly<Record<string, string>>): Promise<Record<string, string>> {
    const t = await this.#row(id);
    if (!t) throw typeNotFound(id);
    await this.#allowUpdate(id);
    const current = specsOf(t);
    checkSpecs(specs, current);
    const merged = { ...current, ...specs };
    await this.#db.updateTable('volume_types').set({ extra_specs: JSON.stringify(merged) }).where('id', '=', id).execute();
    return merged;
  }

  async deleteSpec(id: string, key: string): Promise<void> {
    const t = await this.#row(id);
    if (!t) throw typeNotFound(id);
    await this.#allowUpdate(id);
    const specs = specsOf(t);
    if (!(key in specs)) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Extra spec', id: key }, { message: `Volume Type ${id} has no extra specs with key ${key}.` });
    delete specs[key];
    await this.#db.updateTable('volume_types').set({ extra_specs: JSON.stringify(specs) }).where('id', '=', id).execute();
  }

  async #allowUpdate(id: string): Promise<void> {
    if (await this.#db.selectFrom('volumes').select('id').where('volume_type_id', '=', id).limit(1).executeTakeFirst()) {
      throw badRequest('Volume Type is currently in use.');
    }
  }

  // --- access to private types ------------------------------------------------------------

  async accessList(id: string): Promise<string[]> {
    const t = await this.#row(id);
    if (!t) throw typeNotFound(id);
    if (t.is_public === 1) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Volume type access', id }, { message: 'Access list not available for public volume types.' });
    const rows = await this.#db.selectFrom('volume_type_projects').select('project_id').where('volume_type_id', '=', id).orderBy('project_id').execute();
    return rows.map((r) => r.project_id);
  }

  async addAccess(id: string, projectId: string): Promise<void> {
    const t = await this.#row(id);
    if (!t) throw typeNotFound(id);
    if (t.is_public === 1) throw new HitchError('HITCH_INVALID_INPUT', { reason: 'public' }, { message: 'Invalid volume type: Type access modification is not applicable to public volume type.' });
    const exists = await this.#db.selectFrom('volume_type_projects').select('project_id').where('volume_type_id', '=', id).where('project_id', '=', projectId).executeTakeFirst();
    if (exists) throw conflict(`Volume type access for ${id} / ${projectId} combination already exists.`);
    await this.#db.insertInto('volume_type_projects').values({ volume_type_id: id, project_id: projectId }).onConflict((oc) => oc.columns(['volume_type_id', 'project_id']).doNothing()).execute();
  }

  async removeAccess(id: string, projectId: string): Promise<void> {
    const t = await this.#row(id);
    if (!t) throw typeNotFound(id);
    if (t.is_public === 1) throw new HitchError('HITCH_INVALID_INPUT', { reason: 'public' }, { message: 'Invalid volume type: Type access modification is not applicable to public volume type.' });
    const res = await this.#db.deleteFrom('volume_type_projects').where('volume_type_id', '=', id).where('project_id', '=', projectId).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) {
      throw new HitchError('HITCH_NOT_FOUND', { kind: 'Volume type access', id }, { message: `Volume type access not found for ${id} / ${projectId} combination.` });
    }
  }

  // --- per-project default types (3.62) -----------------------------------------------------

  async setProjectDefault(projectId: string, typeRef: string): Promise<VolumeTypeRow> {
    const t = (await this.#byName(typeRef)) ?? (await this.#row(typeRef));
    if (!t) throw typeNameNotFound(typeRef);
    await this.#db.insertInto('default_volume_types').values({ project_id: projectId, volume_type_id: t.id })
      .onConflict((oc) => oc.column('project_id').doUpdateSet({ volume_type_id: t.id })).execute();
    return t;
  }

  async projectDefaults(projectId?: string): Promise<Array<{ project_id: string; volume_type_id: string }>> {
    let q = this.#db.selectFrom('default_volume_types').selectAll();
    if (projectId !== undefined) q = q.where('project_id', '=', projectId);
    return q.orderBy('project_id').execute();
  }

  async unsetProjectDefault(projectId: string): Promise<void> {
    await this.#db.deleteFrom('default_volume_types').where('project_id', '=', projectId).execute();
  }

  // --- QoS specs --------------------------------------------------------------------------

  async listQos(): Promise<QosSpecsRow[]> {
    return this.#db.selectFrom('qos_specs').selectAll().orderBy('created_at').orderBy('id').execute();
  }

  async getQos(id: string): Promise<QosSpecsRow> {
    const q = await this.#db.selectFrom('qos_specs').selectAll().where('id', '=', id).executeTakeFirst();
    if (!q) throw qosNotFound(id);
    return q;
  }

  async createQos(name: string, consumer: string, specs: Readonly<Record<string, string>>): Promise<QosSpecsRow> {
    if (!(QOS_CONSUMERS as readonly string[]).includes(consumer)) {
      throw badRequest(`Invalid qos specs: Value ${consumer} is not valid for consumer; valid values are ${QOS_CONSUMERS.join(', ')}.`);
    }
    if (await this.#db.selectFrom('qos_specs').select('id').where('name', '=', name).executeTakeFirst()) throw conflict(`QoS Specs ${name} already exists.`);
    const row: QosSpecsRow = { id: randomUUID(), name, consumer, specs: JSON.stringify(specs), created_at: cinderTime() };
    await this.#db.insertInto('qos_specs').values(row).execute();
    return row;
  }

  /** Merge `specs` in; `consumer` among them changes the consumer. */
  async updateQos(id: string, specs: Readonly<Record<string, string>>): Promise<void> {
    const q = await this.getQos(id);
    const { consumer, ...rest } = specs;
    if (consumer !== undefined && !(QOS_CONSUMERS as readonly string[]).includes(consumer)) {
      throw badRequest(`Invalid qos specs: Value ${consumer} is not valid for consumer; valid values are ${QOS_CONSUMERS.join(', ')}.`);
    }
    const merged = { ...(JSON.parse(q.specs) as Record<string, string>), ...rest };
    await this.#db.updateTable('qos_specs').set({ specs: JSON.stringify(merged), ...(consumer !== undefined ? { consumer } : {}) }).where('id', '=', id).execute();
  }

  async deleteQosKeys(id: string, keys: readonly string[]): Promise<void> {
    const q = await this.getQos(id);
    const specs = JSON.parse(q.specs) as Record<string, string>;
    for (const k of keys) {
      if (!(k in specs)) throw new HitchError('HITCH_NOT_FOUND', { kind: 'QoS spec key', id: k }, { message: `QoS spec ${id} has no spec with key ${k}.` });
    }
    for (const k of keys) delete specs[k];
    await this.#db.updateTable('qos_specs').set({ specs: JSON.stringify(specs) }).where('id', '=', id).execute();
  }

  /** Delete; associated with a type it is refused unless `force` (which disassociates first). */
  async deleteQos(id: string, force: boolean): Promise<void> {
    await this.getQos(id);
    await this.#db.transaction().execute(async (trx) => {
      const used = await trx.selectFrom('volume_types').select('id').where('qos_specs_id', '=', id).limit(1).executeTakeFirst();
      if (used && !force) throw badRequest('Qos specs still in use.');
      await trx.updateTable('volume_types').set({ qos_specs_id: null }).where('qos_specs_id', '=', id).execute();
      await trx.deleteFrom('qos_specs').where('id', '=', id).execute();
    });
  }

  async qosAssociations(id: string): Promise<VolumeTypeRow[]> {
    await this.getQos(id);
    return this.#db.selectFrom('volume_types').selectAll().where('qos_specs_id', '=', id).orderBy('name').execute();
  }

  async associateQos(id: string, typeId: string): Promise<void> {
    await this.getQos(id);
    const t = await this.#row(typeId);
    if (!t) throw typeNotFound(typeId);
    if (t.qos_specs_id !== null && t.qos_specs_id !== id) {
      throw new HitchError('HITCH_INVALID_INPUT', { reason: 'qos' }, { message: `Invalid volume type: Type ${typeId} is already associated with another qos specs: ${t.qos_specs_id}` });
    }
    await this.#db.updateTable('volume_types').set({ qos_specs_id: id }).where('id', '=', typeId).execute();
  }

  async disassociateQos(id: string, typeId: string): Promise<void> {
    await this.getQos(id);
    const t = await this.#row(typeId);
    if (!t) throw typeNotFound(typeId);
    await this.#db.updateTable('volume_types').set({ qos_specs_id: null }).where('id', '=', typeId).where('qos_specs_id', '=', id).execute();
  }

  async disassociateAllQos(id: string): Promise<void> {
    await this.getQos(id);
    await this.#db.updateTable('volume_types').set({ qos_specs_id: null }).where('qos_specs_id', '=', id).execute();
  }

  /**
   * What `connection_info.data.qos_specs` carries for a volume of this type: the associated
   * specs when their consumer is the front end (the hypervisor applies them), else null.
   */
  async qosForConnection(typeId: string): Promise<Record<string, string> | null> {
    const r = await this.#db
      .selectFrom('volume_types')
      .innerJoin('qos_specs', 'qos_specs.id', 'volume_types.qos_specs_id')
      .select(['qos_specs.consumer', 'qos_specs.specs'])
      .where('volume_types.id', '=', typeId)
      .executeTakeFirst();
    if (!r || (r.consumer !== 'front-end' && r.consumer !== 'both')) return null;
    return JSON.parse(r.specs) as Record<string, string>;
  }
}

/** Cinder refuses `cacheable` together with `multiattach`. */
function checkSpecs(specs: Readonly<Record<string, string>>, current: Readonly<Record<string, string>>): void {
  const merged = { ...current, ...specs };
  if (specIsTrue(merged['multiattach']) && specIsTrue(merged['cacheable']) && (specs['multiattach'] !== undefined || specs['cacheable'] !== undefined)) {
    throw badRequest('cacheable cannot be set with multiattach.');
  }
}
