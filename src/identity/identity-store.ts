/**
 * Users, projects, roles and tokens in the database (one set of queries for both dialects).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { storedPassword, verifyPassword } from './passwords.ts';

export const DEFAULT_DOMAIN = { id: 'default', name: 'Default' } as const;
export const ROLE_NAMES = ['admin', 'member', 'reader'] as const;

export interface UserRecord {
  readonly id: string;
  readonly name: string;
  readonly domain_id: string;
  readonly enabled: boolean;
  readonly default_project_id: string | null;
  /** Other attributes the user was created or updated with (description, email, …). */
  readonly extra: Readonly<Record<string, unknown>>;
}

/** List filters Keystone applies to users and projects (exact matches). */
export interface ListFilter {
  readonly name?: string;
  readonly domainId?: string;
  readonly enabled?: boolean;
}

/** A role assignment: a user holds a role on a project. */
export interface AssignmentRecord {
  readonly userId: string;
  readonly projectId: string;
  readonly roleId: string;
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
  /** The application credential the token was issued for, or null. */
  readonly appCredId: string | null;
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

const USER_COLUMNS = ['id', 'name', 'domain_id', 'enabled', 'default_project_id', 'extra'] as const;

function userRecord(r: { id: string; name: string; domain_id: string; enabled: number; default_project_id: string | null; extra: string | null }): UserRecord {
  return { id: r.id, name: r.name, domain_id: r.domain_id, enabled: r.enabled === 1, default_project_id: r.default_project_id, extra: r.extra === null ? {} : (JSON.parse(r.extra) as Record<string, unknown>) };
}

const REVOCATION_MARK = 'token_revocation_mark';

/**
 * Every API process caches validated tokens for a few seconds. A revocation (a token revoked,
 * a user's password changed, a user disabled or deleted, a grant or an application credential
 * removed) writes a new random mark in the database after its own write; a process checks the
 * mark (one primary-key read) before it trusts its cache, and forgets the cache when the mark
 * moved. So a revocation in one process holds in every other at its next request.
 */
export async function markRevocation(db: Kysely<Database>): Promise<void> {
  const value = randomBytes(12).toString('base64url');
  await db.insertInto('hitch_meta').values({ key: REVOCATION_MARK, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
}

export class IdentityStore {
  readonly #db: Kysely<Database>;
  readonly #changed: (tokenHash: string | null) => void;

  constructor(db: Kysely<Database>, opts: IdentityStoreOptions = {}) {
    this.#db = db;
    this.#changed = opts.tokensChanged ?? (() => undefined);
  }

  async createProject(name: string, opts: { id?: string; description?: string; enabled?: boolean } = {}): Promise<ProjectRecord> {
    const row = { id: opts.id ?? newId(), name, domain_id: DEFAULT_DOMAIN.id, description: opts.description ?? '', enabled: opts.enabled === false ? 0 : 1 };
    await this.#db.insertInto('projects').values(row).execute();
    return { ...row, enabled: row.enabled === 1 };
  }

  async createUser(
    name: string,
    /** None (null or empty): the user cannot log in with a password. */
    password: string | null,
    opts: { id?: string; defaultProjectId?: string; enabled?: boolean; extra?: Readonly<Record<string, unknown>> } = {},
  ): Promise<UserRecord> {
    const extra = opts.extra ?? {};
    const row = {
      id: opts.id ?? newId(),
      name,
      domain_id: DEFAULT_DOMAIN.id,
      password_hash: await storedPassword(password),
      default_project_id: opts.defaultProjectId ?? null,
      enabled: opts.enabled === false ? 0 : 1,
      extra: JSON.stringify(extra),
    };
    await this.#db.insertInto('users').values(row).execute();
    return { id: row.id, name, domain_id: row.domain_id, enabled: row.enabled === 1, default_project_id: row.default_project_id, extra };
  }

  /**
   * Change a user's fields. A new password or a disabled user ends every token the user holds
   * (Keystone persists a revocation event for the user in both cases).
   */
  async updateUser(
    id: string,
    fields: { name?: string; password?: string | null; enabled?: boolean; defaultProjectId?: string | null; extra?: Readonly<Record<string, unknown>> },
  ): Promise<void> {
    const set: { name?: string; password_hash?: string; enabled?: number; default_project_id?: string | null; extra?: string } = {};
    if (fields.name !== undefined) set.name = fields.name;
    if (fields.password !== undefined) set.password_hash = await storedPassword(fields.password);
    if (fields.enabled !== undefined) set.enabled = fields.enabled ? 1 : 0;
    if (fields.defaultProjectId !== undefined) set.default_project_id = fields.defaultProjectId;
    if (fields.extra !== undefined) set.extra = JSON.stringify(fields.extra);
    if (Object.keys(set).length > 0) await this.#db.updateTable('users').set(set).where('id', '=', id).execute();
    if (fields.password !== undefined || fields.enabled === false) await this.revokeUserTokens(id);
  }

  /** Delete a user with its role assignments, application credentials and tokens. */
  async deleteUser(id: string): Promise<boolean> {
    await this.revokeUserTokens(id);
    const res = await this.#db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    await this.#revoked(null);
    return Number(res.numDeletedRows) > 0;
  }

  /** End every token of a user: one UPDATE, and the validation caches forget them all. */
  async revokeUserTokens(userId: string): Promise<void> {
    await this.#db.updateTable('tokens').set({ revoked: 1 }).where('user_id', '=', userId).where('revoked', '=', 0).execute();
    await this.#revoked(null);
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
    await this.#revoked(null);
  }

  async listUsers(filter: ListFilter = {}): Promise<UserRecord[]> {
    let q = this.#db.selectFrom('users').select(USER_COLUMNS);
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.domainId !== undefined) q = q.where('domain_id', '=', filter.domainId);
    if (filter.enabled !== undefined) q = q.where('enabled', '=', filter.enabled ? 1 : 0);
    return (await q.orderBy('name').orderBy('id').execute()).map(userRecord);
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const r = await this.#db.selectFrom('users').select(USER_COLUMNS).where('id', '=', id).executeTakeFirst();
    return r && userRecord(r);
  }

  async findUser(ref: { id?: string; name?: string; domainId?: string }): Promise<(UserRecord & { password_hash: string }) | undefined> {
    let q = this.#db.selectFrom('users').selectAll();
    if (ref.id !== undefined) q = q.where('id', '=', ref.id);
    else if (ref.name !== undefined) q = q.where('name', '=', ref.name).where('domain_id', '=', ref.domainId ?? DEFAULT_DOMAIN.id);
    else return undefined;
    const r = await q.executeTakeFirst();
    return r && { ...userRecord(r), password_hash: r.password_hash };
  }

  async checkPassword(user: { password_hash: string }, password: string): Promise<boolean> {
    return verifyPassword(password, user.password_hash);
  }

  async listProjects(filter: ListFilter = {}): Promise<ProjectRecord[]> {
    let q = this.#db.selectFrom('projects').selectAll();
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.domainId !== undefined) q = q.where('domain_id', '=', filter.domainId);
    if (filter.enabled !== undefined) q = q.where('enabled', '=', filter.enabled ? 1 : 0);
    const rows = await q.orderBy('name').orderBy('id').execute();
    return rows.map((r) => ({ ...r, enabled: r.enabled === 1 }));
  }

  async updateProject(id: string, fields: { name?: string; description?: string; enabled?: boolean }): Promise<void> {
    const set: { name?: string; description?: string; enabled?: number } = {};
    if (fields.name !== undefined) set.name = fields.name;
    if (fields.description !== undefined) set.description = fields.description;
    if (fields.enabled !== undefined) set.enabled = fields.enabled ? 1 : 0;
    if (Object.keys(set).length > 0) await this.#db.updateTable('projects').set(set).where('id', '=', id).execute();
    // A disabled project's tokens stop working: what they grant changed.
    if (fields.enabled === false) await this.#revoked(null);
  }

  /** Delete a project with its role assignments (and so what its tokens grant). */
  async deleteProject(id: string): Promise<boolean> {
    await this.#db.updateTable('tokens').set({ revoked: 1 }).where('project_id', '=', id).where('revoked', '=', 0).execute();
    const res = await this.#db.deleteFrom('projects').where('id', '=', id).executeTakeFirst();
    await this.#revoked(null);
    return Number(res.numDeletedRows) > 0;
  }

  async findProject(ref: { id?: string; name?: string; domainId?: string }): Promise<ProjectRecord | undefined> {
    let q = this.#db.selectFrom('projects').selectAll();
    if (ref.id !== undefined) q = q.where('id', '=', ref.id);
    else if (ref.name !== undefined) q = q.where('name', '=', ref.name).where('domain_id', '=', ref.domainId ?? DEFAULT_DOMAIN.id);
    else return undefined;
    const r = await q.executeTakeFirst();
    return r && { ...r, enabled: r.enabled === 1 };
  }

  async listRoles(filter: { name?: string } = {}): Promise<RoleRecord[]> {
    let q = this.#db.selectFrom('roles').selectAll();
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    return q.orderBy('name').execute();
  }

  async createRole(role: RoleRecord): Promise<void> {
    await this.#db.insertInto('roles').values({ id: role.id, name: role.name }).execute();
  }

  /** Delete a role and every grant of it (what tokens grant changes). */
  async deleteRole(id: string): Promise<boolean> {
    const res = await this.#db.deleteFrom('roles').where('id', '=', id).executeTakeFirst();
    await this.#revoked(null);
    return Number(res.numDeletedRows) > 0;
  }

  async getRole(id: string): Promise<RoleRecord | undefined> {
    return this.#db.selectFrom('roles').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Whether the user holds the role on the project. */
  async hasGrant(userId: string, projectId: string, roleId: string): Promise<boolean> {
    const r = await this.#db
      .selectFrom('role_assignments')
      .select('role_id')
      .where('user_id', '=', userId)
      .where('project_id', '=', projectId)
      .where('role_id', '=', roleId)
      .executeTakeFirst();
    return r !== undefined;
  }

  /** Remove a grant; false when there was none. Tokens on it lose the role at once. */
  async revokeGrant(userId: string, projectId: string, roleId: string): Promise<boolean> {
    const res = await this.#db
      .deleteFrom('role_assignments')
      .where('user_id', '=', userId)
      .where('project_id', '=', projectId)
      .where('role_id', '=', roleId)
      .executeTakeFirst();
    await this.#revoked(null);
    return Number(res.numDeletedRows) > 0;
  }

  /** Role assignments matching every given filter, ordered by user, project and role. */
  async listAssignments(f: { userId?: string; projectId?: string; roleId?: string }): Promise<AssignmentRecord[]> {
    let q = this.#db.selectFrom('role_assignments').selectAll();
    if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
    if (f.projectId !== undefined) q = q.where('project_id', '=', f.projectId);
    if (f.roleId !== undefined) q = q.where('role_id', '=', f.roleId);
    const rows = await q.orderBy('user_id').orderBy('project_id').orderBy('role_id').execute();
    return rows.map((r) => ({ userId: r.user_id, projectId: r.project_id, roleId: r.role_id }));
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
  async issueToken(
    userId: string,
    projectId: string | null,
    ttlMs: number,
    nowMs: number,
    opts: { appCredId?: string; expiresAtMs?: number } = {},
  ): Promise<{ token: string; record: TokenRecord }> {
    const token = randomBytes(32).toString('base64url');
    const record: TokenRecord = {
      tokenHash: hashToken(token),
      userId,
      projectId,
      auditId: randomBytes(16).toString('base64url').slice(0, 22),
      issuedAt: keystoneTime(nowMs),
      // Never past the application credential's own expiry.
      expiresAt: keystoneTime(Math.min(nowMs + ttlMs, opts.expiresAtMs ?? Infinity)),
      appCredId: opts.appCredId ?? null,
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
        app_cred_id: record.appCredId,
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
    return r && { tokenHash: r.token_hash, userId: r.user_id, projectId: r.project_id, auditId: r.audit_id, issuedAt: r.issued_at, expiresAt: r.expires_at, appCredId: r.app_cred_id };
  }

  async revokeToken(token: string): Promise<boolean> {
    this.#changed(hashToken(token));
    const res = await this.#db.updateTable('tokens').set({ revoked: 1 }).where('token_hash', '=', hashToken(token)).where('revoked', '=', 0).executeTakeFirst();
    await markRevocation(this.#db);
    return Number(res.numUpdatedRows) > 0;
  }

  /** Make a token expire now (tests of expired tokens; admin tooling). */
  async expireToken(token: string, nowMs: number): Promise<void> {
    this.#changed(hashToken(token));
    await this.#db.updateTable('tokens').set({ expires_at: keystoneTime(nowMs - 1000) }).where('token_hash', '=', hashToken(token)).execute();
    await markRevocation(this.#db);
  }

  /** Tokens or what they grant changed: this process's caches forget, and every other API process sees a new revocation mark. */
  async #revoked(tokenHash: string | null): Promise<void> {
    await markRevocation(this.#db);
    this.#changed(tokenHash);
  }

  /** The revocation mark now (see `markRevocation`). */
  async revocationMark(): Promise<string> {
    const r = await this.#db.selectFrom('hitch_meta').select('value').where('key', '=', REVOCATION_MARK).executeTakeFirst();
    return r?.value ?? '';
  }

  async isSeeded(): Promise<boolean> {
    const r = await this.#db.selectFrom('hitch_meta').select('value').where('key', '=', 'identity_seeded').executeTakeFirst();
    return r !== undefined;
  }

  async markSeeded(): Promise<void> {
    await this.#db.insertInto('hitch_meta').values({ key: 'identity_seeded', value: keystoneTime(Date.now()) }).execute();
  }
}
