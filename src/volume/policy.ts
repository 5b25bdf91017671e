/**
 * The block storage service's policy, as Cinder's default policy file (2023.x, new defaults
 * enforced) reads: `reader` reads its project, `member` also writes in it, `admin` does
 * everything in any project. Cinder dropped system scope, so every rule is project scoped and
 * an admin is an admin of the cloud. Operations are written below `/v3/{project_id}` (each is
 * served with and without the project in the path). `src/http/policy.ts` enforces it; a test
 * runs every route × role × project against it.
 */
import type { PolicyRule, PolicyTable } from '../http/policy.ts';
import { PUBLIC } from '../http/policy.ts';

const rule = (check: string, description: string, operations: readonly string[]): PolicyRule => ({ check, description, scope: ['project'], operations });
const READER = 'rule:admin_or_project_reader';
const MEMBER = 'rule:admin_or_project_member';
const ADMIN = 'rule:admin_api';

export const VOLUME_POLICY: PolicyTable = {
  service: 'volume',
  base: {
    admin_api: 'role:admin',
    project_reader: 'role:reader and project_id:%(project_id)s',
    project_member: 'role:member and project_id:%(project_id)s',
    admin_or_project_reader: 'rule:admin_api or rule:project_reader',
    admin_or_project_member: 'rule:admin_api or rule:project_member',
  },
  rules: {
    [PUBLIC]: rule('@', 'Version discovery: no token needed.', ['GET /']),
    'volume:get_all': rule(READER, 'List volumes, with details, or their summary.', ['GET /volumes', 'GET /volumes/detail', 'GET /volumes/summary']),
    'volume:get': rule(READER, 'Show a volume.', ['GET /volumes/:id']),
    'volume:create': rule(MEMBER, 'Create a volume.', ['POST /volumes']),
    'volume:update': rule(MEMBER, 'Rename or describe a volume; set it bootable.', ['PUT /volumes/:id', 'POST /volumes/:id/action#os-set_bootable']),
    'volume:delete': rule(MEMBER, 'Delete a volume.', ['DELETE /volumes/:id']),
    'volume:get_volume_metadata': rule(READER, "Show a volume's metadata or one key of it.", ['GET /volumes/:id/metadata', 'GET /volumes/:id/metadata/:key']),
    'volume:update_volume_metadata': rule(MEMBER, "Create, replace or update a volume's metadata.", ['POST /volumes/:id/metadata', 'PUT /volumes/:id/metadata', 'PUT /volumes/:id/metadata/:key']),
    'volume:delete_volume_metadata': rule(MEMBER, "Delete one key of a volume's metadata.", ['DELETE /volumes/:id/metadata/:key']),
    'volume_extension:volume_actions:attach': rule(MEMBER, 'The legacy attach flow: reserve, initialize, attach, and their undos.', [
      'POST /volumes/:id/action',
      'POST /volumes/:id/action#os-reserve',
      'POST /volumes/:id/action#os-unreserve',
      'POST /volumes/:id/action#os-begin_detaching',
      'POST /volumes/:id/action#os-roll_detaching',
      'POST /volumes/:id/action#os-initialize_connection',
      'POST /volumes/:id/action#os-terminate_connection',
      'POST /volumes/:id/action#os-attach',
      'POST /volumes/:id/action#os-detach',
    ]),
    'volume:extend': rule(MEMBER, 'Extend a volume (in-use from 3.42).', ['POST /volumes/:id/action#os-extend']),
    'volume:update_readonly_flag': rule(MEMBER, "Set a volume's read-only flag.", ['POST /volumes/:id/action#os-update_readonly_flag']),
    'volume:retype': rule(MEMBER, "Change a volume's type.", ['POST /volumes/:id/action#os-retype']),
    'volume_extension:volume_admin_actions:reset_status': rule(ADMIN, "Reset a volume's status.", ['POST /volumes/:id/action#os-reset_status']),
    'volume_extension:volume_admin_actions:force_delete': rule(ADMIN, 'Force-delete a volume.', ['POST /volumes/:id/action#os-force_delete']),
    'volume_extension:volume_admin_actions:force_detach': rule(ADMIN, 'Force-detach a volume.', ['POST /volumes/:id/action#os-force_detach']),
    'volume:attachment_get_all': rule(READER, 'List attachments.', ['GET /attachments', 'GET /attachments/detail', 'GET /attachments/:id']),
    'volume:attachment_create': rule(MEMBER, 'Create an attachment.', ['POST /attachments']),
    'volume:attachment_update': rule(MEMBER, 'Give an attachment its connector.', ['PUT /attachments/:id']),
    'volume:attachment_delete': rule(MEMBER, 'Delete an attachment.', ['DELETE /attachments/:id']),
    'volume:attachment_complete': rule(MEMBER, 'Mark an attachment complete (the volume is in-use).', ['POST /attachments/:id/action']),
    'volume:get_all_snapshots': rule(READER, 'List or show snapshots.', ['GET /snapshots', 'GET /snapshots/detail', 'GET /snapshots/:id']),
    'volume:create_snapshot': rule(MEMBER, 'Create a snapshot.', ['POST /snapshots']),
    'volume:update_snapshot': rule(MEMBER, 'Rename or describe a snapshot.', ['PUT /snapshots/:id', 'POST /snapshots/:id/action']),
    'volume:get_snapshot_metadata': rule(READER, "Show a snapshot's metadata or one key of it.", ['GET /snapshots/:id/metadata', 'GET /snapshots/:id/metadata/:key']),
    'volume:update_snapshot_metadata': rule(MEMBER, "Create, replace or update a snapshot's metadata.", ['POST /snapshots/:id/metadata', 'PUT /snapshots/:id/metadata', 'PUT /snapshots/:id/metadata/:key']),
    'volume:delete_snapshot_metadata': rule(MEMBER, "Delete one key of a snapshot's metadata.", ['DELETE /snapshots/:id/metadata/:key']),
    'volume:delete_snapshot': rule(MEMBER, 'Delete a snapshot.', ['DELETE /snapshots/:id']),
    'volume_extension:snapshot_admin_actions:reset_status': rule(ADMIN, "Reset a snapshot's status.", ['POST /snapshots/:id/action#os-reset_status']),
    'volume_extension:snapshot_admin_actions:force_delete': rule(ADMIN, 'Force-delete a snapshot.', ['POST /snapshots/:id/action#os-force_delete']),
    'volume_extension:type_get': rule(READER, 'List or show volume types (`/types/default` too) and their extra specs.', ['GET /types', 'GET /types/:id', 'GET /types/:id/extra_specs', 'GET /types/:id/extra_specs/:key']),
    'volume_extension:types_manage': rule(ADMIN, 'Create, update or delete volume types, their extra specs and access.', [
      'POST /types',
      'PUT /types/:id',
      'DELETE /types/:id',
      'POST /types/:id/extra_specs',
      'PUT /types/:id/extra_specs/:key',
      'DELETE /types/:id/extra_specs/:key',
      'GET /types/:id/os-volume-type-access',
      'POST /types/:id/action',
    ]),
    'volume_extension:default_set_or_update': rule(ADMIN, "Get, set or unset a project's default volume type.", ['PUT /default-types/:project', 'GET /default-types/:project', 'GET /default-types', 'DELETE /default-types/:project']),
    'volume_extension:qos_specs_manage': rule(ADMIN, 'Manage QoS specs.', [
      'GET /qos-specs',
      'POST /qos-specs',
      'GET /qos-specs/:id',
      'PUT /qos-specs/:id',
      'PUT /qos-specs/:id/delete_keys',
      'DELETE /qos-specs/:id',
      'GET /qos-specs/:id/associations',
      'GET /qos-specs/:id/associate',
      'GET /qos-specs/:id/disassociate',
      'GET /qos-specs/:id/disassociate_all',
    ]),
    'volume_extension:quotas:show': rule(READER, "Show a project's quotas or their defaults (the project in the path is the target).", ['GET /os-quota-sets/:project', 'GET /os-quota-sets/:project/defaults']),
    'volume_extension:quotas:update': rule(ADMIN, "Update or delete a project's quotas; quota classes.", ['PUT /os-quota-sets/:project', 'DELETE /os-quota-sets/:project', 'GET /os-quota-class-sets/:name', 'PUT /os-quota-class-sets/:name']),
    'limits_extension:used_limits': rule(READER, "The project's limits and usage.", ['GET /limits']),
    'volume:get_all_transfers': rule(READER, 'List or show volume transfers.', [
      'GET /os-volume-transfer',
      'GET /os-volume-transfer/detail',
      'GET /os-volume-transfer/:id',
      'GET /volume-transfers',
      'GET /volume-transfers/detail',
      'GET /volume-transfers/:id',
    ]),
    'volume:create_transfer': rule(MEMBER, 'Offer a volume for transfer, or withdraw the offer.', ['POST /os-volume-transfer', 'DELETE /os-volume-transfer/:id', 'POST /volume-transfers', 'DELETE /volume-transfers/:id']),
    'volume:accept_transfer': rule(MEMBER, 'Accept a transfer into the caller’s project.', ['POST /os-volume-transfer/:id/accept', 'POST /volume-transfers/:id/accept']),
    'volume_extension:volume_az:list': rule(READER, 'List availability zones; the API extensions.', ['GET /os-availability-zone', 'GET /extensions']),
    'volume_extension:services:index': rule(ADMIN, 'List, enable or disable volume services; hosts; pools.', [
      'GET /os-services',
      'PUT /os-services/enable',
      'PUT /os-services/disable',
      'PUT /os-services/disable-log-reason',
      'GET /os-hosts',
      'GET /os-hosts/:host',
      'GET /scheduler-stats/get_pools',
    ]),
  },
};
