/**
 * The Keystone v3 subset as a Fastify plugin. Register it at `/identity`:
 *
 *   app.register(identityPlugin, { prefix: '/identity', identity })
 *
 * Tokens travel only in headers (`X-Subject-Token` out, `X-Auth-Token` in) and appear in logs
 * only as `{SHA1}…`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HitchError } from '../errors.ts';
import { installOpenStackHttp } from '../http/openstack-http.ts';
import { FailureLimiter } from '../http/rate-limit.ts';
import { validate, type Schema } from '../http/validate.ts';
import { DEFAULT_DOMAIN } from './identity-store.ts';
import type { AuthContext, IdentityService, PasswordAuthRequest, ScopeRequest } from './identity-service.ts';

export interface IdentityPluginOptions {
  readonly identity: IdentityService;
  /** Base URL the catalog advertises (`http://host:port`); default: from the request's Host. */
  readonly publicUrl?: string;
  /** Failed password attempts per client and user name per minute before 429 (default 10). */
  readonly maxAuthFailures?: number;
}

const nameRef: Schema = {
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 255 },
    name: { type: 'string', maxLength: 255 },
    domain: { type: 'object', properties: { id: { type: 'string', maxLength: 255 }, name: { type: 'string', maxLength: 255 } } },
    password: { type: 'string', maxLength: 4096 },
  },
};

const authSchema: Schema = {
  type: 'object',
  required: ['auth'],
  properties: {
    auth: {
      type: 'object',
      required: ['identity'],
      properties: {
        identity: {
          type: 'object',
          required: ['methods'],
          properties: {
            methods: { type: 'any' },
            password: { type: 'object', required: ['user'], properties: { user: nameRef } },
            token: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 8192 } } },
          },
        },
        scope: { type: 'any' },
      },
    },
  },
};

interface RefBody {
  id?: string;
  name?: string;
  domain?: { id?: string; name?: string };
  password?: string;
}

interface AuthBody {
  auth: {
    identity: { methods: unknown; password?: { user: RefBody }; token?: { id: string } };
    scope?: unknown;
  };
}

function badRequest(message: string): HitchError {
  return new HitchError('HITCH_INVALID_ARGUMENT', { reason: message }, { message });
}

function toScope(scope: unknown): ScopeRequest | undefined {
  if (scope === undefined || scope === null || scope === 'unscoped') return undefined;
  if (typeof scope !== 'object') throw badRequest('Invalid scope');
  const p = (scope as { project?: RefBody }).project;
  if (!p) {
    // Domain and system scopes are not part of this subset.
    throw new HitchError('HITCH_UNAUTHORIZED');
  }
  if (p.id === undefined && p.name === undefined) throw badRequest('Expecting to find id or name in project');
  return { project: { id: p.id, name: p.name, domainId: p.domain?.id, domainName: p.domain?.name } };
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function userView(u: { id: string; name: string; domain_id: string; enabled: boolean; default_project_id: string | null }, base: string) {
  return {
    id: u.id,
    name: u.name,
    domain_id: u.domain_id,
    enabled: u.enabled,
    default_project_id: u.default_project_id,
    password_expires_at: null,
    options: {},
    links: { self: `${base}/v3/users/${u.id}` },
  };
}

function projectView(p: { id: string; name: string; domain_id: string; description: string; enabled: boolean }, base: string) {
  return {
    id: p.id,
    name: p.name,
    domain_id: p.domain_id,
    description: p.description,
    enabled: p.enabled,
    is_domain: false,
    parent_id: p.domain_id,
    tags: [],
    options: {},
    links: { self: `${base}/v3/projects/${p.id}` },
  };
}

/** Keystone v3 subset. */
export async function identityPlugin(app: FastifyInstance, opts: IdentityPluginOptions): Promise<void> {
  const { identity } = opts;
  installOpenStackHttp(app, { requestIdHeaders: ['x-openstack-request-id'], errorStyle: 'keystone' });

  const baseUrl = (req: FastifyRequest): string => opts.publicUrl ?? `${req.protocol}://${req.host}`;
  const identityUrl = (req: FastifyRequest): string => `${baseUrl(req)}/identity`;

  const versionV3 = (req: FastifyRequest) => ({
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${identityUrl(req)}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  });

  app.get('/', async (req, reply) => reply.code(300).send({ versions: { values: [versionV3(req)] } }));
  app.get('/v3', async (req) => ({ version: versionV3(req) }));
  app.get('/v3/', async (req) => ({ version: versionV3(req) }));

  const caller = async (req: FastifyRequest): Promise<AuthContext> => identity.authenticate(header(req, 'x-auth-token'));
  const requireAdmin = async (req: FastifyRequest, action: string): Promise<AuthContext> => {
    const ctx = await caller(req);
    if (!ctx.isAdmin) throw new HitchError('HITCH_FORBIDDEN', { action }, { message: `You are not authorized to perform the requested action: ${action}.` });
    return ctx;
  };

  // Password guessing: 10 failed attempts per client and user name per minute, then 429.
  const failures = new FailureLimiter({ max: opts.maxAuthFailures ?? 10, windowMs: 60_000 });
  app.post('/v3/auth/tokens', async (req, reply) => {
    const who = (req.body as { auth?: { identity?: { password?: { user?: { name?: unknown; id?: unknown } } } } } | undefined)?.auth?.identity?.password?.user;
    // Only a string names a user; anything else in the body is a 400 from the validation below.
    const name = typeof who?.name === 'string' ? who.name : typeof who?.id === 'string' ? who.id : '';
    const key = `${req.ip} ${name}`;
    failures.check(key);
    try {
      return await issueToken(req, reply);
    } catch (e) {
      if (e instanceof HitchError && e.status === 401) failures.fail(key);
      throw e;
    }
  });
  const issueToken = async (req: FastifyRequest, reply: FastifyReply) => {
    validate(authSchema, req.body);
    const body = req.body as AuthBody;
    const methods = body.auth.identity.methods;
    if (!Array.isArray(methods) || methods.length === 0) throw badRequest("Invalid input for field 'identity/methods': must be a non-empty list");
    const scope = toScope(body.auth.scope);
    let issued;
    if (methods.includes('password')) {
      const u = body.auth.identity.password?.user;
      if (!u || u.password === undefined) throw badRequest("Invalid input for field 'identity/password/user': 'password' is a required property");
      if (u.id === undefined && u.name === undefined) throw badRequest('Expecting to find id or name in user');
      const pr: PasswordAuthRequest = { user: { id: u.id, name: u.name, domainId: u.domain?.id, domainName: u.domain?.name }, password: u.password };
      issued = await identity.authenticatePassword(pr, scope, baseUrl(req));
    } else if (methods.includes('token')) {
      const t = body.auth.identity.token?.id;
      if (!t) throw badRequest("Invalid input for field 'identity/token': 'id' is a required property");
      issued = await identity.authenticateToken(t, scope, baseUrl(req));
    } else {
      throw new HitchError('HITCH_UNAUTHORIZED', {}, { message: 'Attempted to authenticate with an unsupported method.' });
    }
    return reply.code(201).header('x-subject-token', issued.token).send(issued.body);
  };

  const subject = async (req: FastifyRequest) => {
    const ctx = await caller(req);
    const token = header(req, 'x-subject-token');
    const rec = token ? await identity.validate(token) : undefined;
    if (!token || !rec) {
      throw new HitchError('HITCH_NOT_FOUND', { kind: 'Token', id: '' }, { message: 'Could not find token.' });
    }
    if (!ctx.isAdmin && rec.userId !== ctx.userId) throw new HitchError('HITCH_FORBIDDEN', { action: 'identity:validate_token' });
    return { token, rec };
  };

  app.get('/v3/auth/tokens', async (req, reply) => {
    const { token, rec } = await subject(req);
    return reply.header('x-subject-token', token).send(await identity.tokenBody(rec, ['password'], baseUrl(req)));
  });
  // HEAD /v3/auth/tokens (check) is Fastify's automatic HEAD of the GET above.
  app.delete('/v3/auth/tokens', async (req, reply) => {
    const { token } = await subject(req);
    await identity.revoke(token);
    return reply.code(204).send();
  });

  app.get('/v3/auth/projects', async (req) => {
    const ctx = await caller(req);
    const all = await identity.store.listProjects();
    const mine = [];
    for (const p of all) if ((await identity.store.rolesOf(ctx.userId, p.id)).length > 0) mine.push(p);
    return { projects: mine.map((p) => projectView(p, identityUrl(req))), links: { self: `${identityUrl(req)}/v3/auth/projects`, previous: null, next: null } };
  });

  app.get('/v3/users', async (req) => {
    await requireAdmin(req, 'identity:list_users');
    const users = await identity.store.listUsers();
    return { users: users.map((u) => userView(u, identityUrl(req))), links: { self: `${identityUrl(req)}/v3/users`, previous: null, next: null } };
  });
  app.get<{ Params: { id: string } }>('/v3/users/:id', async (req) => {
    const ctx = await caller(req);
    if (!ctx.isAdmin && ctx.userId !== req.params.id) throw new HitchError('HITCH_FORBIDDEN', { action: 'identity:get_user' });
    const u = await identity.store.getUser(req.params.id);
    if (!u) throw new HitchError('HITCH_NOT_FOUND', { kind: 'user', id: req.params.id }, { message: `Could not find user: ${req.params.id}.` });
    return { user: userView(u, identityUrl(req)) };
  });
  app.post('/v3/users', async (req, reply) => {
    await requireAdmin(req, 'identity:create_user');
    validate({ type: 'object', required: ['user'], properties: { user: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 255 }, password: { type: 'string', maxLength: 4096 }, default_project_id: { type: 'string', nullable: true } } } } }, req.body);
    const b = (req.body as { user: { name: string; password?: string; default_project_id?: string | null } }).user;
    if (await identity.store.findUser({ name: b.name, domainId: DEFAULT_DOMAIN.id })) {
      throw new HitchError('HITCH_CONFLICT', { reason: '' }, { message: `Conflict occurred attempting to store user - Duplicate entry found with name ${b.name} at domain ID default.` });
    }
    const u = await identity.store.createUser(b.name, b.password ?? '', { defaultProjectId: b.default_project_id ?? undefined });
    return reply.code(201).send({ user: userView(u, identityUrl(req)) });
  });

  app.get('/v3/projects', async (req) => {
    await requireAdmin(req, 'identity:list_projects');
    const ps = await identity.store.listProjects();
    return { projects: ps.map((p) => projectView(p, identityUrl(req))), links: { self: `${identityUrl(req)}/v3/projects`, previous: null, next: null } };
  });
  app.get<{ Params: { id: string } }>('/v3/projects/:id', async (req) => {
    const ctx = await caller(req);
    if (!ctx.isAdmin && ctx.projectId !== req.params.id) throw new HitchError('HITCH_FORBIDDEN', { action: 'identity:get_project' });
    const p = await identity.store.findProject({ id: req.params.id });
    if (!p) throw new HitchError('HITCH_NOT_FOUND', { kind: 'project', id: req.params.id }, { message: `Could not find project: ${req.params.id}.` });
    return { project: projectView(p, identityUrl(req)) };
  });
  app.post('/v3/projects', async (req, reply) => {
    await requireAdmin(req, 'identity:create_project');
    validate({ type: 'object', required: ['project'], properties: { project: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, description: { type: 'string', maxLength: 4096 } } } } }, req.body);
    const b = (req.body as { project: { name: string; description?: string } }).project;
    if (await identity.store.findProject({ name: b.name })) {
      throw new HitchError('HITCH_CONFLICT', { reason: '' }, { message: `Conflict occurred attempting to store project - Duplicate entry found with name ${b.name} at domain ID default.` });
    }
    const p = await identity.store.createProject(b.name, { description: b.description });
    return reply.code(201).send({ project: projectView(p, identityUrl(req)) });
  });

  app.get('/v3/roles', async (req) => {
    await caller(req);
    const roles = await identity.store.listRoles();
    return { roles: roles.map((r) => ({ ...r, domain_id: null, description: null, options: {}, links: { self: `${identityUrl(req)}/v3/roles/${r.id}` } })), links: { self: `${identityUrl(req)}/v3/roles`, previous: null, next: null } };
  });
  app.put<{ Params: { pid: string; uid: string; rid: string } }>('/v3/projects/:pid/users/:uid/roles/:rid', async (req, reply) => {
    await requireAdmin(req, 'identity:create_grant');
    const role = (await identity.store.listRoles()).find((r) => r.id === req.params.rid);
    const p = await identity.store.findProject({ id: req.params.pid });
    const u = await identity.store.getUser(req.params.uid);
    if (!role || !p || !u) throw new HitchError('HITCH_NOT_FOUND', { kind: 'grant', id: '' }, { message: 'Could not find role, project or user.' });
    await identity.store.assignRole(u.id, p.id, role.name);
    return reply.code(204).send();
  });
}

export interface ImageDiscoveryOptions {
  readonly publicUrl?: string;
}

/**
 * Image service version discovery only (register at `/image`). OpenStackClient builds its
 * image client while creating volumes and needs the endpoint to answer discovery.
 */
export async function imageDiscoveryPlugin(app: FastifyInstance, opts: ImageDiscoveryOptions): Promise<void> {
  installOpenStackHttp(app, { requestIdHeaders: ['x-openstack-request-id'], errorStyle: 'fault' });
  const versions = (req: FastifyRequest) => {
    const base = `${opts.publicUrl ?? `${req.protocol}://${req.host}`}/image`;
    return {
      versions: [
        { id: 'v2.16', status: 'CURRENT', links: [{ rel: 'self', href: `${base}/v2/` }] },
        { id: 'v2.0', status: 'SUPPORTED', links: [{ rel: 'self', href: `${base}/v2/` }] },
      ],
    };
  };
  app.get('/', async (req, reply) => reply.code(300).send(versions(req)));
  app.get('/versions', async (req) => versions(req));
  app.get('/v2', async (req) => versions(req));
  app.get('/v2/', async (req) => versions(req));
}
