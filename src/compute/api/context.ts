/**
 * What every compute route needs: the negotiated microversion (and the headers that say it),
 * the caller, Nova's policy answer for admin-only calls, and the public base URL for links.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HitchError } from '../../errors.ts';
import { negotiateMicroversion, type ApiVersion, type MicroversionRange } from '../../http/microversion.ts';
import { callerOnce } from '../../http/policy.ts';
import { isUuid } from '../../http/validate.ts';
import type { AuthContext, Authenticator } from '../../identity/identity-service.ts';

export const COMPUTE_VERSIONS: MicroversionRange = {
  service: 'compute',
  min: '2.1',
  max: '2.90',
  legacyHeader: 'x-openstack-nova-api-version',
};

export type Caller = AuthContext & { readonly projectId: string };

export interface ComputeApi {
  /** The request's microversion; sets the response headers that name it. */
  mv(req: FastifyRequest, reply: FastifyReply): ApiVersion;
  /** The caller, with a project-scoped token. */
  auth(req: FastifyRequest): Promise<Caller>;
  /** The caller, who must be an admin for `policy` (Nova's rule name, in the 403's text). */
  admin(req: FastifyRequest, policy: string): Promise<Caller>;
  /** `http://host:port/compute` */
  base(req: FastifyRequest): string;
  /** A path id that must be a UUID, else the 404 Nova gives for that kind. */
  uuidParam(kind: string, id: string): string;
  /** Whether a project exists (Nova asks Keystone before it stores a project id). */
  projectExists(id: string): Promise<boolean>;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The request's caller, validated once (the policy hook asks first, the route again). */
export function requestCaller(req: FastifyRequest, identity: Authenticator): Promise<AuthContext> {
  return callerOnce(req, () => identity.authenticate(header(req, 'x-auth-token')));
}

export function forbidden(policy: string): HitchError {
  return new HitchError('HITCH_FORBIDDEN', { action: policy }, { message: `Policy doesn't allow ${policy} to be performed.` });
}

export function computeApi(opts: { identity: Authenticator; publicUrl?: string; projectExists?: (id: string) => Promise<boolean> }): ComputeApi {
  const auth = async (req: FastifyRequest): Promise<Caller> => {
    const ctx = await requestCaller(req, opts.identity);
    if (!ctx.projectId) throw new HitchError('HITCH_FORBIDDEN', { action: 'compute' }, { message: 'A project-scoped token is required.' });
    return ctx as Caller;
  };
  return {
    mv(req, reply) {
      const v = negotiateMicroversion(req.headers, COMPUTE_VERSIONS);
      reply.header('openstack-api-version', `compute ${v.toString()}`);
      reply.header('x-openstack-nova-api-version', v.toString());
      reply.header('vary', 'OpenStack-API-Version, X-OpenStack-Nova-API-Version');
      return v;
    },
    auth,
    async admin(req, policy) {
      const ctx = await auth(req);
      if (!ctx.isAdmin) throw forbidden(policy);
      return ctx;
    },
    base: (req) => `${opts.publicUrl ?? `${req.protocol}://${req.host}`}/compute`,
    uuidParam(kind, id) {
      if (!isUuid(id)) throw new HitchError('HITCH_NOT_FOUND', { kind, id });
      return id;
    },
    projectExists: opts.projectExists ?? (async () => true),
  };
}
