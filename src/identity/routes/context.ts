/**
 * What every Keystone route file shares: the service, who is calling, the admin check, the
 * base URLs links are built from, and the query-string helpers Keystone's filters need.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HitchError } from '../../errors.ts';
import type { AuthContext, IdentityService } from '../identity-service.ts';

export interface IdentityRoutes {
  readonly app: FastifyInstance;
  readonly identity: IdentityService;
  /** `http://host:port` (the catalog's base). */
  baseUrl(req: FastifyRequest): string;
  /** `http://host:port/identity`: where `/v3/…` links point. */
  identityUrl(req: FastifyRequest): string;
  /** The token's caller, or 401. */
  caller(req: FastifyRequest): Promise<AuthContext>;
  /** The caller when it holds the admin role, else 403 naming the policy `action`. */
  requireAdmin(req: FastifyRequest, action: string): Promise<AuthContext>;
}

type Query = Record<string, string | string[] | undefined>;

/** The last value of a query parameter (a repeated one counts once, as in Keystone). */
export function queryParam(req: FastifyRequest, name: string): string | undefined {
  const v = (req.query as Query)[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/**
 * Keystone's truth of a boolean filter: `0` and `false` (any case) are false, anything else
 * true — and a bare `?enabled` is true.
 */
export function queryBool(req: FastifyRequest, name: string): boolean | undefined {
  const v = queryParam(req, name);
  if (v === undefined) return undefined;
  return !['0', 'false'].includes(v.toLowerCase());
}

/** The request's own URL for a collection's `links.self`. */
export function selfLink(r: IdentityRoutes, req: FastifyRequest): string {
  const q = req.url.indexOf('?');
  const path = req.url.slice(0, q < 0 ? undefined : q).replace(/^\/identity/, '');
  return `${r.identityUrl(req)}${path}${q < 0 ? '' : req.url.slice(q)}`;
}

export function forbidden(action: string): HitchError {
  return new HitchError('HITCH_FORBIDDEN', { action }, { message: `You are not authorized to perform the requested action: ${action}.` });
}

export function keystoneNotFound(kind: string, id: string): HitchError {
  return new HitchError('HITCH_NOT_FOUND', { kind, id }, { message: `Could not find ${kind}: ${id}.` });
}

export function badRequest(message: string): HitchError {
  return new HitchError('HITCH_INVALID_ARGUMENT', { reason: message }, { message });
}
