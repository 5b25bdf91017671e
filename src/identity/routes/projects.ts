/** `/v3/projects`: list with Keystone's filters, show, create, update, delete. */
import { HitchError } from '../../errors.ts';
import { validate, type Schema } from '../../http/validate.ts';
import { DEFAULT_DOMAIN } from '../identity-store.ts';
import { collectionLinks, projectView } from '../views.ts';
import { badRequest, forbidden, keystoneNotFound, queryBool, queryParam, selfLink, type IdentityRoutes } from './context.ts';

const projectFields: Record<string, Schema> = {
  name: { type: 'string', minLength: 1, maxLength: 64, pattern: /\S/ },
  description: { type: 'string', maxLength: 4096, nullable: true },
  domain_id: { type: 'string', minLength: 1, maxLength: 64, nullable: true },
  parent_id: { type: 'string', maxLength: 64, nullable: true },
  enabled: { type: 'boolean' },
  is_domain: { type: 'boolean' },
  tags: { type: 'any' },
  options: { type: 'object', properties: {} },
};
const createSchema: Schema = { type: 'object', required: ['project'], additionalProperties: false, properties: { project: { type: 'object', required: ['name'], properties: projectFields } } };
const updateSchema: Schema = { type: 'object', required: ['project'], additionalProperties: false, properties: { project: { type: 'object', properties: projectFields } } };

interface ProjectBody {
  name?: string;
  description?: string | null;
  domain_id?: string | null;
  parent_id?: string | null;
  enabled?: boolean;
  is_domain?: boolean;
}

function duplicate(name: string): HitchError {
  return new HitchError('HITCH_CONFLICT', { reason: '' }, { message: `Conflict occurred attempting to store project - Duplicate entry found with name ${name} at domain ID ${DEFAULT_DOMAIN.id}.` });
}

export function registerProjectRoutes(r: IdentityRoutes): void {
  const { app, identity } = r;
  const store = identity.store;

  app.get('/v3/projects', async (req) => {
    await r.requireAdmin(req, 'identity:list_projects');
    // Every project's parent is its domain; `is_domain=true` lists projects acting as domains: none.
    const parent = queryParam(req, 'parent_id');
    const isDomain = queryBool(req, 'is_domain');
    let ps = await store.listProjects({ name: queryParam(req, 'name'), domainId: queryParam(req, 'domain_id'), enabled: queryBool(req, 'enabled') });
    if (parent !== undefined) ps = ps.filter((p) => p.domain_id === parent);
    if (isDomain === true) ps = [];
    return { projects: ps.map((p) => projectView(p, r.identityUrl(req))), links: collectionLinks(selfLink(r, req)) };
  });

  app.get<{ Params: { id: string } }>('/v3/projects/:id', async (req) => {
    const ctx = await r.caller(req);
    if (!ctx.isAdmin && ctx.projectId !== req.params.id) throw forbidden('identity:get_project');
    const p = await store.findProject({ id: req.params.id });
    if (!p) throw keystoneNotFound('project', req.params.id);
    return { project: projectView(p, r.identityUrl(req)) };
  });

  app.post('/v3/projects', async (req, reply) => {
    await r.requireAdmin(req, 'identity:create_project');
    validate(createSchema, req.body);
    const b = (req.body as { project: ProjectBody & { name: string } }).project;
    const domainId = b.domain_id ?? DEFAULT_DOMAIN.id;
    if (domainId !== DEFAULT_DOMAIN.id) throw keystoneNotFound('domain', domainId);
    if (b.is_domain === true) throw badRequest('Hitch has one domain (Default): projects cannot act as domains.');
    if (b.parent_id !== undefined && b.parent_id !== null && b.parent_id !== domainId) {
      throw badRequest('Hitch keeps projects flat: a project\'s parent is its domain.');
    }
    if (await store.findProject({ name: b.name, domainId })) throw duplicate(b.name);
    const p = await store.createProject(b.name, { description: b.description ?? '', enabled: b.enabled });
    return reply.code(201).send({ project: projectView(p, r.identityUrl(req)) });
  });

  app.patch<{ Params: { id: string } }>('/v3/projects/:id', async (req) => {
    await r.requireAdmin(req, 'identity:update_project');
    validate(updateSchema, req.body);
    const b = (req.body as { project: ProjectBody }).project;
    const p = await store.findProject({ id: req.params.id });
    if (!p) throw keystoneNotFound('project', req.params.id);
    if (b.domain_id !== undefined && b.domain_id !== p.domain_id) throw badRequest('Cannot change Domain ID');
    if (b.name !== undefined && b.name !== p.name && (await store.findProject({ name: b.name, domainId: p.domain_id }))) throw duplicate(b.name);
    await store.updateProject(p.id, { name: b.name, description: b.description ?? undefined, enabled: b.enabled });
    const after = await store.findProject({ id: p.id });
    if (!after) throw keystoneNotFound('project', p.id);
    return { project: projectView(after, r.identityUrl(req)) };
  });

  app.delete<{ Params: { id: string } }>('/v3/projects/:id', async (req, reply) => {
    await r.requireAdmin(req, 'identity:delete_project');
    if (!(await store.deleteProject(req.params.id))) throw keystoneNotFound('project', req.params.id);
    return reply.code(204).send();
  });
}
