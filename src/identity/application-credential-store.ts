/**
 * Application credentials: a secret a user hands to automation instead of a password. Each is
 * bound to the project of the token that created it and to a set of roles (at most the
 * creator's roles there); a token issued for it carries those roles only, for as long as the
 * user still holds them. The secret is stored as a scrypt hash and shown once, at create.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ApplicationCredentialTable, Database } from '../db/schema.ts';
import { keystoneTime, markRevocation, newId } from './identity-store.ts';
import { hashPassword, verifyPassword } from './passwords.ts';

export interface AppCredRecord {
  readonly id: string;
  readonly userId: string;
  readonly projectId: string;
  readonly name: string;
  readonly description: string | null;
  readonly roleIds: readonly string[];
  readonly unrestricted: boolean;
  /** Keystone time, or null: never expires. */
  readonly expiresAt: string | null;
}

function record(r: ApplicationCredentialTable): AppCredRecord {
  return {
    id: r.id,
    userId: r.user_id,
    projectId: r.project_id,
    name: r.name,
    description: r.description,
    roleIds: JSON.parse(r.role_ids) as string[],
    unrestricted: r.unrestricted === 1,
    expiresAt: r.expires_at,
  };
}

/** Keystone's generated secret: 64 random bytes, base64url without padding. */
export function generateSecret(): string {
  return randomBytes(64).toString('base64url');
}

export class AppCredStore {
  readonly #db: Kysely<Database>;
  readonly #changed: () => void;

  /** `tokensChanged` is told when tokens were revoked here (for caches of validated tokens). */
  constructor(db: Kysely<Database>, tokensChanged: () => void = () => undefined) {
    this.#db = db;
    this.#changed = tokensChanged;
  }

  async create(input: {
    userId: string;
    projectId: string;
    name: string;
    description: string | null;
    secret: string;
    roleIds: readonly string[];
    unrestricted: boolean;
    expiresAtMs: number | null;
  }): Promise<AppCredRecord> {
    const row: ApplicationCredentialTable = {
      id: newId(),
      user_id: input.userId,
      project_id: input.projectId,
      name: input.name,
      description: input.description,
      secret_hash: await hashPassword(input.secret),
      role_ids: JSON.stringify(input.roleIds),
      unrestricted: input.unrestricted ? 1 : 0,
      expires_at: input.expiresAtMs === null ? null : keystoneTime(input.expiresAtMs),
      created_at: keystoneTime(Date.now()),
    };
    await this.#db.insertInto('application_credentials').values(row).execute();
    return record(row);
  }

  async get(id: string): Promise<AppCredRecord | undefined> {
    const r = await this.#db.selectFrom('application_credentials').selectAll().where('id', '=', id).executeTakeFirst();
    return r && record(r);
  }

  async findByName(userId: string, name: string): Promise<AppCredRecord | undefined> {
    const r = await this.#db.selectFrom('application_credentials').selectAll().where('user_id', '=', userId).where('name', '=', name).executeTakeFirst();
    return r && record(r);
  }

  async list(userId: string, filter: { name?: string } = {}): Promise<AppCredRecord[]> {
    let q = this.#db.selectFrom('application_credentials').selectAll().where('user_id', '=', userId);
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    return (await q.orderBy('name').orderBy('id').execute()).map(record);
  }

  async delete(id: string): Promise<boolean> {
    const res = await this.#db.deleteFrom('application_credentials').where('id', '=', id).executeTakeFirst();
    // Tokens issued for it end with it (Keystone revokes them the same way).
    await this.#db.updateTable('tokens').set({ revoked: 1 }).where('app_cred_id', '=', id).where('revoked', '=', 0).execute();
    await markRevocation(this.#db);
    this.#changed();
    return Number(res.numDeletedRows) > 0;
  }

  /** The credential when `secret` is its secret and it has not expired; undefined otherwise. */
  async verify(id: string, secret: string, nowMs: number): Promise<AppCredRecord | undefined> {
    const r = await this.#db.selectFrom('application_credentials').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) return undefined;
    if (r.expires_at !== null && r.expires_at <= keystoneTime(nowMs)) return undefined;
    return (await verifyPassword(secret, r.secret_hash)) ? record(r) : undefined;
  }
}
