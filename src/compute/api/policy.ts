/**
 * The compute service's policy, as Nova's default policy file (2023.x: new defaults, project
 * scope; Nova dropped system scope) reads: `reader` reads its project's servers, `member` also
 * creates, deletes and attaches in its project, `admin` does everything in any project. Flavor
 * and availability-zone lists are open to any authenticated caller, as in Nova. Operations are
 * written below `/v2.1`. `src/http/policy.ts` enforces it; a test runs every route × role ×
 * project against it.
 */
import type { PolicyRule, PolicyTable } from '../../http/policy.ts';
import { PUBLIC } from '../../http/policy.ts';

const rule = (check: string, description: string, operations: readonly string[]): PolicyRule => ({ check, description, scope: ['project'], operations });
const READER = 'rule:project_reader_or_admin';
const MEMBER = 'rule:project_member_or_admin';
const ADMIN = 'rule:context_is_admin';
const ANY = '@';

export const COMPUTE_POLICY: PolicyTable = {
  service: 'compute',
  base: {
    context_is_admin: 'role:admin',
    project_reader_api: 'role:reader and project_id:%(project_id)s',
    project_member_api: 'role:member and project_id:%(project_id)s',
    project_reader_or_admin: 'rule:project_reader_api or rule:context_is_admin',
    project_member_or_admin: 'rule:project_member_api or rule:context_is_admin',
  },
  rules: {
    [PUBLIC]: rule('@', 'Version discovery: no token needed.', ['GET /', 'GET /v2.1', 'GET /v2.1/']),
    'os_compute_api:servers:index': rule(READER, 'List servers, with details.', ['GET /v2.1/servers', 'GET /v2.1/servers/detail']),
    'os_compute_api:servers:show': rule(READER, 'Show a server.', ['GET /v2.1/servers/:id']),
    'os_compute_api:servers:create': rule(MEMBER, 'Create a server.', ['POST /v2.1/servers']),
    'os_compute_api:servers:delete': rule(MEMBER, 'Delete a server.', ['DELETE /v2.1/servers/:id']),
    'os_compute_api:os-volumes-attachments:index': rule(READER, "List a server's volume attachments, show one, and (Hitch) its trace.", [
      'GET /v2.1/servers/:id/os-volume_attachments',
      'GET /v2.1/servers/:id/os-volume_attachments/:vid',
      'GET /v2.1/servers/:id/os-volume_attachments/:vid/trace',
    ]),
    'os_compute_api:os-volumes-attachments:create': rule(MEMBER, 'Attach a volume to a server.', ['POST /v2.1/servers/:id/os-volume_attachments']),
    'os_compute_api:os-volumes-attachments:delete': rule(MEMBER, 'Detach a volume from a server.', ['DELETE /v2.1/servers/:id/os-volume_attachments/:vid']),
    'os_compute_api:os-instance-actions:list': rule(READER, "List or show a server's actions (Hitch: and its project's operations, with each step's recent normal).", [
      'GET /v2.1/servers/:id/os-instance-actions',
      'GET /v2.1/servers/:id/os-instance-actions/:rid',
      'GET /v2.1/os-hitch-operations',
      'GET /v2.1/os-hitch-operations/:opid',
      'GET /v2.1/os-hitch-operations/:opid/normal',
    ]),
    'os_compute_api:flavors': rule(ANY, 'List or show flavors (private ones only to their projects and admins).', ['GET /v2.1/flavors', 'GET /v2.1/flavors/detail', 'GET /v2.1/flavors/:id']),
    'os_compute_api:os-flavor-manage:create': rule(ADMIN, 'Create a flavor.', ['POST /v2.1/flavors']),
    'os_compute_api:os-flavor-manage:update': rule(ADMIN, "Update a flavor's description.", ['PUT /v2.1/flavors/:id']),
    'os_compute_api:os-flavor-manage:delete': rule(ADMIN, 'Delete a flavor.', ['DELETE /v2.1/flavors/:id']),
    'os_compute_api:os-flavor-access': rule(ADMIN, "List a private flavor's projects; add or remove one (addTenantAccess, removeTenantAccess).", ['GET /v2.1/flavors/:id/os-flavor-access', 'POST /v2.1/flavors/:id/action']),
    'os_compute_api:os-flavor-extra-specs:index': rule(READER, "List or show a flavor's extra specs.", ['GET /v2.1/flavors/:id/os-extra_specs', 'GET /v2.1/flavors/:id/os-extra_specs/:key']),
    'os_compute_api:os-flavor-extra-specs:create': rule(ADMIN, "Create, update or delete a flavor's extra specs.", [
      'POST /v2.1/flavors/:id/os-extra_specs',
      'PUT /v2.1/flavors/:id/os-extra_specs/:key',
      'DELETE /v2.1/flavors/:id/os-extra_specs/:key',
    ]),
    'os_compute_api:os-server-external-events:create': rule(ADMIN, 'Tell compute that a volume changed (the block storage service, as an admin).', ['POST /v2.1/os-server-external-events']),
    'os_compute_api:os-services': rule(ADMIN, 'List, update or delete compute services.', ['GET /v2.1/os-services', 'PUT /v2.1/os-services/:id', 'DELETE /v2.1/os-services/:id']),
    'os_compute_api:os-hypervisors': rule(ADMIN, 'Hypervisors: list, detail, statistics, show, uptime, search, servers.', [
      'GET /v2.1/os-hypervisors',
      'GET /v2.1/os-hypervisors/detail',
      'GET /v2.1/os-hypervisors/statistics',
      'GET /v2.1/os-hypervisors/:id',
      'GET /v2.1/os-hypervisors/:id/uptime',
      'GET /v2.1/os-hypervisors/:id/search',
      'GET /v2.1/os-hypervisors/:id/servers',
    ]),
    'os_compute_api:os-availability-zone:list': rule(ANY, 'List availability zones.', ['GET /v2.1/os-availability-zone']),
    'os_compute_api:os-availability-zone:detail': rule(ADMIN, 'List availability zones with their hosts.', ['GET /v2.1/os-availability-zone/detail']),
    'os_compute_api:os-quota-sets:show': rule(READER, "Show a project's quotas, with usage (the project in the path is the target).", ['GET /v2.1/os-quota-sets/:id', 'GET /v2.1/os-quota-sets/:id/detail']),
    'os_compute_api:os-quota-sets:defaults': rule(ANY, 'Show the default quotas.', ['GET /v2.1/os-quota-sets/:id/defaults']),
    'os_compute_api:os-quota-sets:update': rule(ADMIN, "Update or revert a project's quotas.", ['PUT /v2.1/os-quota-sets/:id', 'DELETE /v2.1/os-quota-sets/:id']),
    'os_compute_api:limits': rule(ANY, "The caller's project's limits (another project's: admin, checked by the route).", ['GET /v2.1/limits']),
    'os_compute_api:os-volumes': rule(READER, 'List or show volumes and snapshots through the compute API (2.1–2.35).', [
      'GET /v2.1/os-volumes',
      'GET /v2.1/os-volumes/detail',
      'GET /v2.1/os-volumes/:id',
      'GET /v2.1/os-snapshots',
      'GET /v2.1/os-snapshots/detail',
      'GET /v2.1/os-snapshots/:id',
    ]),
    'os_compute_api:os-volumes:create': rule(MEMBER, 'Create or delete volumes and snapshots through the compute API (2.1–2.35).', [
      'POST /v2.1/os-volumes',
      'DELETE /v2.1/os-volumes/:id',
      'POST /v2.1/os-snapshots',
      'DELETE /v2.1/os-snapshots/:id',
    ]),
  },
};
