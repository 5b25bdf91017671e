/**
 * The identity service's policy, as Keystone's default policy file reads for the calls Hitch
 * serves. Keystone accepts system, domain and project scope; Hitch issues project-scoped and
 * unscoped tokens only (no system or domain role assignments), so `admin` on any project is
 * Keystone's `role:admin` (`admin_required`), and the owner rules (`user_id:%(target.user.id)s`)
 * let any user see itself, its projects, and manage its own application credentials and
 * tokens. Password change needs no token: the original password proves who asks.
 * `src/http/policy.ts` enforces it; a test runs every route × role × project against it.
 */
import type { PolicyRule, PolicyTable } from '../http/policy.ts';
import { PUBLIC } from '../http/policy.ts';

type Scope = PolicyRule['scope'][number];
const ALL: readonly Scope[] = ['system', 'domain', 'project'];
const rule = (check: string, description: string, operations: readonly string[], scope: readonly Scope[] = ALL): PolicyRule => ({ check, description, scope, operations });
const ADMIN = 'rule:admin_required';
const ADMIN_OR_OWNER = 'rule:admin_required or rule:owner';
const ANY = '@';

export const IDENTITY_POLICY: PolicyTable = {
  service: 'identity',
  base: {
    admin_required: 'role:admin',
    owner: 'user_id:%(user_id)s',
    project_member_of: 'project_id:%(project_id)s',
  },
  rules: {
    [PUBLIC]: rule('@', 'Version discovery, token issue (the credentials are the proof) and password change (the original password is).', [
      'GET /',
      'GET /v3',
      'GET /v3/',
      'POST /v3/auth/tokens',
      'POST /v3/users/:id/password',
      'GET /v3/users/:id/password',
    ]),
    'identity:validate_token': rule(ANY, "Validate, check or revoke a token: one's own (an admin: any; checked by the route against the subject token).", ['GET /v3/auth/tokens', 'DELETE /v3/auth/tokens']),
    'identity:get_auth_catalog': rule(ANY, 'The projects and domains the caller may scope to.', ['GET /v3/auth/projects', 'GET /v3/auth/domains']),
    'identity:list_users': rule(ADMIN, 'List users.', ['GET /v3/users']),
    'identity:get_user': rule(ADMIN_OR_OWNER, 'Show a user (oneself, or any for an admin).', ['GET /v3/users/:id']),
    'identity:create_user': rule(ADMIN, 'Create a user.', ['POST /v3/users']),
    'identity:update_user': rule(ADMIN, 'Update a user.', ['PATCH /v3/users/:id']),
    'identity:delete_user': rule(ADMIN, 'Delete a user (its tokens end).', ['DELETE /v3/users/:id']),
    'identity:list_user_projects': rule(ADMIN_OR_OWNER, "List a user's projects.", ['GET /v3/users/:id/projects']),
    'identity:list_projects': rule(ADMIN, 'List projects.', ['GET /v3/projects']),
    'identity:get_project': rule('rule:admin_required or rule:project_member_of', 'Show a project (the token’s own, or any for an admin).', ['GET /v3/projects/:id']),
    'identity:create_project': rule(ADMIN, 'Create, update or delete a project.', ['POST /v3/projects', 'PATCH /v3/projects/:id', 'DELETE /v3/projects/:id']),
    'identity:list_roles': rule(ANY, 'List or show roles.', ['GET /v3/roles', 'GET /v3/roles/:id']),
    'identity:create_role': rule(ADMIN, 'Create or delete a role.', ['POST /v3/roles', 'DELETE /v3/roles/:id']),
    'identity:create_grant': rule(ADMIN, 'Grant, check, list or revoke roles of a user on a project (or domain).', [
      'PUT /v3/projects/:pid/users/:uid/roles/:rid',
      'GET /v3/projects/:pid/users/:uid/roles/:rid',
      'DELETE /v3/projects/:pid/users/:uid/roles/:rid',
      'GET /v3/projects/:pid/users/:uid/roles',
      'PUT /v3/domains/:did/users/:uid/roles/:rid',
    ]),
    'identity:list_role_assignments': rule(ADMIN, 'List role assignments.', ['GET /v3/role_assignments']),
    'identity:list_domains': rule(ANY, 'List or show domains (Hitch has the Default one).', ['GET /v3/domains', 'GET /v3/domains/:id']),
    'identity:create_application_credential': rule('rule:owner', 'Create an application credential for oneself.', ['POST /v3/users/:uid/application_credentials']),
    'identity:list_application_credentials': rule(ADMIN_OR_OWNER, "List, show or delete a user's application credentials.", [
      'GET /v3/users/:uid/application_credentials',
      'GET /v3/users/:uid/application_credentials/:id',
      'DELETE /v3/users/:uid/application_credentials/:id',
    ]),
  },
};
