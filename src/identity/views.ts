/**
 * Keystone's response bodies: users, projects, roles, domains, role assignments, application
 * credentials, and the `links` block of every collection.
 */
import type { AppCredRecord } from './application-credential-store.ts';
import { DEFAULT_DOMAIN, type ProjectRecord, type RoleRecord, type UserRecord } from './identity-store.ts';

/** `{self, previous, next}`: Keystone pages nothing, so the last two are null. */
export function collectionLinks(self: string): { self: string; previous: null; next: null } {
  return { self, previous: null, next: null };
}

export function userView(u: UserRecord, base: string): Record<string, unknown> {
  return {
    // Extra attributes first: the fixed ones below always win.
    ...u.extra,
    id: u.id,
    name: u.name,
    domain_id: u.domain_id,
    enabled: u.enabled,
    default_project_id: u.default_project_id,
    password_expires_at: null,
    options: {},
    links: { self: `${base}/v3/users/${u.id}` },
  };
}

export function projectView(p: ProjectRecord, base: string): Record<string, unknown> {
  return {
    id: p.id,
    name: p.name,
    domain_id: p.domain_id,
    description: p.description,
    enabled: p.enabled,
    is_domain: false,
    parent_id: p.domain_id,
    tags: [],
    options: {},
    links: { self: `${base}/v3/projects/${p.id}` },
  };
}

export function roleView(r: RoleRecord, base: string): Record<string, unknown> {
  return { id: r.id, name: r.name, domain_id: null, description: null, options: {}, links: { self: `${base}/v3/roles/${r.id}` } };
}

/** The one domain Hitch has: Keystone's `default`, named `Default`. */
export function domainView(base: string): Record<string, unknown> {
  return {
    id: DEFAULT_DOMAIN.id,
    name: DEFAULT_DOMAIN.name,
    description: 'The default domain',
    enabled: true,
    tags: [],
    options: {},
    links: { self: `${base}/v3/domains/${DEFAULT_DOMAIN.id}` },
  };
}

export interface AssignmentNames {
  readonly user: UserRecord | undefined;
  readonly project: ProjectRecord | undefined;
  readonly role: RoleRecord | undefined;
}

/** One role assignment as `GET /v3/role_assignments` lists it; with names when `include_names`. */
export function assignmentView(a: { userId: string; projectId: string; roleId: string }, base: string, names: AssignmentNames | null): Record<string, unknown> {
  const domain = { id: DEFAULT_DOMAIN.id, name: DEFAULT_DOMAIN.name };
  return {
    scope: { project: names ? { id: a.projectId, name: names.project?.name ?? '', domain } : { id: a.projectId } },
    user: names ? { id: a.userId, name: names.user?.name ?? '', domain } : { id: a.userId },
    role: names ? { id: a.roleId, name: names.role?.name ?? '' } : { id: a.roleId },
    links: { assignment: `${base}/v3/projects/${a.projectId}/users/${a.userId}/roles/${a.roleId}` },
  };
}

/** An application credential; `secret` only in the answer to its creation. */
export function appCredView(c: AppCredRecord, roles: readonly RoleRecord[], base: string, secret?: string): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    expires_at: c.expiresAt,
    project_id: c.projectId,
    user_id: c.userId,
    roles: roles.map((r) => ({ id: r.id, name: r.name, domain_id: null })),
    unrestricted: c.unrestricted,
    access_rules: [],
    system: null,
    ...(secret !== undefined ? { secret } : {}),
    links: { self: `${base}/v3/users/${c.userId}/application_credentials/${c.id}` },
  };
}
