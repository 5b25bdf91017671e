/**
 * `/v3/auth/*`: issue (password, token, application credential), validate, check and revoke
 * tokens; the projects a token's user may scope to.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HitchError } from '../../errors.ts';
import { FailureLimiter } from '../../http/rate-limit.ts';
import { validate, type Schema } from '../../http/validate.ts';
import type { AppCredAuthRequest, IssuedToken, PasswordAuthRequest, ScopeRequest } from '../identity-service.ts';
import { collectionLinks, projectView } from '../views.ts';
import { badRequest, type IdentityRoutes } from './context.ts';

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
            application_credential: {
              type: 'object',
              required: ['secret'],
              properties: { id: { type: 'string', maxLength: 64 }, name: { type: 'string', maxLength: 255 }, secret: { type: 'string', maxLength: 4096 }, user: nameRef },
            },
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
    identity: {
      methods: unknown;
      password?: { user: RefBody };
      token?: { id: string };
      application_credential?: { id?: string; name?: string; secret: string; user?: RefBody };
    };
    scope?: unknown;
  };
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

export function registerAuthRoutes(r: IdentityRoutes, opts: { maxAuthFailures?: number; now?: () => number }): void {
  const { app, identity } = r;

  const issueToken = async (req: FastifyRequest, reply: FastifyReply) => {
    validate(authSchema, req.body);
    const body = req.body as AuthBody;
    const methods = body.auth.identity.methods;
    if (!Array.isArray(methods) || methods.length === 0) throw badRequest("Invalid input for field 'identity/methods': must be a non-empty list");
    const scope = toScope(body.auth.scope);
    let issued: IssuedToken;
    if (methods.includes('password')) {
      const u = body.auth.identity.password?.user;
      if (!u || u.password === undefined) throw badRequest("Invalid input for field 'identity/password/user': 'password' is a required property");
      if (u.id === undefined && u.name === undefined) throw badRequest('Expecting to find id or name in user');
      const pr: PasswordAuthRequest = { user: { id: u.id, name: u.name, domainId: u.domain?.id, domainName: u.domain?.name }, password: u.password };
      issued = await identity.authenticatePassword(pr, scope, r.baseUrl(req));
    } else if (methods.includes('application_credential')) {
      const a = body.auth.identity.application_credential;
      if (!a) throw badRequest("Invalid input for field 'identity/application_credential': 'secret' is a required property");
      if (a.id === undefined && (a.name === undefined || a.user === undefined)) {
        throw badRequest('Could not find Application Credential: an id, or a name and a user, is required.');
      }
      const u = a.user;
      const ar: AppCredAuthRequest = {
        secret: a.secret,
        ...(a.id !== undefined ? { id: a.id } : {}),
        ...(a.name !== undefined ? { name: a.name } : {}),
        ...(u ? { user: { id: u.id, name: u.name, domainId: u.domain?.id, domainName: u.domain?.name } } : {}),
      };
      issued = await identity.authenticateAppCred(ar, scope, r.baseUrl(req));
    } else if (methods.includes('token')) {
      const t = body.auth.identity.token?.id;
      if (!t) throw badRequest("Invalid input for field 'identity/token': 'id' is a required property");
      issued = await identity.authenticateToken(t, scope, r.baseUrl(req));
    } else {
      throw new HitchError('HITCH_UNAUTHORIZED', {}, { message: 'Attempted to authenticate with an unsupported method.' });
    }
    return reply.code(201).header('x-subject-token', issued.token).send(issued.body);
  };

  // Guessing: per client address and user (resolved: by name or by id, one count), 10 failures
  // free, then a back-off up to a minute (the rule: src/http/rate-limit.ts).
  const failures = new FailureLimiter({ max: opts.maxAuthFailures ?? 10, ...(opts.now ? { now: opts.now } : {}) });
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const attemptKey = async (body: unknown): Promise<string> => {
    type Ref = { id?: unknown; name?: unknown; domain?: { id?: unknown; name?: unknown } };
    const ident = (body as { auth?: { identity?: { password?: { user?: Ref }; application_credential?: { id?: unknown; name?: unknown; user?: Ref } } } } | undefined)?.auth?.identity;
    const ref = (u: Ref | undefined) => ({ id: str(u?.id), name: str(u?.name), domainId: str(u?.domain?.id), domainName: str(u?.domain?.name) });
    // Only strings name a user; anything else in the body is a 400 from the validation later.
    const pw = ident?.password?.user;
    if (pw && typeof pw === 'object' && (str(pw.id) ?? str(pw.name)) !== undefined) return identity.attemptSubject(ref(pw));
    const ac = ident?.application_credential;
    if (ac && typeof ac === 'object') {
      if (str(ac.id) !== undefined) return `appcred:${str(ac.id)}`;
      if (ac.user && typeof ac.user === 'object' && (str(ac.user.id) ?? str(ac.user.name)) !== undefined) return `appcred:${await identity.attemptSubject(ref(ac.user))}/${str(ac.name) ?? ''}`;
    }
    return '';
  };
  app.post('/v3/auth/tokens', async (req, reply) => {
    const key = `${req.ip} ${await attemptKey(req.body)}`;
    failures.check(key);
    try {
      return await issueToken(req, reply);
    } catch (e) {
      if (e instanceof HitchError && e.status === 401) failures.fail(key);
      throw e;
    }
  });

  const subject = async (req: FastifyRequest) => {
    const ctx = await r.caller(req);
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
    return reply.header('x-subject-token', token).send(await identity.tokenBody(rec, ['password'], r.baseUrl(req)));
  });
  // HEAD /v3/auth/tokens (check) is Fastify's automatic HEAD of the GET above.
  app.delete('/v3/auth/tokens', async (req, reply) => {
    const { token } = await subject(req);
    await identity.revoke(token);
    return reply.code(204).send();
  });

  app.get('/v3/auth/projects', async (req) => {
    const ctx = await r.caller(req);
    const all = await identity.store.listProjects();
    const mine = [];
    for (const p of all) if ((await identity.store.rolesOf(ctx.userId, p.id)).length > 0) mine.push(p);
    return { projects: mine.map((p) => projectView(p, r.identityUrl(req))), links: collectionLinks(`${r.identityUrl(req)}/v3/auth/projects`) };
  });
  app.get('/v3/auth/domains', async (req) => {
    await r.caller(req);
    // Roles on a domain are not part of this subset: no domain is scopable.
    return { domains: [] as unknown[], links: collectionLinks(`${r.identityUrl(req)}/v3/auth/domains`) };
  });
}
