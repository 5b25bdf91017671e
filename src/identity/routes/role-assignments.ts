/**
 * `GET /v3/role_assignments` with Keystone's filters: `user.id`, `scope.project.id`, `role.id`,
 * `effective`, `include_names`; filters on groups, domains and the system scope match nothing
 * here (Hitch has none of those assignments).
 */
import type { RoleRecord, ProjectRecord, UserRecord } from '../identity-store.ts';
import { assignmentView, collectionLinks } from '../views.ts';
import { badRequest, queryBool, queryParam, selfLink, type IdentityRoutes } from './context.ts';

export function registerRoleAssignmentRoutes(r: IdentityRoutes): void {
  const { app, identity } = r;
  const store = identity.store;

  app.get('/v3/role_assignments', async (req) => {
    await r.requireAdmin(req, 'identity:list_role_assignments');
    const effective = queryBool(req, 'effective') === true;
    const group = queryParam(req, 'group.id');
    if (effective && group !== undefined) {
      throw badRequest('Combining effective and group filter will always result in an empty list.');
    }
    const nothing = group !== undefined || queryParam(req, 'scope.domain.id') !== undefined || queryParam(req, 'scope.system') !== undefined || queryParam(req, 'scope.OS-INHERIT:inherited_to') !== undefined;
    const rows = nothing
      ? []
      : await store.listAssignments({ userId: queryParam(req, 'user.id'), projectId: queryParam(req, 'scope.project.id'), roleId: queryParam(req, 'role.id') });
    let names: ((a: { userId: string; projectId: string; roleId: string }) => { user: UserRecord | undefined; project: ProjectRecord | undefined; role: RoleRecord | undefined }) | null = null;
    if (queryBool(req, 'include_names') === true) {
      const users = new Map((await store.listUsers()).map((u) => [u.id, u]));
      const projects = new Map((await store.listProjects()).map((p) => [p.id, p]));
      const roles = new Map((await store.listRoles()).map((x) => [x.id, x]));
      names = (a) => ({ user: users.get(a.userId), project: projects.get(a.projectId), role: roles.get(a.roleId) });
    }
    const base = r.identityUrl(req);
    return { role_assignments: rows.map((a) => assignmentView(a, base, names ? names(a) : null)), links: collectionLinks(selfLink(r, req)) };
  });
}
