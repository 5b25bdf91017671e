/**
 * The building blocks of Nova's request schemas (`nova/api/validation/parameter_types.py`), in
 * the shapes `http/validate.ts` checks, plus the query-string and paging rules Nova's list
 * calls share.
 */
import { HitchError } from '../../errors.ts';
import type { Schema } from '../../http/validate.ts';

/** Printable, no leading or trailing whitespace (Nova's `name` format). */
const PRINTABLE_NAME = /^(?:[^\p{C}\p{Z}]|[^\p{C}\p{Z}][^\p{C}\p{Zl}\p{Zp}]*[^\p{C}\p{Z}])$/u;
/** Printable, anything may be blank (Nova's `valid_description_regex`). */
const PRINTABLE = /^[^\p{C}\p{Zl}\p{Zp}]*$/u;

export const name: Schema = { type: 'string', minLength: 1, maxLength: 255, pattern: PRINTABLE_NAME };
/** `name` without `:` (availability zones). */
export const azName: Schema = { type: 'string', minLength: 1, maxLength: 255, pattern: /^(?:[^\p{C}\p{Z}:]|[^\p{C}\p{Z}:][^\p{C}\p{Zl}\p{Zp}:]*[^\p{C}\p{Z}:])$/u };
export const description: Schema = { type: 'string', nullable: true, maxLength: 255, pattern: PRINTABLE };
export const longDescription: Schema = { type: 'string', nullable: true, maxLength: 65535, pattern: PRINTABLE };
export const boolean: Schema = { type: 'boolean-like' };
export const positiveInteger: Schema = { type: 'integer', minimum: 1 };
export const nonNegativeInteger: Schema = { type: 'integer', minimum: 0 };
export const uuid: Schema = { type: 'string', format: 'uuid' };
export const tag: Schema = { type: 'string', maxLength: 60, pattern: /^[^,/]*$/ };
export const hostname: Schema = { type: 'string', minLength: 2, maxLength: 63, pattern: /^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$/ };
export const fqdn: Schema = { type: 'string', minLength: 1, maxLength: 255, pattern: /^[a-zA-Z0-9-._]*$/ };
export const projectId: Schema = { type: 'string', minLength: 1, maxLength: 255, pattern: /^[a-zA-Z0-9-]*$/ };
export const metadataKey = /^[a-zA-Z0-9-_:. ]{1,255}$/;
export const metadata: Schema = {
  type: 'object',
  properties: {},
  patternProperties: [[metadataKey, { type: 'string', maxLength: 255 }]],
  additionalProperties: false,
};
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:]*:[0-9a-fA-F:.]*$/;
export const ipv4: Schema = { type: 'string', pattern: IPV4 };
export const ipv6: Schema = { type: 'string', pattern: IPV6 };
export const ipAddress: Schema = { type: 'oneOf', oneOf: [ipv4, ipv6] };

/** Nova's truthy strings (`strutils.bool_from_string`). */
export function truthy(v: unknown): boolean {
  return v === true || (typeof v === 'string' && ['1', 't', 'true', 'on', 'y', 'yes'].includes(v.toLowerCase()));
}

/** A 400 with Nova's text. */
export function badRequest(message: string): HitchError {
  return new HitchError('HITCH_INVALID_ARGUMENT', { reason: message }, { message });
}

export type Query = Readonly<Record<string, string | string[] | undefined>>;

/** The last value of a query parameter given once or many times (Nova's `multi_params`). */
export function param(q: Query, key: string): string | undefined {
  const v = q[key];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/**
 * From microversion `strictFrom` on (2.75 for most lists) Nova refuses query parameters it does
 * not know, with its schema's message; before, it ignores them.
 */
export function checkQuery(q: Query, known: readonly string[], strict: boolean): void {
  if (!strict) return;
  const extra = Object.keys(q).filter((k) => !known.includes(k));
  if (extra.length > 0) {
    throw badRequest(`Invalid input for query parameters ${extra[0]}. Value: ${String(param(q, extra[0] as string))}. Additional properties are not allowed (${extra.map((k) => `'${k}'`).join(', ')} ${extra.length > 1 ? 'were' : 'was'} unexpected)`);
  }
}

/** Nova's `limit` and `marker` (`common.get_limit_and_marker`): limit capped at 1000. */
export function limitAndMarker(q: Query): { limit: number; marker: string | undefined } {
  const raw = param(q, 'limit');
  let limit = 1000;
  if (raw !== undefined) {
    if (!/^\d+$/.test(raw)) throw badRequest(`Invalid input for query parameters limit. Value: ${raw}. '${raw}' does not match '^[0-9]*$'`);
    limit = Math.min(Number(raw), 1000);
  }
  return { limit, marker: param(q, 'marker') };
}

/** One page after `marker` (400 when the marker is not in the list), and the next link when the page is full. */
export function page<T>(items: readonly T[], idOf: (t: T) => string, q: Query, selfUrl: string): { items: T[]; next: string | null } {
  const { limit, marker } = limitAndMarker(q);
  let start = 0;
  if (marker !== undefined) {
    const i = items.findIndex((t) => idOf(t) === marker);
    if (i < 0) throw badRequest(`marker [${marker}] not found`);
    start = i + 1;
  }
  const slice = items.slice(start, start + limit);
  const last = slice[slice.length - 1];
  const full = param(q, 'limit') !== undefined && slice.length === limit && last !== undefined;
  return { items: slice, next: full ? `${selfUrl}?limit=${limit}&marker=${encodeURIComponent(idOf(last))}` : null };
}
