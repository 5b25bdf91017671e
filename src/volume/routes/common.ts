/**
 * What every block storage route file shares: the route registrar's types, query-string
 * parsing (limit, sort, booleans, metadata filters) and the 404s Cinder answers for ids.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HitchError } from '../../errors.ts';
import { isUuid } from '../../http/validate.ts';
import type { RequestState } from '../api-context.ts';

export type Handler = (req: FastifyRequest, reply: FastifyReply, state: RequestState) => Promise<unknown>;
export type RouteFn = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, handler: Handler) => void;

export type Query = Record<string, string | string[] | undefined>;

/** The last value of a query parameter. */
export function q1(q: Query, k: string): string | undefined {
  const v = q[k];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

export function invalidInput(reason: string): HitchError {
  return new HitchError('HITCH_INVALID_INPUT', { reason });
}

export function badRequest(message: string): HitchError {
  return new HitchError('HITCH_INVALID_ARGUMENT', { reason: message }, { message });
}

/** Cinder's `osapi_max_limit`: a page is at most this long, and a list without `limit` is one such page. */
export const VOLUME_PAGE_MAX = 1000;

/**
 * `limit`: a non-negative integer, at most VOLUME_PAGE_MAX; without one, VOLUME_PAGE_MAX, as
 * Cinder pages (a next link when the page is full), so no request reads a whole fleet's table.
 */
export function parseLimit(q: Query): number {
  const s = q1(q, 'limit');
  if (s === undefined) return VOLUME_PAGE_MAX;
  if (!/^-?\d+$/.test(s)) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'limit' }, { message: 'limit param must be an integer' });
  const n = Number(s);
  if (n < 0) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'limit' }, { message: 'limit param must be positive' });
  return Math.min(n, VOLUME_PAGE_MAX);
}

/** `sort=name:asc,created_at` or `sort_key=…&sort_dir=…`; default created_at desc. */
export function parseSort<K extends string>(q: Query, keys: readonly K[]): { key: K; dir: 'asc' | 'desc' }[] {
  const sort = q1(q, 'sort');
  const key = q1(q, 'sort_key');
  const dir = q1(q, 'sort_dir');
  if (sort !== undefined && (key !== undefined || dir !== undefined)) {
    throw invalidInput("The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.");
  }
  const parts: [string, string | undefined][] = sort !== undefined
    ? sort.split(',').map((p) => { const [k, d] = p.split(':'); return [(k ?? '').trim(), d?.trim()]; })
    : key !== undefined ? [[key, dir]] : [['created_at', dir ?? 'desc']];
  return parts.map(([k, d]) => {
    const keyName = k === 'display_name' ? 'name' : k;
    if (!(keys as readonly string[]).includes(keyName)) throw invalidInput(`Invalid sort key ${k}`);
    const dd = (d ?? 'desc').toLowerCase();
    if (dd !== 'asc' && dd !== 'desc') throw invalidInput(`Unknown sort direction, must be 'desc' or 'asc'`);
    return { key: keyName as K, dir: dd };
  });
}

/** oslo's strict boolean strings. */
export function parseBool(s: string, field: string): boolean {
  const v = s.toLowerCase();
  if (['true', '1', 't', 'yes', 'y', 'on'].includes(v)) return true;
  if (['false', '0', 'f', 'no', 'n', 'off'].includes(v)) return false;
  throw invalidInput(`Invalid value '${s}' for ${field}`);
}

/** A boolean-like body value (`true`, `"True"`, `"1"` …) as Cinder's schema allows them. */
export function boolOf(v: unknown, field: string): boolean {
  if (typeof v === 'boolean') return v;
  return parseBool(String(v), field);
}

/** `metadata={'k': 'v'}` as cinderclient sends it. */
export function parseMetadataFilter(q: Query): Record<string, string> | undefined {
  const md = q1(q, 'metadata');
  if (md === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(md.replace(/'/g, '"'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return Object.fromEntries(Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  } catch {
    throw invalidInput(`Invalid filter metadata=${md}`);
  }
}

/** Whether an admin asked for every project (`all_tenants`). */
export function allTenants(q: Query, state: RequestState): boolean {
  const v = q1(q, 'all_tenants');
  return state.caller.isAdmin && v !== undefined && parseBool(v, 'all_tenants');
}

/** Cinder looks any id up and answers 404 whatever its shape; so do we, without a query. */
export function checkUuid(id: string, kind: string): void {
  if (!isUuid(id)) throw new HitchError('HITCH_NOT_FOUND', { kind, id }, { message: `${kind} ${id} could not be found.` });
}

/** A `{"action": {…}}` body: its one key and its argument; Cinder's 400s otherwise. */
export function actionOf(body: unknown): [string, unknown] {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).length !== 1) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'body' }, { message: 'Malformed request body' });
  }
  return Object.entries(body as Record<string, unknown>)[0] as [string, unknown];
}

/** `{href, rel: next}` to the page after `lastId`, with the request's other parameters. */
export function nextLink(baseUrl: string, path: string, q: Query, lastId: string): { href: string; rel: string }[] {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (k !== 'marker' && typeof v === 'string') params.set(k, v);
  params.set('marker', lastId);
  return [{ href: `${baseUrl}/${path}?${params.toString()}`, rel: 'next' }];
}
