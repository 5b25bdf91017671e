/**
 * The HTTP conventions every Hitch OpenStack API shares, installed into one Fastify plugin
 * context (encapsulated: each service may choose its own style):
 *
 * - a request id `req-<uuid>` on every response (`x-openstack-request-id`, and
 *   `x-compute-request-id` for Nova);
 * - JSON bodies read with a size limit, any content type parsed as JSON, parse errors → 400;
 * - every error → the service's error body and status; nothing a client sends becomes a 500.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HitchError, toHitchError } from '../errors.ts';

/** `fault`: `{"badRequest": {"message", "code"}}` (Cinder, Nova); `keystone`: `{"error": {"code", "title", "message"}}`. */
export type ErrorStyle = 'fault' | 'keystone';

export interface OpenStackHttpOptions {
  readonly requestIdHeaders: readonly string[];
  readonly errorStyle: ErrorStyle;
  /** Largest request body accepted; Cinder's default `osapi_max_request_body_size` is 114688. */
  readonly bodyLimit?: number;
  /** Called for 5xx errors (logging). */
  readonly onServerError?: (err: HitchError, req: FastifyRequest) => void;
}

export const DEFAULT_BODY_LIMIT = 114_688;

const requestIds = new WeakMap<FastifyRequest, string>();

/** The request id answered in this request's headers. */
export function requestIdOf(req: FastifyRequest): string {
  return requestIds.get(req) ?? 'req-unknown';
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};

/** The body for `err` in `style`. */
export function errorBody(err: HitchError, style: ErrorStyle): Record<string, unknown> {
  if (style === 'keystone') {
    return { error: { code: err.status, title: TITLES[err.status] ?? 'Error', message: err.message } };
  }
  return err.toOpenStackBody();
}

/** Map anything thrown inside Fastify to a HitchError (client errors stay 4xx). */
export function fromFastifyError(e: unknown): HitchError {
  if (e instanceof HitchError) return e;
  const fe = e as Partial<FastifyError> | null;
  const code = fe?.code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new HitchError('HITCH_BODY_TOO_LARGE', { limit: DEFAULT_BODY_LIMIT }, { message: 'Request is too large.' });
  }
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new HitchError('HITCH_UNSUPPORTED_MEDIA_TYPE');
  if (
    code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
    code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' ||
    e instanceof SyntaxError
  ) {
    return new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'body' }, { message: 'Malformed request body' });
  }
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new HitchError('HITCH_INVALID_ARGUMENT', { reason: fe.message ?? 'bad request' }, {
      message: fe.message ?? 'Bad request',
    });
  }
  return toHitchError(e);
}

export function sendError(reply: FastifyReply, err: HitchError, style: ErrorStyle): FastifyReply {
  // A 401 in OpenStack always comes from Keystone (or keystonemiddleware in front of a
  // service), so it always has Keystone's body and the WWW-Authenticate challenge.
  if (err.status === 401) {
    reply.header('www-authenticate', 'Keystone uri="/identity"');
    style = 'keystone';
  }
  // The catalog code, for clients that want it exactly (the hitch CLI prints it).
  reply.header('x-hitch-error-code', err.code);
  if ((err.status === 429 || err.status === 413 || err.status === 503) && err.details['retryAfter'] !== undefined) reply.header('retry-after', String(err.details['retryAfter']));
  return reply.code(err.status).type('application/json').send(errorBody(err, style));
}

/** `application/json`, `application/vnd.openstack…+json`, `application/json-patch+json`, with any parameters. */
function isJsonType(type: string): boolean {
  const t = type.split(';')[0]!.trim().toLowerCase();
  return t === '' || t === 'application/json' || /^application\/[\w.+-]*json$/.test(t) || /^application\/[\w.-]+\+json$/.test(t);
}

/** Install the shared conventions into `app` (call inside a plugin for encapsulation). */
export function installOpenStackHttp(app: FastifyInstance, opts: OpenStackHttpOptions): void {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  app.addHook('onRequest', async (req, reply) => {
    const id = `req-${randomUUID()}`;
    requestIds.set(req, id);
    for (const h of opts.requestIdHeaders) reply.header(h, id);
    // PostgreSQL rejects NUL in text; refuse it at the edge rather than fail in a query.
    if (/%00/.test(req.url)) {
      throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'url' }, { message: 'Malformed request url' });
    }
  });
  // Every body is JSON to OpenStack: a body without a content type is read as JSON (clients
  // omit it), one that says JSON in any of its spellings too; text, forms and XML get 415, as
  // OpenStack's WSGI layer answers, instead of being read as JSON by accident.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (req, body, done) => {
    const type = req.headers['content-type'];
    if (type !== undefined && !isJsonType(type)) {
      done(new HitchError('HITCH_UNSUPPORTED_MEDIA_TYPE', {}, { message: `Unsupported Content-Type ${type.split(';')[0]!.trim().slice(0, 100)}: send the body as application/json` }), undefined);
      return;
    }
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    // A NUL character, raw or escaped, can never be stored (PostgreSQL text refuses it).
    if (text.includes('\\u0000') || text.includes('\u0000')) {
      done(new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'body' }, { message: 'Malformed request body' }), undefined);
      return;
    }
    try {
      done(null, JSON.parse(text) as unknown);
    } catch {
      done(new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'body' }, { message: 'Malformed request body' }), undefined);
    }
  });
  app.setErrorHandler((e, req, reply) => {
    const err = fromFastifyError(e);
    if (err.status >= 500) opts.onServerError?.(err, req);
    return sendError(reply, err, opts.errorStyle);
  });
  app.setNotFoundHandler((req, reply) => {
    const err = new HitchError('HITCH_NOT_FOUND', { kind: 'Resource', id: req.url }, {
      message: 'The resource could not be found.',
    });
    return sendError(reply, err, opts.errorStyle);
  });
}
