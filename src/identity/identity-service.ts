/**
 * Identity: password and token authentication, token validation for the other services, and
 * the first-start seed (admin and demo projects and users; roles admin, member, reader).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { HitchError } from '../errors.ts';
import { maskToken } from '../http/mask.ts';
import { buildCatalog, type CatalogEntry } from './catalog.ts';
import { AppCredStore, type AppCredRecord } from './application-credential-store.ts';
import { DEFAULT_DOMAIN, IdentityStore, hashToken, type RoleRecord, type TokenRecord } from './identity-store.ts';

/**
 * How long a validated token is trusted without validating it again. A revocation anywhere —
 * this process or another API process on the same database — is seen at the next request: the
 * cache is trusted only while the database's revocation mark is the one read when the entry was
 * made (`markRevocation` in identity-store.ts; one primary-key read a request).
 */
export const VALIDATION_CACHE_MS = 10_000;
const VALIDATION_CACHE_MAX = 10_000;

/** Who is calling: what every service's policy checks look at. */
export interface AuthContext {
  readonly userId: string;
  readonly userName: string;
  readonly projectId: string | null;
  readonly projectName: string | null;
  readonly roles: readonly string[];
  readonly isAdmin: boolean;
  /** `{SHA1}…` of the token, for logs. */
  readonly tokenMask: string;
  readonly expiresAt: string;
  /** The application credential the token was issued for (it may not manage others unless unrestricted). */
  readonly appCred?: { readonly id: string; readonly unrestricted: boolean } | null;
}

/** What a service needs from identity: turn an `X-Auth-Token` into a caller, or throw 401. */
export interface Authenticator {
  authenticate(token: string | undefined): Promise<AuthContext>;
}

export interface IdentitySeed {
  readonly adminPassword: string;
  readonly demoPassword?: string;
  /** Fixed ids make logs and fixtures reproducible. */
  readonly adminProjectId?: string;
  readonly adminUserId?: string;
}

export interface IdentityServiceOptions {
  readonly tokenTtlMs?: number;
  readonly now?: () => number;
}

export interface PasswordAuthRequest {
  readonly user: { id?: string; name?: string; domainId?: string; domainName?: string };
  readonly password: string;
}

/** `application_credential` auth: by id, or by name with its user. */
export interface AppCredAuthRequest {
  readonly id?: string;
  readonly name?: string;
  readonly user?: { id?: string; name?: string; domainId?: string; domainName?: string };
  readonly secret: string;
}

export interface ScopeRequest {
  readonly project?: { id?: string; name?: string; domainId?: string; domainName?: string };
}

export interface IssuedToken {
  readonly token: string;
  readonly body: Record<string, unknown>;
}

const unauthorized = (): HitchError => new HitchError('HITCH_UNAUTHORIZED');

function domainIdOf(ref: { domainId?: string; domainName?: string }): string {
  if (ref.domainName !== undefined && ref.domainName !== DEFAULT_DOMAIN.name) return `name:${ref.domainName}`;
  return ref.domainId ?? DEFAULT_DOMAIN.id;
}

export class IdentityService implements Authenticator {
  readonly store: IdentityStore;
  readonly appCreds: AppCredStore;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /**
   * Tokens validated lately (by SHA-256, never the token itself) and what they grant, so a burst
   * of requests with one token costs one validation — keystonemiddleware caches the same way.
   */
  readonly #validated = new Map<string, { readonly ctx: AuthContext; readonly until: number; readonly mark: string }>();
  /** Bumped by every revocation here: a validation that raced one is not cached. */
  #generation = 0;

  constructor(db: Kysely<Database>, opts: IdentityServiceOptions = {}) {
    const tokensChanged = (hash: string | null): void => {
      this.#generation++;
      if (hash === null) this.#validated.clear();
      else this.#validated.delete(hash);
    };
    this.store = new IdentityStore(db, { tokensChanged });
    this.appCreds = new AppCredStore(db, () => tokensChanged(null));
    this.#ttlMs = opts.tokenTtlMs ?? 3_600_000;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Seed roles, projects and users once, on the first start of an empty database. True when
   * this call created them (with `seed`'s passwords); false when they were there already.
   */
  async seed(seed: IdentitySeed): Promise<boolean> {
    await this.store.ensureRoles();
    if (await this.store.isSeeded()) return false;
    const admin = await this.store.createProject('admin', { id: seed.adminProjectId, description: 'Bootstrap project' });
    const adminUser = await this.store.createUser('admin', seed.adminPassword, { id: seed.adminUserId, defaultProjectId: admin.id });
    for (const r of ['admin', 'member', 'reader']) await this.store.assignRole(adminUser.id, admin.id, r);
    if (seed.demoPassword !== undefined) {
      const demo = await this.store.createProject('demo');
      const demoUser = await this.store.createUser('demo', seed.demoPassword, { defaultProjectId: demo.id });
      for (const r of ['member', 'reader']) await this.store.assignRole(demoUser.id, demo.id, r);
    }
    await this.store.markSeeded();
    return true;
  }

  /**
   * Whom an authentication attempt is about, for the failure limiter: a user however named (by
   * id, or by name and domain) is one key, `user:<id>`; a name no user has stays the name as given.
   */
  async attemptSubject(ref: { id?: string; name?: string; domainId?: string; domainName?: string }): Promise<string> {
    const user = await this.store.findUser({ id: ref.id, name: ref.name, domainId: domainIdOf(ref) });
    if (user) return `user:${user.id}`;
    return ref.id !== undefined ? `id:${ref.id}` : `name:${domainIdOf(ref)}/${ref.name ?? ''}`;
  }

  async authenticatePassword(req: PasswordAuthRequest, scope: ScopeRequest | undefined, baseUrl: string): Promise<IssuedToken> {
    const user = await this.store.findUser({ id: req.user.id, name: req.user.name, domainId: domainIdOf(req.user) });
    if (!user || !user.enabled || !(await this.store.checkPassword(user, req.password))) throw new HitchError('HITCH_BAD_CREDENTIALS');
    return this.#issue(user.id, scope, baseUrl);
  }

  /**
   * Keystone's `application_credential` method: the token is scoped to the credential's project
   * with the credential's roles; asking for any other scope is refused.
   */
  async authenticateAppCred(req: AppCredAuthRequest, scope: ScopeRequest | undefined, baseUrl: string): Promise<IssuedToken> {
    let id = req.id;
    if (id === undefined) {
      const u = req.user;
      const user = u && (await this.store.findUser({ id: u.id, name: u.name, domainId: domainIdOf(u) }));
      if (!user || req.name === undefined) throw unauthorized();
      id = (await this.appCreds.findByName(user.id, req.name))?.id;
      if (id === undefined) throw unauthorized();
    }
    const cred = await this.appCreds.verify(id, req.secret, this.#now());
    if (!cred) throw unauthorized();
    const user = await this.store.getUser(cred.userId);
    if (!user || !user.enabled) throw unauthorized();
    if (scope?.project) {
      throw new HitchError('HITCH_UNAUTHORIZED', {}, { message: 'Application credentials cannot request a scope.' });
    }
    const project = await this.store.findProject({ id: cred.projectId });
    if (!project || !project.enabled || (await this.#appCredRoles(cred)).length === 0) throw unauthorized();
    const expiresAtMs = cred.expiresAt === null ? undefined : Date.parse(cred.expiresAt);
    const { token, record } = await this.store.issueToken(cred.userId, cred.projectId, this.#ttlMs, this.#now(), { appCredId: cred.id, ...(expiresAtMs !== undefined ? { expiresAtMs } : {}) });
    return { token, body: await this.tokenBody(record, ['application_credential'], baseUrl) };
  }

  /** The credential's roles the user still holds on its project (a removed grant is gone from it too). */
  async #appCredRoles(cred: AppCredRecord): Promise<RoleRecord[]> {
    const held = await this.store.rolesOf(cred.userId, cred.projectId);
    return held.filter((r) => cred.roleIds.includes(r.id));
  }

  /** A token's roles: the user's on the project, or the application credential's. */
  async #tokenRoles(rec: TokenRecord): Promise<{ roles: RoleRecord[]; appCred: AppCredRecord | null } | null> {
    if (!rec.projectId) return { roles: [], appCred: null };
    if (rec.appCredId === null) return { roles: await this.store.rolesOf(rec.userId, rec.projectId), appCred: null };
    const cred = await this.appCreds.get(rec.appCredId);
    if (!cred) return null;
    const roles = await this.#appCredRoles(cred);
    // A credential whose user no longer holds any of its roles grants nothing: its tokens stop.
    return roles.length === 0 ? null : { roles, appCred: cred };
  }

  /**
   * `POST /v3/users/{id}/password`: the original password proves who asks (no token needed, as
   * in Keystone); every token the user holds ends.
   */
  async changePassword(userId: string, original: string, password: string): Promise<void> {
    const user = await this.store.findUser({ id: userId });
    if (!user || !user.enabled || !(await this.store.checkPassword(user, original))) {
      throw new HitchError('HITCH_UNAUTHORIZED', {}, { message: 'Error when changing user password: Invalid user / password' });
    }
    await this.store.updateUser(userId, { password });
  }

  async authenticateToken(token: string, scope: ScopeRequest | undefined, baseUrl: string): Promise<IssuedToken> {
    const rec = await this.store.findToken(token, this.#now());
    if (!rec) throw unauthorized();
    // A token from an application credential renews only as itself: same project, same roles.
    if (rec.appCredId !== null) {
      if (scope?.project && scope.project.id !== rec.projectId) throw unauthorized();
      if (!(await this.appCreds.get(rec.appCredId))) throw unauthorized();
      const { token: t, record } = await this.store.issueToken(rec.userId, rec.projectId, this.#ttlMs, this.#now(), { appCredId: rec.appCredId, expiresAtMs: Date.parse(rec.expiresAt) });
      return { token: t, body: await this.tokenBody(record, ['token'], baseUrl) };
    }
    return this.#issue(rec.userId, scope, baseUrl);
  }

  async #issue(userId: string, scope: ScopeRequest | undefined, baseUrl: string): Promise<IssuedToken> {
    let projectId: string | null = null;
    if (scope?.project) {
      const p = await this.store.findProject({ id: scope.project.id, name: scope.project.name, domainId: domainIdOf(scope.project) });
      if (!p || !p.enabled) throw unauthorized();
      const roles = await this.store.rolesOf(userId, p.id);
      if (roles.length === 0) throw unauthorized();
      projectId = p.id;
    }
    const { token, record } = await this.store.issueToken(userId, projectId, this.#ttlMs, this.#now());
    return { token, body: await this.tokenBody(record, ['password'], baseUrl) };
  }

  /** Keystone's token body for `record`. */
  async tokenBody(record: TokenRecord, methods: readonly string[], baseUrl: string): Promise<Record<string, unknown>> {
    const user = await this.store.getUser(record.userId);
    if (!user) throw unauthorized();
    const token: Record<string, unknown> = {
      methods,
      user: { id: user.id, name: user.name, password_expires_at: null, domain: { ...DEFAULT_DOMAIN } },
      audit_ids: [record.auditId],
      expires_at: record.expiresAt,
      issued_at: record.issuedAt,
    };
    if (record.projectId) {
      const project = await this.store.findProject({ id: record.projectId });
      const granted = await this.#tokenRoles(record);
      if (!granted) throw unauthorized();
      const catalog: CatalogEntry[] = buildCatalog(baseUrl, record.projectId);
      token.is_domain = false;
      token.project = { id: record.projectId, name: project?.name ?? '', domain: { ...DEFAULT_DOMAIN } };
      token.roles = granted.roles.map((r) => ({ id: r.id, name: r.name }));
      token.catalog = catalog;
      if (granted.appCred) {
        // A renewed token keeps 'token' beside the method it started from; a validated one shows that method.
        token.methods = methods.includes('token') ? ['token', 'application_credential'] : ['application_credential'];
        token.application_credential = { id: granted.appCred.id, name: granted.appCred.name, restricted: !granted.appCred.unrestricted };
      }
    }
    return { token };
  }

  /** Validate a subject token (GET /v3/auth/tokens); undefined when not valid. */
  async validate(token: string): Promise<TokenRecord | undefined> {
    return this.store.findToken(token, this.#now());
  }

  async revoke(token: string): Promise<boolean> {
    return this.store.revokeToken(token);
  }

  /**
   * Who a token was validated as, from this process's validation cache only (never a database
   * read): the user and project ids a request's log line names.
   */
  knownCaller(token: string | undefined): AuthContext | undefined {
    if (!token) return undefined;
    const hit = this.#validated.get(hashToken(token));
    return hit && hit.until > this.#now() ? hit.ctx : undefined;
  }

  async authenticate(token: string | undefined): Promise<AuthContext> {
    if (!token) throw unauthorized();
    const now = this.#now();
    const hash = hashToken(token);
    // Read before validating: a revocation committed after this read moves the mark, so an entry made now is not trusted past it.
    const mark = await this.store.revocationMark();
    const hit = this.#validated.get(hash);
    if (hit && hit.until > now && hit.mark === mark) return hit.ctx;
    const generation = this.#generation;
    const rec = await this.store.findToken(token, now);
    if (!rec) throw unauthorized();
    const user = await this.store.getUser(rec.userId);
    if (!user || !user.enabled) throw unauthorized();
    let roles: string[] = [];
    let projectName: string | null = null;
    let appCred: AuthContext['appCred'] = null;
    if (rec.projectId) {
      const granted = await this.#tokenRoles(rec);
      if (!granted) throw unauthorized();
      roles = granted.roles.map((r) => r.name);
      if (granted.appCred) appCred = Object.freeze({ id: granted.appCred.id, unrestricted: granted.appCred.unrestricted });
      projectName = (await this.store.findProject({ id: rec.projectId }))?.name ?? null;
    }
    const ctx: AuthContext = Object.freeze({
      userId: user.id,
      userName: user.name,
      projectId: rec.projectId,
      projectName,
      roles: Object.freeze(roles) as string[],
      isAdmin: roles.includes('admin'),
      tokenMask: maskToken(token),
      expiresAt: rec.expiresAt,
      appCred,
    });
    // Never past the token's own expiry; a token this process revokes or expires is dropped at once.
    const expires = Date.parse(rec.expiresAt);
    const until = Math.min(now + VALIDATION_CACHE_MS, Number.isNaN(expires) ? now : expires);
    if (generation === this.#generation) {
      if (this.#validated.size >= VALIDATION_CACHE_MAX) this.#validated.delete(this.#validated.keys().next().value as string);
      this.#validated.set(hash, { ctx, until, mark });
    }
    return ctx;
  }
}
