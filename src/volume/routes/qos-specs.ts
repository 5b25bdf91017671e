/**
 * `/qos-specs` (admin): create, list, show, set keys (`PUT`), unset keys (`delete_keys`),
 * delete (refused while associated unless `force`), and association with volume types
 * (`associate`, `disassociate`, `disassociate_all`, `associations`). A type's front-end specs
 * reach hosts in `connection_info.data.qos_specs`.
 */
import { validate } from '../../http/validate.ts';
import { requireAdmin, type RequestState } from '../api-context.ts';
import { createQosSchema, setQosSchema, unsetQosSchema } from '../request-schemas.ts';
import type { QosSpecsRow } from '../type-service.ts';
import type { VolumeService } from '../volume-service.ts';
import { badRequest, parseBool, q1, type Query, type RouteFn } from './common.ts';

function qosView(q: QosSpecsRow): Record<string, unknown> {
  return { id: q.id, name: q.name, consumer: q.consumer, specs: JSON.parse(q.specs) as Record<string, string> };
}

function links(state: RequestState, id: string) {
  return [
    { href: `${state.baseUrl}/qos-specs/${id}`, rel: 'self' },
    { href: `${state.bookmarkUrl}/qos-specs/${id}`, rel: 'bookmark' },
  ];
}

export function registerQosRoutes(route: RouteFn, svc: VolumeService): void {
  const types = svc.types;

  route('GET', '/qos-specs', async (_req, _reply, state) => {
    requireAdmin(state, 'volume_extension:qos_specs_manage:get_all');
    return { qos_specs: (await types.listQos()).map(qosView) };
  });

  route('POST', '/qos-specs', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:qos_specs_manage:create');
    validate(createQosSchema, req.body);
    const { name, consumer, ...specs } = (req.body as { qos_specs: Record<string, string> & { name: string } }).qos_specs;
    const q = await types.createQos(name.trim(), consumer ?? 'back-end', specs);
    return { qos_specs: qosView(q), links: links(state, q.id) };
  });

  route('GET', '/qos-specs/:id', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:qos_specs_manage:get');
    const q = await types.getQos((req.params as { id: string }).id);
    return { qos_specs: qosView(q), links: links(state, q.id) };
  });

  route('PUT', '/qos-specs/:id', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:qos_specs_manage:update');
    validate(setQosSchema, req.body);
    const specs = (req.body as { qos_specs: Record<string, string> }).qos_specs;
    await types.updateQos((req.params as { id: string }).id, specs);
    return { qos_specs: specs };
  });

  route('PUT', '/qos-specs/:id/delete_keys', async (req, reply, state) => {
    requireAdmin(state, 'volume_extension:qos_specs_manage:delete');
    validate(unsetQosSchema, req.body);
    await types.deleteQosKeys((req.params as { id: string }).id, (req.body as { keys: string[] }).keys);
    return reply.code(202).send();
  });

  route('DELETE', '/qos-specs/:id', async (req, reply, state) => {
    requireAdmin(state, 'volume_extension:qos_specs_manage:delete');
    const force = q1(req.query as Query, 'force');
    await types.deleteQos((req.params as { id: string }).id, force !== undefined && parseBool(force, 'force'));
    return reply.code(202).send();
  });

  route('GET', '/qos-specs/:id/associations', async (req, _reply, state) => {
    requireAdmin(state, 'volume_extension:qos_specs_manage:get_all');
    const assoc = await types.qosAssociations((req.params as { id: string }).id);
    return { qos_associations: assoc.map((t) => ({ association_type: 'volume_type', name: t.name, id: t.id })) };
  });

  const typeParam = (q: Query): string => {
    const id = q1(q, 'vol_type_id');
    if (!id) throw badRequest('Volume Type id must not be None.');
    return id;
  };
  route('GET', '/qos-specs/:id/associate', async (req, reply, state) => {
    requireAdmin(state, 'volume_extension:qos_specs_manage:update');
    await types.associateQos((req.params as { id: string }).id, typeParam(req.query as Query));
    return reply.code(202).send();
  });
  route('GET', '/qos-specs/:id/disassociate', async (req, reply, state) => {
    requireAdmin(state, 'volume_extension:qos_specs_manage:update');
    await types.disassociateQos((req.params as { id: string }).id, typeParam(req.query as Query));
    return reply.code(202).send();
  });
  route('GET', '/qos-specs/:id/disassociate_all', async (req, reply, state) => {
    requireAdmin(state, 'volume_extension:qos_specs_manage:update');
    await types.disassociateAllQos((req.params as { id: string }).id);
    return reply.code(202).send();
  });
}
