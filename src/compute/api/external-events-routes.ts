/**
 * `POST /os-server-external-events`: how other services tell compute that something changed
 * under a server — Cinder's `volume-extended` (2.51+) after it grew an attached volume, Neutron's
 * network events. Admins (service users) only. As Nova: 200 when every event was accepted, 207
 * when some were, 404 when none was; a status and code per event (404 for an unknown server, 422
 * for one on no host or a `volume-extended` whose `tag` names no volume of the server). An
 * accepted event is handled on the server's host in the background.
 */
import type { FastifyInstance } from 'fastify';
import { HitchError } from '../../errors.ts';
import type { ApiVersion } from '../../http/microversion.ts';
import { requestIdOf } from '../../http/openstack-http.ts';
import { validate, type Schema } from '../../http/validate.ts';
import type { ComputeService, ExternalEvent } from '../compute-service.ts';
import type { ComputeApi } from './context.ts';

const NAMES_21 = ['network-changed', 'network-vif-plugged', 'network-vif-unplugged', 'network-vif-deleted'];

function names(v: ApiVersion): string[] {
  const n = [...NAMES_21];
  if (v.atLeast('2.51')) n.push('volume-extended');
  if (v.atLeast('2.76')) n.push('power-update');
  if (v.atLeast('2.82')) n.push('accelerator-request-bound');
  return n;
}

function schema(v: ApiVersion): Schema {
  return {
    type: 'object',
    required: ['events'],
    additionalProperties: false,
    properties: {
      events: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          required: ['name', 'server_uuid'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', enum: names(v) },
            server_uuid: { type: 'string', format: 'uuid' },
            status: { type: 'string', enum: ['failed', 'completed', 'in-progress'] },
            tag: { type: 'string', maxLength: 255 },
          },
        },
      },
    },
  };
}

export function registerExternalEventRoutes(app: FastifyInstance, api: ComputeApi, compute: ComputeService): void {
  app.post('/v2.1/os-server-external-events', async (req, reply) => {
    const v = api.mv(req, reply);
    const ctx = await api.admin(req, 'os_compute_api:os-server-external-events:create');
    validate(schema(v), req.body);
    const events = (req.body as { events: ExternalEvent[] }).events;
    const results = await compute.externalEvents(ctx, events, requestIdOf(req));
    if (results.every((r) => r.code !== 200)) {
      throw new HitchError('HITCH_NOT_FOUND', { kind: 'Instance', id: events.map((e) => e.server_uuid).join(', ') }, { message: 'No instances found for any event' });
    }
    reply.code(results.every((r) => r.code === 200) ? 200 : 207);
    return { events: results };
  });
}
