/**
 * `/v3/users/{user_id}/application_credentials`: create (secret shown once), list (by name),
 * show, delete. A credential belongs to the user who made it, on the project of the token that
 * made it, with at most that token's roles; a token from a restricted credential may not make
 * or delete others.
 */
import type { FastifyRequest } from 'fastify';
import { HitchError } from '../../errors.ts';
import { validate, type Schema } from '../../http/validate.ts';
import { generateSecret, type AppCredRecord } from '../application-credential-store.ts';
import type { AuthContext } from '../identity-service.ts';
import type { RoleRecord } from '../identity-store.ts';
import { appCredView, collectionLinks } from '../views.ts';
import { badRequest, forbidden, queryParam, selfLink, type IdentityRoutes } from './context.ts';

const createSchema: Schema = {
  type: 'object',
  required: ['application_credential'],
  additionalProperties: false,
  properties: {
    application_credential: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 255, pattern: /\S/ },
        description: { type: 'string', maxLength: 4096, nullable: true },
        secret: { type: 'string', maxLength: 4096, nullable: true },
        expires_at: { type: 'string', maxLength: 64, nullable: true },
        roles: { type: 'any' },
        unrestricted: { type: 'boolean', nullable: true },
        access_rules: { type: 'any' },
      },
    },
  },
};

interface CreateBody {
  name: string;
  description?: string | null;
  secret?: string | null;
  expires_at?: string | null;
  roles?: unknown;
  unrestricted?: boolean | null;
  access_rules?: unknown;
}

function notFound(id: string): HitchError {
  return new HitchError('HITCH_NOT_FOUND', { kind: 'Application Credential', id }, { message: `Could not find Application Credential: ${id}.` });
}

function invalid(detail: string): HitchError {
  return badRequest(`Invalid application credential: ${detail}`);
}

/** Keystone refuses to manage credentials with a token that came from a restricted one. */
function checkUnrestricted(ctx: AuthContext): void {
  if (ctx.appCred && !ctx.appCred.unrestricted) {
    throw new HitchError('HITCH_FORBIDDEN', { action: 'application credential' }, {
      message: "Using method 'application_credential' is not allowed for managing additional application credentials.",
    });
  }
}

/** `roles: [{id} | {name}]` → role records; each must be one the token holds. */
async function pickRoles(r: IdentityRoutes, ctx: AuthContext, asked: unknown): Promise<RoleRecord[]> {
  const all = await r.identity.store.listRoles();
  const held = all.filter((x) => ctx.roles.includes(x.name));
  if (asked === undefined || asked === null || (Array.isArray(asked) && asked.length === 0)) return held;
  if (!Array.isArray(asked)) throw invalid("'roles' must be a list of {id} or {name}");
  const out: RoleRecord[] = [];
  for (const a of asked as unknown[]) {
    const ref = typeof a === 'object' && a !== null ? (a as { id?: unknown; name?: unknown }) : {};
    const role = typeof ref.id === 'string' ? all.find((x) => x.id === ref.id) : typeof ref.name === 'string' ? all.find((x) => x.name === ref.name) : undefined;
    if (typeof ref.id !== 'string' && typeof ref.name !== 'string') throw invalid('each role needs an id or a name');
    if (!role || !held.some((x) => x.id === role.id)) throw invalid('Cannot create an application credential with unassigned role');
    if (!out.some((x) => x.id === role.id)) out.push(role);
  }
  return out;
}

export function registerApplicationCredentialRoutes(r: IdentityRoutes): void {
  const { app, identity } = r;
  const creds = identity.appCreds;

  const rolesOf = async (c: AppCredRecord): Promise<RoleRecord[]> => (await identity.store.listRoles()).filter((x) => c.roleIds.includes(x.id));

  /** The credential when the caller owns it (or is an admin); 404 otherwise. */
  const owned = async (req: FastifyRequest<{ Params: { uid: string; id: string } }>, action: string): Promise<{ ctx: AuthContext; cred: AppCredRecord }> => {
    const ctx = await r.caller(req);
    const cred = await creds.get(req.params.id);
    if (!ctx.isAdmin && ctx.userId !== req.params.uid) throw forbidden(action);
    if (!cred || cred.userId !== req.params.uid) throw notFound(req.params.id);
    return { ctx, cred };
  };

  app.post<{ Params: { uid: string } }>('/v3/users/:uid/application_credentials', async (req, reply) => {
    const ctx = await r.caller(req);
    validate(createSchema, req.body);
    checkUnrestricted(ctx);
    if (ctx.userId !== req.params.uid) throw forbidden('Cannot create an application credential for another user.');
    if (!ctx.projectId) throw invalid('a project-scoped token is required: the credential is bound to its project');
    const b = (req.body as { application_credential: CreateBody }).application_credential;
    if (Array.isArray(b.access_rules) && b.access_rules.length > 0) throw invalid('access rules are not supported by Hitch');
    let expiresAtMs: number | null = null;
    if (b.expires_at) {
      expiresAtMs = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(b.expires_at) ? b.expires_at : `${b.expires_at}Z`);
      if (Number.isNaN(expiresAtMs)) throw invalid(`'${b.expires_at}' is not a valid ISO 8601 date`);
      if (expiresAtMs <= Date.now()) throw invalid('The expiration date must be in the future');
    }
    const roles = await pickRoles(r, ctx, b.roles);
    if (await creds.findByName(ctx.userId, b.name)) {
      throw new HitchError('HITCH_CONFLICT', { reason: '' }, { message: `Conflict occurred attempting to store application_credential - Duplicate name, ${b.name}.` });
    }
    const secret = b.secret ? b.secret : generateSecret();
    const cred = await creds.create({
      userId: ctx.userId,
      projectId: ctx.projectId,
      name: b.name,
      description: b.description ?? null,
      secret,
      roleIds: roles.map((x) => x.id),
      unrestricted: b.unrestricted === true,
      expiresAtMs,
    });
    return reply.code(201).send({ application_credential: appCredView(cred, roles, r.identityUrl(req), secret) });
  });

  app.get<{ Params: { uid: string } }>('/v3/users/:uid/application_credentials', async (req) => {
    const ctx = await r.caller(req);
    if (!ctx.isAdmin && ctx.userId !== req.params.uid) throw forbidden('identity:list_application_credentials');
    const list = await creds.list(req.params.uid, { name: queryParam(req, 'name') });
    const out = [];
    for (const c of list) out.push(appCredView(c, await rolesOf(c), r.identityUrl(req)));
    return { application_credentials: out, links: collectionLinks(selfLink(r, req)) };
  });

  app.get<{ Params: { uid: string; id: string } }>('/v3/users/:uid/application_credentials/:id', async (req) => {
    const { cred } = await owned(req, 'identity:get_application_credential');
    return { application_credential: appCredView(cred, await rolesOf(cred), r.identityUrl(req)) };
  });

  app.delete<{ Params: { uid: string; id: string } }>('/v3/users/:uid/application_credentials/:id', async (req, reply) => {
    const { ctx, cred } = await owned(req, 'identity:delete_application_credential');
    checkUnrestricted(ctx);
    await creds.delete(cred.id);
    return reply.code(204).send();
  });
}
