/**
 * The Keystone v3 subset as a Fastify plugin. Register it at `/identity`:
 *
 *   app.register(identityPlugin, { prefix: '/identity', identity })
 *
 * Tokens travel only in headers (`X-Subject-Token` out, `X-Auth-Token` in) and appear in logs
 * only as `{SHA1}…`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { installOpenStackHttp } from '../http/openstack-http.ts';
import { callerOnce, installPolicy } from '../http/policy.ts';
import type { RequestRateLimiter } from '../http/request-rate-limit.ts';
import { IDENTITY_POLICY } from './policy.ts';
import type { AuthContext, IdentityService } from './identity-service.ts';
import { registerApplicationCredentialRoutes } from './routes/application-credentials.ts';
import { registerAuthRoutes } from './routes/auth.ts';
import { forbidden, type IdentityRoutes } from './routes/context.ts';
import { registerDomainRoutes } from './routes/domains.ts';
import { registerProjectRoutes } from './routes/projects.ts';
import { registerRoleAssignmentRoutes } from './routes/role-assignments.ts';
import { registerRoleRoutes } from './routes/roles.ts';
import { registerUserRoutes } from './routes/users.ts';

export interface IdentityPluginOptions {
  readonly identity: IdentityService;
  /** Base URL the catalog advertises (`http://host:port`); default: from the request's Host. */
  readonly publicUrl?: string;
  /** Failed attempts per client address and user before the back-off starts (default 10; src/http/rate-limit.ts). */
  readonly maxAuthFailures?: number;
  /** The failure limiter's clock (tests). */
  readonly now?: () => number;
  /** Per-project and per-user request rates (config projectRateLimit…); none: unlimited. */
  readonly rateLimiter?: RequestRateLimiter;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Keystone v3 subset; each family of routes is in its own file under `routes/`. */
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

  const caller = (req: FastifyRequest): Promise<AuthContext> => callerOnce(req, () => identity.authenticate(header(req, 'x-auth-token')));
  installPolicy(app, {
    table: IDENTITY_POLICY,
    stripPrefixes: [],
    caller,
    ...(opts.rateLimiter ? { rateLimiter: opts.rateLimiter } : {}),
    target: (req) => {
      const p = req.params as Record<string, string | undefined>;
      const url = req.routeOptions.url ?? '';
      return {
        user_id: p['uid'] ?? (/\/users\/:id(\/|$)/.test(url) ? p['id'] : undefined),
        project_id: p['pid'] ?? (/\/projects\/:id(\/|$)/.test(url) ? p['id'] : undefined),
      };
    },
    forbidden,
  });
  const routes: IdentityRoutes = {
    app,
    identity,
    baseUrl,
    identityUrl,
    caller,
    async requireAdmin(req, action) {
      const ctx = await caller(req);
      if (!ctx.isAdmin) throw forbidden(action);
      return ctx;
    },
  };
  registerAuthRoutes(routes, { maxAuthFailures: opts.maxAuthFailures, ...(opts.now ? { now: opts.now } : {}) });
  registerUserRoutes(routes);
  registerProjectRoutes(routes);
  registerRoleRoutes(routes);
  registerDomainRoutes(routes);
  registerRoleAssignmentRoutes(routes);
  registerApplicationCredentialRoutes(routes);
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
