/**
 * Volume transfers: a project offers an `available` volume (it becomes `awaiting-transfer`)
 * and gets an auth key, shown once; any project that has the transfer's id and key accepts it,
 * and the volume — with its snapshots unless `no_snapshots` — moves to that project, its quota
 * taken there and given back where it came from, in one transaction. Deleting the transfer
 * makes the volume `available` again.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, TransferTable } from '../db/schema.ts';
import { HitchError } from '../errors.ts';
import { snapshotDeltas, volumeDeltas, type QuotaDeltas, type QuotaService } from './quota-service.ts';
import { cinderTime, type VolumeRow } from './volume-repo.ts';

export type TransferRow = TransferTable;

export interface TransferCaller {
  readonly userId: string;
  readonly projectId: string;
  readonly isAdmin: boolean;
}

export function transferNotFound(id: string): HitchError {
  return new HitchError('HITCH_NOT_FOUND', { kind: 'Transfer', id }, { message: `Transfer ${id} could not be found.` });
}

/** Cinder's key: 16 hexadecimal characters (`volume_transfer_key_length`); its salt 8. */
function randomHex(n: number): string {
  return randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
}

function hashKey(salt: string, key: string): string {
  return createHash('sha256').update(salt + key).digest('hex');
}

export class TransferService {
  readonly #db: Kysely<Database>;
  readonly #quotas: QuotaService;
  readonly #volume: (caller: TransferCaller, id: string) => Promise<VolumeRow>;

  constructor(opts: { db: Kysely<Database>; quotas: QuotaService; volume: (caller: TransferCaller, id: string) => Promise<VolumeRow> }) {
    this.#db = opts.db;
    this.#quotas = opts.quotas;
    this.#volume = opts.volume;
  }

  /** A transfer of one of the caller's volumes (an admin's: any), or 404. */
  async get(caller: TransferCaller, id: string): Promise<TransferRow> {
    const t = await this.#db.selectFrom('transfers').selectAll().where('id', '=', id).executeTakeFirst();
    if (!t || (!caller.isAdmin && t.source_project_id !== caller.projectId)) throw transferNotFound(id);
    return t;
  }

  async list(caller: TransferCaller, allTenants: boolean): Promise<TransferRow[]> {
    let q = this.#db.selectFrom('transfers').selectAll();
    if (!(caller.isAdmin && allTenants)) q = q.where('source_project_id', '=', caller.projectId);
    return q.orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
  }

  /** Offer a volume: `available` → `awaiting-transfer`, in one transaction with the transfer row. */
  async create(caller: TransferCaller, input: { volumeId: string; name: string | null; noSnapshots: boolean }): Promise<{ transfer: TransferRow; authKey: string }> {
    const v = await this.#volume(caller, input.volumeId);
    if (v.status !== 'available') throw new HitchError('HITCH_INVALID_VOLUME', { reason: 'status must be available' });
    if (!input.noSnapshots) {
      const snaps = await this.#db.selectFrom('snapshots').select(['id', 'status']).where('volume_id', '=', v.id).execute();
      const bad = snaps.find((s) => s.status !== 'available');
      if (bad) throw new HitchError('HITCH_INVALID_SNAPSHOT', { reason: `snapshot: ${bad.id} status must be available` });
    }
    const authKey = randomHex(16);
    const salt = randomHex(8);
    const row: TransferRow = {
      id: randomUUID(),
      volume_id: v.id,
      source_project_id: v.project_id,
      name: input.name,
      salt,
      crypt_hash: hashKey(salt, authKey),
      no_snapshots: input.noSnapshots ? 1 : 0,
      created_at: cinderTime(),
    };
    await this.#db.transaction().execute(async (trx) => {
      const moved = await trx.updateTable('volumes').set({ status: 'awaiting-transfer', updated_at: cinderTime() }).where('id', '=', v.id).where('status', '=', 'available').executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 0) throw new HitchError('HITCH_INVALID_VOLUME', { reason: 'status must be available' });
      await trx.insertInto('transfers').values(row).execute();
    });
    return { transfer: row, authKey };
  }

  /**
   * Accept with the auth key: the volume (and its snapshots) change project, and the quota moves
   * with them — taken in the new project (413 when it does not fit), given back in the old.
   */
  async accept(caller: TransferCaller, id: string, authKey: string): Promise<TransferRow> {
    const t = await this.#db.selectFrom('transfers').selectAll().where('id', '=', id).executeTakeFirst();
    if (!t) throw transferNotFound(id);
    const want = Buffer.from(t.crypt_hash, 'hex');
    const got = Buffer.from(hashKey(t.salt, authKey), 'hex');
    if (want.length !== got.length || !timingSafeEqual(want, got)) {
      throw new HitchError('HITCH_INVALID_INPUT', { reason: 'auth_key' }, { message: `Invalid auth key: Attempt to transfer ${id} with invalid auth key.` });
    }
    await this.#db.transaction().execute(async (trx) => {
      const v = await trx.selectFrom('volumes').selectAll().where('id', '=', t.volume_id).executeTakeFirst();
      if (!v || v.status !== 'awaiting-transfer') {
        throw new HitchError('HITCH_INVALID_VOLUME', { reason: `Volume ${t.volume_id} status must be awaiting-transfer, but the status is ${v?.status ?? 'deleted'}.` });
      }
      const snaps = t.no_snapshots ? [] : await trx.selectFrom('snapshots').selectAll().where('volume_id', '=', v.id).execute();
      // Inside the transaction every read goes through it (SQLite has one connection).
      const typeName = async (typeId: string): Promise<string> => (await trx.selectFrom('volume_types').select('name').where('id', '=', typeId).executeTakeFirst())?.name ?? typeId;
      const take: Array<readonly [string, number]> = [...volumeDeltas(v.size, await typeName(v.volume_type_id))];
      for (const s of snaps) take.push(...snapshotDeltas(s.size, await typeName(s.volume_type_id)));
      await this.#quotas.consume(trx, caller.projectId, merge(take));
      await this.#quotas.consume(trx, v.project_id, merge(take.map(([r, d]) => [r, -d] as const)));
      const moved = await trx
        .updateTable('volumes')
        .set({ project_id: caller.projectId, user_id: caller.userId, status: 'available', updated_at: cinderTime() })
        .where('id', '=', v.id)
        .where('status', '=', 'awaiting-transfer')
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 0) throw new HitchError('HITCH_INVALID_VOLUME', { reason: `Volume ${v.id} status must be awaiting-transfer.` });
      // The metadata rows (the list filter's index) carry their volume's project.
      await trx.updateTable('volume_metadata').set({ project_id: caller.projectId }).where('volume_id', '=', v.id).execute();
      for (const s of snaps) await trx.updateTable('snapshots').set({ project_id: caller.projectId, user_id: caller.userId, updated_at: cinderTime() }).where('id', '=', s.id).execute();
      const gone = await trx.deleteFrom('transfers').where('id', '=', id).executeTakeFirst();
      if (Number(gone.numDeletedRows) === 0) throw transferNotFound(id);
    });
    return t;
  }

  /** Withdraw the offer: the volume is `available` again. */
  async delete(caller: TransferCaller, id: string): Promise<void> {
    const t = await this.get(caller, id);
    await this.#db.transaction().execute(async (trx) => {
      const gone = await trx.deleteFrom('transfers').where('id', '=', id).executeTakeFirst();
      if (Number(gone.numDeletedRows) === 0) throw transferNotFound(id);
      await trx.updateTable('volumes').set({ status: 'available', updated_at: cinderTime() }).where('id', '=', t.volume_id).where('status', '=', 'awaiting-transfer').execute();
    });
  }
}

/** One delta per resource, in first-seen order (a volume and its snapshots share `gigabytes`). */
function merge(deltas: ReadonlyArray<readonly [string, number]>): QuotaDeltas {
  const out = new Map<string, number>();
  for (const [r, d] of deltas) out.set(r, (out.get(r) ?? 0) + d);
  return [...out.entries()];
}
