/**
 * Per-request state of the block storage API: the caller (from the token), the negotiated
 * microversion, and the URLs links are built from.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HitchError } from '../errors.ts';
import type { AuthContext, Authenticator } from '../identity/identity-service.ts';
import { negotiateMicroversion, type ApiVersion } from '../http/microversion.ts';
import { callerOnce } from '../http/policy.ts';
import type { Caller } from './volume-service.ts';
import type { ViewContext } from './views.ts';

export const VOLUME_MIN_VERSION = '3.0';
export const VOLUME_MAX_VERSION = '3.71';

export interface RequestState extends ViewContext {
  readonly caller: Caller;
  readonly version: ApiVersion;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Authenticate, negotiate the microversion and check the URL's project against the token's,
 * in that order (keystonemiddleware runs before Cinder's own checks).
 */
export async function resolveRequest(req: FastifyRequest, reply: FastifyReply, auth: Authenticator, publicUrl: string | undefined): Promise<RequestState> {
  const ctx = await requestCaller(req, auth);
  const version = negotiateMicroversion(req.headers, { service: 'volume', min: VOLUME_MIN_VERSION, max: VOLUME_MAX_VERSION });
  reply.header('openstack-api-version', `volume ${version.toString()}`);
  reply.header('vary', 'OpenStack-API-Version');
  if (!ctx.projectId) {
    throw new HitchError('HITCH_FORBIDDEN', { action: 'volume' }, { message: 'Policy does not allow this request: a project-scoped token is required.' });
  }
  const urlProject = (req.params as { project_id?: string }).project_id;
  if (urlProject !== undefined && urlProject !== ctx.projectId) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'project' }, { message: 'Malformed request url' });
  }
  const base = `${publicUrl ?? `${req.protocol}://${req.host}`}/volume`;
  return {
    caller: { userId: ctx.userId, projectId: ctx.projectId, isAdmin: ctx.isAdmin },
    version,
    isAdmin: ctx.isAdmin,
    baseUrl: `${base}/v3/${ctx.projectId}`,
    bookmarkUrl: `${base}/${ctx.projectId}`,
  };
}

/** The request's caller, validated once however many times it is asked for (the policy hook asks first). */
export function requestCaller(req: FastifyRequest, auth: Authenticator): Promise<AuthContext> {
  return callerOnce(req, () => auth.authenticate(header(req, 'x-auth-token')));
}

/** Cinder answers 404 for a resource that needs a newer microversion than requested. */
export function requireVersion(state: RequestState, min: string): void {
  if (!state.version.atLeast(min)) {
    throw new HitchError('HITCH_NOT_FOUND', { kind: 'Resource', id: '' }, { message: 'The resource could not be found.' });
  }
}

export function requireAdmin(state: RequestState, action: string): void {
  if (!state.caller.isAdmin) {
    throw new HitchError('HITCH_FORBIDDEN', { action }, { message: `Policy doesn't allow ${action} to be performed.` });
  }
}
