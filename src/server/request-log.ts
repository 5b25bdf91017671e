/**
 * One log line per API request, when its response has been sent: method, route template (not
 * the URL: ids belong in fields, and a template can be counted), status, duration, the request
 * id answered in `x-openstack-request-id` (the id the operation and `hitch explain` carry), and
 * the caller's user and project ids. Never a header, a body, a token or a password.
 *
 * 5xx answers are errors (with the catalog code and message), everything else info; what the
 * server itself serves besides the APIs (health checks, metrics scrapes, the dashboard's files)
 * is debug, so a scraper does not drown an operator's log.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { requestIdOf } from '../http/openstack-http.ts';
import type { AuthContext } from '../identity/identity-service.ts';

export interface RequestLogOptions {
  readonly log: Logger;
  /** The caller a token belongs to, if this process validated it (no database read). */
  readonly callerOf: (token: string | undefined) => AuthContext | undefined;
}

const FACES = /^\/(healthz|metrics|index\.html|assets\/|$)/;

/** Install the request log on `app`; call it before the API plugins are registered. */
export function installRequestLog(app: FastifyInstance, o: RequestLogOptions): void {
  const errors = new WeakMap<object, { code: string; message: string }>();
  app.addHook('onError', async (req, _reply, e) => {
    const err = e as { code?: unknown; message?: unknown };
    errors.set(req, { code: typeof err.code === 'string' ? err.code : 'unknown', message: typeof err.message === 'string' ? err.message : String(e) });
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const face = FACES.test(route);
    if (!o.log.isLevelEnabled(face && status < 500 ? 'debug' : 'info')) return;
    const token = req.headers['x-auth-token'];
    const caller = o.callerOf(Array.isArray(token) ? token[0] : token);
    const ms = Math.round(reply.elapsedTime * 10) / 10;
    const fields = {
      request_id: face ? null : requestIdOf(req),
      method: req.method,
      route,
      status,
      duration_ms: ms,
      user_id: caller?.userId ?? null,
      project_id: caller?.projectId ?? null,
      remote: req.ip,
    };
    const text = `${req.method} ${route} ${status} in ${ms} ms`;
    if (status >= 500) {
      const err = errors.get(req);
      o.log.error({ ...fields, error_code: err?.code ?? null }, `${text}: ${err?.message ?? 'server error'}`);
    } else if (face) o.log.debug(fields, text);
    else o.log.info(fields, text);
  });
}
