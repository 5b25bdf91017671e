/**
 * `/v3/users`: list with Keystone's filters, show, create in a domain, update, delete; a user's
 * projects; and the password change a user makes for themselves (no token: the original
 * password is the proof), which ends every token the user holds.
 */
import { HitchError } from '../../errors.ts';
import { validate, type Schema } from '../../http/validate.ts';
import { DEFAULT_DOMAIN } from '../identity-store.ts';
import { collectionLinks, projectView, userView } from '../views.ts';
import { forbidden, keystoneNotFound, queryBool, queryParam, selfLink, type IdentityRoutes } from './context.ts';

const nameField: Schema = { type: 'string', minLength: 1, maxLength: 255, pattern: /\S/ };
const userFields: Record<string, Schema> = {
  default_project_id: { type: 'string', maxLength: 64, nullable: true },
  description: { type: 'string', nullable: true, maxLength: 4096 },
  domain_id: { type: 'string', minLength: 1, maxLength: 64 },
  enabled: { type: 'boolean' },
  name: nameField,
  password: { type: 'string', maxLength: 4096, nullable: true },
  email: { type: 'string', maxLength: 255, nullable: true },
};
const createSchema: Schema = { type: 'object', required: ['user'], additionalProperties: false, properties: { user: { type: 'object', required: ['name'], properties: userFields } } };
const updateSchema: Schema = { type: 'object', required: ['user'], additionalProperties: false, properties: { user: { type: 'object', properties: userFields } } };
const passwordSchema: Schema = {
  type: 'object',
  required: ['user'],
  properties: {
    user: { type: 'object', required: ['original_password', 'password'], additionalProperties: false, properties: { original_password: { type: 'string', maxLength: 4096 }, password: { type: 'string', maxLength: 4096 } } },
  },
};

/** Attributes Keystone keeps as given beside the ones it knows (description, email, …). */
const KNOWN = new Set(['id', 'name', 'domain_id', 'password', 'enabled', 'default_project_id', 'links', 'options', 'federated', 'password_expires_at']);

function extraOf(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([k]) => !KNOWN.has(k)));
}

function duplicate(name: string): HitchError {
  return new HitchError('HITCH_CONFLICT', { reason: '' }, { message: `Conflict occurred attempting to store user - Duplicate entry found with name ${name} at domain ID ${DEFAULT_DOMAIN.id}.` });
}

export function registerUserRoutes(r: IdentityRoutes): void {
  const { app, identity } = r;
  const store = identity.store;

  app.get('/v3/users', async (req) => {
    await r.requireAdmin(req, 'identity:list_users');
    const users = await store.listUsers({ name: queryParam(req, 'name'), domainId: queryParam(req, 'domain_id'), enabled: queryBool(req, 'enabled') });
    return { users: users.map((u) => userView(u, r.identityUrl(req))), links: collectionLinks(selfLink(r, req)) };
  });

  app.get<{ Params: { id: string } }>('/v3/users/:id', async (req) => {
    const ctx = await r.caller(req);
    if (!ctx.isAdmin && ctx.userId !== req.params.id) throw forbidden('identity:get_user');
    const u = await store.getUser(req.params.id);
    if (!u) throw keystoneNotFound('user', req.params.id);
    return { user: userView(u, r.identityUrl(req)) };
  });

  app.post('/v3/users', async (req, reply) => {
    await r.requireAdmin(req, 'identity:create_user');
    validate(createSchema, req.body);
    const b = (req.body as { user: Record<string, unknown> & { name: string; password?: string | null; domain_id?: string; enabled?: boolean; default_project_id?: string | null } }).user;
    const domainId = b.domain_id ?? DEFAULT_DOMAIN.id;
    if (domainId !== DEFAULT_DOMAIN.id) throw keystoneNotFound('domain', domainId);
    if (await store.findUser({ name: b.name, domainId })) throw duplicate(b.name);
    const u = await store.createUser(b.name, b.password ?? null, {
      enabled: b.enabled,
      extra: extraOf(b),
      ...(b.default_project_id ? { defaultProjectId: b.default_project_id } : {}),
    });
    return reply.code(201).send({ user: userView(u, r.identityUrl(req)) });
  });

  app.patch<{ Params: { id: string } }>('/v3/users/:id', async (req) => {
    await r.requireAdmin(req, 'identity:update_user');
    validate(updateSchema, req.body);
    const b = (req.body as { user: Record<string, unknown> & { name?: string; password?: string | null; domain_id?: string; enabled?: boolean; default_project_id?: string | null; id?: unknown } }).user;
    const u = await store.getUser(req.params.id);
    if (!u) throw keystoneNotFound('user', req.params.id);
    if (b.id !== undefined && b.id !== u.id) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'id' }, { message: 'Cannot change ID' });
    if (b.domain_id !== undefined && b.domain_id !== u.domain_id) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'domain_id' }, { message: 'Cannot change Domain ID' });
    if (b.name !== undefined && b.name !== u.name && (await store.findUser({ name: b.name, domainId: u.domain_id }))) throw duplicate(b.name);
    await store.updateUser(u.id, {
      name: b.name,
      // null removes the password, as Keystone's PATCH does (the user then cannot log in with one).
      password: b.password,
      enabled: b.enabled,
      defaultProjectId: b.default_project_id,
      extra: { ...u.extra, ...extraOf(b) },
    });
    const after = await store.getUser(u.id);
    if (!after) throw keystoneNotFound('user', u.id);
    return { user: userView(after, r.identityUrl(req)) };
  });

  app.delete<{ Params: { id: string } }>('/v3/users/:id', async (req, reply) => {
    await r.requireAdmin(req, 'identity:delete_user');
    if (!(await store.deleteUser(req.params.id))) throw keystoneNotFound('user', req.params.id);
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string } }>('/v3/users/:id/password', async (req, reply) => {
    validate(passwordSchema, req.body);
    const b = (req.body as { user: { original_password: string; password: string } }).user;
    await identity.changePassword(req.params.id, b.original_password, b.password);
    return reply.code(204).send();
  });
  app.get('/v3/users/:id/password', async () => {
    throw new HitchError('HITCH_METHOD_NOT_ALLOWED', { method: 'GET', allowed: 'POST' });
  });

  app.get<{ Params: { id: string } }>('/v3/users/:id/projects', async (req) => {
    const ctx = await r.caller(req);
    if (!ctx.isAdmin && ctx.userId !== req.params.id) throw forbidden('identity:list_user_projects');
    if (!(await store.getUser(req.params.id))) throw keystoneNotFound('user', req.params.id);
    const mine = new Set((await store.listAssignments({ userId: req.params.id })).map((a) => a.projectId));
    const projects = (await store.listProjects({ name: queryParam(req, 'name'), domainId: queryParam(req, 'domain_id'), enabled: queryBool(req, 'enabled') })).filter((p) => mine.has(p.id));
    return { projects: projects.map((p) => projectView(p, r.identityUrl(req))), links: collectionLinks(selfLink(r, req)) };
  });
}
