/**
 * The Cinder v3 subset as a Fastify plugin. Register it at `/volume`:
 *
 *   app.register(volumePlugin, { prefix: '/volume', service, auth })
 *
 * Every route exists twice, as Cinder's do: `/v3/{project_id}/…` and the project-less `/v3/…`
 * (the project then comes from the token).
 */
import type { RequestRateLimiter } from '../http/request-rate-limit.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HitchError } from '../errors.ts';
import type { Authenticator } from '../identity/identity-service.ts';
import { installOpenStackHttp } from '../http/openstack-http.ts';
import { installPolicy } from '../http/policy.ts';
import { requestCaller, resolveRequest, VOLUME_MAX_VERSION, VOLUME_MIN_VERSION } from './api-context.ts';
import { VOLUME_POLICY } from './policy.ts';
import { registerAttachmentRoutes } from './attachment-routes.ts';
import type { Handler, RouteFn } from './routes/common.ts';
import { registerDiscoveryRoutes } from './routes/discovery.ts';
import { registerQosRoutes } from './routes/qos-specs.ts';
import { registerQuotaRoutes } from './routes/quotas.ts';
import { registerSnapshotRoutes } from './routes/snapshots.ts';
import { registerTransferRoutes } from './routes/transfers.ts';
import { registerTypeRoutes } from './routes/types.ts';
import { registerVolumeActionRoutes } from './routes/volume-actions.ts';
import type { VolumeService } from './volume-service.ts';
import { registerVolumeRoutes } from './volume-routes.ts';

export interface VolumePluginOptions {
  readonly service: VolumeService;
  readonly auth: Authenticator;
  /** Base URL for links (`http://host:port`); default: from the request's Host. */
  readonly publicUrl?: string;
  readonly bodyLimit?: number;
  readonly onServerError?: (err: Error, req: FastifyRequest) => void;
  /** Per-project and per-user request rates (config projectRateLimit…); none: unlimited. */
  readonly rateLimiter?: RequestRateLimiter;
}

export async function volumePlugin(app: FastifyInstance, opts: VolumePluginOptions): Promise<void> {
  installOpenStackHttp(app, {
    requestIdHeaders: ['x-openstack-request-id'],
    errorStyle: 'fault',
    bodyLimit: opts.bodyLimit,
    onServerError: opts.onServerError,
  });

  installPolicy(app, {
    table: VOLUME_POLICY,
    stripPrefixes: ['/v3/:project_id', '/v3'],
    caller: (req) => requestCaller(req, opts.auth),
    ...(opts.rateLimiter ? { rateLimiter: opts.rateLimiter } : {}),
    target: (req, creds) => {
      const p = req.params as { project?: string; project_id?: string };
      return { project_id: p.project ?? p.project_id ?? creds.projectId };
    },
    forbidden: (name) => new HitchError('HITCH_FORBIDDEN', { action: name }, { message: `Policy doesn't allow ${name} to be performed.` }),
    actionOf: (body) => (typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 1 ? Object.keys(body)[0] : undefined),
  });

  const v3 = (req: FastifyRequest) => {
    const base = `${opts.publicUrl ?? `${req.protocol}://${req.host}`}/volume`;
    return {
      id: 'v3.0',
      status: 'CURRENT',
      version: VOLUME_MAX_VERSION,
      min_version: VOLUME_MIN_VERSION,
      updated: '2023-08-31T00:00:00Z',
      links: [
        { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' },
        { rel: 'self', href: `${base}/v3/` },
      ],
      'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
    };
  };
  app.get('/', async (req, reply) => reply.code(300).send({ versions: [v3(req)] }));
  app.get('/v3', async (req) => ({ versions: [v3(req)] }));
  app.get('/v3/', async (req) => ({ versions: [v3(req)] }));

  const route: RouteFn = (method, path, handler: Handler) => {
    const h = async (req: FastifyRequest, reply: FastifyReply) => {
      const state = await resolveRequest(req, reply, opts.auth, opts.publicUrl);
      return handler(req, reply, state);
    };
    app.route({ method, url: `/v3/:project_id${path}`, handler: h });
    app.route({ method, url: `/v3${path}`, handler: h });
  };
  // One file per family of routes (a policy layer can wrap each registrar).
  registerVolumeRoutes(route, opts.service);
  registerVolumeActionRoutes(route, opts.service);
  registerAttachmentRoutes(route, opts.service);
  registerSnapshotRoutes(route, opts.service);
  registerTypeRoutes(route, opts.service);
  registerQosRoutes(route, opts.service);
  registerQuotaRoutes(route, opts.service);
  registerTransferRoutes(route, opts.service);
  registerDiscoveryRoutes(route, opts.service);
}
