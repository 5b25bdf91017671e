/**
 * Flavors as Nova keeps them: public or private (then visible to the projects on its access
 * list and to admins), with extra specs, created and deleted by admins. Same queries on SQLite
 * and PostgreSQL.
 */
import type { Kysely, Selectable } from 'kysely';
import { HitchError } from '../errors.ts';
import type { ComputeTables } from './schema.ts';
import type { FlavorTable } from './schema-catalog.ts';

export type FlavorRow = Selectable<FlavorTable>;

export interface Flavor extends FlavorRow {
  readonly extraSpecs: Readonly<Record<string, string>>;
}

/** The copy of a flavor a server keeps (Nova's `instance.flavor`), as the 2.47+ server view shows it. */
export interface ServerFlavor {
  readonly id: string;
  readonly name: string;
  readonly ram: number;
  readonly vcpus: number;
  readonly disk: number;
  readonly ephemeral: number;
  readonly swap: number;
  readonly extra_specs: Readonly<Record<string, string>>;
}

export interface FlavorFilter {
  /** true: public only; false: private only; null: both (admins). */
  readonly isPublic: boolean | null;
  /** Non-admins also see private flavors their project has access to. */
  readonly projectId?: string;
  readonly minRam?: number;
  readonly minDisk?: number;
  readonly includeDisabled: boolean;
}

export interface NewFlavor {
  readonly id: string | null;
  readonly name: string;
  readonly ram: number;
  readonly vcpus: number;
  readonly disk: number;
  readonly ephemeral: number;
  readonly swap: number;
  readonly rxtxFactor: number;
  readonly isPublic: boolean;
  readonly description: string | null;
}

const num = (v: unknown): number => Number(v);

function toRow(r: FlavorRow): FlavorRow {
  // pg returns bigint and double precision columns as strings.
  return { ...r, seq: num(r.seq), rxtx_factor: num(r.rxtx_factor), memory_mb: num(r.memory_mb), vcpus: num(r.vcpus), root_gb: num(r.root_gb), ephemeral_gb: num(r.ephemeral_gb), swap: num(r.swap) };
}

export function flavorNotFound(id: string): HitchError {
  return new HitchError('HITCH_NOT_FOUND', { kind: 'Flavor', id }, { message: `Flavor ${id} could not be found.` });
}

export function serverFlavorOf(f: Flavor): ServerFlavor {
  return { id: f.id, name: f.name, ram: f.memory_mb, vcpus: f.vcpus, disk: f.root_gb, ephemeral: f.ephemeral_gb, swap: f.swap, extra_specs: { ...f.extraSpecs } };
}

export class FlavorStore {
  readonly #db: Kysely<ComputeTables>;

  constructor(db: object) {
    this.#db = db as Kysely<ComputeTables>;
  }

  async #specs(ids: readonly string[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>(ids.map((id) => [id, {}]));
    if (ids.length === 0) return out;
    const rows = await this.#db.selectFrom('flavor_extra_specs').selectAll().where('flavor_id', 'in', [...ids]).orderBy('key').execute();
    for (const r of rows) (out.get(r.flavor_id) as Record<string, string>)[r.key] = r.value;
    return out;
  }

  /** The flavor with this flavorid, whoever may see it (callers check access). */
  async get(id: string): Promise<Flavor | undefined> {
    const r = await this.#db.selectFrom('flavors').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) return undefined;
    return { ...toRow(r), extraSpecs: (await this.#specs([r.id])).get(r.id) ?? {} };
  }

  /** A flavor the project may use: public, or private with the project on its access list. */
  async getFor(id: string, projectId: string, isAdmin: boolean): Promise<Flavor> {
    const f = await this.get(id);
    if (!f || (!isAdmin && !f.is_public && !(await this.projects(id)).includes(projectId))) throw flavorNotFound(id);
    return f;
  }

  /** Flavors in Nova's default order (flavorid ascending), or by `sortKey`. */
  async list(filter: FlavorFilter, sort: { key: keyof FlavorRow; dir: 'asc' | 'desc' } = { key: 'id', dir: 'asc' }): Promise<Flavor[]> {
    let q = this.#db.selectFrom('flavors').selectAll('flavors');
    if (!filter.includeDisabled) q = q.where('disabled', '=', 0);
    if (filter.minRam !== undefined) q = q.where('memory_mb', '>=', filter.minRam);
    if (filter.minDisk !== undefined) q = q.where('root_gb', '>=', filter.minDisk);
    const rows = (await q.execute()).map(toRow);
    let access = new Set<string>();
    if (filter.projectId !== undefined) {
      const projectId = filter.projectId;
      access = new Set((await this.#db.selectFrom('flavor_projects').select('flavor_id').where('project_id', '=', projectId).execute()).map((r) => r.flavor_id));
    }
    const visible = rows.filter((r) => {
      if (filter.isPublic === null) return true;
      if (filter.isPublic) return r.is_public === 1 || access.has(r.id);
      return r.is_public === 0;
    });
    const dir = sort.dir === 'asc' ? 1 : -1;
    visible.sort((a, b) => {
      const x = a[sort.key];
      const y = b[sort.key];
      const c = x === y ? 0 : x === null ? -1 : y === null ? 1 : x < y ? -1 : 1;
      return c * dir || (a.seq - b.seq) * dir;
    });
    const specs = await this.#specs(visible.map((r) => r.id));
    return visible.map((r) => ({ ...r, extraSpecs: specs.get(r.id) ?? {} }));
  }

  async create(f: NewFlavor): Promise<Flavor> {
    const id = f.id ?? crypto.randomUUID();
    const existing = await this.#db.selectFrom('flavors').select(['id', 'name']).where((eb) => eb.or([eb('id', '=', id), eb('name', '=', f.name)])).execute();
    if (existing.some((e) => e.name === f.name)) throw conflict(`Flavor with name ${f.name} already exists.`);
    if (existing.some((e) => e.id === id)) throw conflict(`Flavor with ID ${id} already exists.`);
    const last = await this.#db.selectFrom('flavors').select((eb) => eb.fn.max('seq').as('m')).executeTakeFirst();
    const row: FlavorRow = {
      id,
      name: f.name,
      memory_mb: f.ram,
      vcpus: f.vcpus,
      root_gb: f.disk,
      ephemeral_gb: f.ephemeral,
      swap: f.swap,
      rxtx_factor: f.rxtxFactor,
      is_public: f.isPublic ? 1 : 0,
      disabled: 0,
      description: f.description,
      seq: num(last?.m ?? 0) + 1,
      created_at: new Date().toISOString(),
    };
    try {
      await this.#db.insertInto('flavors').values(row).execute();
    } catch (e) {
      // A racing create of the same id or name: the unique constraints decide.
      if (/unique|duplicate/i.test(String((e as Error).message))) throw conflict(`Flavor with name ${f.name} already exists.`);
      throw e;
    }
    return { ...row, extraSpecs: {} };
  }

  async setDescription(id: string, description: string | null): Promise<void> {
    await this.#db.updateTable('flavors').set({ description }).where('id', '=', id).execute();
  }

  /** Delete; false when there was no such flavor. Extra specs and access go with it. */
  async delete(id: string): Promise<boolean> {
    await this.#db.deleteFrom('flavor_extra_specs').where('flavor_id', '=', id).execute();
    await this.#db.deleteFrom('flavor_projects').where('flavor_id', '=', id).execute();
    const r = await this.#db.deleteFrom('flavors').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Add or replace extra specs (Nova merges them into the flavor's). */
  async setExtraSpecs(id: string, specs: Readonly<Record<string, string>>): Promise<void> {
    for (const [key, value] of Object.entries(specs)) {
      await this.#db
        .insertInto('flavor_extra_specs')
        .values({ flavor_id: id, key, value })
        .onConflict((oc) => oc.columns(['flavor_id', 'key']).doUpdateSet({ value }))
        .execute();
    }
  }

  /** Remove one extra spec; false when the flavor had no such key. */
  async deleteExtraSpec(id: string, key: string): Promise<boolean> {
    const r = await this.#db.deleteFrom('flavor_extra_specs').where('flavor_id', '=', id).where('key', '=', key).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async projects(id: string): Promise<string[]> {
    return (await this.#db.selectFrom('flavor_projects').select('project_id').where('flavor_id', '=', id).orderBy('project_id').execute()).map((r) => r.project_id);
  }

  /** Grant a project access; false when it already had it. */
  async addProject(id: string, projectId: string): Promise<boolean> {
    const has = await this.#db.selectFrom('flavor_projects').select('project_id').where('flavor_id', '=', id).where('project_id', '=', projectId).executeTakeFirst();
    if (has) return false;
    await this.#db.insertInto('flavor_projects').values({ flavor_id: id, project_id: projectId }).onConflict((oc) => oc.doNothing()).execute();
    return true;
  }

  /** Take a project's access away; false when it had none. */
  async removeProject(id: string, projectId: string): Promise<boolean> {
    const r = await this.#db.deleteFrom('flavor_projects').where('flavor_id', '=', id).where('project_id', '=', projectId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}

function conflict(message: string): HitchError {
  return new HitchError('HITCH_CONFLICT', { reason: message }, { message });
}
