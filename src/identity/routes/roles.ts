/**
 * `/v3/roles` (list by name, show, create, delete) and the project grants of a user:
 * `PUT|GET|HEAD|DELETE /v3/projects/{p}/users/{u}/roles/{r}` and the list of them.
 */
import { HitchError } from '../../errors.ts';
import { validate, type Schema } from '../../http/validate.ts';
import { newId } from '../identity-store.ts';
import { collectionLinks, roleView } from '../views.ts';
import { badRequest, keystoneNotFound, queryParam, selfLink, type IdentityRoutes } from './context.ts';

const createSchema: Schema = {
  type: 'object',
  required: ['role'],
  additionalProperties: false,
  properties: {
    role: {
      type: 'object',
      required: ['name'],
      properties: { name: { type: 'string', minLength: 1, maxLength: 255, pattern: /\S/ }, description: { type: 'string', maxLength: 255, nullable: true }, domain_id: { type: 'null' }, options: { type: 'object', properties: {} } },
    },
  },
};

type GrantParams = { Params: { pid: string; uid: string; rid: string } };

export function registerRoleRoutes(r: IdentityRoutes): void {
  const { app, identity } = r;
  const store = identity.store;

  app.get('/v3/roles', async (req) => {
    await r.caller(req);
    // Every role is global: a domain filter other than none lists nothing.
    const domain = queryParam(req, 'domain_id');
    const roles = domain !== undefined && domain !== '' ? [] : await store.listRoles({ name: queryParam(req, 'name') });
    return { roles: roles.map((x) => roleView(x, r.identityUrl(req))), links: collectionLinks(selfLink(r, req)) };
  });

  app.get<{ Params: { id: string } }>('/v3/roles/:id', async (req) => {
    await r.caller(req);
    const role = await store.getRole(req.params.id);
    if (!role) throw keystoneNotFound('role', req.params.id);
    return { role: roleView(role, r.identityUrl(req)) };
  });

  app.post('/v3/roles', async (req, reply) => {
    await r.requireAdmin(req, 'identity:create_role');
    validate(createSchema, req.body);
    const name = (req.body as { role: { name: string } }).role.name;
    if ((await store.listRoles({ name })).length > 0) {
      throw new HitchError('HITCH_CONFLICT', { reason: '' }, { message: `Conflict occurred attempting to store role - Duplicate entry found with name ${name}.` });
    }
    const role = { id: newId(), name };
    await store.createRole(role);
    return reply.code(201).send({ role: roleView(role, r.identityUrl(req)) });
  });

  app.delete<{ Params: { id: string } }>('/v3/roles/:id', async (req, reply) => {
    await r.requireAdmin(req, 'identity:delete_role');
    if (!(await store.deleteRole(req.params.id))) throw keystoneNotFound('role', req.params.id);
    return reply.code(204).send();
  });

  /** The grant's three parts, each 404 when missing — user, then role, then project, as Keystone checks them. */
  const parts = async (p: GrantParams['Params']) => {
    const u = await store.getUser(p.uid);
    if (!u) throw keystoneNotFound('user', p.uid);
    const role = await store.getRole(p.rid);
    if (!role) throw keystoneNotFound('role', p.rid);
    const project = await store.findProject({ id: p.pid });
    if (!project) throw keystoneNotFound('project', p.pid);
    return { u, role, project };
  };

  app.put<GrantParams>('/v3/projects/:pid/users/:uid/roles/:rid', async (req, reply) => {
    await r.requireAdmin(req, 'identity:create_grant');
    const { u, role, project } = await parts(req.params);
    await store.assignRole(u.id, project.id, role.name);
    return reply.code(204).send();
  });

  // GET and (Fastify's automatic) HEAD: 204 when the grant exists.
  app.get<GrantParams>('/v3/projects/:pid/users/:uid/roles/:rid', async (req, reply) => {
    await r.requireAdmin(req, 'identity:check_grant');
    const { u, role, project } = await parts(req.params);
    if (!(await store.hasGrant(u.id, project.id, role.id))) {
      throw new HitchError('HITCH_NOT_FOUND', { kind: 'role assignment', id: role.id }, {
        message: `Could not find role assignment with role: ${role.id}, user or group: ${u.id}, project, domain, or system: ${project.id}.`,
      });
    }
    return reply.code(204).send();
  });

  app.delete<GrantParams>('/v3/projects/:pid/users/:uid/roles/:rid', async (req, reply) => {
    await r.requireAdmin(req, 'identity:revoke_grant');
    const { u, role, project } = await parts(req.params);
    if (!(await store.revokeGrant(u.id, project.id, role.id))) {
      throw new HitchError('HITCH_NOT_FOUND', { kind: 'role assignment', id: role.id }, {
        message: `Could not find role assignment with role: ${role.id}, user or group: ${u.id}, project, domain, or system: ${project.id}.`,
      });
    }
    return reply.code(204).send();
  });

  app.get<{ Params: { pid: string; uid: string } }>('/v3/projects/:pid/users/:uid/roles', async (req) => {
    await r.requireAdmin(req, 'identity:list_grants');
    if (!(await store.getUser(req.params.uid))) throw keystoneNotFound('user', req.params.uid);
    if (!(await store.findProject({ id: req.params.pid }))) throw keystoneNotFound('project', req.params.pid);
    const roles = await store.rolesOf(req.params.uid, req.params.pid);
    return { roles: roles.map((x) => roleView(x, r.identityUrl(req))), links: collectionLinks(selfLink(r, req)) };
  });

  // Grants on a domain are not part of this subset: Hitch's one domain holds no roles.
  app.put('/v3/domains/:did/users/:uid/roles/:rid', async () => {
    throw badRequest('Hitch grants roles on projects only, not on domains.');
  });
}
