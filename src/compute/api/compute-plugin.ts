/**
 * Compute API, a Nova v2.1 subset (`/compute/v2.1`): version discovery and microversions,
 * flavors, servers, and `os-volume_attachments` — exactly what `openstack server create / add
 * volume / remove volume` and `nova volume-attach` send — plus Hitch's trace of each attach
 * and detach (`…/os-volume_attachments/{volume}/trace`, `/os-hitch-operations/{id}`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HitchError } from '../../errors.ts';
import type { ApiVersion } from '../../http/microversion.ts';
import { installOpenStackHttp, requestIdOf } from '../../http/openstack-http.ts';
import { isUuid, validate, type Schema } from '../../http/validate.ts';
import type { Authenticator } from '../../identity/identity-service.ts';
import type { ComputeService, OperationView, ServerViewContext } from '../compute-service.ts';
import type { OperationRow, ServerFilter, ServerRow, ServerSort, ServerSortKey } from '../repository.ts';
import { installPolicy } from '../../http/policy.ts';
import type { RequestRateLimiter } from '../../http/request-rate-limit.ts';
import { COMPUTE_VERSIONS, computeApi, forbidden, requestCaller } from './context.ts';
import { COMPUTE_POLICY } from './policy.ts';
import { createInput, type CreateBody } from './server-create-input.ts';
import { serverCreateSchema } from './server-create-schema.ts';
import { registerExternalEventRoutes } from './external-events-routes.ts';
import { registerFlavorRoutes } from './flavor-routes.ts';
import { registerHostRoutes } from './host-routes.ts';
import { registerInstanceActionRoutes } from './instance-action-routes.ts';
import { registerQuotaRoutes } from './quota-routes.ts';
import { registerVolumeProxyRoutes, type BlockStorageRest } from './volume-proxy-routes.ts';
import { attachmentView, serverDetailView, serverLinks } from './views.ts';

export { COMPUTE_VERSIONS } from './context.ts';

export interface ComputePluginOptions {
  readonly compute: ComputeService;
  readonly identity: Authenticator;
  /** Public base URL (`http://127.0.0.1:8080`); default: from the request's Host. */
  readonly publicUrl?: string;
  /** Whether a project exists (flavor access, quota sets). Default: every id is taken as one. */
  readonly projectExists?: (id: string) => Promise<boolean>;
  /** The block storage REST API, for the `os-volumes`/`os-snapshots` proxy. */
  readonly blockStorage: BlockStorageRest;
  /** Per-project and per-user request rates (config projectRateLimit…); none: unlimited. */
  readonly rateLimiter?: RequestRateLimiter;
}

/** Nova's sort keys Hitch orders by, and the column each is. */
const SERVER_SORT_KEYS: Readonly<Record<string, ServerSortKey>> = { created_at: 'created_at', updated_at: 'updated_at', display_name: 'name', uuid: 'id', vm_state: 'status' };
/** Nova's `osapi_max_limit`: a page is at most this long. */
export const SERVER_PAGE_MAX = 1000;

function bad(reason: string, message: string): HitchError {
  return new HitchError('HITCH_INVALID_INPUT', { reason }, { message });
}

/** An ISO-8601 time as stored (`toISOString`), or a 400 naming the parameter. */
function isoParam(name: string, s: string): string {
  const ms = Date.parse(/(Z|[+-]\d\d:?\d\d)$/.test(s) ? s : `${s}Z`);
  if (Number.isNaN(ms)) throw bad(name, `Invalid input for query parameters ${name}. Value: ${s}. '${s}' is not a 'date-time'`);
  return new Date(ms).toISOString();
}

/**
 * `GET /servers` query: all_tenants (admins), project_id (with all_tenants), name (the whole name,
 * or `^prefix`: Nova takes a regular expression; Hitch its exact and prefix forms, each on an
 * index), status, changes-since (deleted servers included, as Nova shows them) and changes-before
 * (2.66), sort_key/sort_dir (repeatable), limit (at most SERVER_PAGE_MAX) and marker.
 */
export function parseServerQuery(q: Record<string, string | string[] | undefined>, v: ApiVersion): { filter: Omit<ServerFilter, 'projectId'> & { allTenants: boolean; projectId?: string }; sort: ServerSort[]; limit: number; markerId: string | undefined } {
  const one = (k: string): string | undefined => {
    const x = q[k];
    return Array.isArray(x) ? x[x.length - 1] : x;
  };
  const many = (k: string): string[] => [q[k] ?? []].flat();
  const allTenants = ['1', 'true', 'True', 'yes'].includes(one('all_tenants') ?? '');
  const nameQ = one('name');
  const name = nameQ === undefined || nameQ === '' ? undefined : nameQ.startsWith('^') ? { prefix: nameQ.slice(1).replace(/\$$/, '') } : nameQ;
  const since = one('changes-since');
  const before = v.atLeast('2.66') ? one('changes-before') : undefined;
  const limitQ = one('limit');
  // Without one, a page of SERVER_PAGE_MAX (with a next link when full), as Nova pages.
  let limit = SERVER_PAGE_MAX;
  if (limitQ !== undefined) {
    if (!/^\d+$/.test(limitQ)) throw bad('limit', `Invalid input for query parameters limit. Value: ${limitQ}. '${limitQ}' does not match '^[0-9]*$'`);
    limit = Math.min(Number(limitQ), SERVER_PAGE_MAX);
  }
  const keys = many('sort_key');
  const dirs = many('sort_dir');
  const sort: ServerSort[] = keys.map((k, i) => {
    const key = SERVER_SORT_KEYS[k];
    if (!key) throw bad('sort_key', `Invalid input for query parameters sort_key. Value: ${k}. '${k}' is not one of [${Object.keys(SERVER_SORT_KEYS).join(', ')}]`);
    const d = (dirs[i] ?? dirs[0] ?? 'desc').toLowerCase();
    if (d !== 'asc' && d !== 'desc') throw bad('sort_dir', `Invalid input for query parameters sort_dir. Value: ${d}. '${d}' is not one of ['asc', 'desc']`);
    return { key, dir: d };
  });
  const status = one('status');
  const markerId = one('marker');
  const projectId = one('project_id');
  return {
    filter: {
      allTenants,
      ...(projectId !== undefined ? { projectId } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(status ? { status: status.toUpperCase() } : {}),
      ...(since !== undefined ? { changesSince: isoParam('changes-since', since), includeDeleted: true } : {}),
      ...(before !== undefined ? { changesBefore: isoParam('changes-before', before), includeDeleted: true } : {}),
    },
    sort: sort.length > 0 ? sort : [{ key: 'created_at', dir: 'desc' }],
    limit,
    markerId,
  };
}

const DEVICE = /^(\/dev\/)?[a-z]+[a-z0-9]*$/;

const attachSchema: Schema = {
  type: 'object',
  required: ['volumeAttachment'],
  additionalProperties: false,
  properties: {
    volumeAttachment: {
      type: 'object',
      required: ['volumeId'],
      additionalProperties: false,
      properties: {
        volumeId: { type: 'string', format: 'uuid' },
        device: { type: 'string', nullable: true, maxLength: 255, pattern: DEVICE },
        tag: { type: 'string', maxLength: 60 },
        delete_on_termination: { type: 'boolean' },
      },
    },
  },
};

export async function computePlugin(app: FastifyInstance, opts: ComputePluginOptions): Promise<void> {
  const { compute } = opts;
  installOpenStackHttp(app, { requestIdHeaders: ['x-openstack-request-id', 'x-compute-request-id'], errorStyle: 'fault' });
  const api = computeApi({ identity: opts.identity, ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}), ...(opts.projectExists ? { projectExists: opts.projectExists } : {}) });
  installPolicy(app, {
    table: COMPUTE_POLICY,
    stripPrefixes: [],
    caller: (req) => requestCaller(req, opts.identity),
    ...(opts.rateLimiter ? { rateLimiter: opts.rateLimiter } : {}),
    // Servers and operations are the caller's project's (another's answer 404); quotas name theirs.
    target: (req, creds) => ({ project_id: req.routeOptions.url?.includes('/os-quota-sets/') ? (req.params as { id: string }).id : creds.projectId }),
    forbidden,
  });
  const base = api.base;
  const mv = api.mv;
  const auth = api.auth;
  const uuidParam = api.uuidParam;

  const versionDoc = (req: FastifyRequest) => ({
    id: 'v2.1',
    status: 'CURRENT',
    version: COMPUTE_VERSIONS.max,
    min_version: COMPUTE_VERSIONS.min,
    updated: '2013-07-23T11:33:21Z',
    links: [{ rel: 'self', href: `${base(req)}/v2.1/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
  });

  app.get('/', async (req) => ({ versions: [{ ...versionDoc(req), links: [{ rel: 'self', href: `${base(req)}/v2.1/` }] }] }));
  app.get('/v2.1', async (req) => ({ version: versionDoc(req) }));
  app.get('/v2.1/', async (req) => ({ version: versionDoc(req) }));

  registerFlavorRoutes(app, api, compute.flavors);
  registerHostRoutes(app, api, compute);
  registerQuotaRoutes(app, api, compute.quotas);
  registerVolumeProxyRoutes(app, api, opts.blockStorage);
  registerInstanceActionRoutes(app, api, compute);
  registerExternalEventRoutes(app, api, compute);

  const serverView = async (s: ServerRow, v: ApiVersion, isAdmin: boolean, req: FastifyRequest, kind: 'show' | 'list' = 'show') =>
    serverDetailView(s, (await compute.mappingsOf([s])).get(s.id) ?? [], base(req), v, isAdmin, await compute.viewContext(s), kind);

  // --- servers --------------------------------------------------------------------------------
  app.post('/v2.1/servers', async (req, reply) => {
    const v = mv(req, reply);
    const ctx = await auth(req);
    validate(serverCreateSchema(v), req.body);
    const { input, adminPass, returnReservationId } = createInput(req.body as CreateBody, v);
    const created = await compute.createServers(ctx, input, requestIdOf(req));
    if (returnReservationId) return reply.code(202).send({ reservation_id: created.reservationId });
    const s = created.servers[0] as ServerRow;
    reply.code(202).header('location', `${base(req)}/v2.1/servers/${s.id}`);
    return { server: { id: s.id, links: serverLinks(s.id, base(req)), 'OS-DCF:diskConfig': s.disk_config === 'AUTO' ? 'AUTO' : 'MANUAL', adminPass } };
  });

  const listServers = async (req: FastifyRequest, detail: boolean, v: ApiVersion) => {
    const ctx = await auth(req);
    const q = req.query as Record<string, string | string[] | undefined>;
    const { filter, sort, limit, markerId } = parseServerQuery(q, v);
    const rows = await compute.listServers(ctx, filter, sort, limit, markerId);
    const body: Record<string, unknown> = detail
      ? await (async () => {
          const bdms = await compute.mappingsOf(rows);
          const extras = await compute.viewContexts(rows);
          return { servers: rows.map((s) => serverDetailView(s, bdms.get(s.id) ?? [], base(req), v, ctx.isAdmin, extras.get(s.id) as ServerViewContext, 'list')) };
        })()
      : { servers: rows.map((s) => ({ id: s.id, name: s.name, links: serverLinks(s.id, base(req)) })) };
    const last = rows[rows.length - 1];
    if (rows.length === limit && last) {
      const params = new URLSearchParams();
      for (const [k, val] of Object.entries(q)) if (k !== 'marker') for (const x of [val].flat()) if (typeof x === 'string') params.append(k, x);
      params.set('marker', last.id);
      body['servers_links'] = [{ rel: 'next', href: `${base(req)}/v2.1/servers${detail ? '/detail' : ''}?${params.toString()}` }];
    }
    return body;
  };
  app.get('/v2.1/servers', async (req, reply) => listServers(req, false, mv(req, reply)));
  app.get('/v2.1/servers/detail', async (req, reply) => listServers(req, true, mv(req, reply)));

  app.get<{ Params: { id: string } }>('/v2.1/servers/:id', async (req, reply) => {
    const v = mv(req, reply);
    const ctx = await auth(req);
    const s = await compute.getServer(ctx, uuidParam('Instance', req.params.id));
    return { server: await serverView(s, v, ctx.isAdmin, req) };
  });

  app.delete<{ Params: { id: string } }>('/v2.1/servers/:id', async (req, reply) => {
    mv(req, reply);
    const ctx = await auth(req);
    const token = [req.headers['x-auth-token']].flat()[0] ?? '';
    await compute.deleteServer(ctx, uuidParam('Instance', req.params.id), requestIdOf(req), {
      // With the caller's token, as Nova deletes a delete_on_termination volume.
      deleteVolume: async (volumeId) => {
        const r = await opts.blockStorage.call('DELETE', `/v3/volumes/${volumeId}`, token);
        if (r.status >= 300) throw new HitchError('HITCH_INVALID_VOLUME', { reason: `volume ${volumeId} was not deleted (${r.status})` });
      },
    });
    return reply.code(204).send();
  });

  // --- volume attachments ---------------------------------------------------------------------
  app.post<{ Params: { id: string } }>('/v2.1/servers/:id/os-volume_attachments', async (req, reply) => {
    const v = mv(req, reply);
    const ctx = await auth(req);
    const serverId = uuidParam('Instance', req.params.id);
    validate(attachSchema, req.body);
    const body = (req.body as { volumeAttachment: { volumeId: string; device?: string | null; delete_on_termination?: boolean } }).volumeAttachment;
    // Nova's schema: `delete_on_termination` from 2.79.
    if (body.delete_on_termination !== undefined && !v.atLeast('2.79')) {
      throw bad('delete_on_termination', "Invalid input for field/attribute volumeAttachment. Value: delete_on_termination. Additional properties are not allowed ('delete_on_termination' was unexpected)");
    }
    const { bdm, operationId } = await compute.attachVolume(ctx, serverId, body.volumeId.toLowerCase(), body.device ?? null, requestIdOf(req), {
      multiattachAllowed: v.atLeast('2.60'),
      deleteOnTermination: body.delete_on_termination === true,
    });
    reply.header('x-hitch-operation-id', operationId);
    return { volumeAttachment: attachmentView(bdm, v) };
  });

  app.get<{ Params: { id: string } }>('/v2.1/servers/:id/os-volume_attachments', async (req, reply) => {
    const v = mv(req, reply);
    const ctx = await auth(req);
    const { bdms } = await compute.listAttachments(ctx, uuidParam('Instance', req.params.id));
    return { volumeAttachments: bdms.map((b) => attachmentView(b, v)) };
  });

  app.get<{ Params: { id: string; vid: string } }>('/v2.1/servers/:id/os-volume_attachments/:vid', async (req, reply) => {
    const v = mv(req, reply);
    const ctx = await auth(req);
    const { bdm } = await compute.getAttachment(ctx, uuidParam('Instance', req.params.id), uuidParam('Volume', req.params.vid));
    return { volumeAttachment: attachmentView(bdm, v) };
  });

  app.delete<{ Params: { id: string; vid: string } }>('/v2.1/servers/:id/os-volume_attachments/:vid', async (req, reply) => {
    mv(req, reply);
    const ctx = await auth(req);
    const { operationId } = await compute.detachVolume(ctx, uuidParam('Instance', req.params.id), uuidParam('Volume', req.params.vid), requestIdOf(req));
    reply.header('x-hitch-operation-id', operationId);
    return reply.code(202).send();
  });

  // --- Hitch: traces ---------------------------------------------------------------------------
  app.get<{ Params: { id: string; vid: string } }>('/v2.1/servers/:id/os-volume_attachments/:vid/trace', async (req) => {
    const ctx = await auth(req);
    const ops = await compute.operations(ctx, uuidParam('Instance', req.params.id), uuidParam('Volume', req.params.vid));
    return { operations: ops.map(operationView) };
  });

  // The operation history: every attach and detach, failed and rolled back ones too, newest
  // first, until the retention limit removes it.
  app.get('/v2.1/os-hitch-operations', async (req) => {
    const ctx = await auth(req);
    const q = req.query as Record<string, string | undefined>;
    const bad = (reason: string): HitchError => new HitchError('HITCH_INVALID_ARGUMENT', { reason });
    const status = q['status'];
    if (status !== undefined && status !== 'running' && status !== 'done' && status !== 'failed') throw bad(`status must be running, done or failed (got ${status})`);
    const kind = q['kind'];
    if (kind !== undefined && kind !== 'attach' && kind !== 'detach') throw bad(`kind must be attach or detach (got ${kind})`);
    for (const k of ['server_id', 'volume_id', 'marker']) if (q[k] !== undefined && !isUuid(q[k] as string)) throw bad(`${k} must be a UUID (got ${q[k]})`);
    const limit = q['limit'] === undefined ? 100 : Number(q['limit']);
    if (!/^\d+$/.test(q['limit'] ?? '100') || limit < 1 || limit > 1000) throw bad(`limit must be a whole number from 1 to 1000 (got ${q['limit']})`);
    const rows = await compute.operationHistory(ctx, {
      limit,
      allProjects: ['1', 'true', 'True', 'yes'].includes(q['all_projects'] ?? q['all_tenants'] ?? ''),
      ...(status !== undefined ? { status } : {}),
      ...(kind !== undefined ? { kind } : {}),
      ...(q['server_id'] !== undefined ? { serverId: q['server_id'].toLowerCase() } : {}),
      ...(q['volume_id'] !== undefined ? { volumeId: q['volume_id'].toLowerCase() } : {}),
      ...(q['marker'] !== undefined ? { marker: q['marker'].toLowerCase() } : {}),
    });
    const body: Record<string, unknown> = { operations: rows.map(operationSummaryView) };
    const last = rows[rows.length - 1];
    if (rows.length === limit && last) {
      const params = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => typeof e[1] === 'string' && e[0] !== 'marker'));
      params.set('marker', last.id);
      body['operations_links'] = [{ rel: 'next', href: `${base(req)}/v2.1/os-hitch-operations?${params.toString()}` }];
    }
    return body;
  });

  app.get<{ Params: { opid: string } }>('/v2.1/os-hitch-operations/:opid', async (req) => {
    const ctx = await auth(req);
    return { operation: operationView(await compute.operation(ctx, uuidParam('Operation', req.params.opid))) };
  });

  // Its steps' recent normal: p50 and p95 over the last done operations of its kind on its backend.
  app.get<{ Params: { opid: string } }>('/v2.1/os-hitch-operations/:opid/normal', async (req) => {
    const ctx = await auth(req);
    const n = await compute.recentNormal(ctx, uuidParam('Operation', req.params.opid));
    return { normal: { kind: n.kind, backend: n.backend, sample: n.sample, steps: n.steps.map((x) => ({ step: x.step, n: x.n, p50_ms: x.p50Ms, p95_ms: x.p95Ms })) } };
  });
}

/** An operation in the history list: what happened, without its spans. */
export function operationSummaryView(op: OperationRow) {
  return {
    id: op.id,
    kind: op.kind,
    server_id: op.server_id,
    volume_id: op.volume_id,
    request_id: op.request_id,
    state: op.state,
    step: op.step,
    error: op.error_code ? { code: op.error_code, message: op.error_message } : null,
    started_ms: op.started_ms,
    ended_ms: op.ended_ms,
    duration_ms: op.ended_ms === null ? null : op.ended_ms - op.started_ms,
    created_at: op.created_at,
  };
}

export function operationView(o: OperationView) {
  const op = o.operation;
  return {
    id: op.id,
    kind: op.kind,
    server_id: op.server_id,
    volume_id: op.volume_id,
    request_id: op.request_id,
    state: op.state,
    step: op.step,
    error: op.error_code ? { code: op.error_code, message: op.error_message } : null,
    started_ms: op.started_ms,
    ended_ms: op.ended_ms,
    /** When it was asked for, wall clock (the `_ms` times are the host's clock: virtual on the simulator). */
    created_at: op.created_at,
    spans: o.spans.map((s) => ({
      id: s.id,
      parent_id: s.parentId,
      name: s.name,
      start_ms: s.startMs,
      end_ms: s.endMs,
      outcome: s.outcome,
      attrs: s.attrs,
      error: s.error ?? null,
    })),
  };
}
