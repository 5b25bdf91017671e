/**
 * `GET /servers/{id}/os-instance-actions[/{request_id}]` (`openstack server event list/show`):
 * what was done to a server, read from the operation journal — each request that attached or
 * detached is one action named by its request id, with one event per operation it ran
 * (`compute_attach_volume`…) carrying the outcome. (A server delete detaches every volume
 * under one request id: one action, an event per volume.)
 *
 * As Nova: actions newest first; 2.21+ shows a deleted server's actions; events are shown to
 * admins only before 2.51 and to everyone after, the failure detail (`traceback`) to admins only;
 * 2.58 adds `updated_at` and paging (`limit`, `marker` = a request id, `changes-since`), 2.66
 * `changes-before`; 2.62 gives each event its `hostId` (and `host` to admins); 2.84 `details`.
 *
 * Times: `start_time` is when the request was taken (wall clock); an operation's duration is
 * measured on its host's clock (virtual on the simulator), so `finish_time` is the start plus
 * that duration.
 */
import type { FastifyInstance } from 'fastify';
import { HitchError } from '../../errors.ts';
import type { ApiVersion } from '../../http/microversion.ts';
import type { ComputeService } from '../compute-service.ts';
import type { OperationRow, ServerRow } from '../repository.ts';
import type { ComputeApi } from './context.ts';
import { hostIdOf } from './views.ts';

/** Nova's action and event names for each kind of operation Hitch journals. */
const ACTION_NAMES: Readonly<Record<string, string>> = { attach: 'attach_volume', detach: 'detach_volume', extend: 'extend_volume' };

const actionName = (op: OperationRow): string => ACTION_NAMES[op.kind] ?? op.kind;

function failed(op: OperationRow): boolean {
  return op.state === 'failed' || op.state === 'rolled_back';
}

function finishIso(op: OperationRow): string | null {
  if (op.ended_ms === null) return null;
  return new Date(Date.parse(op.created_at) + Math.max(0, op.ended_ms - op.started_ms)).toISOString();
}

/** One request's operations on the server, oldest first: Nova's instance action. */
interface Action {
  readonly requestId: string;
  readonly ops: readonly OperationRow[];
}

/** The operations grouped by request, newest request first (`ops` newest first in). */
function actionsOf(ops: readonly OperationRow[]): Action[] {
  const byRequest = new Map<string, OperationRow[]>();
  for (const op of ops) {
    const list = byRequest.get(op.request_id);
    if (list) list.unshift(op);
    else byRequest.set(op.request_id, [op]);
  }
  return [...byRequest].map(([requestId, list]) => ({ requestId, ops: list }));
}

/** When an action last changed: its last finish, or its start while one of its operations runs. */
function updatedIso(a: Action): string {
  const first = a.ops[0] as OperationRow;
  let t = first.created_at;
  for (const op of a.ops) {
    const f = finishIso(op) ?? op.created_at;
    if (f > t) t = f;
  }
  return t;
}

function actionView(a: Action, server: ServerRow, v: ApiVersion): Record<string, unknown> {
  const first = a.ops[0] as OperationRow;
  const view: Record<string, unknown> = {
    action: actionName(first),
    instance_uuid: server.id,
    request_id: a.requestId,
    user_id: first.user_id ?? server.user_id,
    project_id: first.project_id,
    start_time: first.created_at,
    message: a.ops.some(failed) ? 'Error' : null,
  };
  if (v.atLeast('2.58')) view['updated_at'] = updatedIso(a);
  return view;
}

function eventView(op: OperationRow, server: ServerRow, v: ApiVersion, isAdmin: boolean): Record<string, unknown> {
  const done = op.state !== 'running';
  const view: Record<string, unknown> = {
    event: `compute_${actionName(op)}`,
    start_time: op.created_at,
    finish_time: finishIso(op),
    result: done ? (failed(op) ? 'Error' : 'Success') : null,
  };
  if (isAdmin) view['traceback'] = failed(op) ? `${op.error_code ?? 'HITCH_ERROR'}: ${op.error_message ?? ''}` : null;
  if (v.atLeast('2.62')) {
    view['hostId'] = server.host ? hostIdOf(op.project_id, server.host) : '';
    if (isAdmin) view['host'] = server.host;
  }
  if (v.atLeast('2.84')) view['details'] = failed(op) ? op.error_message : null;
  return view;
}

function bad(message: string): HitchError {
  return new HitchError('HITCH_INVALID_ARGUMENT', { reason: message }, { message });
}

type Query = Record<string, string | string[] | undefined>;

const last = (q: Query, k: string): string | undefined => {
  const x = q[k];
  return Array.isArray(x) ? x[x.length - 1] : x;
};

/** A query time as Nova takes it (ISO 8601, UTC when no zone is given), or Nova's 400. */
function timeParam(name: string, s: string): string {
  const ms = /^\d{4}-\d\d-\d\d/.test(s) ? Date.parse(/(Z|[+-]\d\d:?\d\d)$/i.test(s) ? s : `${s}Z`) : NaN;
  if (Number.isNaN(ms)) throw bad(`Invalid input for query parameters ${name}. Value: ${s}. '${s}' is not a 'date-time'`);
  return new Date(ms).toISOString();
}

/** 2.58+ paging and time filters over a server's actions (newest first). */
function page(actions: readonly Action[], q: Query, v: ApiVersion): Action[] {
  if (!v.atLeast('2.58')) return [...actions];
  let out = [...actions];
  const since = last(q, 'changes-since');
  const before = v.atLeast('2.66') ? last(q, 'changes-before') : undefined;
  if (since !== undefined) {
    const t = timeParam('changes-since', since);
    out = out.filter((a) => updatedIso(a) >= t);
  }
  if (before !== undefined) {
    const t = timeParam('changes-before', before);
    if (since !== undefined && timeParam('changes-since', since) > t) throw bad('The value of changes-since must be less than or equal to changes-before.');
    out = out.filter((a) => updatedIso(a) <= t);
  }
  const marker = last(q, 'marker');
  if (marker !== undefined) {
    const i = out.findIndex((a) => a.requestId === marker);
    if (i < 0) throw bad(`Marker ${marker} could not be found.`);
    out = out.slice(i + 1);
  }
  const limitQ = last(q, 'limit');
  if (limitQ !== undefined) {
    if (!/^\d+$/.test(limitQ)) throw bad(`Invalid input for query parameters limit. Value: ${limitQ}. '${limitQ}' does not match '^[0-9]*$'`);
    out = out.slice(0, Math.min(Number(limitQ), 1000));
  }
  return out;
}

export function registerInstanceActionRoutes(app: FastifyInstance, api: ComputeApi, compute: ComputeService): void {
  app.get<{ Params: { id: string } }>('/v2.1/servers/:id/os-instance-actions', async (req, reply) => {
    const v = api.mv(req, reply);
    const ctx = await api.auth(req);
    const { server, operations } = await compute.instanceActions(ctx, api.uuidParam('Instance', req.params.id), v.atLeast('2.21'));
    const shown = page(actionsOf(operations), req.query as Query, v);
    const body: Record<string, unknown> = { instanceActions: shown.map((a) => actionView(a, server, v)) };
    const limitQ = last(req.query as Query, 'limit');
    const tail = shown[shown.length - 1];
    if (v.atLeast('2.58') && limitQ !== undefined && tail && shown.length === Number(limitQ)) {
      const params = new URLSearchParams();
      for (const [k, val] of Object.entries(req.query as Query)) if (k !== 'marker') for (const x of [val].flat()) if (typeof x === 'string') params.append(k, x);
      params.set('marker', tail.requestId);
      body['links'] = [{ rel: 'next', href: `${api.base(req)}/v2.1/servers/${server.id}/os-instance-actions?${params.toString()}` }];
    }
    return body;
  });

  app.get<{ Params: { id: string; rid: string } }>('/v2.1/servers/:id/os-instance-actions/:rid', async (req, reply) => {
    const v = api.mv(req, reply);
    const ctx = await api.auth(req);
    const { server, operations } = await compute.instanceActions(ctx, api.uuidParam('Instance', req.params.id), v.atLeast('2.21'));
    const action = actionsOf(operations).find((a) => a.requestId === req.params.rid);
    if (!action) {
      const message = `Action for request_id ${req.params.rid} on instance ${server.id} not found`;
      throw new HitchError('HITCH_NOT_FOUND', { kind: 'Action for request', id: req.params.rid }, { message });
    }
    const view = actionView(action, server, v);
    if (ctx.isAdmin || v.atLeast('2.51')) view['events'] = action.ops.map((op) => eventView(op, server, v, ctx.isAdmin));
    return { instanceAction: view };
  });
}
