/**
 * Users, projects, roles and tokens in the database (one set of queries for both dialects).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { hashPassword, verifyPassword } from './passwords.ts';

export const DEFAULT_DOMAIN = { id: 'default', name: 'Default' } as const;
export const ROLE_NAMES = ['admin', 'member', 'reader'] as const;

export interface UserRecord {
  readonly id: string;
  readonly name: string;
  readonly domain_id: string;
  readonly enabled: boolean;
  readonly default_project_id: string | null;
}

export interface ProjectRecord {
  readonly id: string;
  readonly name: string;
  readonly domain_id: string;
  readonly description: string;
  readonly enabled: boolean;
}

export interface RoleRecord {
  readonly id: string;
  readonly name: string;
}

export interface TokenRecord {
  readonly tokenHash: string;
  readonly userId: string;
  readonly projectId: string | null;
  readonly auditId: string;
  readonly issuedAt: string;
  readonly expiresAt: string;
}

/** Keystone's 32-hex-digit ids. */
export function newId(): string {
  return randomUUID().replace(/-/g, '');
}

/** SHA-256 of a token: the only form stored. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Keystone's timestamp format: `2026-11-25T19:00:00.000000Z`. */
export function keystoneTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export interface IdentityStoreOptions {
  /**
   * Told when a token stops being valid here (revoked, expired: its hash) or when what tokens
   * grant may have changed (a role assignment: null) — for caches of validated tokens.
   */
  readonly tokensChanged?: (tokenHash: string | null) => void;
}

export class IdentityStore {
  readonly #db: Kysely<Database>;
  readonly #changed: (tokenHash: string | null) => void;

  constructor(db: Kysely<Database>, opts: IdentityStoreOptions = {}) {
    this.#db = db;
    this.#changed = opts.tokensChanged ?? (() => undefined);
  }

  async createProject(name: string, opts: { id?: string; description?: string } = {}): Promise<ProjectRecord> {
    const row = { id: opts.id ?? newId(), name, domain_id: DEFAULT_DOMAIN.id, description: opts.description ?? '', enabled: 1 };
    await this.#db.insertInto('projects').values(row).execute();
    return { ...row, enabled: true };
  }

  async createUser(name: string, password: string, opts: { id?: string; defaultProjectId?: string } = {}): Promise<UserRecord> {
    const row = {
      id: opts.id ?? newId(),
      name,
      domain_id: DEFAULT_DOMAIN.id,
      password_hash: await hashPassword(password),
      default_project_id: opts.defaultProjectId ?? null,
      enabled: 1,
    };
    await this.#db.insertInto('users').values(row).execute();
    return { id: row.id, name, domain_id: row.domain_id, enabled: true, default_project_id: row.default_project_id };
  }

  async ensureRoles(): Promise<RoleRecord[]> {
    const existing = await this.#db.selectFrom('roles').selectAll().execute();
    for (const name of ROLE_NAMES) {
      if (!existing.some((r) => r.name === name)) {
        const r = { id: newId(), name };
        await this.#db.insertInto('roles').values(r).execute();
        existing.push(r);
      }
    }
    return existing;
  }

  async assignRole(userId: string, projectId: string, roleName: string): Promise<void> {
    const role = await this.#db.selectFrom('roles').selectAll().where('name', '=', roleName).executeTakeFirst();
    if (!role) throw new Error(`no role ${roleName}`);
    const exists = await this.#db
      .selectFrom('role_assignments')
      .select('role_id')
      .where('user_id', '=', userId)
      .where('project_id', '=', projectId)
      .where('role_id', '=', role.id)
      .executeTakeFirst();
    if (!exists) await this.#db.insertInto('role_assignments').values({ user_id: userId, project_id: projectId, role_id: role.id }).execute();
    this.#changed(null);
  }

  async listUsers(): Promise<UserRecord[]> {
    const rows = await this.#db.selectFrom('users').select(['id', 'name', 'domain_id', 'enabled', 'default_project_id']).orderBy('name').execute();
    return rows.map((r) => ({ ...r, enabled: r.enabled === 1 }));
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const r = await this.#db.selectFrom('users').select(['id', 'name', 'domain_id', 'enabled', 'default_project_id']).where('id', '=', id).executeTakeFirst();
    return r && { ...r, enabled: r.enabled === 1 };
  }

  async findUser(ref: { id?: string; name?: string; domainId?: string }): Promise<(UserRecord & { password_hash: string }) | undefined> {
    let q = this.#db.selectFrom('users').selectAll();
    if (ref.id !== undefined) q = q.where('id', '=', ref.id);
    else if (ref.name !== undefined) q = q.where('name', '=', ref.name).where('domain_id', '=', ref.domainId ?? DEFAULT_DOMAIN.id);
    else return undefined;
    const r = await q.executeTakeFirst();
    return r && { ...r, enabled: r.enabled === 1 };
  }

  async checkPassword(user: { password_hash: string }, password: string): Promise<boolean> {
    return verifyPassword(password, user.password_hash);
  }

  async listProjects(): Promise<ProjectRecord[]> {
    const rows = await this.#db.selectFrom('projects').selectAll().orderBy('name').execute();
    return rows.map((r) => ({ ...r, enabled: r.enabled === 1 }));
  }

  async findProject(ref: { id?: string; name?: string; domainId?: string }): Promise<ProjectRecord | undefined> {
    let q = this.#db.selectFrom('projects').selectAll();
    if (ref.id !== undefined) q = q.where('id', '=', ref.id);
    else if (ref.name !== undefined) q = q.where('name', '=', ref.name).where('domain_id', '=', ref.domainId ?? DEFAULT_DOMAIN.id);
    else return undefined;
    const r = await q.executeTakeFirst();
    return r && { ...r, enabled: r.enabled === 1 };
  }

  async listRoles(): Promise<RoleRecord[]> {
    return this.#db.selectFrom('roles').selectAll().orderBy('name').execute();
  }

  /** Roles `userId` holds on `projectId`. */
  async rolesOf(userId: string, projectId: string): Promise<RoleRecord[]> {
    return this.#db
      .selectFrom('role_assignments')
      .innerJoin('roles', 'roles.id', 'role_assignments.role_id')
      .select(['roles.id', 'roles.name'])
      .where('role_assignments.user_id', '=', userId)
      .where('role_assignments.project_id', '=', projectId)
      .orderBy('roles.name')
      .execute();
  }

  /** Issue a token; the clear token is returned once and never stored. */
  async issueToken(userId: string, projectId: string | null, ttlMs: number, nowMs: number): Promise<{ token: string; record: TokenRecord }> {
    const token = randomBytes(32).toString('base64url');
    const record: TokenRecord = {
      tokenHash: hashToken(token),
      userId,
      projectId,
      auditId: randomBytes(16).toString('base64url').slice(0, 22),
      issuedAt: keystoneTime(nowMs),
      expiresAt: keystoneTime(nowMs + ttlMs),
    };
    await this.#db
      .insertInto('tokens')
      .values({
        token_hash: record.tokenHash,
        user_id: userId,
        project_id: projectId,
        audit_id: record.auditId,
        issued_at: record.issuedAt,
        expires_at: record.expiresAt,
        revoked: 0,
      })
      .execute();
    return { token, record };
  }

  /** The live token record, or undefined when unknown, revoked or expired. */
  async findToken(token: string, nowMs: number): Promise<TokenRecord | undefined> {
    const r = await this.#db
      .selectFrom('tokens')
      .selectAll()
      .where('token_hash', '=', hashToken(token))
      .where('revoked', '=', 0)
      .where('expires_at', '>', keystoneTime(nowMs))
      .executeTakeFirst();
    return r && { tokenHash: r.token_hash, userId: r.user_id, projectId: r.project_id, auditId: r.audit_id, issuedAt: r.issued_at, expiresAt: r.expires_at };
  }

  async revokeToken(token: string): Promise<boolean> {
    this.#changed(hashToken(token));
    const res = await this.#db.updateTable('tokens').set({ revoked: 1 }).where('token_hash', '=', hashToken(token)).where('revoked', '=', 0).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Make a token expire now (tests of expired tokens; admin tooling). */
  async expireToken(token: string, nowMs: number): Promise<void> {
    this.#changed(hashToken(token));
    await this.#db.updateTable('tokens').set({ expires_at: keystoneTime(nowMs - 1000) }).where('token_hash', '=', hashToken(token)).execute();
  }

  async isSeeded(): Promise<boolean> {
    const r = await this.#db.selectFrom('hitch_meta').select('value').where('key', '=', 'identity_seeded').executeTakeFirst();
    return r !== undefined;
  }

  async markSeeded(): Promise<void> {
    await this.#db.insertInto('hitch_meta').values({ key: 'identity_seeded', value: keystoneTime(Date.now()) }).execute();
  }
}
