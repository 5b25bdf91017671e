/**
 * Turn an OpenStack error response back into a catalog code, so the CLI can print one line
 * `HITCH_NOT_FOUND: Volume … could not be found.` whatever the server's body style
 * (`{"itemNotFound": {"message", "code"}}` or Keystone's `{"error": {…}}`).
 *
 * A Hitch server says the code in `x-hitch-error-code`. Another OpenStack cloud does not: its
 * message is matched against the catalog's messages, and failing that the HTTP status decides.
 */
import { ERROR_CATALOG, HitchError, type ErrorCode } from '../errors.ts';

const TEMPLATES: [ErrorCode, RegExp][] = (Object.entries(ERROR_CATALOG) as [ErrorCode, { message: string }][])
  .filter(([, e]) => !/^\{\w+\}$/.test(e.message))
  .map(([code, e]) => {
    const parts = e.message.split(/\{\w+\}/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    // The message, then perhaps the next step.
    return [code, new RegExp(`^${parts.join('[\\s\\S]*?')}(\\s|$)`)];
  });

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'HITCH_INVALID_ARGUMENT',
  401: 'HITCH_UNAUTHORIZED',
  403: 'HITCH_FORBIDDEN',
  404: 'HITCH_NOT_FOUND',
  406: 'HITCH_API_VERSION_NOT_ACCEPTABLE',
  409: 'HITCH_CONFLICT',
  413: 'HITCH_BODY_TOO_LARGE',
  415: 'HITCH_UNSUPPORTED_MEDIA_TYPE',
  429: 'HITCH_RATE_LIMITED',
  503: 'HITCH_UPSTREAM_UNAVAILABLE',
};

/** The message of an OpenStack error body, if it has one. */
export function errorMessage(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  for (const v of Object.values(body as Record<string, unknown>)) {
    if (typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string') return (v as { message: string }).message;
  }
  return null;
}

/** The catalog code for a message (and status), best effort. */
export function codeFor(status: number, message: string): ErrorCode {
  const allowed = (c: ErrorCode): boolean => ERROR_CATALOG[c].status === status;
  const hit = TEMPLATES.find(([c, re]) => allowed(c) && re.test(message));
  if (hit) return hit[0];
  return BY_STATUS[status] ?? (status >= 500 ? 'HITCH_UPSTREAM_ERROR' : 'HITCH_INVALID_ARGUMENT');
}

/** A HitchError for an error response; `said` is the response's `x-hitch-error-code`, if any. */
export function apiError(status: number, body: unknown, what: string, said?: string | null): HitchError {
  const message = errorMessage(body) ?? `${what}: HTTP ${status}`;
  const code = said && Object.hasOwn(ERROR_CATALOG, said) ? (said as ErrorCode) : codeFor(status, message);
  return new HitchError(code, {}, { message });
}
